//! `TableIterator`: iteration over a table's rows, reusing row handles nobody else holds, or
//! over some fields' values (`t.iter("x", "name")`), with no row handle at all.
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
    /// For a values iterator: a leaked `Box<[usize]>` of `nfields` field indices (null for
    /// rows), and whether each item is a tuple of them (else the one field's value).
    fields: *mut usize,
    nfields: usize,
    tuples: bool,
    /// The last tuple handed out (owned), refilled in place when nobody else holds it, as
    /// `zip` and `enumerate` do.
    result: *mut ffi::PyObject,
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
    alloc_iter(table)
}

/// A new iterator over the values of `fields` (indices), row by row: tuples of them if
/// `tuples`, else the one field's values.
pub fn new_values_iter<'py>(
    table: &Bound<'py, PyTable>,
    fields: Vec<usize>,
    tuples: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let obj = alloc_iter(table)?;
    // SAFETY: `obj` is a fresh instance with the IterObject layout.
    let it = unsafe { &mut *obj.as_ptr().cast::<IterObject>() };
    it.nfields = fields.len();
    it.fields = Box::into_raw(fields.into_boxed_slice()).cast();
    it.tuples = tuples;
    Ok(obj)
}

fn alloc_iter<'py>(table: &Bound<'py, PyTable>) -> PyResult<Bound<'py, PyAny>> {
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
    if !it.fields.is_null() {
        return match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| values_fast(py, it)))
        {
            Ok(Some(values)) => values,
            _ => trampoline(ptr::null_mut(), |py| next_values(py, obj)),
        };
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reuse_spare(py, it))) {
        Ok(Some(handle)) => handle,
        _ => next_general(obj),
    }
}

/// The hot path of a values iterator: the next row's values when every field has a typed
/// read and holds a value, made inside one peek at the table. `None` (nothing changed) for
/// the general path.
#[inline(always)]
fn values_fast(py: Python<'_>, it: &mut IterObject) -> Option<*mut ffi::PyObject> {
    if it.table.is_null() {
        return None;
    }
    // SAFETY: `table` is an owned reference, alive as long as the iterator.
    let table = unsafe { pyo3::Borrowed::from_ptr(py, it.table) };
    // SAFETY: it is a `Table` (set only by `new_iter`).
    let table = unsafe { table.cast_unchecked::<PyTable>() };
    let this = table.get();
    let specs = &this.schema(py).get().specs;
    // SAFETY: the iterator's own boxed field indices.
    let fields = unsafe { std::slice::from_raw_parts(it.fields, it.nfields) };
    let row = it.next;
    let values = this.peek(|st| {
        if st.inner.version() != it.version || row >= st.inner.len() {
            return None;
        }
        let value = |f: usize| record::fast_value(st, specs.get(f)?.fast, f, row);
        if !it.tuples {
            return value(fields[0]);
        }
        let tuple = reusable_tuple(&mut it.result, fields.len())?;
        for (k, &f) in fields.iter().enumerate() {
            let v = value(f).filter(|v| !v.is_null());
            let Some(v) = v else {
                // The tuple is ours alone (refilled ones too, until handed out), and its items
                // are floats, ints and strs: dropping it runs no Python code.
                // SAFETY: we own this reference.
                unsafe { ffi::Py_DECREF(tuple) };
                return None;
            };
            // SAFETY: slot `k` of a tuple only we hold; it steals `v`.
            let old = unsafe { ffi::PyTuple_GET_ITEM(tuple, k as ffi::Py_ssize_t) };
            // SAFETY: as above.
            unsafe { ffi::PyTuple_SET_ITEM(tuple, k as ffi::Py_ssize_t, v) };
            if !old.is_null() {
                // SAFETY: the slot owned `old`, a float, int or str (no Python code runs).
                unsafe { ffi::Py_DECREF(old) };
            }
        }
        Some(tuple)
    })??;
    it.next += 1;
    Some(values)
}

