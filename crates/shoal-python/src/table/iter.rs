//! `TableIterator`: iteration over a table's rows, reusing row handles nobody else holds.
//!
//! A C-level type rather than a `#[pyclass]`: `for p in t` calls `tp_iternext` once per row,
//! and PyO3's slot trampoline (thread-local bookkeeping) was a tenth of the loop's time.

use std::ffi::{c_int, c_void};
use std::ptr;

use pyo3::ffi;
use pyo3::prelude::*;

use crate::errors::ShoalError;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use crate::capi::{clear_refs, dealloc_gc, slot, trampoline};
use crate::record;
use crate::table::PyTable;

#[repr(C)]
struct IterObject {
    ob_base: ffi::PyObject,
    /// Owned reference to the `Table`.
    table: *mut ffi::PyObject,
    next: usize,
    /// The table's structural version when iteration started.
    version: u64,
    /// Two owned row handles (or null), because the loop variable still holds the previous
    /// row when the next one is requested; the one before that is usually free again.
    spare: [*mut ffi::PyObject; 2],
    turn: usize,
}

static ITER_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn iter_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    ITER_TYPE
        .get_or_try_init(py, || {
            let slots = Box::leak(Box::new([
                slot(ffi::Py_tp_dealloc, iter_dealloc as *mut c_void),
                slot(ffi::Py_tp_traverse, iter_traverse as *mut c_void),
                slot(ffi::Py_tp_clear, iter_clear as *mut c_void),
                slot(ffi::Py_tp_iter, ffi::PyObject_SelfIter as *mut c_void),
                slot(ffi::Py_tp_iternext, iter_next as *mut c_void),
                slot(0, ptr::null_mut()),
            ]));
            let spec = Box::leak(Box::new(ffi::PyType_Spec {
                name: c"shoal.TableIterator".as_ptr(),
                basicsize: std::mem::size_of::<IterObject>() as c_int,
                itemsize: 0,
                flags: (ffi::Py_TPFLAGS_DEFAULT
                    | ffi::Py_TPFLAGS_HAVE_GC
                    | ffi::Py_TPFLAGS_DISALLOW_INSTANTIATION) as _,
                slots: slots.as_mut_ptr(),
            }));
            // SAFETY: `spec` and its slots are 'static and well-formed (zero-terminated, each
            // function has its slot's signature).
            let ty = unsafe { ffi::PyType_FromSpec(spec) };
            // SAFETY: a new reference or null with an exception set.
            let ty = unsafe { Bound::from_owned_ptr_or_err(py, ty)? };
            Ok::<_, PyErr>(ty.cast_into::<PyType>()?.unbind())
        })
        .map(|t| t.bind(py))
}

/// A new iterator over `table`'s rows.
pub fn new_iter<'py>(table: &Bound<'py, PyTable>) -> PyResult<Bound<'py, PyAny>> {
    let py = table.py();
    let version = table.get().read()?.inner.version();
    let ty = iter_type(py)?.as_type_ptr();
    // SAFETY: PyType_GenericAlloc returns a zeroed, GC-tracked instance or null with an
    // exception set; `ty` is our iterator type.
    let obj = unsafe { ffi::PyType_GenericAlloc(ty, 0) };
    if obj.is_null() {
        return Err(PyErr::fetch(py));
    }
    // SAFETY: `obj` is a fresh instance with the IterObject layout.
    let it = unsafe { &mut *obj.cast::<IterObject>() };
    it.table = table.clone().into_any().into_ptr();
    it.version = version;
    // SAFETY: `obj` is a new reference.
    Ok(unsafe { Bound::from_owned_ptr(py, obj) })
}

/// `tp_iternext`. Contract (`iternextfunc`): called with the attached thread and a live
/// instance; returns a new reference, or null (with an exception set on error, without one
/// when exhausted).
unsafe extern "C" fn iter_next(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: CPython calls tp_iternext with the thread attached.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: CPython calls tp_iternext with a live instance of our type.
    let it = unsafe { &mut *obj.cast::<IterObject>() };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reuse_spare(py, it))) {
        Ok(Some(handle)) => handle,
        _ => next_general(obj),
    }
}

