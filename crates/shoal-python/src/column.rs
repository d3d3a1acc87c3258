//! `Column`: an immutable snapshot of one field's values, exported zero-copy through the buffer
//! protocol (`np.asarray(t["x"])`, `memoryview(t["x"])`).
//!
//! The snapshot shares the table's memory until the table writes below the snapshot's length,
//! at which point the table copies (see `shoal_core::buffer`). So an exported view is always
//! valid — after appends, writes, deletes, and after the table itself is gone — and is read-only.

use std::ffi::{c_int, c_void};

use pyo3::buffer::{ElementType, PyUntypedBuffer};
use pyo3::exceptions::{PyBufferError, PyIndexError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PySlice, PyString};
use shoal_core::{Column, ColumnSnapshot, DType};

use crate::convert::{scalar_to_py, to_scalar};
use crate::errors::{Result, ShoalError};
use crate::schema::PySchema;

#[pyclass(frozen, module = "shoal", name = "Column")]
pub struct PyColumn {
    name: Py<PyString>,
    snap: ColumnSnapshot,
    /// Shape and strides handed out in buffer views; they live as long as the view's owner.
    shape: [ffi::Py_ssize_t; 1],
    strides: [ffi::Py_ssize_t; 1],
}

impl PyColumn {
    pub fn new(name: Py<PyString>, snap: ColumnSnapshot) -> PyColumn {
        let shape = [snap.len() as ffi::Py_ssize_t];
        let strides = [snap.dtype().itemsize() as ffi::Py_ssize_t];
        PyColumn {
            name,
            snap,
            shape,
            strides,
        }
    }

    pub fn snapshot(&self) -> &ColumnSnapshot {
        &self.snap
    }

    fn values<'py>(&self, py: Python<'py>, limit: usize) -> Vec<Bound<'py, PyAny>> {
        (0..self.snap.len().min(limit))
            .map(|i| scalar_to_py(py, self.snap.get(i).expect("in range")))
            .collect()
    }
}

#[pymethods]
impl PyColumn {
    #[getter]
    fn name(&self, py: Python<'_>) -> Py<PyString> {
        self.name.clone_ref(py)
    }

    /// The storage type's name (`float`, `int`, `bool`, `f32`, `u8`, ...).
    #[getter]
    fn r#type(&self) -> &'static str {
        self.snap.dtype().name()
    }

    /// Bytes of data in this snapshot.
    #[getter]
    fn nbytes(&self) -> usize {
        self.snap.as_bytes().len()
    }

    fn __len__(&self) -> usize {
        self.snap.len()
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(slice) = key.cast::<PySlice>() {
            let ind = slice.indices(self.snap.len() as isize)?;
            let items = (0..ind.slicelength).map(|k| {
                let i = (ind.start + k as isize * ind.step) as usize;
                scalar_to_py(py, self.snap.get(i).expect("in range"))
            });
            return Ok(PyList::new(py, items)?.into_any());
        }
        let index: isize = key.extract()?;
        let len = self.snap.len() as isize;
        let i = if index < 0 { index + len } else { index };
        match (i >= 0).then(|| self.snap.get(i as usize)).flatten() {
            Some(s) => Ok(scalar_to_py(py, s)),
            None => Err(PyIndexError::new_err(format!(
                "column index {index} out of range for {len} values"
            ))),
        }
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.to_list(py)?.try_iter()?.into_any())
    }

    fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.values(py, usize::MAX))
    }

    /// A read-only NumPy array over this snapshot's memory (no copy).
    fn to_numpy<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let np = slf.py().import("numpy")?;
        np.call_method1("asarray", (slf,))
    }

    /// The sum: a float for float columns (pairwise, like NumPy), an exact int otherwise.
    fn sum<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(x) = self.snap.sum_f64() {
            return Ok(x.into_pyobject(py)?.into_any());
        }
        let total = self.snap.sum_int().expect("integer or bool column");
        Ok(total.into_pyobject(py)?.into_any())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let n = self.snap.len();
        let shown: Vec<String> = self
            .values(py, 8)
            .iter()
            .map(|v| v.repr().map(|r| r.to_string()))
            .collect::<PyResult<_>>()?;
        let more = if n > 8 { ", ..." } else { "" };
        Ok(format!(
            "Column({}, {}, {} values: [{}{}])",
            self.name.bind(py).repr()?,
            self.snap.dtype(),
            n,
            shown.join(", "),
            more
        ))
    }

    /// # Safety
    /// `view` must be a valid `Py_buffer` to fill, as CPython passes it.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err(
                "a Column is a read-only snapshot; write values with t[\"x\"] = values or t[i].x = v",
            ));
        }
        let this = slf.get();
        // SAFETY: `view` is valid per the caller. Every pointer stored in it points into `this`
        // (shape, strides), into the snapshot's allocation, or at a static string; the view
        // holds a strong reference to `slf` in `obj`, which keeps all of them alive.
        unsafe {
            (*view).buf = this.snap.as_ptr() as *mut c_void;
            (*view).len = this.snap.as_bytes().len() as ffi::Py_ssize_t;
            (*view).readonly = 1;
            (*view).itemsize = this.snap.dtype().itemsize() as ffi::Py_ssize_t;
            (*view).format = if flags & ffi::PyBUF_FORMAT == ffi::PyBUF_FORMAT {
                format_cstr(this.snap.dtype()).as_ptr() as *mut _
            } else {
                std::ptr::null_mut()
            };
            (*view).ndim = 1;
            (*view).shape = if flags & ffi::PyBUF_ND == ffi::PyBUF_ND {
                this.shape.as_ptr() as *mut _
            } else {
                std::ptr::null_mut()
            };
            (*view).strides = if flags & ffi::PyBUF_STRIDES == ffi::PyBUF_STRIDES {
                this.strides.as_ptr() as *mut _
            } else {
                std::ptr::null_mut()
            };
            (*view).suboffsets = std::ptr::null_mut();
            (*view).internal = std::ptr::null_mut();
            (*view).obj = slf.into_any().into_ptr();
        }
        Ok(())
    }

    /// # Safety
    /// Called by CPython with a view this object filled.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        // Nothing to free: every pointer in the view is owned by `self` or static.
    }
}

