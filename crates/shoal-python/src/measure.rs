//! `shoal.sizeof`: everything an object reaches, each object sized from its type's layout on
//! the running CPython version, without running Python code or allocating Python objects.
//!
//! Sizes are the bytes requested from the allocator, as tracemalloc counts them: the GC
//! pre-header (and, from 3.11, the managed-dict pre-header), the object, and the separate
//! allocations an object owns (list item arrays, dict key tables and value arrays, set
//! tables, NumPy data, shoal column buffers). See docs/measure.md for the per-version rules.

use std::collections::HashMap;
use std::ffi::{c_int, c_void, CStr};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use shoal_heap::{self as walk, AddrMap, Bucket, Heap, Node, Role};

use crate::column::PyColumn;
use crate::schema::{PyField, PySchema};
use crate::table::PyTable;

const WORD: u64 = 8;
const GC_HEAD: u64 = 16;
#[cfg(Py_3_13)]
const TPFLAGS_INLINE_VALUES: std::ffi::c_ulong = 1 << 2;
/// `Py_TPFLAGS_MANAGED_WEAKREF` / `Py_TPFLAGS_MANAGED_DICT` (3.11+; the bits are unused before).
#[cfg(Py_3_12)]
const TPFLAGS_MANAGED_WEAKREF: std::ffi::c_ulong = 1 << 3;
const TPFLAGS_MANAGED_DICT: std::ffi::c_ulong = 1 << 4;

/// Bytes the allocator hands out for a request of `n`: pymalloc's 16-byte classes up to 512,
/// glibc's chunk rounding (8 bytes of overhead, 16-byte alignment) below its mmap threshold,
/// whole pages above it.
pub fn rounded(n: u64) -> u64 {
    match n {
        0 => 0,
        1..=512 => n.next_multiple_of(16),
        513..=131_071 => (n + 8).next_multiple_of(16).max(32),
        _ => (n + 16).next_multiple_of(4096),
    }
}

/// What kind of object a type makes, decided once per type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Types, modules, functions, code, shoal schemas: never owned by a data structure.
    Shared,
    List,
    Dict,
    Set,
    Tuple,
    ByteArray,
    Table,
    Column,
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
struct TypeInfo {
    kind: Kind,
    /// GC-tracked by type (and no per-object `tp_is_gc` to ask).
    gc: bool,
    /// The type has a `tp_is_gc` that decides per object.
    ask_gc: bool,
    /// Bytes in front of the GC header: managed dict / weakref pointers (3.11+).
    managed: u64,
    basic: u64,
    item: u64,
    /// Values embedded after the object (3.13).
    inline_values: u64,
}

impl TypeInfo {
    const UNKNOWN: TypeInfo = TypeInfo {
        kind: Kind::Instance,
        gc: false,
        ask_gc: false,
        managed: 0,
        basic: 0,
        item: 0,
        inline_values: 0,
    };
}

struct CPython<'py> {
    py: Python<'py>,
    include_shared: bool,
    table_type: *mut ffi::PyTypeObject,
    column_type: *mut ffi::PyTypeObject,
    shared_types: Vec<*mut ffi::PyTypeObject>,
    /// Types with a Python sizer (`shoal.register_sizer`), and the objects of those types met.
    registered: Vec<*mut ffi::PyTypeObject>,
    deferred: Vec<*mut ffi::PyObject>,
    types: AddrMap<usize, TypeInfo>,
    /// The types looked up last: a walk alternates between few types (instances, their
    /// values, a list) for long runs.
    last_types: [(usize, TypeInfo); 4],
    names: HashMap<usize, String>,
    scratch: Vec<*mut ffi::PyObject>,
}

