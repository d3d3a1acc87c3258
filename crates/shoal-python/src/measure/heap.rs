//! `impl Heap for CPython`: each object sized from its type's layout, its referents read from
//! `tp_traverse` (dicts with `PyDict_Next`), without running Python code.

use std::collections::HashMap;
use std::ffi::{c_int, c_void, CStr};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;
use shoal_heap::{AddrMap, Bucket, Heap, Node, Role};

use super::classify::{classify, Kind, Peers, TypeInfo};
use super::csizeof::{self, TrustedCode};
use super::frames;
use super::known::KnownTypes;
use super::layout::*;
use super::payload::{payload, value_payload};

pub(super) struct CPython<'py> {
    pub(super) py: Python<'py>,
    /// The extension's own types: shared ones and stores (registered at import).
    pub(super) known: &'py KnownTypes,
    /// Types with a Python sizer (`shoal.register_sizer`), and the objects of those types met.
    pub(super) registered: Vec<*mut ffi::PyTypeObject>,
    pub(super) deferred: Vec<*mut ffi::PyObject>,
    /// `numpy.ndarray` if NumPy is imported: arrays are recognised by this type's identity
    /// (and subclassing), never by name, since any class can be named "numpy.ndarray".
    numpy_array: Option<Bound<'py, PyType>>,
    /// `datetime.datetime`, `datetime.time` and `enum.EnumType`, if imported (as for NumPy).
    temporal: [Option<Bound<'py, PyType>>; 4],
    enum_type: Option<Bound<'py, PyType>>,
    decimal: Option<Bound<'py, PyType>>,
    trusted: TrustedCode,
    /// The interpreter's cached one-character str and one-byte bytes, and the empty ones
    /// (3.10, 3.11; from 3.12 they are immortal, which says so).
    cached: shoal_heap::AddrSet<usize>,
    pub(super) types: AddrMap<usize, TypeInfo>,
    /// The types looked up last: a walk alternates between few types (instances, their
    /// values, a list) for long runs.
    pub(super) last_types: [(usize, TypeInfo); 4],
    pub(super) names: HashMap<usize, String>,
    /// Per non-traversable type: the offsets of its object members.
    members: AddrMap<usize, Vec<isize>>,
    /// A census walks into shared objects too (types, modules, functions, code): it counts
    /// the whole heap, where `sizeof` reports them apart without their contents.
    pub(super) walk_shared: bool,
    /// Address ranges of the loaded program images (the interpreter, extension modules):
    /// objects there are static (types, deep-frozen code, static strings), never allocated.
    images: Vec<(usize, usize)>,
    pub(super) scratch: Vec<*mut ffi::PyObject>,
}