/// The hot path of `tp_iternext`: the next row in a spare handle nobody else holds, with no
/// `PyResult` and no new reference to the table. `None` (nothing changed) for the general
/// path: the end, a changed table, a borrow in progress or no free handle.
#[inline(always)]
fn reuse_spare(py: Python<'_>, it: &mut IterObject) -> Option<*mut ffi::PyObject> {
    if it.table.is_null() {
        return None;
    }
    // SAFETY: `table` is an owned reference, alive as long as the iterator.
    let table = unsafe { pyo3::Borrowed::from_ptr(py, it.table) };
    // SAFETY: it is a `Table` (set only by `new_iter`).
    let table = unsafe { table.cast_unchecked::<PyTable>() };
    let (len, version) = table
        .get()
        .peek(|st| (st.inner.len(), st.inner.version()))?;
    if version != it.version || it.next >= len {
        return None;
    }
    let p = *it.spare.iter().find(|p| {
        // SAFETY: a non-null spare is a live row handle we own a reference to.
        !p.is_null() && unsafe { record::rebind_raw_if_unshared(**p, it.next, version) }
    })?;
    it.next += 1;
    // SAFETY: `p` is live; the caller receives a new reference.
    unsafe { ffi::Py_INCREF(p) };
    Some(p)
}

/// `tp_iternext`'s general path: checks, errors and new handles.
#[cold]
fn next_general(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    trampoline(ptr::null_mut(), |py| {
        // SAFETY: CPython calls tp_iternext with a live instance of our type.
        let it = unsafe { &mut *obj.cast::<IterObject>() };
        if it.table.is_null() {
            return Ok(ptr::null_mut());
        }
        // SAFETY: `table` is an owned reference, alive as long as the iterator.
        let table = unsafe { Bound::from_borrowed_ptr(py, it.table) };
        // SAFETY: it is a `Table` (set only by `new_iter`).
        let table = unsafe { table.cast_into_unchecked::<PyTable>() };
        let (len, version) = {
            let st = table.get().read()?;
            (st.inner.len(), st.inner.version())
        };
        if version != it.version {
            return Err(ShoalError::Changed {
                detail: "Table changed during iteration (rows were removed, inserted or \
                         reordered)"
                    .into(),
            }
            .into());
        }
        if it.next >= len {
            return Ok(ptr::null_mut()); // exhausted: NULL without an exception
        }
        let row = it.next;
        it.next += 1;
        for &p in &it.spare {
            if p.is_null() {
                continue;
            }
            // SAFETY: `p` is a live row handle we own a reference to; borrowing it adds none.
            let handle = unsafe { pyo3::Borrowed::from_ptr(py, p) };
            if record::rebind_if_unshared(&handle, row, version) {
                return Ok(handle.to_owned().into_ptr());
            }
        }
        let handle = record::new_row(&table, table.get().schema(py), row, version)?;
        let old = std::mem::replace(&mut it.spare[it.turn], handle.clone().into_ptr());
        it.turn ^= 1;
        if !old.is_null() {
            // SAFETY: we owned this reference and have already unlinked it.
            unsafe { ffi::Py_DECREF(old) };
        }
        Ok(handle.into_ptr())
    })
}

/// `tp_traverse`. Contract (`traverseproc`): called by the collector with a live instance, a
/// visitor and its argument; returns the first non-zero visitor result, else 0.
unsafe extern "C" fn iter_traverse(
    obj: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: CPython calls tp_traverse with a live instance of our type.
    let it = unsafe { &*obj.cast::<IterObject>() };
    // SAFETY: a heap type's instances own a reference to their type, which they must visit.
    let ty = unsafe { ffi::Py_TYPE(obj) }.cast::<ffi::PyObject>();
    for p in [ty, it.table, it.spare[0], it.spare[1]] {
        if !p.is_null() {
            // SAFETY: `p` is a live object we own a reference to.
            let r = unsafe { visit(p, arg) };
            if r != 0 {
                return r;
            }
        }
    }
    0
}

/// `tp_clear`. Contract (`inquiry`): called with a live instance; returns 0.
unsafe extern "C" fn iter_clear(obj: *mut ffi::PyObject) -> c_int {
    // SAFETY: CPython calls tp_clear with a live instance of our type.
    let it = unsafe { &mut *obj.cast::<IterObject>() };
    let [a, b] = &mut it.spare;
    clear_refs([&mut it.table, a, b]);
    0
}

/// `tp_dealloc`. Contract (`destructor`): called once, with a live instance whose refcount
/// reached zero.
unsafe extern "C" fn iter_dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: the contract; `iter_clear` is our type's `tp_clear`.
    unsafe { dealloc_gc(obj, iter_clear, || ()) };
}