unsafe extern "C" fn collect(obj: *mut ffi::PyObject, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Vec` passed by `referents` for the duration of tp_traverse.
    let out = unsafe { &mut *arg.cast::<Vec<*mut ffi::PyObject>>() };
    out.push(obj);
    0
}

const PREFETCH_AHEAD: usize = 8;

/// Hints the CPU to load the cache line at `p` (never faults, whatever `p` is).
#[inline(always)]
fn prefetch(p: *mut ffi::PyObject) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it does not dereference or fault on any address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Reads a word at `offset` bytes from `p`.
///
/// # Safety
/// `p + offset` must be inside a live object and aligned for `T`.
unsafe fn at<T: Copy>(p: *mut ffi::PyObject, offset: isize) -> T {
    // SAFETY: guaranteed by the caller.
    unsafe { p.cast::<u8>().offset(offset).cast::<T>().read() }
}

impl<'py> CPython<'py> {
    fn new(py: Python<'py>, include_shared: bool) -> CPython<'py> {
        CPython {
            py,
            include_shared,
            table_type: py.get_type::<PyTable>().as_type_ptr(),
            column_type: py.get_type::<PyColumn>().as_type_ptr(),
            shared_types: vec![
                py.get_type::<PySchema>().as_type_ptr(),
                py.get_type::<PyField>().as_type_ptr(),
            ],
            registered: Vec::new(),
            deferred: Vec::new(),
            types: AddrMap::default(),
            last_types: [(0, TypeInfo::UNKNOWN); 4],
            names: HashMap::new(),
            scratch: Vec::new(),
        }
    }

    fn type_name(&mut self, tp: *mut ffi::PyTypeObject) -> String {
        self.names
            .entry(tp as usize)
            .or_insert_with(|| {
                // SAFETY: tp_name is a NUL-terminated C string owned by the live type.
                let name = unsafe { CStr::from_ptr((*tp).tp_name) };
                name.to_string_lossy().into_owned()
            })
            .clone()
    }

    fn info(&mut self, tp: *mut ffi::PyTypeObject) -> TypeInfo {
        let key = tp as usize;
        if let Some(&(_, info)) = self.last_types.iter().find(|(t, _)| *t == key) {
            return info;
        }
        let info = match self.types.get(&key) {
            Some(info) => *info,
            None => {
                let info = self.classify(tp);
                self.types.insert(key, info);
                info
            }
        };
        self.last_types.rotate_right(1);
        self.last_types[0] = (key, info);
        info
    }

    fn classify(&self, tp: *mut ffi::PyTypeObject) -> TypeInfo {
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
                || self.shared_types.contains(&tp)
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
            } else if tp == self.table_type {
                Kind::Table
            } else if tp == self.column_type {
                Kind::Column
            } else if self.registered.contains(&tp) {
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

    fn is_gc(&self, o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject, info: &TypeInfo) -> bool {
        // SAFETY: `tp_is_gc` is a pure predicate on a live object.
        info.gc || (info.ask_gc && unsafe { (*tp).tp_is_gc.is_some_and(|f| f(o) != 0) })
    }

    /// Objects shared by identity rather than owned: cached or interned values, singletons.
    fn is_shared_value(o: *mut ffi::PyObject, kind: Kind) -> bool {
        // SAFETY: each check reads fields the kind guarantees.
        unsafe {
            // Immortal objects (3.12+): the low 32 bits of the refcount are negative.
            #[cfg(Py_3_12)]
            if (at::<i64>(o, 0) as i32) < 0 {
                return true;
            }
            match kind {
                Kind::Str => {
                    let ascii = &*o.cast::<ffi::PyASCIIObject>();
                    ascii.interned() != 0 || ffi::PyUnicode_GET_LENGTH(o) <= 1
                }
                Kind::Int if ffi::PyLong_CheckExact(o) != 0 => {
                    let mut overflow = 0;
                    let v = ffi::PyLong_AsLongLongAndOverflow(o, &mut overflow);
                    overflow == 0 && (-5..=256).contains(&v) // the small-int cache
                }
                Kind::Tuple => ffi::PyTuple_GET_SIZE(o) == 0, // the empty-tuple singleton
                _ => false,
            }
        }
    }

    /// The referents of `o` into `self.scratch`.
    fn referents(&mut self, o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject, info: &TypeInfo) {
        self.scratch.clear();
        // SAFETY: `o` is live. For a dict, PyDict_Next yields borrowed keys and values without
        // running Python code or allocating (a dict's tp_traverse skips str keys, which cannot
        // form cycles, but they are memory the dict owns). Otherwise tp_traverse is called with
        // a visitor that only records pointers.
        unsafe {
            if info.kind == Kind::Dict {
                let (mut pos, mut key, mut value) = (0, std::ptr::null_mut(), std::ptr::null_mut());
                while ffi::PyDict_Next(o, &mut pos, &mut key, &mut value) != 0 {
                    self.scratch.push(key);
                    self.scratch.push(value);
                }
            } else if self.is_gc(o, tp, info) {
                if let Some(traverse) = (*tp).tp_traverse {
                    traverse(o, collect, (&raw mut self.scratch).cast());
                }
            }
        }
    }

    /// The object's own allocation: pre-header and body.
    fn own_size(&self, o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject, info: &TypeInfo) -> u64 {
        let pre = if self.is_gc(o, tp, info) { GC_HEAD } else { 0 } + info.managed;
        // SAFETY: the kind establishes the layout read.
        let body = unsafe {
            match info.kind {
                Kind::Str => unicode_size(o),
                Kind::Int => long_size(o),
                _ if info.item != 0 => {
                    info.basic + info.item * at::<ffi::Py_ssize_t>(o, 16).unsigned_abs() as u64
                }
                _ => info.basic,
            }
        };
        pre + body + info.inline_values
    }

    fn describe_object(&mut self, o: *mut ffi::PyObject, role: Role, node: &mut Node) {
        // SAFETY: `o` is a live object reached through references while the GIL is held.
        let tp = unsafe { ffi::Py_TYPE(o) };
        let info = self.info(tp);
        node.type_id = tp as usize;
        let own = self.own_size(o, tp, &info);
        if info.kind == Kind::Shared || Self::is_shared_value(o, info.kind) {
            node.shared = true;
            if self.include_shared {
                node.pieces.push((Bucket::ObjectHeaders, own));
                node.allocated = rounded(own);
            }
            return;
        }
        if matches!(info.kind, Kind::List | Kind::Tuple | Kind::Dict) {
            self.scratch.clear(); // their children are given lazily by `next_child`
        } else {
            self.referents(o, tp, &info);
        }
        let mut allocated = rounded(own);
        let child = match (info.kind, role) {
            (Kind::Dict, Role::InstanceDict(owner)) => Role::Attribute(owner),
            (Kind::Instance, _) => Role::Attribute(tp as usize),
            _ => Role::Element,
        };
        // SAFETY: each branch reads fields whose layout its kind establishes.
        unsafe {
            match info.kind {
                Kind::List => {
                    let items = (*o.cast::<ffi::PyListObject>()).allocated as u64 * WORD;
                    node.pieces.push((Bucket::Containers, own + items));
                    allocated += rounded(items);
                }
                Kind::Dict => {
                    let (extra, extra_alloc) = dict_tables(o);
                    let cat = if matches!(role, Role::InstanceDict(_)) {
                        Bucket::InstanceDicts
                    } else {
                        Bucket::Containers
                    };
                    node.pieces.push((cat, own + extra));
                    allocated += extra_alloc;
                }
                Kind::Set => {
                    let set = &*o.cast::<ffi::PySetObject>();
                    let small = (&raw const set.smalltable).cast::<ffi::setentry>();
                    let table = if set.table.cast_const() == small {
                        0
                    } else {
                        (set.mask as u64 + 1) * 16
                    };
                    node.pieces.push((Bucket::Containers, own + table));
                    allocated += rounded(table);
                }
                Kind::Tuple => node.pieces.push((Bucket::Containers, own)),
                Kind::ByteArray => {
                    let buf = (*o.cast::<ffi::PyByteArrayObject>()).ob_alloc as u64;
                    node.pieces.push((Bucket::ObjectHeaders, own));
                    node.pieces.push((Bucket::Buffers, buf));
                    allocated += rounded(buf);
                }
                Kind::Table => {
                    node.pieces.push((Bucket::ObjectHeaders, own));
                    let t = pyo3::Borrowed::from_ptr(self.py, o).cast_unchecked::<PyTable>();
                    if let Some(buffers) = t.get().peek(|st| {
                        st.inner
                            .columns()
                            .iter()
                            .map(|c| (c.allocation_id(), c.nbytes() as u64))
                            .collect::<Vec<_>>()
                    }) {
                        node.shared_buffers = buffers;
                    }
                }
                Kind::Column => {
                    node.pieces.push((Bucket::ObjectHeaders, own));
                    let c = pyo3::Borrowed::from_ptr(self.py, o).cast_unchecked::<PyColumn>();
                    let snap = c.get().snapshot();
                    node.shared_buffers.extend(
                        snap.allocations()
                            .into_iter()
                            .map(|(id, bytes)| (id, bytes as u64)),
                    );
                }
                Kind::Numpy => {
                    let fields = numpy_fields(o);
                    let (data, dims) = fields.owned_bytes();
                    node.pieces.push((Bucket::ObjectHeaders, own + dims));
                    node.pieces.push((Bucket::Buffers, data));
                    allocated += rounded(dims) + rounded(data);
                    if !fields.base.is_null() {
                        node.referents.push((fields.base as usize, Role::Element));
                    }
                }
                Kind::Str | Kind::Int | Kind::Scalar => {
                    node.pieces.push((Bucket::AttributeValues, own));
                }
                Kind::Registered => {
                    node.pieces.push((Bucket::ObjectHeaders, own));
                    self.deferred.push(o);
                }
                Kind::Instance => {
                    let separate = separate_values_size(o, tp);
                    node.pieces
                        .push((Bucket::ObjectHeaders, own - info.inline_values));
                    if info.inline_values + separate > 0 {
                        node.pieces
                            .push((Bucket::InlineValues, info.inline_values + separate));
                    }
                    allocated += rounded(separate);
                    let dict = instance_dict(o, tp);
                    // From 3.13 an instance whose dict was materialised may still traverse its
                    // inline values instead of the dict, which it owns all the same.
                    if !dict.is_null() {
                        node.referents
                            .push((dict as usize, Role::InstanceDict(tp as usize)));
                        // The attributes live in the dict: its values are the attributes.
                        let dict_type = ffi::Py_TYPE(dict);
                        let dict_info = self.info(dict_type);
                        let own_refs = std::mem::take(&mut self.scratch);
                        self.referents(dict, dict_type, &dict_info);
                        let dict_items = std::mem::replace(&mut self.scratch, own_refs);
                        self.tally_attributes(node, dict_items.iter().skip(1).step_by(2));
                    }
                    let refs = std::mem::take(&mut self.scratch);
                    let attrs = refs.iter().filter(|&&r| r != dict && r != tp.cast());
                    if dict.is_null() {
                        self.tally_attributes(node, attrs.clone());
                    }
                    node.referents.extend(attrs.map(|&r| (r as usize, child)));
                    self.scratch = refs;
                    node.allocated = allocated;
                    return;
                }
                Kind::Shared => unreachable!("handled above"),
            }
        }
        if matches!(info.kind, Kind::List | Kind::Tuple | Kind::Dict) {
            node.lazy_children = Some(child);
        } else {
            node.referents
                .extend(self.scratch.iter().map(|&r| (r as usize, child)));
        }
        node.allocated = allocated;
    }
}

impl CPython<'_> {
    /// Counts an instance's attribute values and the raw data they stand for.
    fn tally_attributes<'a>(
        &mut self,
        node: &mut Node,
        values: impl Iterator<Item = &'a *mut ffi::PyObject>,
    ) {
        for &v in values {
            // SAFETY: `v` is a live attribute value of a live instance.
            let kind = self.info(unsafe { ffi::Py_TYPE(v) }).kind;
            node.attributes += 1;
            if let Some((payload, storable)) = value_payload(v, kind) {
                node.payload += payload;
                node.storable_attributes += u64::from(storable);
            }
        }
    }
}

impl CPython<'_> {
    /// The child at `cursor` of a list, tuple or dict (keys and values alternate: the cursor
    /// is `PyDict_Next`'s position times two, plus one while the value is due).
    fn child(&mut self, o: *mut ffi::PyObject, cursor: &mut usize) -> Option<*mut ffi::PyObject> {
        // SAFETY: `o` is a live container whose kind the type cache established; no Python code
        // runs during the walk, so it does not change under the cursor.
        unsafe {
            match self.info(ffi::Py_TYPE(o)).kind {
                Kind::List | Kind::Tuple => {
                    let len = at::<ffi::Py_ssize_t>(o, 16) as usize;
                    if *cursor >= len {
                        return None;
                    }
                    let items: *mut *mut ffi::PyObject =
                        if self.info(ffi::Py_TYPE(o)).kind == Kind::List {
                            (*o.cast::<ffi::PyListObject>()).ob_item
                        } else {
                            (*o.cast::<ffi::PyTupleObject>()).ob_item.as_mut_ptr()
                        };
                    // Items are visited in order: ask for the object a few items ahead now, so
                    // its cache miss overlaps with the work on this one.
                    if *cursor + PREFETCH_AHEAD < len {
                        prefetch(*items.add(*cursor + PREFETCH_AHEAD));
                    }
                    let item = *items.add(*cursor);
                    *cursor += 1;
                    Some(item)
                }
                Kind::Dict => {
                    let (start, value_due) = ((*cursor >> 1) as ffi::Py_ssize_t, *cursor & 1 == 1);
                    let mut pos = start;
                    let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
                    if ffi::PyDict_Next(o, &mut pos, &mut key, &mut value) == 0 {
                        return None;
                    }
                    if value_due {
                        *cursor = (pos as usize) << 1;
                        Some(value)
                    } else {
                        *cursor = ((start as usize) << 1) | 1;
                        Some(key)
                    }
                }
                _ => None,
            }
        }
    }
}

impl Heap for CPython<'_> {
    fn next_child(&mut self, obj: usize, cursor: &mut usize) -> Option<usize> {
        self.child(obj as *mut ffi::PyObject, cursor)
            .map(|p| p as usize)
    }

    /// Every CPython object takes at least 16 bytes (refcount and type), so two objects'
    /// addresses differ in their bits above the fourth.
    const ADDRESS_SHIFT: u32 = 4;

    fn describe(&mut self, obj: usize, role: Role, node: &mut Node) {
        self.describe_object(obj as *mut ffi::PyObject, role, node);
    }
}

/// # Safety
/// `o` must be a live `str`.
unsafe fn unicode_size(o: *mut ffi::PyObject) -> u64 {
    // SAFETY: guaranteed by the caller; the state bits decide which layout applies.
    unsafe {
        let ascii = &*o.cast::<ffi::PyASCIIObject>();
        let len = ffi::PyUnicode_GET_LENGTH(o) as u64;
        let kind = u64::from(ascii.kind());
        if ascii.compact() != 0 {
            if ascii.ascii() != 0 {
                std::mem::size_of::<ffi::PyASCIIObject>() as u64 + len + 1
            } else {
                std::mem::size_of::<ffi::PyCompactUnicodeObject>() as u64 + (len + 1) * kind
            }
        } else {
            std::mem::size_of::<ffi::PyUnicodeObject>() as u64 + (len + 1) * kind
        }
    }
}

/// # Safety
/// `o` must be a live `int`.
unsafe fn long_size(o: *mut ffi::PyObject) -> u64 {
    // SAFETY: guaranteed by the caller. Up to 3.11 the digit count is |ob_size|; from 3.12
    // it is `lv_tag >> 3`, in the same word.
    let word = unsafe { at::<usize>(o, 16) };
    #[cfg(Py_3_12)]
    let digits = (word >> 3).max(1) as u64;
    #[cfg(not(Py_3_12))]
    let digits = (word as isize).unsigned_abs() as u64;
    // From 3.11 one-digit ints are allocated as a whole `PyLongObject` (`_PyLong_FromMedium`),
    // 32 bytes with padding; arithmetic results are allocated with a spare digit, 32 as well.
    if cfg!(Py_3_11) && digits == 1 {
        return 32;
    }
    24 + 4 * digits
}

/// For a value: the raw data it stands for, as a typed column would store it, and whether a
/// shoal column could hold it (float, int, bool, str, bytes). 8 bytes for a float or an int, 1
/// for a bool, the UTF-8 bytes plus a 4-byte offset for a str or bytes.
fn value_payload(o: *mut ffi::PyObject, kind: Kind) -> Option<(u64, bool)> {
    // SAFETY: `o` is live; each branch reads what its kind guarantees.
    unsafe {
        if ffi::PyBool_Check(o) != 0 {
            return Some((1, true));
        }
        match kind {
            Kind::Int => Some((8, true)),
            Kind::Scalar if ffi::PyFloat_Check(o) != 0 => Some((8, true)),
            Kind::Str => Some((payload(o, kind), true)),
            Kind::Scalar => Some((payload(o, kind), ffi::PyBytes_Check(o) != 0)),
            _ => None,
        }
    }
}

/// # Safety
/// `o` must be a live object of the given kind.
unsafe fn payload(o: *mut ffi::PyObject, kind: Kind) -> u64 {
    // SAFETY: guaranteed by the caller.
    unsafe {
        match kind {
            Kind::Str => {
                let ascii = &*o.cast::<ffi::PyASCIIObject>();
                let len = ffi::PyUnicode_GET_LENGTH(o) as u64;
                // Non-ASCII code points take 2-4 UTF-8 bytes; the kind bounds it.
                let per = if ascii.ascii() != 0 {
                    1
                } else {
                    u64::from(ascii.kind()) + 1
                };
                len * per.min(4) + 4
            }
            Kind::Scalar if ffi::PyBytes_Check(o) != 0 => at::<isize>(o, 16) as u64 + 4, // ob_size
            Kind::Scalar if ffi::PyComplex_Check(o) != 0 => 16,
            _ => 8,
        }
    }
}

/// Offsets inside CPython's dict keys object (`struct _dictkeysobject`).
struct KeysLayout {
    usable: isize,
    nentries: isize,
}

#[cfg(Py_3_11)]
const KEYS: KeysLayout = KeysLayout {
    usable: 16,
    nentries: 24,
};
#[cfg(not(Py_3_11))]
const KEYS: KeysLayout = KeysLayout {
    usable: 24,
    nentries: 32,
};

/// Size of a dict keys object as allocated by `new_keys_object`.
///
/// # Safety
/// `keys` must point to a live `PyDictKeysObject`.
unsafe fn keys_size(keys: *mut ffi::PyObject) -> u64 {
    // SAFETY: guaranteed by the caller; offsets per version as in CPython's dict-common.h /
    // pycore_dict.h.
    unsafe {
        #[cfg(Py_3_11)]
        {
            let log2_size = at::<u8>(keys, 8);
            let log2_index_bytes = at::<u8>(keys, 9);
            let kind = at::<u8>(keys, 10);
            let size = 1u64 << log2_size;
            let entry = if kind == 0 { 24 } else { 16 }; // DICT_KEYS_GENERAL = 0
            32 + (1u64 << log2_index_bytes) + (2 * size / 3) * entry
        }
        #[cfg(not(Py_3_11))]
        {
            let size = at::<isize>(keys, 8) as u64;
            let ix = match size {
                0..=0xff => 1,
                0x100..=0xffff => 2,
                0x1_0000..=0xffff_ffff => 4,
                _ => 8,
            };
            40 + ix * size + 24 * (2 * size / 3)
        }
    }
}

/// Entries the values array of a split dict has room for.
///
/// # Safety
/// `keys` must point to a live `PyDictKeysObject`.
unsafe fn split_values_len(keys: *mut ffi::PyObject) -> u64 {
    // SAFETY: guaranteed by the caller.
    unsafe {
        #[cfg(Py_3_11)]
        {
            (at::<isize>(keys, KEYS.usable) + at::<isize>(keys, KEYS.nentries)) as u64
        }
        #[cfg(not(Py_3_11))]
        {
            let _ = KEYS.nentries;
            let _ = KEYS.usable;
            2 * at::<isize>(keys, 8) as u64 / 3
        }
    }
}

/// Size of a split dict's values array (`new_values`), prefix bytes included from 3.11.
fn values_array_size(len: u64) -> u64 {
    if cfg!(Py_3_11) {
        (len + 2).next_multiple_of(WORD) + len * WORD
    } else {
        len * WORD
    }
}

/// The separately allocated tables of a dict: its keys (when it owns them) and its values array
/// (when split). Returns the bytes requested and the bytes allocated.
///
/// # Safety
/// `o` must be a live dict.
unsafe fn dict_tables(o: *mut ffi::PyObject) -> (u64, u64) {
    // SAFETY: guaranteed by the caller. PyDictObject is: header (16), ma_used (8), version or
    // watcher tag (8), ma_keys, ma_values.
    unsafe {
        let keys = at::<*mut ffi::PyObject>(o, 32);
        let values = at::<*mut c_void>(o, 40);
        if keys.is_null() {
            return (0, 0);
        }
        let mut allocs = [0u64; 2];
        let refcnt = at::<isize>(keys, 0);
        let empty = if cfg!(Py_3_11) {
            at::<u8>(keys, 8) == 0
        } else {
            at::<isize>(keys, 8) <= 1
        };
        if refcnt == 1 && !empty {
            allocs[0] = keys_size(keys);
        }
        if !values.is_null() && !values_embedded(values) {
            allocs[1] = values_array_size(split_values_len(keys));
        }
        (
            allocs[0] + allocs[1],
            rounded(allocs[0]) + rounded(allocs[1]),
        )
    }
}

/// From 3.13 an instance's values live inside the instance; a dict made from them points there.
fn values_embedded(values: *mut c_void) -> bool {
    #[cfg(Py_3_13)]
    {
        // SAFETY: `values` points to a live PyDictValues; `embedded` is its third byte.
        unsafe { values.cast::<u8>().add(2).read() != 0 }
    }
    #[cfg(not(Py_3_13))]
    {
        let _ = values;
        false
    }
}

/// Bytes of the values array an instance keeps outside its own allocation (3.11, 3.12).
///
/// # Safety
/// `o` must be a live object of type `tp`.
unsafe fn separate_values_size(o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject) -> u64 {
    #[cfg(all(Py_3_11, not(Py_3_13)))]
    // SAFETY: guaranteed by the caller; pre-header slots per Objects/object_layout.md.
    unsafe {
        if ffi::PyType_GetFlags(tp) & TPFLAGS_MANAGED_DICT == 0 {
            return 0;
        }
        #[cfg(Py_3_12)]
        let values = {
            let tagged = at::<usize>(o, -3 * WORD as isize);
            if tagged & 1 == 1 {
                (tagged - 1) as *mut c_void
            } else {
                std::ptr::null_mut()
            }
        };
        #[cfg(not(Py_3_12))]
        let values = at::<*mut c_void>(o, -4 * WORD as isize);
        let keys = (*tp.cast::<ffi::PyHeapTypeObject>()).ht_cached_keys;
        if values.is_null() || keys.is_null() {
            return 0;
        }
        values_array_size(split_values_len(keys.cast()))
    }
    #[cfg(not(all(Py_3_11, not(Py_3_13))))]
    {
        let _ = (o, tp);
        0
    }
}

/// Bytes of the values array embedded after an instance (3.13).
#[cfg(Py_3_13)]
fn inline_values_size(tp: *mut ffi::PyTypeObject) -> u64 {
    // SAFETY: types with inline values are heap types with cached shared keys.
    unsafe {
        let keys = (*tp.cast::<ffi::PyHeapTypeObject>()).ht_cached_keys;
        if keys.is_null() {
            return 0;
        }
        // `_PyInlineValuesSize`: a prefix of one byte per slot rounded up to a word, then
        // one word more than the slots.
        let len = split_values_len(keys.cast());
        len.next_multiple_of(WORD) + (len + 1) * WORD
    }
}

/// The instance's materialised `__dict__`, or null. Never creates one.
///
/// # Safety
/// `o` must be a live object of type `tp`.
unsafe fn instance_dict(o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject) -> *mut ffi::PyObject {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let flags = ffi::PyType_GetFlags(tp);
        if cfg!(Py_3_11) && flags & TPFLAGS_MANAGED_DICT != 0 {
            let p = at::<usize>(o, -3 * WORD as isize);
            return if p & 1 == 1 {
                std::ptr::null_mut()
            } else {
                p as *mut ffi::PyObject
            };
        }
        let offset = (*tp).tp_dictoffset;
        if offset > 0 {
            return at::<*mut ffi::PyObject>(o, offset);
        }
        std::ptr::null_mut()
    }
}

/// The fields of a NumPy array that sizing needs (the layout of `PyArrayObject_fields`, stable
/// across NumPy 1.x and 2.x).
struct NumpyFields {
    nd: i32,
    dims: *const isize,
    strides: *const isize,
    base: *mut ffi::PyObject,
    flags: i32,
}

impl NumpyFields {
    /// (data bytes owned, dimension/stride array bytes).
    fn owned_bytes(&self) -> (u64, u64) {
        const OWNDATA: i32 = 0x4;
        const C_CONTIGUOUS: i32 = 0x1;
        let nd = self.nd.max(0) as usize;
        let dims_bytes = 2 * nd as u64 * WORD;
        if self.flags & OWNDATA == 0 || nd == 0 {
            return (0, dims_bytes);
        }
        // SAFETY: `dims` and `strides` hold `nd` entries each.
        let (dims, strides) = unsafe {
            (
                std::slice::from_raw_parts(self.dims, nd),
                std::slice::from_raw_parts(self.strides, nd),
            )
        };
        // An owning array is contiguous: its smallest stride is the item size.
        let itemsize = if self.flags & C_CONTIGUOUS != 0 {
            strides[nd - 1]
        } else {
            strides[0]
        }
        .unsigned_abs() as u64;
        let n: u64 = dims.iter().map(|&d| d.max(0) as u64).product();
        ((n * itemsize).max(1), dims_bytes)
    }
}

/// Whether `tp` is `numpy.ndarray` or a subclass (by name: NumPy need not be importable).
fn is_numpy_array_type(tp: *mut ffi::PyTypeObject) -> bool {
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

/// # Safety
/// `o` must be a live NumPy array.
unsafe fn numpy_fields(o: *mut ffi::PyObject) -> NumpyFields {
    // SAFETY: guaranteed by the caller; offsets of `PyArrayObject_fields`.
    unsafe {
        NumpyFields {
            nd: at::<i32>(o, 24),
            dims: at::<*const isize>(o, 32),
            strides: at::<*const isize>(o, 40),
            base: at::<*mut ffi::PyObject>(o, 48),
            flags: at::<i32>(o, 64),
        }
    }
}

/// `shoal._shoal._sizeof(obj, include_shared)`: the raw report as a dict (see `shoal.sizeof`).
#[pyfunction]
#[pyo3(signature = (obj, include_shared = false, registered = Vec::new()))]
pub fn _sizeof<'py>(
    obj: &Bound<'py, PyAny>,
    include_shared: bool,
    registered: Vec<Bound<'py, pyo3::types::PyType>>,
) -> PyResult<Bound<'py, PyDict>> {
    let py = obj.py();
    let mut heap = CPython::new(py, include_shared);
    heap.registered = registered.iter().map(|t| t.as_type_ptr()).collect();
    let report = walk::walk(&mut heap, &[obj.as_ptr() as usize]);
    report_dict(py, &mut heap, &report, include_shared)
}

#[cfg(Py_3_12)]
extern "C" {
    fn PyUnstable_GC_VisitObjects(
        callback: unsafe extern "C" fn(*mut ffi::PyObject, *mut c_void) -> c_int,
        arg: *mut c_void,
    );
}

#[cfg(Py_3_12)]
unsafe extern "C" fn collect_root(obj: *mut ffi::PyObject, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Vec` passed by `gc_roots` for the duration of the visit.
    unsafe { (*arg.cast::<Vec<usize>>()).push(obj as usize) };
    1 // continue
}

