//! Records as input: an `extend` item (tuple, dict or record) and a record of the same fields
//! copied into a table.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use shoal_core::Datum;

use crate::convert::value_repr;
use crate::errors::{Result, ShoalError};
use crate::record;
use crate::schema::PySchema;

impl PySchema {
    /// Checks one item of `extend` (a tuple, a dict or a record of the same fields) into `out`.
    pub fn bind_item(
        &self,
        item: &Bound<'_, PyAny>,
        row: usize,
        current: Option<(*mut pyo3::ffi::PyObject, &shoal_core::Table)>,
        out: &mut Vec<Datum<'static>>,
    ) -> Result<()> {
        let py = item.py();
        if let Ok(t) = item.cast::<PyTuple>() {
            return self.bind_args(t, None, Some(row), out);
        }
        if let Ok(d) = item.cast::<PyDict>() {
            return self.bind_args(&PyTuple::empty(py), Some(d), Some(row), out);
        }
        if let Some(values) = self.record_item(item, current)? {
            out.extend(values);
            return Ok(());
        }
        Err(self.bad_row(
            format!(
                "expected a tuple, a dict or a {} record, got {}",
                self.record_name,
                value_repr(item)
            ),
            Some(row),
        ))
    }

    /// The values of `item` if it is a record with exactly this schema's fields.
    pub fn record_item(
        &self,
        item: &Bound<'_, PyAny>,
        current: Option<(*mut pyo3::ffi::PyObject, &shoal_core::Table)>,
    ) -> Result<Option<Vec<Datum<'static>>>> {
        match record::record_cells(item, current)? {
            Some((schema, values))
                if schema.get().core == self.core || *schema.get().core == *self.core =>
            {
                Ok(Some(values))
            }
            Some((schema, _)) => Err(ShoalError::BadRow {
                record: self.record_name.clone(),
                detail: format!(
                    "a {} record has different fields ({}) from {} ({})",
                    schema.get().record_name,
                    schema.get().field_list(),
                    self.record_name,
                    self.field_list()
                ),
            }),
            None => Ok(None),
        }
    }
}
