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

    /// Pickles as the record class and, per column, its buffers (see
    /// `ColumnSnapshot::parts`), its validity bits or None, and its length. With protocol 5 the
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
        for snap in &snapshots {
            let parts = (0..snap.parts().len())
                .map(|p| buffer(snap, p))
                .collect::<PyResult<Vec<_>>>()?;
            let validity = match snap.validity() {
                Some(_) => buffer(snap, usize::MAX)?,
                None => py.None().into_bound(py),
            };
            columns.push((PyList::new(py, parts)?, validity, len).into_pyobject(py)?);
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

/// One pickled column: its buffers, its validity bits (or None) and its length.
type PickledColumn<'py> = (Vec<Bound<'py, PyAny>>, Bound<'py, PyAny>, usize);

/// Rebuilds a pickled table, checking every buffer (pickles can come from anywhere).
#[pyfunction]
pub fn _table_from_buffers(
    record_type: &Bound<'_, PyType>,
    columns: Vec<PickledColumn<'_>>,
) -> PyResult<PyTable> {
    let schema = PySchema::of_class(record_type)?;
    let s = schema.get();
    let corrupt = |detail: String| -> PyErr {
        ShoalError::BadColumn {
            detail: format!("pickled {} table: {detail}", s.record_name),
        }
        .into()
    };
    if columns.len() != s.len() {
        return Err(corrupt(format!(
            "{} columns, expected {}",
            columns.len(),
            s.len()
        )));
    }
    let mut built = Vec::new();
    for (field, (parts, validity, len)) in s.core.fields().iter().zip(&columns) {
        let held = parts
            .iter()
            .map(|p| pyo3::buffer::PyUntypedBuffer::get(p).map(Arc::new))
            .collect::<PyResult<Vec<_>>>()?;
        let bytes: Option<Vec<&[u8]>> = held.iter().map(|b| contiguous_bytes(b)).collect();
        // `bytes` objects (what an in-band pickle holds) never change, so columns can read
        // them in place; other buffers (out of band: the caller's) are copied.
        let immutable = parts.iter().all(|p| p.is_exact_instance_of::<PyBytes>());
        let keep: Vec<KeepAlive> = if immutable {
            held.iter().map(|b| Arc::clone(b) as KeepAlive).collect()
        } else {
            Vec::new()
        };
        let validity_buf = if validity.is_none() {
            None
        } else {
            Some(pyo3::buffer::PyUntypedBuffer::get(validity)?)
        };
        let bits = match &validity_buf {
            Some(b) => Some(contiguous_bytes(b).ok_or_else(|| corrupt("validity".into()))?),
            None => None,
        };
        let column = bytes
            // SAFETY: with `keep`, each part is a `bytes` object (immutable) whose buffer view
            // `keep` holds, so its bytes stay valid and unwritten while `keep` lives.
            .and_then(|b| unsafe { Column::from_parts_in_place(field, &b, bits, *len, &keep) })
            .ok_or_else(|| corrupt(format!("column '{}' is corrupt", field.name)))?;
        built.push(column);
    }
    let inner = Table::from_columns(s.core.clone(), built)
        .map_err(|e| corrupt(ShoalError::core_message(&e, s)))?;
    Ok(PyTable::with_inner(schema.clone().unbind(), inner))
}
