//! Helpers for functions CPython calls directly (type slots, fast-call methods).

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
