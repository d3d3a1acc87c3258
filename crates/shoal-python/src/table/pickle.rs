//! Pickle (protocol 5 buffers, checked on load) and copies.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple, PyType};
use std::sync::Arc;

use shoal_core::{Column, KeepAlive, Table};

use crate::errors::ShoalError;
use crate::rawbuffer::PyRawBuffer;
use crate::schema::PySchema;

use super::PyTable;

#[pymethods]
impl PyTable {
    fn __copy__(&self, py: Python<'_>) -> PyResult<Self> {
        Ok(Self::with_inner(
            self.schema.clone_ref(py),
            self.read()?.inner.clone(),
        ))
    }

    fn __deepcopy__(&self, py: Python<'_>, _memo: &Bound<'_, PyAny>) -> PyResult<Self> {
        self.__copy__(py)
    }

    /// Pickles as the record class and, per column, its field's name and type, its buffers
    /// (see `ColumnSnapshot::parts`), its validity bits or None, and its length: columns are
    /// matched by name on load, so a class that gained a field with a default still loads it. With protocol 5 the
    /// buffers are `PickleBuffer`s over the columns' own memory, so they can travel out of band
    /// without a copy; before that, bytes.
    fn __reduce_ex__<'py>(&self, py: Python<'py>, protocol: i32) -> PyResult<Bound<'py, PyTuple>> {
        let (snapshots, len) = self.snapshots()?;
        let pickle_buffer = if protocol >= 5 {
            Some(py.import("pickle")?.getattr("PickleBuffer")?)
        } else {
            None
        };
        let buffer =
            |snap: &shoal_core::ColumnSnapshot, part: usize| -> PyResult<Bound<'py, PyAny>> {
                match &pickle_buffer {
                    Some(pb) => pb.call1((Bound::new(py, PyRawBuffer::new(snap.clone(), part))?,)),
                    None if part == usize::MAX => {
                        Ok(PyBytes::new(py, snap.validity().unwrap_or(&[])).into_any())
                    }
                    None => Ok(PyBytes::new(py, snap.parts()[part]).into_any()),
                }
            };
        let mut columns = Vec::new();
        for (field, snap) in self.schema.get().core.fields().iter().zip(&snapshots) {
            let parts = (0..snap.parts().len())
                .map(|p| buffer(snap, p))
                .collect::<PyResult<Vec<_>>>()?;
            let validity = match snap.validity() {
                Some(_) => buffer(snap, usize::MAX)?,
                None => py.None().into_bound(py),
            };
            let name = field.name.as_str();
            let column = (
                name,
                field.dtype.name(),
                PyList::new(py, parts)?,
                validity,
                len,
            );
            columns.push(column.into_pyobject(py)?);
        }
        let ctor = py.import("shoal._shoal")?.getattr("_table_from_buffers")?;
        let args = (self.record_type(py), PyList::new(py, columns)?);
        (ctor, args).into_pyobject(py)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.__reduce_ex__(py, 4)
    }
}

/// The bytes of a buffer object (held by `buf` while they are used).
pub(crate) fn contiguous_bytes(buf: &pyo3::buffer::PyUntypedBuffer) -> Option<&[u8]> {
    // SAFETY: a C-contiguous buffer of `len_bytes` bytes stays valid while `buf` holds it.
    buf.is_c_contiguous()
        .then(|| unsafe { std::slice::from_raw_parts(buf.buf_ptr() as *const u8, buf.len_bytes()) })
}

/// One pickled column: its field's name and type, its buffers, its validity bits (or None)
/// and its length. Pickles made before names were kept hold the last three alone, one per
/// field in order.
pub(crate) struct PickledColumn<'py> {
    name: Option<String>,
    dtype: Option<String>,
    parts: Vec<Bound<'py, PyAny>>,
    validity: Bound<'py, PyAny>,
    len: usize,
}

impl<'py> FromPyObject<'_, 'py> for PickledColumn<'py> {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        let t = obj.cast::<PyTuple>()?;
        let (name, dtype, rest) = match t.len() {
            5 => (
                Some(t.get_item(0)?.extract()?),
                Some(t.get_item(1)?.extract()?),
                2,
            ),
            _ => (None, None, 0),
        };
        Ok(PickledColumn {
            name,
            dtype,
            parts: t.get_item(rest)?.extract()?,
            validity: t.get_item(rest + 1)?,
            len: t.get_item(rest + 2)?.extract()?,
        })
    }
}

