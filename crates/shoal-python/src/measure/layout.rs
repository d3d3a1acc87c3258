//! Object layouts per CPython version: the sizes of str and int bodies, dict key tables and
//! value arrays, inline values, NumPy array fields. Offsets are written per version with
//! `#[cfg(Py_3_1x)]` and checked against tracemalloc in the tests on every version.

use std::ffi::c_void;

use pyo3::ffi;

pub(super) const WORD: u64 = 8;
pub(super) const GC_HEAD: u64 = 16;
#[cfg(Py_3_13)]
pub(super) const TPFLAGS_INLINE_VALUES: std::ffi::c_ulong = 1 << 2;
/// `Py_TPFLAGS_MANAGED_WEAKREF` / `Py_TPFLAGS_MANAGED_DICT` (3.11+; the bits are unused before).
#[cfg(Py_3_12)]
pub(super) const TPFLAGS_MANAGED_WEAKREF: std::ffi::c_ulong = 1 << 3;
pub(super) const TPFLAGS_MANAGED_DICT: std::ffi::c_ulong = 1 << 4;

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

/// Reads a word at `offset` bytes from `p`.
///
/// # Safety
/// `p + offset` must be inside a live object and aligned for `T`.
pub(super) unsafe fn at<T: Copy>(p: *mut ffi::PyObject, offset: isize) -> T {
    // SAFETY: `p + offset` is inside the same live object (guaranteed by the caller).
    let field = unsafe { p.cast::<u8>().offset(offset) };
    // SAFETY: the field is initialised and aligned for `T` (guaranteed by the caller).
    unsafe { field.cast::<T>().read() }
}

/// # Safety
/// `o` must be a live `str`.
pub(super) unsafe fn unicode_size(o: *mut ffi::PyObject) -> u64 {
    // SAFETY: every str starts with a `PyASCIIObject` (guaranteed live by the caller).
    let ascii = unsafe { &*o.cast::<ffi::PyASCIIObject>() };
    // SAFETY: `o` is a live str.
    let len = unsafe { ffi::PyUnicode_GET_LENGTH(o) } as u64;
    // SAFETY: reads the state bits of a live str.
    let kind = u64::from(unsafe { ascii.kind() });
    // SAFETY: as above.
    let (compact, is_ascii) = (
        unsafe { ascii.compact() } != 0,
        unsafe { ascii.ascii() } != 0,
    );
    // The state bits decide which layout applies.
    if compact && is_ascii {
        std::mem::size_of::<ffi::PyASCIIObject>() as u64 + len + 1
    } else if compact {
        std::mem::size_of::<ffi::PyCompactUnicodeObject>() as u64 + (len + 1) * kind
    } else {
        std::mem::size_of::<ffi::PyUnicodeObject>() as u64 + (len + 1) * kind
    }
}

/// The digits of an int (at least one from 3.12, where zero keeps one too).
///
/// # Safety
/// `o` must be a live `int`.
pub(super) unsafe fn long_digits(o: *mut ffi::PyObject) -> u64 {
    // SAFETY: guaranteed by the caller. Up to 3.11 the digit count is |ob_size|; from 3.12
    // it is `lv_tag >> 3`, in the same word.
    let word = unsafe { at::<usize>(o, 16) };
    #[cfg(Py_3_12)]
    let digits = (word >> 3).max(1) as u64;
    #[cfg(not(Py_3_12))]
    let digits = (word as isize).unsigned_abs() as u64;
    digits
}

/// # Safety
/// `o` must be a live exact `int` (or one allocated like it).
pub(super) unsafe fn long_size(o: *mut ffi::PyObject) -> u64 {
    // SAFETY: guaranteed by the caller.
    let digits = unsafe { long_digits(o) };
    // From 3.11 one-digit ints are allocated as a whole `PyLongObject` (`_PyLong_FromMedium`),
    // 32 bytes with padding; arithmetic results are allocated with a spare digit, 32 as well.
    if cfg!(Py_3_11) && digits == 1 {
        return 32;
    }
    24 + 4 * digits
}

