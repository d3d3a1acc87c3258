//! What kind of object a type makes, decided once per type from its flags and fields.

use std::ffi::CStr;

use pyo3::ffi;

use super::known::KnownTypes;
use super::layout::*;

/// What kind of object a type makes, decided once per type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Types, modules, functions, code, shoal schemas: never owned by a data structure.
    Shared,
    List,
    Dict,
    Set,
    Tuple,
    ByteArray,
    /// A shoal store type (Table, Column): its buffers come from `HeldBuffers`; the index
    /// names it in `KnownTypes`.
    Store(usize),
    Numpy,
    /// A type with a sizer registered from Python: sized after the walk.
    Registered,
    Str,
    Int,
    /// float, bytes, complex.
    Scalar,
    /// Anything else: instances of classes, other C types.
    Instance,
}

#[derive(Clone, Copy)]
pub(super) struct TypeInfo {
    pub(super) kind: Kind,
    /// GC-tracked by type (and no per-object `tp_is_gc` to ask).
    pub(super) gc: bool,
    /// The type has a `tp_is_gc` that decides per object.
    pub(super) ask_gc: bool,
    /// Bytes in front of the GC header: managed dict / weakref pointers (3.11+).
    pub(super) managed: u64,
    pub(super) basic: u64,
    pub(super) item: u64,
    /// Values embedded after the object (3.13).
    pub(super) inline_values: u64,
}

impl TypeInfo {
    pub(super) const UNKNOWN: TypeInfo = TypeInfo {
        kind: Kind::Instance,
        gc: false,
        ask_gc: false,
        managed: 0,
        basic: 0,
        item: 0,
        inline_values: 0,
    };
}

pub(super) fn classify(
    tp: *mut ffi::PyTypeObject,
    known: &KnownTypes,
    registered: &[*mut ffi::PyTypeObject],
) -> TypeInfo {
    // SAFETY: reads flags and fields of a live type object.
    unsafe {
        let flags = ffi::PyType_GetFlags(tp);
        let sub = |f: std::ffi::c_ulong| flags & f != 0;
        let none_like = [
            ffi::Py_None(),
            ffi::Py_True(),
            ffi::Py_Ellipsis(),
            ffi::Py_NotImplemented(),
        ]
        .iter()
        .any(|&o| ffi::Py_TYPE(o) == tp);
        let kind = if sub(ffi::Py_TPFLAGS_TYPE_SUBCLASS)
            || none_like
            || known.is_shared(tp)
            || ffi::PyType_IsSubtype(tp, &raw mut ffi::PyModule_Type) != 0
            || tp == &raw mut ffi::PyFunction_Type
            || tp == &raw mut ffi::PyCFunction_Type
            || tp == &raw mut ffi::PyCode_Type
        {
            Kind::Shared
        } else if sub(ffi::Py_TPFLAGS_LIST_SUBCLASS) {
            Kind::List
        } else if sub(ffi::Py_TPFLAGS_DICT_SUBCLASS) {
            Kind::Dict
        } else if sub(ffi::Py_TPFLAGS_TUPLE_SUBCLASS) {
            Kind::Tuple
        } else if sub(ffi::Py_TPFLAGS_UNICODE_SUBCLASS) {
            Kind::Str
        } else if sub(ffi::Py_TPFLAGS_LONG_SUBCLASS) {
            Kind::Int
        } else if sub(ffi::Py_TPFLAGS_BYTES_SUBCLASS)
            || ffi::PyType_IsSubtype(tp, &raw mut ffi::PyFloat_Type) != 0
            || ffi::PyType_IsSubtype(tp, &raw mut ffi::PyComplex_Type) != 0
        {
            Kind::Scalar
        } else if ffi::PyType_IsSubtype(tp, &raw mut ffi::PySet_Type) != 0
            || ffi::PyType_IsSubtype(tp, &raw mut ffi::PyFrozenSet_Type) != 0
        {
            Kind::Set
        } else if ffi::PyType_IsSubtype(tp, &raw mut ffi::PyByteArray_Type) != 0 {
            Kind::ByteArray
        } else if let Some(index) = known.store_index(tp) {
            Kind::Store(index)
        } else if registered.contains(&tp) {
            Kind::Registered
        } else if is_numpy_array_type(tp) {
            Kind::Numpy
        } else {
            Kind::Instance
        };
        let gc_type = ffi::PyType_IS_GC(tp) != 0;
        #[cfg(Py_3_12)]
        let managed = sub(TPFLAGS_MANAGED_DICT | TPFLAGS_MANAGED_WEAKREF);
        #[cfg(not(Py_3_12))]
        let managed = cfg!(Py_3_11) && sub(TPFLAGS_MANAGED_DICT);
        #[cfg(Py_3_13)]
        let inline_values = if sub(TPFLAGS_INLINE_VALUES) {
            inline_values_size(tp)
        } else {
            0
        };
        #[cfg(not(Py_3_13))]
        let inline_values = 0;
        TypeInfo {
            kind,
            gc: gc_type && (*tp).tp_is_gc.is_none(),
            ask_gc: gc_type && (*tp).tp_is_gc.is_some(),
            managed: if managed { 2 * WORD } else { 0 },
            basic: (*tp).tp_basicsize as u64,
            item: (*tp).tp_itemsize as u64,
            inline_values,
        }
    }
}

/// Whether `tp` is `numpy.ndarray` or a subclass (by name: NumPy need not be importable).
pub(super) fn is_numpy_array_type(tp: *mut ffi::PyTypeObject) -> bool {
    let mut t = tp;
    while !t.is_null() {
        // SAFETY: walks the tp_base chain of a live type; tp_name is a C string.
        unsafe {
            if CStr::from_ptr((*t).tp_name).to_bytes() == b"numpy.ndarray" {
                return true;
            }
            t = (*t).tp_base;
        }
    }
    false
}
