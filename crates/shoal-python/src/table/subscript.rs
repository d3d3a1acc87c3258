//! `t[i]` as a raw `mp_subscript` slot: the hot path of `t[i].x` in a loop.
//!
//! PyO3's `__getitem__` runs in its trampoline (thread-local bookkeeping, a `PyResult`, the
//! key tried as a str and a slice first), a third of `t[i].x = v`. The slot installed here
//! answers an exact int key whose row is in range when the cached row handle is free, and
//! hands everything else — new handles, slices, field names, errors — to PyO3's slot, which
//! stays the type's `__getitem__` for explicit calls.

use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;

use super::PyTable;

/// PyO3's `mp_subscript` for `Table`, called for everything the fast slot does not answer.
static GENERAL: OnceLock<ffi::binaryfunc> = OnceLock::new();

/// Puts [`table_subscript`] in `Table`'s `mp_subscript` slot (subclasses created later inherit
/// it; one defining `__getitem__` gets its own).
pub fn install_fast_subscript(py: Python<'_>) -> PyResult<()> {
    let ty = py.get_type::<PyTable>().as_type_ptr();
    // SAFETY: a live heap type; its `tp_as_mapping` points into the type object itself.
    let mapping = unsafe { (*ty).tp_as_mapping };
    if mapping.is_null() {
        return Ok(());
    }
    // SAFETY: as above; module initialisation runs once, before any table is indexed.
    let Some(general) = (unsafe { (*mapping).mp_subscript }) else {
        return Ok(());
    };
    if GENERAL.set(general).is_ok() {
        // SAFETY: as above; the slot has the `binaryfunc` signature.
        unsafe { (*mapping).mp_subscript = Some(table_subscript) };
        // SAFETY: tells CPython the type's slots changed (no cache keeps the old one).
        unsafe { ffi::PyType_Modified(ty) };
    }
    Ok(())
}

/// `mp_subscript` of `Table`. Contract (`binaryfunc`): called with the attached thread, a live
/// `Table` (the slot's type or a subclass) and a live key; returns a new reference, or null
/// with an exception set.
unsafe extern "C" fn table_subscript(
    obj: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls the slot with the thread attached.
    let py = unsafe { Python::assume_attached() };
    if let Ok(Some(handle)) = std::panic::catch_unwind(|| free_row_handle(py, obj, key)) {
        return handle;
    }
    match GENERAL.get() {
        // SAFETY: PyO3's slot for this type, with the same arguments.
        Some(general) => unsafe { general(obj, key) },
        // Not reached: the slot is installed only after GENERAL is set.
        None => crate::capi::trampoline(std::ptr::null_mut(), |_| {
            Err(crate::errors::ShoalError::Internal {
                detail: "Table.__getitem__",
            }
            .into())
        }),
    }
}

/// The cached handle re-pointed at row `key` if `key` is an exact int naming a row and the
/// handle is free; `None` (nothing changed, no exception set) otherwise.
#[inline(always)]
fn free_row_handle(
    py: Python<'_>,
    obj: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
) -> Option<*mut ffi::PyObject> {
    // SAFETY: a type check on a live object.
    if unsafe { ffi::PyLong_CheckExact(key) } == 0 {
        return None;
    }
    // SAFETY: `key` is an exact int.
    let index = unsafe { ffi::PyLong_AsSsize_t(key) };
    // SAFETY: checks the thread's error indicator.
    if index == -1 && !unsafe { ffi::PyErr_Occurred() }.is_null() {
        // SAFETY: clears the overflow (the general slot explains it).
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    // SAFETY: `obj` is a live Table (the slot's contract).
    let table = unsafe { pyo3::Borrowed::from_ptr(py, obj) };
    // SAFETY: as above.
    let this = unsafe { table.cast_unchecked::<PyTable>() }.get();
    let len = this.peek(|st| st.inner.len())? as isize;
    let row = if index < 0 { index + len } else { index };
    if !(0..len).contains(&row) {
        return None;
    }
    this.reuse_cached_row(row as usize)
}
