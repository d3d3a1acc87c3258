//! The `RecordBase` type object and its C slots: attribute access with a fast path for field
//! names, GC support and deallocation.

use std::ffi::{c_int, c_void};
use std::ptr;

use crate::capi::slot;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use crate::capi::{clear_refs, trampoline};
use crate::schema::PySchema;

use super::access::{read_error, read_field_raw, set_field};
use super::new::record_new;
use super::{record, schema_of, RecordObject};

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

pub fn is_record(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    obj.is_instance(record_base(obj.py())?)
}

/// The field index of `name` if it is one of the schema's interned field names (pointer match).
fn fast_field_index(schema: &PySchema, name: *mut ffi::PyObject) -> Option<usize> {
    schema.names.iter().position(|n| n.as_ptr() == name)
}

pub(super) unsafe extern "C" fn record_getattro(
    obj: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    trampoline(ptr::null_mut(), |py| {
        // SAFETY: CPython calls tp_getattro with a live instance of our type.
        let rec = unsafe { record(obj) };
        if !rec.schema.is_null() {
            // SAFETY: `schema` is an owned reference to a `Schema`, alive as long as `rec`.
            let schema =
                unsafe { pyo3::Borrowed::from_ptr(py, rec.schema).cast_unchecked::<PySchema>() };
            if let Some(i) = fast_field_index(schema.get(), name) {
                return read_field_raw(py, rec, schema.get(), i)
                    .map_err(|f| read_error(py, rec, schema.get(), f).into());
            }
        }
        // SAFETY: plain delegation to the generic lookup with the same valid arguments.
        let r = unsafe { ffi::PyObject_GenericGetAttr(obj, name) };
        if r.is_null() {
            Err(PyErr::fetch(py))
        } else {
            Ok(r)
        }
    })
}

pub(super) unsafe extern "C" fn record_setattro(
    obj: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    trampoline(-1, |py| {
        // SAFETY: CPython calls tp_setattro with a live instance of our type.
        let rec = unsafe { record(obj) };
        let field = schema_of(py, rec).and_then(|s| fast_field_index(s.get(), name));
        if !value.is_null() {
            if let Some(i) = field {
                // SAFETY: `obj` is live for the call; `value` is a valid borrowed object.
                let (o, v) = unsafe {
                    (
                        Bound::from_borrowed_ptr(py, obj),
                        Bound::from_borrowed_ptr(py, value),
                    )
                };
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

pub(super) unsafe extern "C" fn record_clear(obj: *mut ffi::PyObject) -> c_int {
    // SAFETY: CPython calls tp_clear with a live instance of our type.
    let rec = unsafe { record(obj) };
    clear_refs([&mut rec.table, &mut rec.schema]);
    0
}

pub(super) unsafe extern "C" fn record_dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: CPython calls tp_dealloc once, with a live instance whose refcount reached zero.
    unsafe {
        let tp = ffi::Py_TYPE(obj);
        ffi::PyObject_GC_UnTrack(obj.cast());
        record_clear(obj);
        let rec = record(obj);
        if !rec.values.is_null() {
            drop(Box::from_raw(ptr::slice_from_raw_parts_mut(
                rec.values,
                rec.nvalues,
            )));
            rec.values = ptr::null_mut();
        }
        ((*tp).tp_free.expect("tp_free"))(obj.cast());
        // Instances of heap types own a reference to their type; subtype_dealloc leaves
        // dropping it to us because RecordBase is itself a heap type.
        ffi::Py_DECREF(tp.cast());
    }
}