/// Every object the cycle collector tracks: the census's roots.
fn gc_roots(py: Python<'_>) -> PyResult<(Vec<usize>, Option<Bound<'_, PyAny>>)> {
    #[cfg(Py_3_12)]
    {
        let mut roots: Vec<usize> = Vec::new();
        // SAFETY: the callback only records addresses; the GIL is held throughout, and the walk
        // that follows runs no Python code, so every recorded object stays alive.
        unsafe { PyUnstable_GC_VisitObjects(collect_root, (&raw mut roots).cast()) };
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

/// `shoal._shoal._census(progress)`: the whole heap, walked from every GC-tracked object.
/// With `progress`, walks longer than 2 s report their count on stderr.
#[pyfunction]
#[pyo3(signature = (progress = false, registered = Vec::new()))]
pub fn _census<'py>(
    py: Python<'py>,
    progress: bool,
    registered: Vec<Bound<'py, pyo3::types::PyType>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (roots, keepalive) = gc_roots(py)?;
    let mut heap = CPython::new(py, true);
    heap.registered = registered.iter().map(|t| t.as_type_ptr()).collect();
    let mut walker = walk::Walker::new(<CPython<'_> as Heap>::ADDRESS_SHIFT);
    if let Some(list) = &keepalive {
        walker.exclude(list.as_ptr() as usize);
    }
    walker.push_roots(roots.into_iter());
    let start = std::time::Instant::now();
    let mut last_note = start;
    while walker.run_for(&mut heap, 1_000_000) {
        if progress
            && start.elapsed().as_secs_f64() > 2.0
            && last_note.elapsed().as_secs_f64() > 1.0
        {
            eprint!("\rshoal census: {} objects walked...", walker.objects());
            last_note = std::time::Instant::now();
        }
    }
    if progress && start.elapsed().as_secs_f64() > 2.0 {
        eprintln!();
    }
    let report = walker.finish();
    let out = report_dict(py, &mut heap, &report, true)?;
    out.set_item("seconds", start.elapsed().as_secs_f64())?;
    drop(keepalive);
    Ok(out)
}

fn report_dict<'py>(
    py: Python<'py>,
    heap: &mut CPython<'py>,
    report: &walk::WalkReport,
    include_shared: bool,
) -> PyResult<Bound<'py, PyDict>> {
    // Taken first, before anything below could run Python code: the deferred objects were
    // reached from live roots while the GIL was held and nothing has run since.
    let deferred = pyo3::types::PyList::new(
        py,
        heap.deferred.iter().map(|&o| {
            // SAFETY: as said above, `o` is alive; this takes a new reference to it.
            unsafe { Bound::from_borrowed_ptr(py, o) }
        }),
    )?;
    let out = PyDict::new(py);
    out.set_item(
        "total",
        report.total
            + if include_shared {
                report.shared_bytes
            } else {
                0
            },
    )?;
    out.set_item("allocated", report.allocated)?;
    out.set_item("objects", report.objects)?;
    out.set_item("shared_bytes", report.shared_bytes)?;
    out.set_item("shared_objects", report.shared_objects)?;
    out.set_item("bookkeeping", report.bookkeeping)?;
    let cats = PyDict::new(py);
    for (c, b) in &report.buckets {
        cats.set_item(bucket_name(*c), *b)?;
    }
    out.set_item("categories", cats)?;
    let split = PyDict::new(py);
    for (&(c, t), b) in &report.by_bucket_type {
        let key = (bucket_name(c), heap.type_name(t as *mut ffi::PyTypeObject));
        split.set_item(key, *b)?;
    }
    out.set_item("by_category_type", split)?;
    let mut rows: Vec<(String, u64, u64)> = report
        .by_type
        .iter()
        .map(|(&t, tt)| {
            (
                heap.type_name(t as *mut ffi::PyTypeObject),
                tt.count,
                tt.bytes,
            )
        })
        .collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    out.set_item("by_type", rows)?;
    let classes = pyo3::types::PyList::empty(py);
    for (&t, owned) in &report.by_owner {
        let tp = t as *mut ffi::PyTypeObject;
        let own = report.by_type.get(&t).copied().unwrap_or_default();
        let row = PyDict::new(py);
        row.set_item("type", heap.type_name(tp))?;
        // SAFETY: `tp` is a live type (its instances were just walked with the GIL held).
        let module = unsafe { Bound::from_borrowed_ptr(py, tp.cast()) }
            .getattr("__module__")
            .ok();
        row.set_item("module", module)?;
        row.set_item("count", own.count)?;
        row.set_item("instance_bytes", own.bytes)?;
        row.set_item("value_bytes", owned.bytes)?;
        row.set_item("dict_bytes", owned.dicts)?;
        row.set_item("payload", owned.payload)?;
        row.set_item("attributes", owned.attributes)?;
        row.set_item("storable_attributes", owned.storable)?;
        classes.append(row)?;
    }
    out.set_item("classes", classes)?;
    out.set_item("deferred", deferred)?;
    Ok(out)
}

pub fn bucket_name(c: Bucket) -> &'static str {
    match c {
        Bucket::ObjectHeaders => "object headers",
        Bucket::InstanceDicts => "instance dicts",
        Bucket::InlineValues => "inline values",
        Bucket::AttributeValues => "attribute values",
        Bucket::Containers => "containers",
        Bucket::Buffers => "buffers",
    }
}