/// The visitor `referents` passes to `tp_traverse`: records each referent.
///
/// Contract (`visitproc`): CPython calls it with each non-null referent and the `arg` given to
/// `tp_traverse`, here a `*mut Vec<*mut PyObject>` exclusively borrowed for the call. It runs
/// no Python code and returns 0 (continue).
unsafe extern "C" fn collect(obj: *mut ffi::PyObject, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Vec` passed by `referents` for the duration of tp_traverse.
    let out = unsafe { &mut *arg.cast::<Vec<*mut ffi::PyObject>>() };
    out.push(obj);
    0
}

pub(super) const PREFETCH_AHEAD: usize = 8;

/// Hints the CPU to load the cache line at `p` (never faults, whatever `p` is).
#[inline(always)]
pub(super) fn prefetch(p: *mut ffi::PyObject) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it does not dereference or fault on any address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl<'py> CPython<'py> {
    pub(super) fn new(py: Python<'py>) -> CPython<'py> {
        CPython {
            py,
            known: KnownTypes::get(py),
            registered: Vec::new(),
            deferred: Vec::new(),
            numpy_array: imported_type(py, "numpy", "ndarray"),
            temporal: ["datetime", "time", "date", "timedelta"]
                .map(|name| imported_type(py, "datetime", name)),
            enum_type: imported_type(py, "enum", "EnumMeta"),
            decimal: imported_type(py, "decimal", "Decimal"),
            trusted: TrustedCode::new(py),
            cached: cached_small_values(py),
            types: AddrMap::default(),
            last_types: [(0, TypeInfo::UNKNOWN); 4],
            names: HashMap::new(),
            members: AddrMap::default(),
            walk_shared: false,
            images: image_ranges(),
            scratch: Vec::new(),
        }
    }

    /// Whether `o` lies in a program image (statically allocated: no allocator counts it).
    fn is_static(&self, o: *mut ffi::PyObject) -> bool {
        let a = o as usize;
        let i = self.images.partition_point(|&(start, _)| start <= a);
        i > 0 && a < self.images[i - 1].1
    }

    pub(super) fn type_name(&mut self, tp: *mut ffi::PyTypeObject) -> String {
        self.names
            .entry(tp as usize)
            .or_insert_with(|| {
                // SAFETY: `tp` is a live type (its objects were walked with the GIL held).
                let raw = unsafe { (*tp).tp_name };
                // SAFETY: tp_name is a NUL-terminated C string owned by the live type.
                let name = unsafe { CStr::from_ptr(raw) };
                name.to_string_lossy().into_owned()
            })
            .clone()
    }

    pub(super) fn info(&mut self, tp: *mut ffi::PyTypeObject) -> TypeInfo {
        let key = tp as usize;
        if let Some(&(_, info)) = self.last_types.iter().find(|(t, _)| *t == key) {
            return info;
        }
        let info = match self.types.get(&key) {
            Some(info) => *info,
            None => {
                let ptr = |t: &Option<Bound<'py, PyType>>| {
                    t.as_ref().map_or(std::ptr::null_mut(), |t| t.as_type_ptr())
                };
                let peers = Peers {
                    known: self.known,
                    registered: &self.registered,
                    numpy_array: self.numpy_array.as_ref().map(|t| t.as_type_ptr()),
                    temporal: [0, 1, 2, 3].map(|i| ptr(&self.temporal[i])),
                    enum_type: ptr(&self.enum_type),
                    decimal: ptr(&self.decimal),
                    trusted: &self.trusted,
                };
                let info = classify(tp, &peers);
                self.types.insert(key, info);
                info
            }
        };
        self.last_types.rotate_right(1);
        self.last_types[0] = (key, info);
        info
    }

    pub(super) fn is_gc(
        &self,
        o: *mut ffi::PyObject,
        tp: *mut ffi::PyTypeObject,
        info: &TypeInfo,
    ) -> bool {
        if info.gc || !info.ask_gc {
            return info.gc;
        }
        // SAFETY: `tp` is the live type of `o`.
        let is_gc = unsafe { (*tp).tp_is_gc };
        // SAFETY: `tp_is_gc` is a pure predicate on a live object of its type.
        is_gc.is_some_and(|f| unsafe { f(o) } != 0)
    }

    /// Objects shared by identity rather than owned: cached or interned values, singletons.
    /// `o` is a live object of the kind given (as for every method here: reached by the walk
    /// with the GIL held, and no Python code runs during it).
    pub(super) fn is_shared_value(&self, o: *mut ffi::PyObject, kind: Kind) -> bool {
        // Immortal objects (3.12+): the low 32 bits of the refcount are negative.
        #[cfg(Py_3_12)]
        // SAFETY: the refcount is the first word of every object.
        if (unsafe { at::<i64>(o, 0) } as i32) < 0 {
            return true;
        }
        match kind {
            Kind::Str => {
                // SAFETY: every str starts with a `PyASCIIObject`.
                let ascii = unsafe { &*o.cast::<ffi::PyASCIIObject>() };
                // SAFETY: reads the state bits of a live str.
                let interned = unsafe { ascii.interned() } != 0;
                // SAFETY: `o` is a live str.
                let short = unsafe { ffi::PyUnicode_GET_LENGTH(o) } <= 1;
                interned || (short && self.cached.contains(&(o as usize)))
            }
            // Not every one-byte bytes is the cached one (`bytes([7])` is not): by identity.
            // SAFETY: a type check of a live object, then the length of a live bytes.
            Kind::Scalar if unsafe { ffi::PyBytes_CheckExact(o) } != 0 => {
                // SAFETY: `o` is a live bytes object.
                let short = unsafe { ffi::PyBytes_Size(o) } <= 1;
                short && self.cached.contains(&(o as usize))
            }
            // SAFETY: a type check of a live object.
            Kind::Int if unsafe { ffi::PyLong_CheckExact(o) } != 0 => {
                let mut overflow = 0;
                // SAFETY: `o` is an exact int; this reads its value without running Python code.
                let v = unsafe { ffi::PyLong_AsLongLongAndOverflow(o, &mut overflow) };
                overflow == 0 && (-5..=256).contains(&v) // the small-int cache
            }
            // SAFETY: `o` is a live tuple.
            Kind::Tuple => (unsafe { ffi::PyTuple_GET_SIZE(o) }) == 0, // the empty-tuple singleton
            _ => false,
        }
    }

    /// The referents of `o` into `self.scratch`. For a dict, PyDict_Next yields borrowed keys
    /// and values without running Python code or allocating (a dict's tp_traverse skips str
    /// keys, which cannot form cycles, but they are memory the dict owns). Otherwise
    /// tp_traverse is called with a visitor that only records pointers.
    pub(super) fn referents(
        &mut self,
        o: *mut ffi::PyObject,
        tp: *mut ffi::PyTypeObject,
        info: &TypeInfo,
    ) {
        self.scratch.clear();
        if info.kind == Kind::Dict {
            let (mut pos, mut key, mut value) = (0, std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: `o` is a live dict; the out-pointers are borrowed references.
            while unsafe { ffi::PyDict_Next(o, &mut pos, &mut key, &mut value) } != 0 {
                self.scratch.push(key);
                self.scratch.push(value);
            }
        } else if info.ask_gc && !self.is_gc(o, tp, info) {
            // A type object that is not a heap type: CPython aborts if it is traversed.
        } else if info.gc || info.ask_gc || !info.members {
            // Not only GC objects: a type may traverse its references without being tracked
            // by the collector (it cannot form cycles), and those references are owned all
            // the same.
            self.traverse(o, tp);
        } else {
            self.member_referents(o, tp);
        }
    }

    /// The objects a non-GC type without `tp_traverse` (code objects, slices) holds in its
    /// object members (`T_OBJECT`, `T_OBJECT_EX` in `tp_members` along its MRO), into
    /// `self.scratch`.
    fn member_referents(&mut self, o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject) {
        let offsets = self
            .members
            .entry(tp as usize)
            // SAFETY: `tp` is a live type.
            .or_insert_with(|| unsafe { object_member_offsets(tp) });
        for &offset in offsets.iter() {
            // SAFETY: a member's offset is where every object of the type keeps that field.
            let r = unsafe { at::<*mut ffi::PyObject>(o, offset) };
            if !r.is_null() {
                self.scratch.push(r);
            }
        }
        // Code objects keep their local names and kinds outside their members (3.11+:
        // `co_localsplusnames`, `co_localspluskinds`, at the same offsets in 3.11-3.13).
        if cfg!(Py_3_11) && tp == &raw mut ffi::PyCode_Type {
            for offset in [96, 104] {
                // SAFETY: an object pointer field of a live code object (3.11-3.13 layout).
                let r = unsafe { at::<*mut ffi::PyObject>(o, offset) };
                if !r.is_null() {
                    self.scratch.push(r);
                }
            }
        }
    }

    /// `tp_traverse` of `o` into `self.scratch` (appending).
    fn traverse(&mut self, o: *mut ffi::PyObject, tp: *mut ffi::PyTypeObject) {
        // SAFETY: `tp` is the live type of `o`.
        let traverse = unsafe { (*tp).tp_traverse };
        if let Some(traverse) = traverse {
            // SAFETY: `collect` honours the visitproc contract with `arg` = the scratch
            // vector, exclusively borrowed for this call.
            unsafe { traverse(o, collect, (&raw mut self.scratch).cast()) };
        }
    }

    /// The object's own allocation: pre-header and body. An impossible size (a length field
    /// misread) comes out above any address space, and the walk refuses it.
    pub(super) fn own_size(
        &self,
        o: *mut ffi::PyObject,
        tp: *mut ffi::PyTypeObject,
        info: &TypeInfo,
    ) -> u64 {
        let pre = if self.is_gc(o, tp, info) { GC_HEAD } else { 0 } + info.managed;
        let from_layout = || {
            // A registered sizer reports the rest of a registered type's memory.
            if info.item == 0 || info.kind == Kind::Registered {
                return info.basic;
            }
            // SAFETY: a type with items that is not sized by a `__sizeof__` of its own keeps
            // its length in `ob_size`, its third word (as `object.__sizeof__` assumes).
            let items = unsafe { at::<ffi::Py_ssize_t>(o, 16) }.unsigned_abs() as u64;
            var_size(info, items)
        };
        let body = match info.kind {
            // SAFETY: `o` is a live str.
            Kind::Str => unsafe { unicode_size(o) },
            // SAFETY: `o` is a live int.
            Kind::Int if info.spare_item => var_size(info, unsafe { long_digits(o) }),
            // SAFETY: `o` is a live int.
            Kind::Int => unsafe { long_size(o) },
            // SAFETY: `hastzinfo`, the byte after the hash of a live datetime or time.
            _ if info.naive_shorter && unsafe { at::<u8>(o, 24) } == 0 => info.basic - WORD,
            _ => match info.sizer {
                Some(f) => csizeof::call(f, o).unwrap_or_else(from_layout),
                None => from_layout(),
            },
        };
        pre.saturating_add(body).saturating_add(info.inline_values)
    }

    pub(super) fn describe_object(&mut self, o: *mut ffi::PyObject, role: Role, node: &mut Node) {
        // SAFETY: `o` is a live object reached through references while the GIL is held.
        let tp = unsafe { ffi::Py_TYPE(o) };
        let info = self.info(tp);
        node.type_id = tp as usize;
        let own = self.own_size(o, tp, &info);
        if info.kind == Kind::Str && matches!(role, Role::Attribute(_)) {
            // SAFETY: `o` is a live str.
            node.text_payload = unsafe { payload(o, Kind::Str) };
            // SAFETY: as above.
            node.text_hash = unsafe { text_hash(o) };
        }
        // Static objects are types or immortal (3.12+) or made immortal-like by deep-freezing
        // (3.11: a refcount of 999,999,999): only those are looked up among the images.
        // SAFETY: the refcount is the first word of every object.
        let huge_refcount = unsafe { at::<isize>(o, 0) } >= 1 << 29;
        let is_static = (info.kind == Kind::Shared || huge_refcount) && self.is_static(o);
        if is_static || info.kind == Kind::Shared || self.is_shared_value(o, info.kind) {
            // A static object (in the interpreter's image) belongs to no structure and was
            // never allocated: it counts nothing.
            node.shared = true;
            if !is_static {
                node.pieces.push((Bucket::ObjectHeaders, own));
                node.allocated = rounded(own);
            }
            if self.walk_shared {
                self.scratch.clear();
                self.referents(o, tp, &info);
                let refs = self.scratch.iter().map(|&r| (r as usize, Role::Element));
                node.referents.extend(refs);
            }
            return;
        }
        if info.kind == Kind::Function {
            // SAFETY: `o` is exactly a function.
            match unsafe { frames::owned_parts(o) } {
                None => {
                    node.shared = true;
                    node.pieces.push((Bucket::ObjectHeaders, own));
                    node.allocated = rounded(own);
                    if self.walk_shared {
                        self.scratch.clear();
                        self.traverse(o, tp);
                        let refs = self.scratch.iter().map(|&r| (r as usize, Role::Element));
                        node.referents.extend(refs);
                    }
                }
                Some(parts) => {
                    node.pieces.push((Bucket::ObjectHeaders, own));
                    node.allocated = rounded(own);
                    let owned = parts.into_iter().filter(|p| !p.is_null());
                    node.referents
                        .extend(owned.map(|p| (p as usize, Role::Element)));
                }
            }
            return;
        }
        let lazy = matches!(info.kind, Kind::List | Kind::Tuple | Kind::Dict)
            // SAFETY: `o` is a live NumPy array.
            || (info.kind == Kind::Numpy && unsafe { numpy_object_items(o) }.is_some());
        self.scratch.clear();
        if info.subclass {
            // A Python subclass: its slots and `__dict__` (or inline values) come first in its
            // traverse, then the base's items (given again lazily; the walk counts them once).
            self.traverse(o, tp);
        } else if !lazy {
            self.referents(o, tp, &info);
        }
        let mut allocated = rounded(own);
        let child = match (info.kind, role) {
            (Kind::Dict, Role::InstanceDict(owner)) => Role::Attribute(owner),
            (Kind::Instance, _) => Role::Attribute(tp as usize),
            _ => Role::Element,
        };
        match info.kind {
            Kind::List => {
                // SAFETY: `o` is a live list.
                let capacity = unsafe { (*o.cast::<ffi::PyListObject>()).allocated };
                let items = capacity as u64 * WORD;
                node.pieces.push((Bucket::Containers, own + items));
                allocated += rounded(items);
            }
            Kind::Dict => {
                // A C subclass's own `__sizeof__` (in `own`) already counts its tables.
                let (extra, extra_alloc) = match info.sizer {
                    Some(_) => (0, 0),
                    // SAFETY: `o` is a live dict.
                    None => unsafe { dict_tables(o) },
                };
                let cat = if matches!(role, Role::InstanceDict(_)) {
                    Bucket::InstanceDicts
                } else {
                    Bucket::Containers
                };
                node.pieces.push((cat, own + extra));
                allocated += extra_alloc;
            }
            Kind::Set => {
                // SAFETY: `o` is a live set or frozenset.
                let table = set_table_bytes(unsafe { &*o.cast::<ffi::PySetObject>() });
                node.pieces.push((Bucket::Containers, own + table));
                allocated += rounded(table);
            }
            Kind::Tuple => node.pieces.push((Bucket::Containers, own)),
            Kind::Frame => {
                node.pieces.push((Bucket::ObjectHeaders, own));
                // SAFETY: `o` is a live frame.
                let foreign = unsafe { frames::foreign_referents(o) };
                self.scratch.retain(|&r| foreign.owns(r));
            }
            Kind::Range => {
                node.pieces.push((Bucket::ObjectHeaders, own));
                // `PyRangeObject`: start, stop, step and length, each an int, after the header.
                for offset in [16, 24, 32, 40] {
                    // SAFETY: an object pointer field of a live range.
                    self.scratch
                        .push(unsafe { at::<*mut ffi::PyObject>(o, offset) });
                }
            }
            Kind::Record => {
                node.pieces.push((Bucket::ObjectHeaders, own));
                // SAFETY: `o` is a live record.
                let held = unsafe { self.known.record_bytes(o) };
                if held > 0 {
                    node.pieces.push((Bucket::AttributeValues, held));
                    allocated += rounded(held);
                }
            }
            Kind::ByteArray => {
                // SAFETY: `o` is a live bytearray.
                let buf = unsafe { (*o.cast::<ffi::PyByteArrayObject>()).ob_alloc } as u64;
                node.pieces.push((Bucket::ObjectHeaders, own));
                node.pieces.push((Bucket::Buffers, buf));
                allocated += rounded(buf);
            }
            Kind::Store(index) => {
                node.pieces.push((Bucket::ObjectHeaders, own));
                // SAFETY: `o`'s type is exactly store type `index` (classified by identity).
                let held = unsafe { self.known.buffers(self.py, index, o) };
                node.shared_buffers = held.heap;
                node.mapped_buffers = held.mapped;
            }
            Kind::Numpy => {
                // SAFETY: `o` is a live NumPy array.
                let fields = unsafe { numpy_fields(o) };
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
                self.describe_instance(o, tp, &info, own, allocated, child, node);
                return;
            }
            Kind::Shared | Kind::Function => unreachable!("handled above"),
        }
        if lazy {
            node.lazy_children = Some(child);
        }
        if info.subclass {
            // SAFETY: `o` is a live object of type `tp`.
            let separate = unsafe { separate_values_size(o, tp) };
            if separate > 0 {
                node.pieces.push((Bucket::InlineValues, separate));
                allocated += rounded(separate);
            }
            // SAFETY: as above.
            let dict = unsafe { instance_dict(o, tp) };
            let owner = Role::InstanceDict(tp as usize);
            node.referents.extend(
                self.scratch
                    .iter()
                    .map(|&r| (r as usize, if r == dict { owner } else { Role::Element })),
            );
        } else {
            node.referents
                .extend(self.scratch.iter().map(|&r| (r as usize, child)));
        }
        node.allocated = allocated;
    }

    /// An instance: its header, inline or separate values, and its attributes (from its
    /// materialised `__dict__` if it has one, else from its traverse).
    #[allow(clippy::too_many_arguments)]
    fn describe_instance(
        &mut self,
        o: *mut ffi::PyObject,
        tp: *mut ffi::PyTypeObject,
        info: &TypeInfo,
        own: u64,
        mut allocated: u64,
        child: Role,
        node: &mut Node,
    ) {
        // SAFETY: `o` is a live object of type `tp`.
        let separate = unsafe { separate_values_size(o, tp) };
        let bucket = if info.leaf_value {
            Bucket::AttributeValues
        } else {
            Bucket::ObjectHeaders
        };
        node.pieces.push((bucket, own - info.inline_values));
        if info.inline_values + separate > 0 {
            node.pieces
                .push((Bucket::InlineValues, info.inline_values + separate));
        }
        allocated += rounded(separate);
        // SAFETY: `o` is a live object of type `tp`.
        let dict = unsafe { instance_dict(o, tp) };
        // From 3.13 an instance whose dict was materialised may still traverse its inline
        // values instead of the dict, which it owns all the same.
        if !dict.is_null() {
            node.referents
                .push((dict as usize, Role::InstanceDict(tp as usize)));
            // The attributes live in the dict: its values are the attributes.
            // SAFETY: `dict` is the instance's live dict.
            let dict_type = unsafe { ffi::Py_TYPE(dict) };
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
    }

    /// Counts an instance's attribute values and the raw data they stand for.
    pub(super) fn tally_attributes<'a>(
        &mut self,
        node: &mut Node,
        values: impl Iterator<Item = &'a *mut ffi::PyObject>,
    ) {
        for &v in values {
            // SAFETY: `v` is a live attribute value of a live instance.
            let info = self.info(unsafe { ffi::Py_TYPE(v) });
            node.attributes += 1;
            if let Some((payload, storable)) = value_payload(v, &info) {
                if info.kind == Kind::Str {
                    node.text_refs += 1;
                    node.text_ref_payload += payload;
                }
                node.payload += payload;
                node.storable_attributes += u64::from(storable);
            }
        }
    }

    /// The child at `cursor` of a list, tuple or dict (keys and values alternate: the cursor
    /// is `PyDict_Next`'s position times two, plus one while the value is due).
    pub(super) fn child(
        &mut self,
        o: *mut ffi::PyObject,
        cursor: &mut usize,
    ) -> Option<*mut ffi::PyObject> {
        // `o` is a live container whose kind the type cache established; no Python code runs
        // during the walk, so it does not change under the cursor.
        // SAFETY: `o` is a live object.
        let kind = self.info(unsafe { ffi::Py_TYPE(o) }).kind;
        match kind {
            Kind::List | Kind::Tuple => sequence_child(o, kind, cursor),
            Kind::Dict => dict_child(o, cursor),
            Kind::Numpy => {
                // SAFETY: `o` is a live array (described with lazy children only when it owns
                // an array of object pointers).
                let items = unsafe { numpy_object_items(o) }?;
                while let Some(&item) = items.get(*cursor) {
                    *cursor += 1;
                    if !item.is_null() {
                        return Some(item);
                    }
                }
                None
            }
            _ => None,
        }
    }
}

/// The next non-null item of a live list or tuple at or after `cursor`. A tuple still being
/// built (`tuple(gen())` while another thread runs a census) has null slots: they are skipped.
fn sequence_child(
    o: *mut ffi::PyObject,
    kind: Kind,
    cursor: &mut usize,
) -> Option<*mut ffi::PyObject> {
    // SAFETY: `ob_size` of a live list or tuple.
    let len = unsafe { at::<ffi::Py_ssize_t>(o, 16) }.max(0) as usize;
    let items: *mut *mut ffi::PyObject = if kind == Kind::List {
        // SAFETY: `o` is a live list.
        unsafe { (*o.cast::<ffi::PyListObject>()).ob_item }
    } else {
        // SAFETY: `o` is a live tuple, whose items follow its header.
        unsafe { (&raw mut (*o.cast::<ffi::PyTupleObject>()).ob_item).cast() }
    };
    if len == 0 {
        return None;
    }
    // SAFETY: a live list or tuple of `len > 0` items has an item array of `len` slots, which
    // does not change while no Python code runs.
    let items = unsafe { std::slice::from_raw_parts(items, len) };
    while *cursor < len {
        // Items are visited in order: ask for the object a few items ahead now, so its cache
        // miss overlaps with the work on this one.
        if let Some(&ahead) = items.get(*cursor + PREFETCH_AHEAD) {
            prefetch(ahead);
        }
        let item = items[*cursor];
        *cursor += 1;
        if !item.is_null() {
            return Some(item);
        }
    }
    None
}

/// The child at `cursor` of a live dict: keys and values alternate, the cursor being
/// `PyDict_Next`'s position times two, plus one while the value is due.
fn dict_child(o: *mut ffi::PyObject, cursor: &mut usize) -> Option<*mut ffi::PyObject> {
    let (start, value_due) = ((*cursor >> 1) as ffi::Py_ssize_t, *cursor & 1 == 1);
    let mut pos = start;
    let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: `o` is a live dict; the out-pointers are borrowed references.
    if unsafe { ffi::PyDict_Next(o, &mut pos, &mut key, &mut value) } == 0 {
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

/// `module.name` if that module has been imported and it is a type (looked up before the walk,
/// which runs no Python code; a module not imported has made no objects to find).
fn imported_type<'py>(py: Python<'py>, module: &str, name: &str) -> Option<Bound<'py, PyType>> {
    let modules = py.import("sys").ok()?.getattr("modules").ok()?;
    let module = modules.get_item(module).ok()?;
    module.getattr(name).ok()?.cast_into::<PyType>().ok()
}

/// The cached small str and bytes objects (see `CPython::cached`), asked for before the walk.
fn cached_small_values(py: Python<'_>) -> shoal_heap::AddrSet<usize> {
    let mut cached = shoal_heap::AddrSet::default();
    if cfg!(Py_3_12) {
        return cached;
    }
    for c in 0..=255u8 {
        // SAFETY: returns a new reference to the cached one-character str, or null.
        let ch = unsafe { ffi::PyUnicode_FromOrdinal(c.into()) };
        // SAFETY: takes ownership of that reference (`None` if it failed).
        let ch = unsafe { Bound::from_owned_ptr_or_opt(py, ch) };
        let byte = pyo3::types::PyBytes::new(py, &[c]).into_any();
        cached.extend(ch.iter().chain([&byte]).map(|o| o.as_ptr() as usize));
    }
    // Only the cached objects' addresses are kept: they stay alive in the interpreter's cache.
    let empty = [
        pyo3::types::PyBytes::new(py, b"").into_any(),
        pyo3::types::PyString::new(py, "").into_any(),
    ];
    cached.extend(empty.iter().map(|o| o.as_ptr() as usize));
    cached
}

/// The file-backed mappings of this process, sorted: program images and mapped files (no
/// object is allocated in a mapped file, so only static objects lie in them). Empty where
/// `/proc/self/maps` is not available.
fn image_ranges() -> Vec<(usize, usize)> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut out: Vec<(usize, usize)> = maps
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let path = fields.nth(4)?; // after perms, offset, dev, inode
            if !path.starts_with('/') {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        })
        .collect();
    out.sort_unstable();
    out
}

/// The offsets of the object members (`T_OBJECT`, `T_OBJECT_EX`) of `tp` and its bases.
///
/// # Safety
/// `tp` must be a live type.
unsafe fn object_member_offsets(tp: *mut ffi::PyTypeObject) -> Vec<isize> {
    let mut out = Vec::new();
    let mut t = tp;
    while !t.is_null() {
        // SAFETY: `t` is a live type (`tp` or one of its bases, kept alive by it).
        let mut m = unsafe { (*t).tp_members };
        // SAFETY: `tp_members` is null or an array ended by an entry with a null name.
        while !m.is_null() && unsafe { !(*m).name.is_null() } {
            // SAFETY: `m` points to an entry of that array.
            let member = unsafe { &*m };
            let is_object = matches!(
                member.type_code,
                ffi::Py_T_OBJECT_EX | 6 /* T_OBJECT */
            );
            if is_object && member.offset > 0 && !out.contains(&member.offset) {
                out.push(member.offset);
            }
            // SAFETY: the next entry of the same array (the end entry was not reached).
            m = unsafe { m.add(1) };
        }
        // SAFETY: as above.
        t = unsafe { (*t).tp_base };
    }
    out
}

/// A hash of a str's characters (its code units as stored: equal strs hash alike).
///
/// # Safety
/// `o` must be a live str.
unsafe fn text_hash(o: *mut ffi::PyObject) -> u64 {
    use std::hash::Hasher;
    // SAFETY: `o` is a live str (guaranteed by the caller).
    let data = unsafe { ffi::PyUnicode_DATA(o) };
    // SAFETY: as above.
    let len = unsafe { ffi::PyUnicode_GET_LENGTH(o) };
    // SAFETY: every str starts with a `PyASCIIObject`.
    let ascii = unsafe { &*o.cast::<ffi::PyASCIIObject>() };
    // SAFETY: reads the state bits of a live str.
    let kind = unsafe { ascii.kind() } as usize;
    // SAFETY: a ready str's data holds `len` code units of `kind` bytes each.
    let units = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len as usize * kind) };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(units);
    h.write_usize(kind);
    h.finish()
}

/// The size of a var-sized object of `items` items, with `PyType_GenericAlloc`'s spare item and
/// rounding where it applies; saturating, so a misread length cannot wrap to a small size.
fn var_size(info: &TypeInfo, items: u64) -> u64 {
    let items = items.saturating_add(u64::from(info.spare_item));
    let body = info.basic.saturating_add(info.item.saturating_mul(items));
    if info.spare_item {
        body.saturating_add(WORD - 1) & !(WORD - 1)
    } else {
        body
    }
}

/// Bytes of a set's separately allocated hash table (none while it uses its small table).
fn set_table_bytes(set: &ffi::PySetObject) -> u64 {
    let small = (&raw const set.smalltable).cast::<ffi::setentry>();
    if set.table.cast_const() == small {
        0
    } else {
        (set.mask as u64 + 1) * 16
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
