//! Allocating records: `Point(...)` (standalone, holding its own cells) and row handles
//! (`t[i]`, iteration), which are reused when nobody else holds them.

use std::ptr;

use pyo3::ffi;
use pyo3::prelude::*;

use crate::errors::ShoalError;
use pyo3::types::{PyDict, PyTuple, PyType};
use shoal_core::Datum;

use crate::capi::trampoline;
use crate::schema::PySchema;
use crate::table::PyTable;

use super::init::initialising;
use super::{record, RecordObject};

/// `tp_new` of `RecordBase`: `Point(1.0, y=2.0)`.
///
/// Contract (`newfunc`): CPython calls it with the attached thread, a live type (a Record
/// subclass), the args tuple and the kwargs dict or null; it returns a new reference, or null
/// with an exception set.
pub(super) unsafe extern "C" fn record_new(
    subtype: *mut ffi::PyTypeObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    trampoline(ptr::null_mut(), |py| {
        // SAFETY: CPython passes a live type (the contract).
        let ty = unsafe { Bound::from_borrowed_ptr(py, subtype.cast()) };
        // SAFETY: as above: it is a type.
        let ty = unsafe { ty.cast_into_unchecked::<PyType>() };
        // SAFETY: CPython passes a live args tuple (the contract).
        let args = unsafe { Bound::from_borrowed_ptr(py, args) };
        // SAFETY: as above: it is a tuple.
        let args = unsafe { args.cast_into_unchecked::<PyTuple>() };
        // SAFETY: CPython passes a live kwargs dict, or null (the contract).
        let kwargs = unsafe { Bound::from_borrowed_ptr_or_opt(py, kwargs) };
        // SAFETY: as above: it is a dict.
        let kwargs = kwargs.map(|k| unsafe { k.cast_into_unchecked::<PyDict>() });
        let schema = PySchema::of_class(&ty)?;
        let s = schema.get();
        if !ty.is(s.record_type.bind(py)) {
            return Err(ShoalError::InheritedSchema {
                class: ty.name()?.to_string(),
                record: s.record_name.clone(),
            }
            .into());
        }
        // SAFETY: reading the flags of a live type object.
        if unsafe { (*subtype).tp_flags } & ffi::Py_TPFLAGS_IS_ABSTRACT != 0 {
            return Err(ShoalError::Abstract {
                class: ty.name()?.to_string(),
            }
            .into());
        }
        let mut values = Vec::with_capacity(s.len());
        if s.custom_init {
            // The class's own __init__ (run next, by `run_init`) sets what has no default.
            for i in 0..s.len() {
                let has_default = s.defaults[i].is_some() || s.factories[i].is_some();
                values.push(if has_default {
                    s.fallback(py, i, None)?
                } else {
                    Datum::Null
                });
            }
            return Ok(new_standalone(&schema, values)?.into_ptr());
        }
        let initvars = s.bind_init(&args, kwargs.as_ref(), None, &mut values)?;
        let obj = new_standalone(&schema, values)?;
        if s.post_init {
            let post_init = pyo3::intern!(py, "__post_init__");
            initialising(&obj, || {
                obj.call_method1(post_init, PyTuple::new(py, initvars)?)
            })?;
        }
        Ok(obj.into_ptr())
    })
}

/// `shoal._shoal.run_init(record, init, args, kwargs)`: a record class's own `__init__`,
/// run with the record marked as initialising, then checked to have set every field that
/// has no default.
#[pyfunction]
pub fn run_init(
    record: &Bound<'_, PyAny>,
    init: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<()> {
    let py = record.py();
    if !super::is_record(record)? {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "run_init takes a shoal record",
        ));
    }
    // SAFETY: `record` is a RecordBase instance (checked).
    let rec = unsafe { super::record(record.as_ptr()) };
    if !rec.table.is_null() {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "__init__ makes a new record; a table's row is changed by assigning its fields",
        ));
    }
    let mut call_args = vec![record.clone()];
    call_args.extend(args.iter());
    initialising(record, || init.call(PyTuple::new(py, call_args)?, kwargs))?;
    let schema = super::schema_of(py, rec).ok_or_else(super::access::uninitialised)?;
    let s = schema.get();
    // SAFETY: a standalone record owns `nvalues` cells at `values`.
    let values = unsafe { std::slice::from_raw_parts(rec.values, rec.nvalues) };
    for (i, v) in values.iter().enumerate() {
        if matches!(v, Datum::Null) && !s.core.fields()[i].nullable {
            return Err(ShoalError::Unset {
                record: s.record_name.clone(),
                field: s.core.fields()[i].name.clone(),
            }
            .into());
        }
    }
    Ok(())
}

