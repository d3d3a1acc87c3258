//! `Schema` (a record class's fields, built by `shoal.Record`'s metaclass) and `Field`, the
//! descriptor that stands for each field on the class.
//!
//! `binding` binds call arguments to fields; `field` is the `Field` class. Building a schema
//! from a class and reading records as input live in `record` (they need the record layout).

mod binding;
mod field;

pub use binding::{Param, ParamTo, Signature};
pub use field::{missing, PyField};

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use pyo3::PyVisit;
use shoal_core::{Column, Datum, Schema};

use crate::convert::FieldSpec;
use crate::errors::{ShoalError, Target};

#[pyclass(frozen, module = "shoal", name = "Schema")]
pub struct PySchema {
    pub core: Arc<Schema>,
    /// Interned field names, compared by pointer on the attribute fast path.
    pub names: Vec<Py<PyString>>,
    pub specs: Vec<FieldSpec>,
    pub defaults: Vec<Option<Datum<'static>>>,
    /// Each field's `default_factory`, called for every record or row given no value.
    pub factories: Vec<Option<Py<PyAny>>>,
    /// Rows as data (`extend` tuples and dicts, pickles): every field, in order.
    pub row_signature: Signature,
    /// The class's constructor: `kw_only` fields last, `init=False` fields left out,
    /// `InitVar`s in.
    pub call_signature: Signature,
    /// Whether making a record calls Python (`__post_init__` or the class's own `__init__`),
    /// so that `t.append(...)` makes one rather than binding values itself.
    pub post_init: bool,
    pub custom_init: bool,
    /// Whether `t.append(v0, v1, ...)` may bind values itself, positionally in field order:
    /// the constructor takes every field in order and making a record calls no Python.
    pub plain_call: bool,
    pub record_name: String,
    pub frozen: bool,
    pub record_type: Py<PyType>,
    pub(crate) descriptors: Vec<Py<PyField>>,
    /// The `shoal._record.Param`s of the constructor, as the metaclass gave them.
    pub(crate) params: Vec<Py<PyAny>>,
}

#[pymethods]
impl PySchema {
    /// The `Field` descriptors, in declaration order.
    #[getter]
    fn fields(&self, py: Python<'_>) -> Vec<Py<PyField>> {
        self.descriptors.iter().map(|d| d.clone_ref(py)).collect()
    }

    /// Bytes of raw data per record.
    #[getter]
    fn row_bytes(&self) -> usize {
        self.core.row_bytes()
    }

    #[getter]
    fn frozen(&self) -> bool {
        self.frozen
    }

    /// The constructor's parameters (`shoal._record.Param`), in signature order.
    #[getter]
    fn params(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        self.params.iter().map(|p| p.clone_ref(py)).collect()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> std::result::Result<(), pyo3::PyTraverseError> {
        visit.call(&self.record_type)?;
        for d in &self.descriptors {
            visit.call(d)?;
        }
        for p in &self.params {
            visit.call(p)?;
        }
        for f in self.factories.iter().flatten() {
            visit.call(f)?;
        }
        self.call_signature.traverse(&visit)?;
        for spec in &self.specs {
            if let Some(e) = &spec.enum_type {
                visit.call(e)?;
            }
            if let Some(tz) = &spec.tz {
                visit.call(tz)?;
            }
            for m in spec.members.values() {
                visit.call(m)?;
            }
        }
        Ok(())
    }
}

impl PySchema {
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether making a record calls Python code of the class.
    pub fn makes_records(&self) -> bool {
        self.post_init || self.custom_init
    }

    pub fn target(&self, field: usize, row: Option<usize>) -> Target {
        Target {
            record: self.record_name.clone(),
            field: self.core.fields()[field].name.clone(),
            row,
        }
    }

    pub(crate) fn bad_row(&self, detail: String, row: Option<usize>) -> ShoalError {
        let note = row.map_or(String::new(), |r| {
            format!(" (row {r}); the table is unchanged")
        });
        ShoalError::BadRow {
            record: self.record_name.clone(),
            detail: detail + &note,
        }
    }

    /// A column of `len` rows for field `i` from its default or factory, for the columns a
    /// source lacks (`from_columns`, older pickles and files); `None` when it has neither.
    pub fn default_column(&self, py: Python<'_>, i: usize, len: usize) -> PyResult<Option<Column>> {
        if self.defaults[i].is_none() && self.factories[i].is_none() {
            return Ok(None);
        }
        let refused = |p| self.specs[i].refused(p, self.target(i, None), "the default".into());
        let mut c = Column::for_field(&self.core.fields()[i]);
        c.try_reserve(len)
            .map_err(|_| refused(shoal_core::Problem::OutOfMemory))?;
        for _ in 0..len {
            // The factory, if any, is called per row, as for each record it would make.
            let cell = self.fallback(py, i, None)?;
            c.push(cell.reborrow()).map_err(refused)?;
        }
        Ok(Some(c))
    }

    pub(crate) fn field_list(&self) -> String {
        let names: Vec<&str> = self.core.fields().iter().map(|f| f.name.as_str()).collect();
        names.join(", ")
    }
}

impl crate::errors::RecordNames for PySchema {
    fn record_name(&self) -> &str {
        &self.record_name
    }

    fn field_name(&self, field: usize) -> &str {
        &self.core.fields()[field].name
    }

    fn field_kind(&self, field: usize) -> (shoal_core::DType, Option<&[String]>) {
        let spec = &self.specs[field];
        (spec.dtype, spec.choices.as_deref())
    }
}
