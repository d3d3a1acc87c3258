//! The error-free subset of conversion the fast-call append tries first: exact `float`, `int`,
//! `str`, `bytes` and `None` (large error values on the hot path cost a fifth of an append).

use std::borrow::Cow;

use pyo3::ffi;
use pyo3::prelude::*;
use shoal_core::{Cell, DType, Scalar, Value};

use super::FieldSpec;

/// The UTF-8 bytes of a `str` (which must be one), borrowed from it: the object's own data for
/// compact ASCII strings, CPython's cached UTF-8 form otherwise. `None` (no exception set) if
/// it cannot be encoded (a lone surrogate).
///
/// # Safety
/// `p` must be a live `str`; the slice is valid while it lives.
#[inline(always)]
pub(super) unsafe fn str_utf8<'a>(p: *mut ffi::PyObject) -> Option<&'a [u8]> {
    // SAFETY: guaranteed by the caller; a compact ASCII string's characters are its UTF-8.
    unsafe {
        #[cfg(not(Py_3_14))]
        if ffi::PyUnicode_IS_COMPACT_ASCII(p) != 0 {
            let data = ffi::PyUnicode_DATA(p).cast::<u8>();
            return Some(std::slice::from_raw_parts(
                data,
                ffi::PyUnicode_GET_LENGTH(p) as usize,
            ));
        }
        let mut size: ffi::Py_ssize_t = 0;
        let data = ffi::PyUnicode_AsUTF8AndSize(p, &mut size);
        if data.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        Some(std::slice::from_raw_parts(data.cast::<u8>(), size as usize))
    }
}

/// The hot path of appends: exact `float`, `int`, `str`, `bytes` and `None` values that need no
/// conversion and fit. `None` means "take the slow path" (which converts or explains).
#[inline(always)]
pub fn fast_cell<'a>(obj: pyo3::Borrowed<'a, '_, PyAny>, spec: &FieldSpec) -> Option<Cell<'a>> {
    let p = obj.as_ptr();
    if obj.is_none() {
        return spec.nullable.then_some(Cell::Null);
    }
    match spec.dtype {
        DType::Str | DType::Category if spec.enum_type.is_none() => {
            // SAFETY: a type check on a live object; for an exact str the UTF-8 form CPython
            // returns is cached in the object and lives as long as it does (`'a`).
            let bytes = unsafe {
                if ffi::PyUnicode_CheckExact(p) == 0 {
                    return None;
                }
                str_utf8(p)?
            };
            let allowed = spec
                .choices
                .as_ref()
                .is_none_or(|c| c.iter().any(|v| v.as_bytes() == bytes));
            allowed.then_some(Cell::Bytes(Cow::Borrowed(bytes)))
        }
        DType::Bytes => {
            // SAFETY: an exact bytes object's buffer is immutable and lives as long as it does.
            unsafe {
                if ffi::PyBytes_CheckExact(p) == 0 {
                    return None;
                }
                let data = ffi::PyBytes_AsString(p).cast::<u8>();
                let len = ffi::PyBytes_Size(p) as usize;
                Some(Cell::Bytes(Cow::Borrowed(std::slice::from_raw_parts(
                    data, len,
                ))))
            }
        }
        d if d.is_fixed() && d.storage() == d => fast_scalar(&obj, d).map(Cell::Num),
        _ => None,
    }
}

/// Exact `float` and `int` values that fit: the hot path of appends and writes, kept free of
/// error values (which are large and would be copied around even when unused).
#[inline(always)]
pub(super) fn fast_scalar(obj: &Bound<'_, PyAny>, dtype: DType) -> Option<Scalar> {
    let p = obj.as_ptr();
    // SAFETY: `p` is a live object; the exact type checks guarantee the layout the accessors
    // below read.
    unsafe {
        if ffi::PyFloat_CheckExact(p) != 0 {
            let x = ffi::PyFloat_AS_DOUBLE(p);
            return match dtype {
                DType::F64 => Some(Scalar::F64(x)),
                _ => None,
            };
        }
        if ffi::PyLong_CheckExact(p) != 0 {
            let mut overflow = 0;
            let v = ffi::PyLong_AsLongLongAndOverflow(p, &mut overflow);
            if overflow != 0 || (v == -1 && !ffi::PyErr_Occurred().is_null()) {
                ffi::PyErr_Clear();
                return None;
            }
            // The default int type needs no range check.
            if dtype == DType::I64 {
                return Some(Scalar::I64(v));
            }
            return dtype.coerce(Value::Int(v)).ok();
        }
    }
    None
}
