//! The raw data an attribute value stands for (8 bytes for a float, the text of a str): what
//! the census's projected `__slots__`/`shoal.Table` sizes are built from.

use pyo3::ffi;

use super::classify::Kind;
use super::layout::at;

/// For a value: the raw data it stands for, as a typed column would store it, and whether a
/// shoal column could hold it (float, int, bool, str, bytes). 8 bytes for a float or an int, 1
/// for a bool, the UTF-8 bytes plus a 4-byte offset for a str or bytes.
pub(super) fn value_payload(o: *mut ffi::PyObject, kind: Kind) -> Option<(u64, bool)> {
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
pub(super) unsafe fn payload(o: *mut ffi::PyObject, kind: Kind) -> u64 {
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
