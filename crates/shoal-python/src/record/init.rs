//! The record being initialised: while its `__post_init__` or own `__init__` runs, a record
//! may set its fields even when frozen (dataclasses allow it through `object.__setattr__`).

use std::cell::Cell;
use std::ptr;

use pyo3::ffi;
use pyo3::prelude::*;

thread_local! {
    /// The standalone record whose `__post_init__` or own `__init__` is running.
    static INITIALISING: Cell<*mut ffi::PyObject> = const { Cell::new(ptr::null_mut()) };
}

/// Runs `f` with `obj` marked as initialising (restored after, even on a panic).
pub fn initialising<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce() -> R) -> R {
    struct Restore(*mut ffi::PyObject);
    impl Drop for Restore {
        fn drop(&mut self) {
            INITIALISING.set(self.0);
        }
    }
    let _restore = Restore(INITIALISING.replace(obj.as_ptr()));
    f()
}

/// Whether `obj` is the record being initialised on this thread.
pub fn is_initialising(obj: *mut ffi::PyObject) -> bool {
    INITIALISING.get() == obj
}