/// Offsets inside CPython's dict keys object (`struct _dictkeysobject`).
pub(super) struct KeysLayout {
    pub(super) usable: isize,
    pub(super) nentries: isize,
}

#[cfg(Py_3_11)]
pub(super) const KEYS: KeysLayout = KeysLayout {
    usable: 16,
    nentries: 24,
};

#[cfg(not(Py_3_11))]
pub(super) const KEYS: KeysLayout = KeysLayout {
    usable: 24,
    nentries: 32,
};

/// Size of a dict keys object as allocated by `new_keys_object`.
///
/// # Safety
/// `keys` must point to a live `PyDictKeysObject`.
pub(super) unsafe fn keys_size(keys: *mut ffi::PyObject) -> u64 {
    // Offsets per version as in CPython's dict-common.h / pycore_dict.h; `keys` is live
    // (guaranteed by the caller) for every read below.
    #[cfg(Py_3_11)]
    {
        // SAFETY: `dk_log2_size`, a byte of the live keys object.
        let log2_size = unsafe { at::<u8>(keys, 8) };
        // SAFETY: `dk_log2_index_bytes`, likewise.
        let log2_index_bytes = unsafe { at::<u8>(keys, 9) };
        // SAFETY: `dk_kind`, likewise.
        let kind = unsafe { at::<u8>(keys, 10) };
        let size = 1u64 << log2_size;
        let entry = if kind == 0 { 24 } else { 16 }; // DICT_KEYS_GENERAL = 0
        32 + (1u64 << log2_index_bytes) + (2 * size / 3) * entry
    }
    #[cfg(not(Py_3_11))]
    {
        // SAFETY: `dk_size`, a word of the live keys object.
        let size = unsafe { at::<isize>(keys, 8) } as u64;
        let ix = match size {
            0..=0xff => 1,
            0x100..=0xffff => 2,
            0x1_0000..=0xffff_ffff => 4,
            _ => 8,
        };
        40 + ix * size + 24 * (2 * size / 3)
    }
}

/// Entries the values array of a split dict has room for.
///
/// # Safety
/// `keys` must point to a live `PyDictKeysObject`.
pub(super) unsafe fn split_values_len(keys: *mut ffi::PyObject) -> u64 {
    #[cfg(Py_3_11)]
    {
        // SAFETY: `dk_usable`, a word of the live keys object (guaranteed by the caller).
        let usable = unsafe { at::<isize>(keys, KEYS.usable) };
        // SAFETY: `dk_nentries`, likewise.
        let nentries = unsafe { at::<isize>(keys, KEYS.nentries) };
        (usable + nentries) as u64
    }
    #[cfg(not(Py_3_11))]
    {
        let _ = KEYS.nentries;
        let _ = KEYS.usable;
        // SAFETY: `dk_size`, a word of the live keys object (guaranteed by the caller).
        2 * unsafe { at::<isize>(keys, 8) } as u64 / 3
    }
}