/// Rebuilds a pickled table, checking every buffer (pickles can come from anywhere). Columns
/// are matched to the class's fields by name; a field the pickle lacks takes its default.
#[pyfunction]
pub fn _table_from_buffers(
    record_type: &Bound<'_, PyType>,
    columns: Vec<PickledColumn<'_>>,
) -> PyResult<PyTable> {
    let py = record_type.py();
    let schema = PySchema::of_class(record_type)?;
    let s = schema.get();
    let corrupt = |detail: String| -> PyErr {
        ShoalError::BadColumn {
            detail: format!("pickled {} table: {detail}", s.record_name),
        }
        .into()
    };
    let by_field = match_fields(s, &columns).map_err(corrupt)?;
    let len = columns.first().map_or(0, |c| c.len);
    let mut built = Vec::new();
    for (i, field) in s.core.fields().iter().enumerate() {
        let column = match by_field[i] {
            Some(c) if !field.nullable && !columns[c].validity.is_none() => {
                return Err(corrupt(format!(
                    "column '{0}' may hold nulls, but {1}.{0} is not optional: declare it \
                     `{2} | None` to load it",
                    field.name,
                    s.record_name,
                    field.dtype.name()
                )))
            }
            Some(c) => column_of(field, &columns[c]),
            None => s.default_column(py, i, len)?,
        };
        built.push(column.ok_or_else(|| corrupt(format!("column '{}' is corrupt", field.name)))?);
    }
    let inner = Table::from_columns(s.core.clone(), built)
        .map_err(|e| corrupt(ShoalError::core_message(&e, s)))?;
    Ok(PyTable::with_inner(schema.clone().unbind(), inner))
}

/// For each field, the pickled column that holds it (None: the field was added since, and
/// has a default). Refused: a column of another type than its field's, a column no field
/// names (it would be lost), a missing field without a default.
fn match_fields(s: &PySchema, columns: &[PickledColumn<'_>]) -> Result<Vec<Option<usize>>, String> {
    let fields = s.core.fields();
    if columns.iter().all(|c| c.name.is_none()) {
        if columns.len() != fields.len() {
            return Err(format!(
                "{} columns, expected {}",
                columns.len(),
                fields.len()
            ));
        }
        return Ok((0..fields.len()).map(Some).collect());
    }
    let mut by_field = vec![None; fields.len()];
    for (c, col) in columns.iter().enumerate() {
        let name = col.name.as_deref().unwrap_or_default();
        let Some(i) = s.core.index_of(name) else {
            return Err(format!(
                "it holds a column '{name}', which {} no longer declares: declare the field \
                 again to load it",
                s.record_name
            ));
        };
        let (had, has) = (
            col.dtype.as_deref().unwrap_or_default(),
            fields[i].dtype.name(),
        );
        if had != has || by_field[i].is_some() {
            return Err(format!(
                "column '{name}' was pickled as {had}, but {}.{name} is {has}; load it with a \
                 class declaring {name}: {had} and convert it",
                s.record_name
            ));
        }
        by_field[i] = Some(c);
    }
    for (i, found) in by_field.iter().enumerate() {
        let no_default = s.defaults[i].is_none() && s.factories[i].is_none();
        if found.is_none() && no_default {
            return Err(format!(
                "it has no column for field '{}', which has no default to fill it with",
                fields[i].name
            ));
        }
    }
    Ok(by_field)
}

/// The column of `field` from its pickled buffers, or None if they are not a valid one.
fn column_of(field: &shoal_core::Field, col: &PickledColumn<'_>) -> Option<Column> {
    let held = col
        .parts
        .iter()
        .map(|p| pyo3::buffer::PyUntypedBuffer::get(p).map(Arc::new))
        .collect::<PyResult<Vec<_>>>()
        .ok()?;
    let bytes: Option<Vec<&[u8]>> = held.iter().map(|b| contiguous_bytes(b)).collect();
    // `bytes` objects (what an in-band pickle holds) never change, so columns can read
    // them in place; other buffers (out of band: the caller's) are copied.
    let immutable = col
        .parts
        .iter()
        .all(|p| p.is_exact_instance_of::<PyBytes>());
    let keep: Vec<KeepAlive> = if immutable {
        held.iter().map(|b| Arc::clone(b) as KeepAlive).collect()
    } else {
        Vec::new()
    };
    let validity_buf = if col.validity.is_none() {
        None
    } else {
        Some(pyo3::buffer::PyUntypedBuffer::get(&col.validity).ok()?)
    };
    let bits = match &validity_buf {
        Some(b) => Some(contiguous_bytes(b)?),
        None => None,
    };
    // SAFETY: with `keep`, each part is a `bytes` object (immutable) whose buffer view
    // `keep` holds, so its bytes stay valid and unwritten while `keep` lives.
    bytes.and_then(|b| unsafe { Column::from_parts_in_place(field, &b, bits, col.len, &keep) })
}
