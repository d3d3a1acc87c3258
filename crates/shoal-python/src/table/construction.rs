//! Building tables: `Table(P)`, `Table[P]`, `from_columns`, `from_arrow`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};
use shoal_core::{Column, Table};

use crate::column::column_from_object;
use crate::errors::ShoalError;
use crate::schema::PySchema;

use super::PyTable;

#[pymethods]
impl PyTable {
    #[new]
    fn new(record_type: &Bound<'_, PyType>) -> PyResult<Self> {
        let schema = PySchema::of_class(record_type)?;
        let inner = Table::new(schema.get().core.clone());
        Ok(Self::with_inner(schema.unbind(), inner))
    }

    #[classmethod]
    fn __class_getitem__(cls: &Bound<'_, PyType>, item: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        let alias = py.import("types")?.getattr("GenericAlias")?;
        Ok(alias.call1((cls, item))?.unbind())
    }

    /// Builds a table from whole columns: `Table.from_columns(Point, x=array, y=[...])`.
    /// Buffers (NumPy arrays, `array.array`, memoryviews) of the field's exact type are copied
    /// once; anything else is checked element by element. Missing fields take their default.
    #[classmethod]
    #[pyo3(signature = (record_type, /, **columns))]
    fn from_columns(
        _cls: &Bound<'_, PyType>,
        record_type: &Bound<'_, PyType>,
        columns: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let py = record_type.py();
        let schema = PySchema::of_class(record_type)?;
        let s = schema.get();
        let empty = PyDict::new(py);
        let columns = columns.unwrap_or(&empty);
        for key in columns.keys() {
            let name = key.to_string();
            if s.core.index_of(&name).is_none() {
                return Err(ShoalError::NoSuchField {
                    record: s.record_name.clone(),
                    name,
                }
                .into());
            }
        }
        let mut built: Vec<Option<Column>> = Vec::new();
        for (i, name) in s.names.iter().enumerate() {
            built.push(match columns.get_item(name.bind(py))? {
                Some(obj) => Some(column_from_object(s, i, &obj)?),
                None => None,
            });
        }
        let len = built.iter().flatten().map(Column::len).next().unwrap_or(0);
        let mut filled = Vec::new();
        for (i, c) in built.into_iter().enumerate() {
            let column = match c {
                Some(c) => Some(c),
                None => s.default_column(py, i, len)?,
            };
            filled.push(column.ok_or_else(|| ShoalError::BadColumn {
                detail: format!(
                    "{}.from_columns: no column for field '{}', which has no default",
                    s.record_name,
                    s.core.fields()[i].name
                ),
            })?);
        }
        let inner = Table::from_columns(s.core.clone(), filled).map_err(|e| {
            PyErr::from(ShoalError::BadColumn {
                detail: format!(
                    "{}.from_columns: {}",
                    s.record_name,
                    ShoalError::core_message(&e, s)
                ),
            })
        })?;
        Ok(Self::with_inner(schema.clone().unbind(), inner))
    }

    /// Builds a table from any Arrow object (`__arrow_c_stream__` or `__arrow_c_array__`: a
    /// pyarrow Table or RecordBatch, a polars DataFrame ...). Columns are matched by name and
    /// must have exactly the fields' types; the data is copied once. All or nothing.
    #[classmethod]
    #[pyo3(signature = (record_type, obj, *, rename = None, nan_as_null = false))]
    fn from_arrow(
        _cls: &Bound<'_, PyType>,
        record_type: &Bound<'_, PyType>,
        obj: &Bound<'_, PyAny>,
        rename: Option<&Bound<'_, PyDict>>,
        nan_as_null: bool,
    ) -> PyResult<Self> {
        let py = record_type.py();
        let schema = PySchema::of_class(record_type)?;
        let s = schema.get();
        let conform = || -> PyResult<Option<Bound<'_, PyAny>>> {
            let made = py
                .import("shoal._interop")?
                .call_method1("conform_arrow", (record_type, obj, rename, nan_as_null))?;
            Ok((!made.is_none()).then_some(made))
        };
        let import = |source: &Bound<'_, PyAny>| {
            crate::arrow::import_columns(source, &s.core, &s.record_name)
        };
        let columns = if rename.is_some() || nan_as_null {
            let made = conform()?.ok_or_else(|| ShoalError::BadColumn {
                detail: format!(
                    "{}.from_arrow: rename= and nan_as_null= need pyarrow",
                    s.record_name
                ),
            })?;
            import(&made)?
        } else {
            // As it is first: the zero-copy path. Only what it refuses is conformed (renamed
            // columns, defaults, exact casts) and imported again.
            match import(obj) {
                Ok(columns) => columns,
                Err(e)
                    if e.is_instance_of::<PyTypeError>(py)
                        || e.is_instance_of::<PyValueError>(py) =>
                {
                    match conform() {
                        Ok(Some(made)) => import(&made)?,
                        Ok(None) => return Err(e),
                        // A value the cast would change names its row; anything else means the
                        // input is not conformable, and the import's own error says why.
                        Err(inexact) if is_inexact(py, &inexact) => return Err(inexact),
                        Err(_) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        };
        let inner = Table::from_columns(s.core.clone(), columns).map_err(|e| {
            PyErr::from(ShoalError::BadColumn {
                detail: format!(
                    "{}.from_arrow: {}",
                    s.record_name,
                    ShoalError::core_message(&e, s)
                ),
            })
        })?;
        Ok(Self::with_inner(schema.clone().unbind(), inner))
    }
}

/// Whether `e` is `shoal._interop.InexactValue`.
fn is_inexact(py: Python<'_>, e: &PyErr) -> bool {
    py.import("shoal._interop")
        .and_then(|m| m.getattr("InexactValue"))
        .is_ok_and(|t| e.matches(py, t).unwrap_or(false))
}
