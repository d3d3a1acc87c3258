//! The raw data an attribute value stands for (8 bytes for a float, the text of a str): what
//! the census's projected `__slots__`/`shoal.Table` sizes are built from.

use pyo3::ffi;

use super::classify::{Kind, TypeInfo};
use super::layout::at;

/// For a value: the raw data it stands for, as a typed column would store it, and whether a
/// shoal column could hold it (float, int, bool, str, bytes, datetime, date, timedelta, an
/// enum member, `None` in an optional field). 8 bytes for a float or an int, 1 for a bool,
/// the UTF-8 bytes plus a 4-byte offset for a str or bytes; `None` still takes its row's slot
/// in a nullable column: 4 bytes, the narrowest (a text offset), as a lower bound.
pub(super) fn value_payload(o: *mut ffi::PyObject, info: &TypeInfo) -> Option<(u64, bool)> {
    // SAFETY: returns a borrowed pointer to the immortal `None`.
    if o == unsafe { ffi::Py_None() } {
        return Some((4, true));
    }
    if let Some(bytes) = info.column_bytes {
        return Some((bytes, true));
    }
    let kind = info.kind;
    // SAFETY: `o` is a live object (reached by the walk); type checks only read its type.
    if unsafe { ffi::PyBool_Check(o) } != 0 {
        return Some((1, true));
    }
    // SAFETY: as above.
    let is_float = || unsafe { ffi::PyFloat_Check(o) } != 0;
    // SAFETY: as above.
    let is_bytes = || unsafe { ffi::PyBytes_Check(o) } != 0;
    match kind {
        Kind::Int => Some((8, true)),
        Kind::Scalar if is_float() => Some((8, true)),
        // SAFETY: `o` is a live str.
        Kind::Str => Some((unsafe { payload(o, kind) }, true)),
        // SAFETY: `o` is a live float, bytes or complex.
        Kind::Scalar => Some((unsafe { payload(o, kind) }, is_bytes())),
        _ => None,
    }
}

/// # Safety
/// `o` must be a live object of the given kind.
pub(super) unsafe fn payload(o: *mut ffi::PyObject, kind: Kind) -> u64 {
    match kind {
        Kind::Str => {
            // SAFETY: every str starts with a `PyASCIIObject` (`o` is live: the caller).
            let ascii = unsafe { &*o.cast::<ffi::PyASCIIObject>() };
            // SAFETY: `o` is a live str.
            let len = unsafe { ffi::PyUnicode_GET_LENGTH(o) } as u64;
            // Non-ASCII code points take 2-4 UTF-8 bytes; the kind bounds it.
            // SAFETY: reads the state bits of a live str.
            let per = if unsafe { ascii.ascii() } != 0 {
                1
            } else {
                // SAFETY: as above.
                u64::from(unsafe { ascii.kind() }) + 1
            };
            len * per.min(4) + 4
        }
        // SAFETY: type check of a live object.
        Kind::Scalar if unsafe { ffi::PyBytes_Check(o) } != 0 => {
            // SAFETY: `ob_size` of a live bytes object.
            unsafe { at::<isize>(o, 16) as u64 + 4 }
        }
        // SAFETY: type check of a live object.
        Kind::Scalar if unsafe { ffi::PyComplex_Check(o) } != 0 => 16,
        _ => 8,
    }
}
