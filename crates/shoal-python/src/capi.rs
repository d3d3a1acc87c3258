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
            release_deferred();
            fail
        }
        Err(_) => {
            PyErr::from(crate::errors::ShoalError::Internal {
                detail: "a record slot",
            })
            .restore(py);
            fail
        }
    }
}

/// Runs the decrefs PyO3 deferred while `f` ran. PyO3 counts its own attachments, and a C slot
/// entered straight from CPython has none, so a `Py<T>` dropped there (an error path's `PyErr`
/// converted to a message, say) is queued in PyO3's pool rather than released, until some later
/// `#[pymethods]` call happens to drain it: 100k failed appends kept 109 MB. Attaching drains
/// the pool; it costs a `PyGILState_Ensure`, so only error paths (where such drops happen) pay.
#[cold]
fn release_deferred() {
    Python::attach(|_| ());
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

/// What a read-only, one-dimensional buffer view exposes.
pub struct ViewSpec<'a> {
    pub data: &'a [u8],
    pub itemsize: usize,
    pub format: &'static std::ffi::CStr,
    /// Owned by the exporting object: `[len / itemsize]` and `[itemsize]`.
    pub shape: &'a [ffi::Py_ssize_t; 1],
    pub strides: &'a [ffi::Py_ssize_t; 1],
}

/// Fills a `Py_buffer` for `owner`'s read-only data, as `bf_getbuffer` must.
///
/// # Safety
/// `view` must be a valid `Py_buffer` to fill. `spec`'s data, shape and strides must stay valid
/// as long as `owner` lives; the view takes a strong reference to it (in `obj`).
pub unsafe fn fill_readonly_view(
    view: *mut ffi::Py_buffer,
    flags: c_int,
    owner: Bound<'_, PyAny>,
    spec: ViewSpec<'_>,
) {
    let wanted = |flag: c_int| flags & flag == flag;
    // SAFETY: `view` is a valid, exclusively borrowed Py_buffer (guaranteed by the caller).
    // Every pointer stored below lives as long as `owner`, which the view keeps alive.
    let view = unsafe { &mut *view };
    view.buf = spec.data.as_ptr() as *mut c_void;
    view.len = spec.data.len() as ffi::Py_ssize_t;
    view.readonly = 1;
    view.itemsize = spec.itemsize as ffi::Py_ssize_t;
    view.format = if wanted(ffi::PyBUF_FORMAT) {
        spec.format.as_ptr() as *mut _
    } else {
        std::ptr::null_mut()
    };
    view.ndim = 1;
    view.shape = if wanted(ffi::PyBUF_ND) {
        spec.shape.as_ptr() as *mut _
    } else {
        std::ptr::null_mut()
    };
    view.strides = if wanted(ffi::PyBUF_STRIDES) {
        spec.strides.as_ptr() as *mut _
    } else {
        std::ptr::null_mut()
    };
    view.suboffsets = std::ptr::null_mut();
    view.internal = std::ptr::null_mut();
    view.obj = owner.into_ptr();
}

/// The end of an instance of one of our GC heap types: untracks it, drops its references with
/// its `clear` slot, runs `release` for whatever else it owns, frees it, and drops its
/// reference to its type (instances of heap types own one; `subtype_dealloc` leaves dropping
/// it to us because our base types are heap types themselves).
///
/// # Safety
/// `obj` must be a live, GC-tracked instance whose refcount reached zero, and `clear` its
/// type's `tp_clear`. `obj` is freed on return.
pub unsafe fn dealloc_gc(
    obj: *mut ffi::PyObject,
    clear: unsafe extern "C" fn(*mut ffi::PyObject) -> c_int,
    release: impl FnOnce(),
) {
    // SAFETY: `obj` is live until `free` below (guaranteed by the caller).
    let tp = unsafe { ffi::Py_TYPE(obj) };
    // SAFETY: as above; the instance is tracked until now.
    unsafe { ffi::PyObject_GC_UnTrack(obj.cast()) };
    // SAFETY: `clear` is the instance's `tp_clear` (guaranteed by the caller).
    unsafe { clear(obj) };
    release();
    // SAFETY: `tp` is the live type of `obj`; every type has `tp_free` (inherited at least).
    let free = unsafe { (*tp).tp_free }.expect("tp_free");
    // SAFETY: frees the object's memory once; nothing refers to `obj` any more.
    unsafe { free(obj.cast()) };
    // SAFETY: the instance's reference to its heap type, dropped once.
    unsafe { ffi::Py_DECREF(tp.cast()) };
}