fn format_cstr(dtype: DType) -> &'static std::ffi::CStr {
    match dtype {
        DType::F64 => c"d",
        DType::F32 => c"f",
        DType::I8 => c"b",
        DType::I16 => c"h",
        DType::I32 => c"i",
        DType::I64 => c"q",
        DType::U8 => c"B",
        DType::U16 => c"H",
        DType::U32 => c"I",
        DType::U64 => c"Q",
        DType::Bool => c"?",
    }
}

/// Whether a buffer of `element` (in `format`) holds exactly `dtype`'s values in native order.
fn buffer_matches(element: ElementType, format: &std::ffi::CStr, dtype: DType) -> bool {
    let foreign_order = match format.to_bytes().first() {
        Some(b'>' | b'!') => cfg!(target_endian = "little"),
        Some(b'<') => cfg!(target_endian = "big"),
        _ => false,
    };
    let expected = match dtype {
        DType::F64 | DType::F32 => ElementType::Float {
            bytes: dtype.itemsize(),
        },
        DType::Bool => ElementType::Bool,
        DType::U8 | DType::U16 | DType::U32 | DType::U64 => ElementType::UnsignedInteger {
            bytes: dtype.itemsize(),
        },
        _ => ElementType::SignedInteger {
            bytes: dtype.itemsize(),
        },
    };
    !foreign_order && element == expected
}

/// A column for field `field` from `obj`: one copy of a matching 1-D contiguous buffer, or
/// each element checked like a single value otherwise.
pub fn column_from_object(
    schema: &PySchema,
    field: usize,
    obj: &Bound<'_, PyAny>,
) -> Result<Column> {
    let dtype = schema.core.fields()[field].dtype;
    if !obj.is_instance_of::<PyString>() {
        if let Ok(buf) = PyUntypedBuffer::get(obj) {
            let element = ElementType::from_format(buf.format());
            if buf.dimensions() <= 1
                && buf.is_c_contiguous()
                && buffer_matches(element, buf.format(), dtype)
            {
                // SAFETY: the buffer is C-contiguous, held (so valid) until `buf` drops at the
                // end of this block, and `len_bytes` is its exact size.
                let bytes = unsafe {
                    std::slice::from_raw_parts(buf.buf_ptr() as *const u8, buf.len_bytes())
                };
                let mut c = Column::new(dtype);
                if c.extend_from_bytes(bytes) {
                    return Ok(c);
                }
                return Err(ShoalError::BadColumn {
                    detail: format!(
                        "column for field '{}' of {}: a bool buffer holds bytes other than 0 and 1",
                        schema.core.fields()[field].name,
                        schema.record_name
                    ),
                });
            }
        }
    }
    let mut c = Column::new(dtype);
    if let Ok(n) = obj.len() {
        c.reserve(n);
    }
    for (row, item) in obj.try_iter()?.enumerate() {
        c.push(to_scalar(&item?, dtype, || {
            schema.target(field, Some(row))
        })?);
    }
    Ok(c)
}
