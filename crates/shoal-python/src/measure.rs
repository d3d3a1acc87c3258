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
use shoal_core::walk::{self, Category, Heap, Node, Role};

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

struct CPython<'py> {
    py: Python<'py>,
    include_shared: bool,
    table_type: *mut ffi::PyTypeObject,
    column_type: *mut ffi::PyTypeObject,
    shared_types: Vec<*mut ffi::PyTypeObject>,
    names: HashMap<usize, String>,
}

unsafe extern "C" fn collect(obj: *mut ffi::PyObject, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Vec` passed by `referents` for the duration of tp_traverse.
    let out = unsafe { &mut *arg.cast::<Vec<*mut ffi::PyObject>>() };
    out.push(obj);
    0
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
            names: HashMap::new(),
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

    /// Objects the structure points at but does not own: reported apart, never walked.
    fn is_shared(&self, o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject) -> bool {
        // SAFETY: `o` is a live object and `tp` its type; the checks only read type flags and,
        // for ints and strings, fields whose layout the checks have established.
        unsafe {
            if ffi::PyType_Check(o) != 0
                || ffi::PyModule_Check(o) != 0
                || ffi::PyFunction_Check(o) != 0
                || ffi::PyCFunction_Check(o) != 0
                || ffi::PyCode_Check(o) != 0
                || o == ffi::Py_None()
                || o == ffi::Py_True()
                || o == ffi::Py_False()
                || o == ffi::Py_Ellipsis()
                || o == ffi::Py_NotImplemented()
                || self.shared_types.contains(&tp)
            {
                return true;
            }
            // Immortal objects (3.12+): the low 32 bits of the refcount are negative.
            #[cfg(Py_3_12)]
            if (at::<i64>(o, 0) as i32) < 0 {
                return true;
            }
            if ffi::PyUnicode_Check(o) != 0 {
                let ascii = &*o.cast::<ffi::PyASCIIObject>();
                return ascii.interned() != 0 || ffi::PyUnicode_GET_LENGTH(o) <= 1;
            }
            if ffi::PyLong_CheckExact(o) != 0 {
                let mut overflow = 0;
                let v = ffi::PyLong_AsLongLongAndOverflow(o, &mut overflow);
                if overflow == 0 && (-5..=256).contains(&v) {
                    return true; // the small-int cache
                }
            }
            if ffi::PyTuple_CheckExact(o) != 0 && ffi::PyTuple_GET_SIZE(o) == 0 {
                return true; // the empty tuple singleton
            }
        }
        false
    }

    fn referents(
        &self,
        o: *mut ffi::PyObject,
        tp: *mut ffi::PyTypeObject,
    ) -> Vec<*mut ffi::PyObject> {
        let mut out: Vec<*mut ffi::PyObject> = Vec::new();
        // SAFETY: `o` is live; for a dict, PyDict_Next yields borrowed keys and values without
        // running Python code or allocating. (A dict's tp_traverse skips str keys, which cannot
        // form cycles, but they are memory the dict owns.)
        unsafe {
            if ffi::PyDict_Check(o) != 0 {
                let (mut pos, mut key, mut value) = (0, std::ptr::null_mut(), std::ptr::null_mut());
                while ffi::PyDict_Next(o, &mut pos, &mut key, &mut value) != 0 {
                    out.push(key);
                    out.push(value);
                }
                return out;
            }
        }
        // SAFETY: tp_traverse is called on a live GC object with a visitor that only records
        // pointers; it runs no Python code.
        unsafe {
            if is_gc(o, tp) {
                if let Some(traverse) = (*tp).tp_traverse {
                    traverse(o, collect, (&raw mut out).cast());
                }
            }
        }
        out
    }

    fn describe_object(&mut self, o: *mut ffi::PyObject, role: Role) -> Node {
        // SAFETY: `o` is a live object reached through references while the GIL is held.
        let tp = unsafe { ffi::Py_TYPE(o) };
        let mut node = Node {
            type_id: tp as usize,
            ..Node::default()
        };
        if self.is_shared(o, tp) {
            node.shared = true;
            if self.include_shared {
                let own = preheader(o, tp) + body_size(o, tp);
                node.pieces.push((Category::ObjectHeaders, own));
                node.allocated = rounded(own);
            }
            return node;
        }
        let own = preheader(o, tp) + body_size(o, tp);
        let referents = self.referents(o, tp);
        let mut allocs: Vec<u64> = Vec::new();
        // SAFETY: each branch reads fields whose layout its type check establishes.
        unsafe {
            if ffi::PyList_Check(o) != 0 {
                let items = (*o.cast::<ffi::PyListObject>()).allocated as u64 * WORD;
                node.pieces.push((Category::Containers, own + items));
                allocs.extend([own, items]);
                self.push(&mut node, &referents, Role::Element);
            } else if ffi::PyDict_Check(o) != 0 {
                let (extra, extra_allocs) = dict_tables(o);
                let cat = if role == Role::InstanceDict {
                    Category::InstanceDicts
                } else {
                    Category::Containers
                };
                node.pieces.push((cat, own + extra));
                allocs.push(own);
                allocs.extend(extra_allocs);
                let child = if role == Role::InstanceDict {
                    Role::Attribute
                } else {
                    Role::Element
                };
                self.push(&mut node, &referents, child);
            } else if ffi::PyAnySet_Check(o) != 0 {
                let set = &*o.cast::<ffi::PySetObject>();
                let small = (&raw const set.smalltable).cast::<ffi::setentry>();
                let table = if set.table.cast_const() == small {
                    0
                } else {
                    (set.mask as u64 + 1) * 16
                };
                node.pieces.push((Category::Containers, own + table));
                allocs.extend([own, table]);
                self.push(&mut node, &referents, Role::Element);
            } else if ffi::PyTuple_Check(o) != 0 {
                node.pieces.push((Category::Containers, own));
                allocs.push(own);
                self.push(&mut node, &referents, Role::Element);
            } else if ffi::PyByteArray_Check(o) != 0 {
                let buf = (*o.cast::<ffi::PyByteArrayObject>()).ob_alloc as u64;
                node.pieces.push((Category::ObjectHeaders, own));
                node.pieces.push((Category::Buffers, buf));
                allocs.extend([own, buf]);
            } else if tp == self.table_type {
                node.pieces.push((Category::ObjectHeaders, own));
                allocs.push(own);
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
                self.push(&mut node, &referents, Role::Element);
            } else if tp == self.column_type {
                node.pieces.push((Category::ObjectHeaders, own));
                allocs.push(own);
                let c = pyo3::Borrowed::from_ptr(self.py, o).cast_unchecked::<PyColumn>();
                let snap = c.get().snapshot();
                node.shared_buffers = vec![(snap.allocation_id(), snap.allocation_bytes() as u64)];
            } else if let Some(fields) = numpy_fields(o, tp) {
                let (data, dims) = fields.owned_bytes();
                node.pieces.push((Category::ObjectHeaders, own + dims));
                node.pieces.push((Category::Buffers, data));
                allocs.extend([own, dims, data]);
                if !fields.base.is_null() {
                    node.referents.push((fields.base as usize, Role::Element));
                }
            } else if is_scalar(o) {
                node.pieces.push((Category::AttributeValues, own));
                allocs.push(own);
            } else {
                let (values, value_allocs) = instance_values(o, tp);
                node.pieces
                    .push((Category::ObjectHeaders, own - values.inline));
                if values.total() > 0 {
                    node.pieces.push((Category::InlineValues, values.total()));
                }
                allocs.push(own);
                allocs.extend(value_allocs);
                let dict = instance_dict(o, tp);
                // From 3.13 an instance whose dict was materialised may still traverse its
                // inline values instead of the dict, which it owns all the same.
                if !dict.is_null() && !referents.contains(&dict) {
                    node.referents.push((dict as usize, Role::InstanceDict));
                }
                for &r in &referents {
                    let role = if !dict.is_null() && r == dict {
                        Role::InstanceDict
                    } else {
                        Role::Attribute
                    };
                    node.referents.push((r as usize, role));
                }
            }
        }
        node.allocated = allocs.iter().map(|&a| rounded(a)).sum();
        node
    }

    fn push(&self, node: &mut Node, referents: &[*mut ffi::PyObject], role: Role) {
        node.referents
            .extend(referents.iter().map(|&r| (r as usize, role)));
    }
}

impl Heap for CPython<'_> {
    fn describe(&mut self, obj: usize, role: Role) -> Node {
        self.describe_object(obj as *mut ffi::PyObject, role)
    }
}

fn is_gc(o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject) -> bool {
    // SAFETY: reading flags and calling tp_is_gc (a pure predicate) on a live object.
    unsafe { ffi::PyType_IS_GC(tp) != 0 && (*tp).tp_is_gc.is_none_or(|is_gc| is_gc(o) != 0) }
}

/// The bytes allocated in front of the object: the GC header and, from 3.11, the managed
/// dict / weakref pointers.
fn preheader(o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject) -> u64 {
    let gc = if is_gc(o, tp) { GC_HEAD } else { 0 };
    // SAFETY: reading the flags of a live type.
    let flags = unsafe { ffi::PyType_GetFlags(tp) };
    #[cfg(Py_3_12)]
    let managed = flags & (TPFLAGS_MANAGED_DICT | TPFLAGS_MANAGED_WEAKREF) != 0;
    #[cfg(all(Py_3_11, not(Py_3_12)))]
    let managed = flags & TPFLAGS_MANAGED_DICT != 0;
    #[cfg(not(Py_3_11))]
    let managed = {
        let _ = flags;
        false
    };
    gc + if managed { 2 * WORD } else { 0 }
}

/// The object's own allocation after the pre-header.
fn body_size(o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject) -> u64 {
    // SAFETY: reads fields of a live object whose layout each type check establishes.
    unsafe {
        let basic = (*tp).tp_basicsize as u64;
        if ffi::PyUnicode_Check(o) != 0 {
            return unicode_size(o);
        }
        if ffi::PyLong_Check(o) != 0 {
            return long_size(o);
        }
        let item = (*tp).tp_itemsize as u64;
        let mut size = basic;
        if item != 0 {
            let n = at::<ffi::Py_ssize_t>(o, 16).unsigned_abs() as u64;
            size += item * n;
        }
        #[cfg(Py_3_13)]
        if ffi::PyType_GetFlags(tp) & TPFLAGS_INLINE_VALUES != 0 {
            size += inline_values_size(tp);
        }
        size
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

fn is_scalar(o: *mut ffi::PyObject) -> bool {
    // SAFETY: type checks on a live object.
    unsafe {
        ffi::PyFloat_Check(o) != 0
            || ffi::PyLong_Check(o) != 0
            || ffi::PyUnicode_Check(o) != 0
            || ffi::PyBytes_Check(o) != 0
            || ffi::PyComplex_Check(o) != 0
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
/// (when split). Returns the bytes and the individual allocations.
///
/// # Safety
/// `o` must be a live dict.
unsafe fn dict_tables(o: *mut ffi::PyObject) -> (u64, Vec<u64>) {
    // SAFETY: guaranteed by the caller. PyDictObject is: header (16), ma_used (8), version or
    // watcher tag (8), ma_keys, ma_values.
    unsafe {
        let keys = at::<*mut ffi::PyObject>(o, 32);
        let values = at::<*mut c_void>(o, 40);
        let mut allocs = Vec::new();
        if keys.is_null() {
            return (0, allocs);
        }
        let refcnt = at::<isize>(keys, 0);
        let empty = if cfg!(Py_3_11) {
            at::<u8>(keys, 8) == 0
        } else {
            at::<isize>(keys, 8) <= 1
        };
        if refcnt == 1 && !empty {
            allocs.push(keys_size(keys));
        }
        if !values.is_null() && !values_embedded(values) {
            allocs.push(values_array_size(split_values_len(keys)));
        }
        (allocs.iter().sum(), allocs)
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

#[derive(Default)]
struct InstanceValues {
    /// Bytes inside the object's own allocation (3.13).
    inline: u64,
    /// Bytes of a separate values array (3.11, 3.12).
    separate: u64,
}

impl InstanceValues {
    fn total(&self) -> u64 {
        self.inline + self.separate
    }
}

/// The attribute values an instance holds outside a dict.
///
/// # Safety
/// `o` must be a live object of type `tp`.
unsafe fn instance_values(
    o: *mut ffi::PyObject,
    tp: *mut ffi::PyTypeObject,
) -> (InstanceValues, Vec<u64>) {
    #[cfg_attr(not(Py_3_11), allow(unused_mut))]
    let mut v = InstanceValues::default();
    #[cfg_attr(not(all(Py_3_11, not(Py_3_13))), allow(unused_mut))]
    let mut allocs = Vec::new();
    // SAFETY: guaranteed by the caller; pre-header slots per Objects/object_layout.md.
    unsafe {
        let flags = ffi::PyType_GetFlags(tp);
        #[cfg(Py_3_13)]
        if flags & TPFLAGS_INLINE_VALUES != 0 {
            v.inline = inline_values_size(tp);
        }
        #[cfg(all(Py_3_11, not(Py_3_13)))]
        if flags & TPFLAGS_MANAGED_DICT != 0 {
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
            if !values.is_null() && !keys.is_null() {
                v.separate = values_array_size(split_values_len(keys.cast()));
                allocs.push(v.separate);
            }
        }
        let _ = (o, flags);
    }
    (v, allocs)
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

/// # Safety
/// `o` must be a live object of type `tp`.
unsafe fn numpy_fields(o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject) -> Option<NumpyFields> {
    // SAFETY: guaranteed by the caller; walks the tp_base chain of a live type.
    unsafe {
        let mut t = tp;
        while !t.is_null() {
            if CStr::from_ptr((*t).tp_name).to_bytes() == b"numpy.ndarray" {
                return Some(NumpyFields {
                    nd: at::<i32>(o, 24),
                    dims: at::<*const isize>(o, 32),
                    strides: at::<*const isize>(o, 40),
                    base: at::<*mut ffi::PyObject>(o, 48),
                    flags: at::<i32>(o, 64),
                });
            }
            t = (*t).tp_base;
        }
    }
    None
}

/// `shoal._shoal._sizeof(obj, include_shared)`: the raw report as a dict (see `shoal.sizeof`).
#[pyfunction]
#[pyo3(signature = (obj, include_shared = false))]
pub fn _sizeof<'py>(obj: &Bound<'py, PyAny>, include_shared: bool) -> PyResult<Bound<'py, PyDict>> {
    let py = obj.py();
    let mut heap = CPython::new(py, include_shared);
    let report = walk::walk(&mut heap, &[obj.as_ptr() as usize]);
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
    let cats = PyDict::new(py);
    for (c, b) in &report.categories {
        cats.set_item(category_name(*c), *b)?;
    }
    out.set_item("categories", cats)?;
    let split = PyDict::new(py);
    for (&(c, t), b) in &report.by_category_type {
        let key = (
            category_name(c),
            heap.type_name(t as *mut ffi::PyTypeObject),
        );
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
    Ok(out)
}

pub fn category_name(c: Category) -> &'static str {
    match c {
        Category::ObjectHeaders => "object headers",
        Category::InstanceDicts => "instance dicts",
        Category::InlineValues => "inline values",
        Category::AttributeValues => "attribute values",
        Category::Containers => "containers",
        Category::Buffers => "buffers",
    }
}