/// # Safety
/// `ty` must be `RecordBase` or a subclass.
unsafe fn alloc_instance(
    py: Python<'_>,
    ty: *mut ffi::PyTypeObject,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: `ty` is a live type; every type object has tp_alloc (inherited from object at the
    // latest).
    let alloc = unsafe { (*ty).tp_alloc }.expect("tp_alloc");
    // SAFETY: returns a new zeroed instance of `ty` or null with an exception set.
    let obj = unsafe { alloc(ty, 0) };
    if obj.is_null() {
        Err(PyErr::fetch(py))
    } else {
        Ok(obj)
    }
}

/// A new, zeroed instance of the schema's record class, holding a reference to the schema.
fn alloc_record<'py>(
    schema: &Bound<'py, PySchema>,
) -> PyResult<(Bound<'py, PyAny>, &'py mut RecordObject)> {
    let py = schema.py();
    let ty = schema
        .get()
        .record_type
        .as_ptr()
        .cast::<ffi::PyTypeObject>();
    // SAFETY: the schema's record type is a RecordBase subclass (checked in PySchema::new).
    let obj = unsafe { alloc_instance(py, ty)? };
    // SAFETY: `obj` is a fresh, zero-initialised instance of a RecordBase subclass, owned by the
    // returned `Bound` for as long as the caller uses the struct reference.
    let rec = unsafe { record(obj) };
    rec.schema = schema.clone().into_any().into_ptr();
    // SAFETY: `obj` is a new reference.
    Ok((unsafe { Bound::from_owned_ptr(py, obj) }, rec))
}

/// A new row handle for `row` of `table`, an instance of the schema's record class.
pub fn new_row<'py>(
    table: &Bound<'py, PyTable>,
    schema: &Bound<'py, PySchema>,
    row: usize,
    version: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let (obj, rec) = alloc_record(schema)?;
    rec.table = table.clone().into_any().into_ptr();
    rec.row = row;
    rec.version = version;
    Ok(obj)
}

/// Points a row handle that nobody else holds at another row, so loops need not allocate.
/// Returns false (changing nothing) if anyone else holds a reference.
/// `obj` must be borrowed from the cache without a new reference (so a count of 1 means the
/// cache is the only holder).
pub fn rebind_if_unshared(obj: &Bound<'_, PyAny>, row: usize, version: u64) -> bool {
    // SAFETY: callers only pass live row handles they created with `new_row`.
    unsafe { rebind_raw_if_unshared(obj.as_ptr(), row, version) }
}

/// [`rebind_if_unshared`] on a raw pointer, for slots that hold one.
///
/// # Safety
/// `obj` must be a live row handle created by `new_row`, borrowed from the caller's cache.
#[inline(always)]
pub unsafe fn rebind_raw_if_unshared(obj: *mut ffi::PyObject, row: usize, version: u64) -> bool {
    // SAFETY: reading the reference count of a live object (the caller's guarantee).
    if cfg!(Py_GIL_DISABLED) || unsafe { ffi::Py_REFCNT(obj) } != 1 {
        return false;
    }
    // SAFETY: a row handle has the record layout (the caller's guarantee).
    let rec = unsafe { record(obj) };
    rec.row = row;
    rec.version = version;
    true
}

/// A new standalone record of the schema's class holding `values` (already checked).
pub fn new_standalone<'py>(
    schema: &Bound<'py, PySchema>,
    values: Vec<Datum<'static>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (obj, rec) = alloc_record(schema)?;
    let values = Box::into_raw(values.into_boxed_slice());
    rec.nvalues = values.len();
    rec.values = values.cast();
    Ok(obj)
}
