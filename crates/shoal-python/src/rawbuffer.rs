//! `RawBuffer`: one buffer of a column snapshot (values, offsets, text, codes) as a read-only
//! byte buffer, so pickling with protocol 5 can hand it out of band without copying.

use std::ffi::c_int;

use pyo3::ffi;
use pyo3::prelude::*;
use shoal_core::ColumnSnapshot;

#[pyclass(frozen, module = "shoal._shoal", name = "RawBuffer")]
pub struct PyRawBuffer {
    snap: ColumnSnapshot,
    /// Which of `snap.parts()` this is (`usize::MAX`: the validity bits).
    part: usize,
    shape: [ffi::Py_ssize_t; 1],
    strides: [ffi::Py_ssize_t; 1],
}

impl PyRawBuffer {
    pub fn new(snap: ColumnSnapshot, part: usize) -> PyRawBuffer {
        let mut b = PyRawBuffer {
            snap,
            part,
            shape: [0],
            strides: [1],
        };
        b.shape[0] = b.bytes().len() as ffi::Py_ssize_t;
        b
    }

    fn bytes(&self) -> &[u8] {
        if self.part == usize::MAX {
            return self.snap.validity().unwrap_or(&[]);
        }
        self.snap.parts()[self.part]
    }
}

#[pymethods]
impl PyRawBuffer {
    fn __len__(&self) -> usize {
        self.bytes().len()
    }

    /// # Safety
    /// `view` must be a valid `Py_buffer` to fill, as CPython passes it.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(crate::errors::ShoalError::NoBuffer {
                detail: "a RawBuffer is read-only".into(),
            }
            .into());
        }
        let this = slf.get();
        let spec = crate::capi::ViewSpec {
            data: this.bytes(),
            itemsize: 1,
            format: c"B",
            shape: &this.shape,
            strides: &this.strides,
        };
        // SAFETY: `view` is valid per the caller; the data lives in the snapshot and shape and
        // strides in `this`, all kept alive by the view's reference to `slf`.
        unsafe { crate::capi::fill_readonly_view(view, flags, slf.clone().into_any(), spec) };
        Ok(())
    }

    /// # Safety
    /// Called by CPython with a view this object filled.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        // Nothing to free: every pointer in the view is owned by `self` or static.
    }
}
