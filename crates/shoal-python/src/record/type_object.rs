//! The `RecordBase` type object and its C slots: attribute access with a fast path for field
//! names, GC support and deallocation.

use std::ffi::{c_int, c_void};
use std::ptr;

use crate::capi::slot;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use crate::capi::{clear_refs, dealloc_gc, trampoline};
use crate::schema::PySchema;

use super::access::{read_after, read_field_raw, read_row_fast, set_field};
use super::new::record_new;
use super::{record, schema_of, schema_ref, table_ref, RecordObject};
use crate::convert::fast_number;
use crate::errors::ShoalError;

static RECORD_BASE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The `RecordBase` type object, created on first use.
pub fn record_base(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    RECORD_BASE
        .get_or_try_init(py, || create_type(py))
        .map(|t| t.bind(py))
}

fn create_type(py: Python<'_>) -> PyResult<Py<PyType>> {
    let slots = Box::leak(Box::new([
        slot(ffi::Py_tp_new, record_new as *mut c_void),
        slot(ffi::Py_tp_dealloc, record_dealloc as *mut c_void),
        slot(ffi::Py_tp_traverse, record_traverse as *mut c_void),
        slot(ffi::Py_tp_clear, record_clear as *mut c_void),
        slot(ffi::Py_tp_getattro, record_getattro as *mut c_void),
        slot(ffi::Py_tp_setattro, record_setattro as *mut c_void),
        slot(
            ffi::Py_tp_doc,
            c"Storage base of shoal.Record; subclass shoal.Record instead.".as_ptr() as *mut c_void,
        ),
        slot(0, ptr::null_mut()),
    ]));
    let spec = Box::leak(Box::new(ffi::PyType_Spec {
        name: c"shoal.RecordBase".as_ptr(),
        basicsize: std::mem::size_of::<RecordObject>() as c_int,
        itemsize: 0,
        flags: (ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_BASETYPE | ffi::Py_TPFLAGS_HAVE_GC) as _,
        slots: slots.as_mut_ptr(),
    }));
    // SAFETY: `spec` and its slots are 'static (leaked once) and well-formed: the slot list
    // ends with a zero entry and every function has the signature its slot requires.
    let ty = unsafe { ffi::PyType_FromSpec(spec) };
    // SAFETY: PyType_FromSpec returns a new reference or null with an exception set.
    let ty = unsafe { Bound::from_owned_ptr_or_err(py, ty)? };
    Ok(ty.cast_into::<PyType>()?.unbind())
}

/// Whether `obj` is really a record: its type (`Py_TYPE`, not a `__class__` it may claim, as
/// `unittest.mock.Mock(spec=P)` does) is `RecordBase` or a subclass. Only then may its memory
/// be read as a `RecordObject`.
pub fn is_record(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    is_record_type(obj.get_type().as_type_ptr(), obj.py())
}

/// Whether the type `tp` is `RecordBase` or a subclass, by the type's own MRO (no
/// `__subclasscheck__`/`__instancecheck__` hook can answer for it).
pub fn is_record_type(tp: *mut ffi::PyTypeObject, py: Python<'_>) -> PyResult<bool> {
    let base = record_base(py)?.as_type_ptr();
    // SAFETY: both are live type objects (`tp` is borrowed from a live object or type).
    Ok(unsafe { ffi::PyType_IsSubtype(tp, base) } != 0)
}

/// The field index of `name` if it is one of the schema's interned field names (pointer match).
fn fast_field_index(schema: &PySchema, name: *mut ffi::PyObject) -> Option<usize> {
    schema.names.iter().position(|n| n.as_ptr() == name)
}

/// `tp_getattro`: field names by pointer first, then the generic lookup.
///
/// The hot path (a current row, a field of a [`FastRead`] kind) stays out of the trampoline:
/// its result is a pointer, not a `PyResult`, and only a panic guard surrounds it.
///
/// Contract (`getattrofunc`): called with the attached thread, a live instance of a Record
/// subclass and a str; returns a new reference, or null with an exception set.
pub(super) unsafe extern "C" fn record_getattro(
    obj: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls tp_getattro with the thread attached.
    let py = unsafe { Python::assume_attached() };
    let fast = std::panic::catch_unwind(|| {
        // SAFETY: CPython calls tp_getattro with a live instance of our type.
        let rec = unsafe { record(obj) };
        if rec.schema.is_null() {
            return None;
        }
        let schema = schema_ref(py, rec);
        let i = fast_field_index(schema.get(), name)?;
        Some(read_row_fast(py, rec, schema.get(), i).ok_or(i))
    });
    match fast {
        Ok(Some(Ok(value))) => value,
        Ok(Some(Err(field))) => trampoline(ptr::null_mut(), |py| {
            // SAFETY: as above.
            let rec = unsafe { record(obj) };
            let schema = schema_ref(py, rec);
            read_field_raw(py, rec, schema.get(), field)
                .or_else(|f| read_after(py, rec, schema.get(), field, f))
                .map_err(PyErr::from)
        }),
        // SAFETY: plain delegation to the generic lookup with the same valid arguments.
        Ok(None) => unsafe { ffi::PyObject_GenericGetAttr(obj, name) },
        Err(_) => trampoline(ptr::null_mut(), |_| {
            Err(ShoalError::Internal {
                detail: "a record slot",
            }
            .into())
        }),
    }
}

