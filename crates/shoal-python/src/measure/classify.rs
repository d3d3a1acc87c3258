//! What kind of object a type makes, decided once per type from its flags and fields.

use pyo3::ffi;

use super::csizeof::{CSizeof, TrustedCode};
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
    /// Frames: own their locals once returned, never their caller or globals (`frames`).
    Frame,
    /// Functions: shared, unless made as data (`frames::owned_parts`).
    Function,
    /// `range`: not GC-tracked, no traverse, yet it holds four ints.
    Range,
    /// An instance of a `shoal.Record` class: standalone ones hold their values in Rust.
    Record,
    /// Anything else: instances of classes, other C types.
    Instance,
}

/// What a walk looks up before it starts (it runs no Python code once started): types it
/// recognises by identity, never by name.
pub(super) struct Peers<'a> {
    pub(super) known: &'a KnownTypes,
    pub(super) registered: &'a [*mut ffi::PyTypeObject],
    pub(super) numpy_array: Option<*mut ffi::PyTypeObject>,
    /// `datetime.datetime`, `time`, `date`, `timedelta` (null when not imported): the first
    /// two allocate naive values one word short; shoal columns store all but `time`.
    pub(super) temporal: [*mut ffi::PyTypeObject; 4],
    /// `decimal.Decimal` (null when not imported), a value like a float.
    pub(super) decimal: *mut ffi::PyTypeObject,
    /// `enum.EnumType`: members of enums are shared, like their classes.
    pub(super) enum_type: *mut ffi::PyTypeObject,
    pub(super) trusted: &'a TrustedCode,
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
    /// The type's own C `__sizeof__`, trusted to know its separate storage (`csizeof`).
    pub(super) sizer: Option<CSizeof>,
    /// Objects come from `PyType_GenericAlloc`, which allocates one item more than asked.
    pub(super) spare_item: bool,
    /// A Python subclass of a builtin container: it may hold attributes besides its items.
    pub(super) subclass: bool,
    /// Naive values (no tzinfo) are allocated one word shorter than `basic`.
    pub(super) naive_shorter: bool,
    /// A value of a C type that holds no references (datetime, Decimal): reported as an
    /// attribute value, like a float, rather than as an object.
    pub(super) leaf_value: bool,
    /// The type is not GC-tracked and has no `tp_traverse`, yet has object members.
    pub(super) members: bool,
    /// Bytes a shoal column stores per value of this type, for the types it takes besides
    /// numbers and text: 8 per datetime or timedelta, 4 per date, 1 per enum member.
    pub(super) column_bytes: Option<u64>,
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
        sizer: None,
        spare_item: false,
        subclass: false,
        naive_shorter: false,
        leaf_value: false,
        members: false,
        column_bytes: None,
    };
}

/// Whether the live type `tp` is `base` or a subtype of it.
fn is_subtype(tp: *mut ffi::PyTypeObject, base: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: both are live type objects (a type being walked and a static builtin type).
    unsafe { ffi::PyType_IsSubtype(tp, base) != 0 }
}

/// Whether `tp` is the type of `None`, `True`, `...` or `NotImplemented` (singletons).
fn is_singleton_type(tp: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: returns a borrowed pointer to an immortal singleton.
    let none = unsafe { ffi::Py_None() };
    // SAFETY: as above.
    let true_ = unsafe { ffi::Py_True() };
    // SAFETY: as above.
    let ellipsis = unsafe { ffi::Py_Ellipsis() };
    // SAFETY: as above.
    let not_implemented = unsafe { ffi::Py_NotImplemented() };
    let singletons = [none, true_, ellipsis, not_implemented];
    singletons.iter().any(|&o| {
        // SAFETY: the singletons are live objects.
        unsafe { ffi::Py_TYPE(o) == tp }
    })
}

