//! The census's roots: every object the cycle collector tracks.

#[cfg(Py_3_12)]
use std::ffi::{c_int, c_void};

#[cfg(Py_3_12)]
use pyo3::ffi;
use pyo3::prelude::*;

#[cfg(Py_3_12)]
extern "C" {
    fn PyUnstable_GC_VisitObjects(
        callback: unsafe extern "C" fn(*mut ffi::PyObject, *mut c_void) -> c_int,
        arg: *mut c_void,
    );
}

/// The visitor `gc_roots` passes to `PyUnstable_GC_VisitObjects`.
///
/// Contract (`gcvisitobjects_t`): called with the attached thread for each object the collector
/// tracks and the `arg` given, here a `*mut Vec<usize>` exclusively borrowed for the visit;
/// returns 1 to continue. Runs no Python code.
#[cfg(Py_3_12)]
unsafe extern "C" fn collect_root(obj: *mut ffi::PyObject, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Vec` passed by `gc_roots` for the duration of the visit.
    unsafe { (*arg.cast::<Vec<usize>>()).push(obj as usize) };
    1 // continue
}

/// Every object the cycle collector tracks: the census's roots.
pub(super) fn gc_roots(py: Python<'_>) -> PyResult<(Vec<usize>, Option<Bound<'_, PyAny>>)> {
    #[cfg(Py_3_12)]
    {
        let mut roots: Vec<usize> = Vec::new();
        // SAFETY: the callback only records addresses; the GIL is held throughout, and the walk
        // that follows runs no Python code, so every recorded object stays alive.
        unsafe { PyUnstable_GC_VisitObjects(collect_root, (&raw mut roots).cast()) };
        let _ = py; // needed only to call gc.get_objects() before 3.12
        Ok((roots, None))
    }
    #[cfg(not(Py_3_12))]
    {
        // Before 3.12 there is no allocation-free way to list tracked objects: gc.get_objects()
        // builds one list (kept alive, and out of the census, until the walk ends).
        let list = py.import("gc")?.call_method0("get_objects")?;
        let roots = list
            .cast::<pyo3::types::PyList>()?
            .iter()
            .map(|o| o.as_ptr() as usize)
            .collect();
        Ok((roots, Some(list)))
    }
}