/// `tp_setattro`: writes fields (through to the table for a row), else the generic setter.
///
/// Contract (`setattrofunc`): called with the attached thread, a live instance, a str and the
/// value (null for `del`); returns 0, or -1 with an exception set.
pub(super) unsafe extern "C" fn record_setattro(
    obj: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: CPython calls tp_setattro with the thread attached.
    let py = unsafe { Python::assume_attached() };
    if let Ok(Some(true)) = std::panic::catch_unwind(|| write_row_fast(py, obj, name, value)) {
        return 0;
    }
    trampoline(-1, |py| {
        // SAFETY: CPython calls tp_setattro with a live instance of our type.
        let rec = unsafe { record(obj) };
        let field = schema_of(py, rec).and_then(|s| fast_field_index(s.get(), name));
        if !value.is_null() {
            if let Some(i) = field {
                // SAFETY: `obj` is live for the call (the contract).
                let o = unsafe { Bound::from_borrowed_ptr(py, obj) };
                // SAFETY: `value` is a live borrowed object (non-null: checked above).
                let v = unsafe { Bound::from_borrowed_ptr(py, value) };
                // SAFETY: `o` is a RecordBase instance.
                unsafe { set_field(&o, i, &v)? };
                return Ok(0);
            }
        }
        // SAFETY: plain delegation to the generic setter with the same valid arguments.
        if unsafe { ffi::PyObject_GenericSetAttr(obj, name, value) } < 0 {
            Err(PyErr::fetch(py))
        } else {
            Ok(0)
        }
    })
}

/// The hot path of `row.x = value`: an exact number for a `float`, `int` or `bool` field of
/// a current row, written in place. `Some(true)` if written; otherwise nothing changed and
/// the general path runs (which converts, copies shared storage, explains errors).
#[inline(always)]
fn write_row_fast(
    py: Python<'_>,
    obj: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> Option<bool> {
    // SAFETY: CPython calls tp_setattro with a live instance of our type.
    let rec = unsafe { record(obj) };
    if rec.schema.is_null() || rec.table.is_null() || value.is_null() {
        return None;
    }
    let schema = schema_ref(py, rec);
    let schema = schema.get();
    if schema.frozen {
        return None;
    }
    let field = fast_field_index(schema, name)?;
    // SAFETY: `value` is a live borrowed object (non-null: checked above).
    let value = unsafe { pyo3::Borrowed::from_ptr(py, value) };
    let number = fast_number(&value, schema.specs.get(field)?.fast)?;
    let (row, version) = (rec.row, rec.version);
    let table = table_ref(py, rec).get();
    if table.is_read_only() {
        return None; // the general path says why
    }
    table.poke(|st| st.inner.set_in_place(version, row, field, number))
}

/// `tp_traverse`: visits the table and schema the record owns references to.
///
/// Contract (`traverseproc`): called by the collector with a live instance, a visitor and its
/// argument; returns the first non-zero visitor result, else 0. Runs no Python code.
pub(super) unsafe extern "C" fn record_traverse(
    obj: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: CPython calls tp_traverse with a live instance of our type. Our type itself is not
    // visited here: instances are always of a Python subclass, whose subtype_traverse does it.
    let rec = unsafe { record(obj) };
    for p in [rec.table, rec.schema] {
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

/// `tp_clear`: drops the references that could form cycles.
///
/// Contract (`inquiry`): called with a live instance; returns 0.
pub(super) unsafe extern "C" fn record_clear(obj: *mut ffi::PyObject) -> c_int {
    // SAFETY: CPython calls tp_clear with a live instance of our type.
    let rec = unsafe { record(obj) };
    clear_refs([&mut rec.table, &mut rec.schema]);
    0
}

/// `tp_dealloc`: frees a record.
///
/// Contract (`destructor`): called once, with a live instance whose refcount reached zero.
pub(super) unsafe extern "C" fn record_dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: `obj` is a live instance (the contract), until `dealloc_gc` frees it.
    let rec = unsafe { record(obj) };
    let (values, nvalues) = (rec.values, rec.nvalues);
    let release = || {
        if !values.is_null() {
            let values = ptr::slice_from_raw_parts_mut(values, nvalues);
            // SAFETY: the `Box<[Datum]>` leaked by `new_standalone`, freed only here.
            drop(unsafe { Box::from_raw(values) });
        }
    };
    // SAFETY: the contract; `record_clear` is our type's `tp_clear`.
    unsafe { dealloc_gc(obj, record_clear, release) };
}