/// Size of a split dict's values array (`new_values`), prefix bytes included from 3.11.
pub(super) fn values_array_size(len: u64) -> u64 {
    if cfg!(Py_3_13) {
        len.next_multiple_of(WORD) + (len + 1) * WORD // `_PyInlineValuesSize`
    } else if cfg!(Py_3_11) {
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
pub(super) unsafe fn dict_tables(o: *mut ffi::PyObject) -> (u64, u64) {
    // PyDictObject is: header (16), ma_used (8), version or watcher tag (8), ma_keys,
    // ma_values.
    // SAFETY: `ma_keys` of a live dict (guaranteed by the caller).
    let keys = unsafe { at::<*mut ffi::PyObject>(o, 32) };
    // SAFETY: `ma_values`, likewise.
    let values = unsafe { at::<*mut c_void>(o, 40) };
    if keys.is_null() {
        return (0, 0);
    }
    let mut allocs = [0u64; 2];
    // SAFETY: `dk_refcnt` of the dict's live keys object.
    let refcnt = unsafe { at::<isize>(keys, 0) };
    let empty = if cfg!(Py_3_11) {
        // SAFETY: `dk_log2_size` (3.11+) of the live keys object.
        unsafe { at::<u8>(keys, 8) == 0 }
    } else {
        // SAFETY: `dk_size` (3.10) of the live keys object.
        unsafe { at::<isize>(keys, 8) <= 1 }
    };
    if refcnt == 1 && !empty {
        // SAFETY: `keys` is a live keys object.
        allocs[0] = unsafe { keys_size(keys) };
    }
    if !values.is_null() && !values_embedded(values) {
        // SAFETY: `keys` is a live keys object.
        allocs[1] = values_array_size(unsafe { split_values_len(keys) });
    }
    (
        allocs[0] + allocs[1],
        rounded(allocs[0]) + rounded(allocs[1]),
    )
}

/// From 3.13 an instance's values live inside the instance; a dict made from them points there.
pub(super) fn values_embedded(values: *mut c_void) -> bool {
    #[cfg(Py_3_13)]
    {
        // SAFETY: `values` points to a live PyDictValues; `embedded` is its third byte.
        let embedded = unsafe { values.cast::<u8>().add(2) };
        // SAFETY: as above: an initialised byte.
        unsafe { embedded.read() != 0 }
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
pub(super) unsafe fn separate_values_size(
    o: *mut ffi::PyObject,
    tp: *mut ffi::PyTypeObject,
) -> u64 {
    // Pre-header slots per Objects/object_layout.md; `o` is a live object of type `tp`
    // (guaranteed by the caller) for every read below.
    #[cfg(all(Py_3_11, not(Py_3_13)))]
    {
        // SAFETY: reads the flags of a live type.
        if unsafe { ffi::PyType_GetFlags(tp) } & TPFLAGS_MANAGED_DICT == 0 {
            return 0;
        }
        #[cfg(Py_3_12)]
        let values = {
            // SAFETY: a managed-dict object has the tagged values pointer three words before it.
            let tagged = unsafe { at::<usize>(o, -3 * WORD as isize) };
            if tagged & 1 == 1 {
                (tagged - 1) as *mut c_void
            } else {
                std::ptr::null_mut()
            }
        };
        #[cfg(not(Py_3_12))]
        // SAFETY: a managed-dict object (3.11) has its values pointer four words before it.
        let values = unsafe { at::<*mut c_void>(o, -4 * WORD as isize) };
        // SAFETY: a type with a managed dict is a heap type.
        let keys = unsafe { (*tp.cast::<ffi::PyHeapTypeObject>()).ht_cached_keys };
        if values.is_null() || keys.is_null() {
            return 0;
        }
        // SAFETY: the type's cached keys object is live while the type is.
        values_array_size(unsafe { split_values_len(keys.cast()) })
    }
    #[cfg(not(all(Py_3_11, not(Py_3_13))))]
    {
        let _ = (o, tp);
        0
    }
}

/// Bytes of the values array embedded after an instance (3.13).
#[cfg(Py_3_13)]
pub(super) fn inline_values_size(tp: *mut ffi::PyTypeObject) -> u64 {
    // SAFETY: types with inline values are heap types.
    let keys = unsafe { (*tp.cast::<ffi::PyHeapTypeObject>()).ht_cached_keys };
    if keys.is_null() {
        return 0;
    }
    // `_PyInlineValuesSize`: a prefix of one byte per slot rounded up to a word, then one word
    // more than the slots.
    // SAFETY: the type's cached keys object is live while the type is.
    let len = unsafe { split_values_len(keys.cast()) };
    len.next_multiple_of(WORD) + (len + 1) * WORD
}

/// The instance's materialised `__dict__`, or null. Never creates one.
///
/// # Safety
/// `o` must be a live object of type `tp`.
pub(super) unsafe fn instance_dict(
    o: *mut ffi::PyObject,
    tp: *mut ffi::PyTypeObject,
) -> *mut ffi::PyObject {
    // SAFETY: reads the flags of a live type (guaranteed by the caller).
    let flags = unsafe { ffi::PyType_GetFlags(tp) };
    if cfg!(Py_3_11) && flags & TPFLAGS_MANAGED_DICT != 0 {
        // SAFETY: a managed-dict object has its (tagged) dict pointer three words before it.
        let p = unsafe { at::<usize>(o, -3 * WORD as isize) };
        return if p & 1 == 1 {
            std::ptr::null_mut()
        } else {
            p as *mut ffi::PyObject
        };
    }
    // SAFETY: reads a field of a live type.
    let offset = unsafe { (*tp).tp_dictoffset };
    if offset > 0 {
        // SAFETY: a positive `tp_dictoffset` is where the object keeps its dict pointer.
        return unsafe { at::<*mut ffi::PyObject>(o, offset) };
    }
    std::ptr::null_mut()
}

/// The fields of a NumPy array that sizing needs (the layout of `PyArrayObject_fields`, stable
/// across NumPy 1.x and 2.x).
pub(super) struct NumpyFields {
    pub(super) nd: i32,
    pub(super) dims: *const isize,
    pub(super) strides: *const isize,
    pub(super) base: *mut ffi::PyObject,
    pub(super) flags: i32,
}

impl NumpyFields {
    /// (data bytes owned, dimension/stride array bytes).
    pub(super) fn owned_bytes(&self) -> (u64, u64) {
        const OWNDATA: i32 = 0x4;
        const C_CONTIGUOUS: i32 = 0x1;
        let nd = self.nd.max(0) as usize;
        let dims_bytes = 2 * nd as u64 * WORD;
        if self.flags & OWNDATA == 0 || nd == 0 {
            return (0, dims_bytes);
        }
        // SAFETY: `dims` holds `nd` entries.
        let dims = unsafe { std::slice::from_raw_parts(self.dims, nd) };
        // SAFETY: `strides` holds `nd` entries.
        let strides = unsafe { std::slice::from_raw_parts(self.strides, nd) };
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

/// The elements of a NumPy array of Python objects that owns its data (views reach the same
/// objects through their base), or `None` for any other array.
///
/// # Safety
/// `o` must be a live NumPy array, and stay unchanged while the slice is used (no Python code
/// runs during a walk).
pub(super) unsafe fn numpy_object_items<'a>(
    o: *mut ffi::PyObject,
) -> Option<&'a [*mut ffi::PyObject]> {
    const NPY_OBJECT: i32 = 17;
    // SAFETY: `o` is a live array (guaranteed by the caller).
    let fields = unsafe { numpy_fields(o) };
    // SAFETY: `descr`, the array's live dtype, at its offset in `PyArrayObject_fields`.
    let descr = unsafe { at::<*mut ffi::PyObject>(o, 56) };
    // SAFETY: `type_num`, an int of the dtype (`PyArray_Descr`, the same offset in 1.x and 2.x).
    if descr.is_null() || unsafe { at::<i32>(descr, 28) } != NPY_OBJECT {
        return None;
    }
    let (bytes, _) = fields.owned_bytes();
    if fields.flags & 0x4 == 0 || fields.nd == 0 {
        return None; // a view (OWNDATA unset) or a 0-d array
    }
    // SAFETY: `data`, the array's data pointer.
    let data = unsafe { at::<*mut *mut ffi::PyObject>(o, 16) };
    if data.is_null() {
        return None;
    }
    // SAFETY: an owning object array's data holds `bytes / 8` initialised pointers (or nulls).
    Some(unsafe { std::slice::from_raw_parts(data, bytes as usize / WORD as usize) })
}

/// # Safety
/// `o` must be a live NumPy array.
pub(super) unsafe fn numpy_fields(o: *mut ffi::PyObject) -> NumpyFields {
    // Offsets of `PyArrayObject_fields`; `o` is a live array (guaranteed by the caller).
    NumpyFields {
        // SAFETY: `nd`, an int field of the array.
        nd: unsafe { at::<i32>(o, 24) },
        // SAFETY: `dimensions`, a pointer field.
        dims: unsafe { at::<*const isize>(o, 32) },
        // SAFETY: `strides`, a pointer field.
        strides: unsafe { at::<*const isize>(o, 40) },
        // SAFETY: `base`, an object pointer field.
        base: unsafe { at::<*mut ffi::PyObject>(o, 48) },
        // SAFETY: `flags`, an int field.
        flags: unsafe { at::<i32>(o, 64) },
    }
}
