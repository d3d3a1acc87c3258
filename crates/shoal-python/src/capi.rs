//! Helpers for functions CPython calls directly (type slots, fast-call methods).

use std::ffi::{c_int, c_void};

use pyo3::ffi;
use pyo3::prelude::*;

/// Runs `f` with the interpreter attached, turning errors and panics into a set exception and
/// the C API's failure value.
pub fn trampoline<R>(fail: R, f: impl FnOnce(Python<'_>) -> PyResult<R>) -> R {
    // SAFETY: only called from slot functions, which CPython calls with the thread attached.
    let py = unsafe { Python::assume_attached() };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(py))) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            e.restore(py);
            fail
        }
        Err(_) => {
            pyo3::exceptions::PySystemError::new_err("shoal: internal panic in a record slot")
                .restore(py);
            fail
        }
    }
}

/// One entry of a `PyType_Spec` slot list.
pub fn slot(id: c_int, pfunc: *mut c_void) -> ffi::PyType_Slot {
    ffi::PyType_Slot { slot: id, pfunc }
}

/// Drops owned references, nulling each field before its decref (the `tp_clear` pattern, so a
/// finaliser that runs during the decref never sees a dangling field).
pub fn clear_refs<const N: usize>(fields: [&mut *mut ffi::PyObject; N]) {
    for p in fields {
        let old = std::mem::replace(p, std::ptr::null_mut());
        if !old.is_null() {
            // SAFETY: the field owned this reference and has already been unlinked.
            unsafe { ffi::Py_DECREF(old) };
        }
    }
}