/// Decides what kind of object the live type `tp` makes, and the layout facts sizing needs.
pub(super) fn classify(tp: *mut ffi::PyTypeObject, peers: &Peers<'_>) -> TypeInfo {
    // SAFETY: reads the flags of a live type object.
    let flags = unsafe { ffi::PyType_GetFlags(tp) };
    let sub = |f: std::ffi::c_ulong| flags & f != 0;
    let kind = kind_of(tp, flags, peers);
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
    // SAFETY: reads plain fields of a live type object.
    let t = unsafe { &*tp };
    let gc_type = sub(ffi::Py_TPFLAGS_HAVE_GC);
    let heap = sub(ffi::Py_TPFLAGS_HEAPTYPE);
    let generic_alloc =
        t.tp_alloc.map(|f| f as usize) == Some(ffi::PyType_GenericAlloc as *const () as usize);
    // Subclasses of dict may keep more than a dict (OrderedDict's nodes): their C `__sizeof__`
    // knows it (a Python subclass finds its C base's; a Python-level one is never run).
    let c_dict = kind == Kind::Dict && tp != &raw mut ffi::PyDict_Type;
    // Before 3.11 a frame is var-sized with its slot count in `ob_size`: its layout is exact
    // (its `__sizeof__` is a word off).
    let frame_by_layout = kind == Kind::Frame && !cfg!(Py_3_11);
    let sized_by_layout = (!matches!(kind, Kind::Instance | Kind::Frame | Kind::Shared) && !c_dict)
        || frame_by_layout;
    TypeInfo {
        kind,
        gc: gc_type && t.tp_is_gc.is_none(),
        ask_gc: gc_type && t.tp_is_gc.is_some(),
        managed: if managed { 2 * WORD } else { 0 },
        basic: t.tp_basicsize as u64,
        item: t.tp_itemsize as u64,
        inline_values,
        sizer: if sized_by_layout {
            None
        } else {
            peers.trusted.find(tp)
        },
        spare_item: heap && generic_alloc && t.tp_itemsize != 0,
        subclass: heap && matches!(kind, Kind::List | Kind::Dict | Kind::Tuple | Kind::Set),
        naive_shorter: peers.temporal[..2].contains(&tp),
        leaf_value: peers.temporal.contains(&tp) || peers.decimal == tp,
        column_bytes: column_bytes(tp, peers),
        members: !gc_type && t.tp_traverse.is_none() && !t.tp_members.is_null(),
    }
}

fn column_bytes(tp: *mut ffi::PyTypeObject, peers: &Peers<'_>) -> Option<u64> {
    let [datetime, _, date, timedelta] = peers.temporal;
    // SAFETY: the metatype of a live type.
    let meta = unsafe { ffi::Py_TYPE(tp.cast()) };
    if tp == datetime || tp == timedelta {
        Some(8)
    } else if tp == date {
        Some(4)
    } else if !peers.enum_type.is_null() && is_subtype(meta, peers.enum_type) {
        Some(1) // a category code
    } else {
        None
    }
}

fn kind_of(tp: *mut ffi::PyTypeObject, flags: std::ffi::c_ulong, peers: &Peers<'_>) -> Kind {
    let sub = |f: std::ffi::c_ulong| flags & f != 0;
    // SAFETY: the metatype of a live type.
    let meta = unsafe { ffi::Py_TYPE(tp.cast()) };
    let known = peers.known;
    if sub(ffi::Py_TPFLAGS_TYPE_SUBCLASS)
        || is_singleton_type(tp)
        || known.is_shared(tp)
        || is_subtype(tp, &raw mut ffi::PyModule_Type)
        || tp == &raw mut ffi::PyCFunction_Type
        || tp == &raw mut ffi::PyCode_Type
        || (!peers.enum_type.is_null() && is_subtype(meta, peers.enum_type))
    {
        Kind::Shared
    } else if tp == &raw mut ffi::PyFunction_Type {
        Kind::Function
    } else if tp == &raw mut ffi::PyFrame_Type {
        Kind::Frame
    } else if tp == &raw mut ffi::PyRange_Type {
        Kind::Range
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
        || is_subtype(tp, &raw mut ffi::PyFloat_Type)
        || is_subtype(tp, &raw mut ffi::PyComplex_Type)
    {
        Kind::Scalar
    } else if is_subtype(tp, &raw mut ffi::PySet_Type)
        || is_subtype(tp, &raw mut ffi::PyFrozenSet_Type)
    {
        Kind::Set
    } else if is_subtype(tp, &raw mut ffi::PyByteArray_Type) {
        Kind::ByteArray
    } else if let Some(index) = known.store_index(tp) {
        Kind::Store(index)
    } else if peers.registered.iter().any(|&r| is_subtype(tp, r)) {
        Kind::Registered
    } else if known.is_record(tp) {
        Kind::Record
    } else if peers.numpy_array.is_some_and(|np| is_subtype(tp, np)) {
        Kind::Numpy
    } else {
        Kind::Instance
    }
}