/// A tuple of `n` items to fill, as a new reference: the last one handed out if nobody else
/// holds it (its old items still in place), else a new one kept for next time. `None` if the
/// allocation fails (the general path raises).
#[inline(always)]
fn reusable_tuple(last: &mut *mut ffi::PyObject, n: usize) -> Option<*mut ffi::PyObject> {
    // SAFETY: `last` is null or an owned, live tuple of `n` items.
    if !last.is_null() && !cfg!(Py_GIL_DISABLED) && unsafe { ffi::Py_REFCNT(*last) } == 1 {
        // SAFETY: as above; the caller receives a new reference.
        unsafe { ffi::Py_INCREF(*last) };
        return Some(*last);
    }
    // SAFETY: a new tuple of `n` empty (null) slots, or null with an exception set.
    let fresh = unsafe { ffi::PyTuple_New(n as ffi::Py_ssize_t) };
    if fresh.is_null() {
        // SAFETY: the error is the general path's to raise again.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    // SAFETY: one reference for the cache, one for the caller.
    unsafe { ffi::Py_INCREF(fresh) };
    let old = std::mem::replace(last, fresh);
    if !old.is_null() {
        // SAFETY: the cache owned `old`; someone else still holds it, so this only drops a
        // count.
        unsafe { ffi::Py_DECREF(old) };
    }
    Some(fresh)
}

/// The next row's values of a values iterator (a new reference), or null at the end.
fn next_values(py: Python<'_>, obj: *mut ffi::PyObject) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: a live instance of our type (`iter_next`'s contract).
    let it = unsafe { &mut *obj.cast::<IterObject>() };
    let Some(row) = next_row(py, it)? else {
        return Ok(ptr::null_mut());
    };
    let table = table_of(py, it);
    // SAFETY: the iterator's own boxed field indices.
    let fields = unsafe { std::slice::from_raw_parts(it.fields, it.nfields) };
    if !it.tuples {
        return field_value(&table, fields[0], row);
    }
    let n = fields.len() as ffi::Py_ssize_t;
    // SAFETY: a new tuple of `n` empty slots, or null with an exception set.
    let tuple = unsafe { ffi::PyTuple_New(n) };
    // SAFETY: as above.
    let tuple = unsafe { Bound::from_owned_ptr_or_err(py, tuple)? };
    for (k, &field) in fields.iter().enumerate() {
        let value = field_value(&table, field, row)?;
        // SAFETY: slot `k < n` of a tuple nobody else has seen; it steals `value`.
        unsafe { ffi::PyTuple_SET_ITEM(tuple.as_ptr(), k as ffi::Py_ssize_t, value) };
    }
    Ok(tuple.into_ptr())
}

/// Row `row`'s value of `field` (a new reference): the typed path, else the general one.
fn field_value(
    table: &Bound<'_, PyTable>,
    field: usize,
    row: usize,
) -> PyResult<*mut ffi::PyObject> {
    let py = table.py();
    let this = table.get();
    let schema = this.schema(py).get();
    let spec = &schema.specs[field];
    if let Some(p) = this
        .peek(|st| record::fast_value(st, spec.fast, field, row))
        .flatten()
    {
        return if p.is_null() {
            Err(PyErr::fetch(py))
        } else {
            Ok(p)
        };
    }
    // Copied out first: converting a tz-aware datetime runs the zone's Python code.
    let cell = this
        .read()?
        .inner
        .get(row, field)
        .map_err(|e| ShoalError::from_core(e, schema))?
        .into_owned();
    Ok(crate::convert::cell_to_py(py, cell, spec)?.into_ptr())
}

/// The iterator's table (`it.table` must be non-null), as a new `Bound`.
fn table_of<'py>(py: Python<'py>, it: &IterObject) -> Bound<'py, PyTable> {
    // SAFETY: `table` is a non-null owned reference, alive as long as the iterator.
    let any = unsafe { Bound::from_borrowed_ptr(py, it.table) };
    // SAFETY: it is a `Table` (set only by `alloc_iter`).
    unsafe { any.cast_into_unchecked::<PyTable>() }
}

/// Claims the next row, after checking that the table kept its rows in place; `None` at the
/// end.
fn next_row(py: Python<'_>, it: &mut IterObject) -> PyResult<Option<usize>> {
    if it.table.is_null() {
        return Ok(None);
    }
    let table = table_of(py, it);
    let (len, version) = {
        let st = table.get().read()?;
        (st.inner.len(), st.inner.version())
    };
    if version != it.version {
        return Err(changed());
    }
    if it.next >= len {
        return Ok(None);
    }
    it.next += 1;
    Ok(Some(it.next - 1))
}

fn changed() -> PyErr {
    ShoalError::Changed {
        detail: "Table changed during iteration (rows were removed, inserted or reordered)".into(),
    }
    .into()
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
        let Some(row) = next_row(py, it)? else {
            return Ok(ptr::null_mut()); // exhausted: NULL without an exception
        };
        let version = it.version;
        let table = table_of(py, it);
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
    for p in [ty, it.table, it.spare[0], it.spare[1], it.result] {
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
    clear_refs([&mut it.table, a, b, &mut it.result]);
    0
}

/// `tp_dealloc`. Contract (`destructor`): called once, with a live instance whose refcount
/// reached zero.
unsafe extern "C" fn iter_dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: the contract: a live instance of our type until `dealloc_gc` frees it.
    let it = unsafe { &*obj.cast::<IterObject>() };
    let (fields, nfields) = (it.fields, it.nfields);
    let release = || {
        if !fields.is_null() {
            // SAFETY: the `Box<[usize]>` leaked by `new_values_iter`, freed only here.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(fields, nfields)) });
        }
    };
    // SAFETY: the contract; `iter_clear` is our type's `tp_clear`.
    unsafe { dealloc_gc(obj, iter_clear, release) };
}
