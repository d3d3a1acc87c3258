//! Records as input: an `extend` item (tuple, dict or record) and a record of the same fields
//! copied into a table.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
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
        if let Ok(l) = item.cast::<PyList>() {
            // Rows as `csv.reader` and JSON give them.
            return self.bind_args(&l.to_tuple(), None, Some(row), out);
        }
        if let Ok(d) = item.cast::<PyDict>() {
            return self.bind_args(&PyTuple::empty(py), Some(d), Some(row), out);
        }
        if let Some(values) = self.record_item(item, current)? {
            out.extend(values);
            return Ok(());
        }
        self.bind_attributes(item, row, out)
    }

    /// An object with the fields as attributes (a dataclass, a namedtuple, an ORM row): each
    /// field read by name, a missing one taking its default.
    fn bind_attributes(
        &self,
        item: &Bound<'_, PyAny>,
        row: usize,
        out: &mut Vec<Datum<'static>>,
    ) -> Result<()> {
        let py = item.py();
        let scalar = item.is_instance_of::<PyString>()
            || item.is_instance_of::<PyBytes>()
            || item.is_instance_of::<PyInt>()
            || item.is_instance_of::<PyFloat>();
        let start = out.len();
        for i in 0..self.len() {
            let name = self.names[i].bind(py);
            let value = if scalar {
                None
            } else {
                getattr_opt(item, name)?
            };
            match value {
                Some(v) => out.push(self.checked(i, &v, Some(row))?),
                None if self.defaults[i].is_some() || self.factories[i].is_some() => {
                    out.push(self.fallback(py, i, Some(row))?)
                }
                None => {
                    out.truncate(start);
                    let missing = if scalar {
                        String::new()
                    } else {
                        format!(" (no attribute '{name}')")
                    };
                    return Err(self.bad_row(
                        format!(
                            "expected a tuple, a list, a dict, a {} record or an object with \
                             its fields as attributes, got {}{missing}",
                            self.record_name,
                            value_repr(item)
                        ),
                        Some(row),
                    ));
                }
            }
        }
        Ok(())
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

/// `obj.name`, or None when it has no such attribute (any other error propagates).
fn getattr_opt<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match obj.getattr(name) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(obj.py()) => Ok(None),
        Err(e) => Err(e),
    }
}
