//! The error-free subset of conversion the fast-call append tries first: exact `float`, `int`,
//! `str`, `bytes` and `None` (large error values on the hot path cost a fifth of an append).

use std::borrow::Cow;

use pyo3::ffi;
use pyo3::prelude::*;
use shoal_core::{DType, Datum, Scalar, Value};

use super::FieldSpec;

/// The UTF-8 bytes of a `str` (which must be one), borrowed from it: the object's own data for
/// compact ASCII strings, CPython's cached UTF-8 form otherwise. `None` (no exception set) if
/// it cannot be encoded (a lone surrogate).
///
/// # Safety
/// `p` must be a live `str`; the slice is valid while it lives.
#[inline(always)]
pub(super) unsafe fn str_utf8<'a>(p: *mut ffi::PyObject) -> Option<&'a [u8]> {
    #[cfg(not(Py_3_14))]
    // SAFETY: `p` is a live str (guaranteed by the caller).
    if unsafe { ffi::PyUnicode_IS_COMPACT_ASCII(p) } != 0 {
        // SAFETY: as above.
        let data = unsafe { ffi::PyUnicode_DATA(p) }.cast::<u8>();
        // SAFETY: as above.
        let len = unsafe { ffi::PyUnicode_GET_LENGTH(p) } as usize;
        // SAFETY: a compact ASCII string's `len` characters are its UTF-8, stored in the object
        // for as long as it lives.
        return Some(unsafe { std::slice::from_raw_parts(data, len) });
    }
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: `p` is a live str; the UTF-8 form is cached in the object.
    let data = unsafe { ffi::PyUnicode_AsUTF8AndSize(p, &mut size) };
    if data.is_null() {
        // SAFETY: an exception is set (the lone surrogate); the caller reports its own error.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    // SAFETY: CPython returned `size` bytes of UTF-8 that live as long as the str.
    Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size as usize) })
}

/// The bytes of a bytes object (which must be one), borrowed from it.
///
/// # Safety
/// `p` must be a live `bytes`; its buffer is immutable and the slice valid while it lives.
#[inline(always)]
pub(super) unsafe fn bytes_data<'a>(p: *mut ffi::PyObject) -> &'a [u8] {
    // SAFETY: `p` is a live bytes object (guaranteed by the caller).
    let data = unsafe { ffi::PyBytes_AsString(p) }.cast::<u8>();
    // SAFETY: as above.
    let len = unsafe { ffi::PyBytes_Size(p) } as usize;
    // SAFETY: the object holds `len` bytes at `data`, immutable while it lives.
    unsafe { std::slice::from_raw_parts(data, len) }
}

/// The hot path of appends: exact `float`, `int`, `str`, `bytes` and `None` values that need no
/// conversion and fit. `None` means "take the slow path" (which converts or explains).
#[inline(always)]
pub fn fast_cell<'a>(obj: pyo3::Borrowed<'a, '_, PyAny>, spec: &FieldSpec) -> Option<Datum<'a>> {
    let p = obj.as_ptr();
    if obj.is_none() {
        return spec.nullable.then_some(Datum::Null);
    }
    match spec.dtype {
        DType::Str | DType::Category if spec.enum_type.is_none() => {
            // SAFETY: a type check on a live object.
            if unsafe { ffi::PyUnicode_CheckExact(p) } == 0 {
                return None;
            }
            // SAFETY: `p` is an exact str; its UTF-8 form lives as long as it does (`'a`).
            let bytes = unsafe { str_utf8(p) }?;
            let allowed = spec
                .choices
                .as_ref()
                .is_none_or(|c| c.iter().any(|v| v.as_bytes() == bytes));
            allowed.then_some(Datum::Bytes(Cow::Borrowed(bytes)))
        }
        DType::Bytes => {
            // SAFETY: a type check on a live object.
            if unsafe { ffi::PyBytes_CheckExact(p) } == 0 {
                return None;
            }
            // SAFETY: `p` is an exact bytes object, alive for `'a`.
            Some(Datum::Bytes(Cow::Borrowed(unsafe { bytes_data(p) })))
        }
        d if d.is_fixed() && d.storage() == d => fast_scalar(&obj, d).map(Datum::Num),
        _ => None,
    }
}

/// The number `row.x = value` stores for a field read by `fast`, if `value` is an exact
/// `float`, `int` or `bool` that needs no conversion: the hot path of writes.
#[inline(always)]
pub fn fast_number(value: &Bound<'_, PyAny>, fast: super::FastRead) -> Option<Scalar> {
    match fast {
        super::FastRead::F64 => fast_scalar(value, DType::F64),
        super::FastRead::I64 => fast_scalar(value, DType::I64),
        // SAFETY: comparing with the two bool singletons (borrowed, alive for the program).
        super::FastRead::Bool if value.as_ptr() == unsafe { ffi::Py_True() } => {
            Some(Scalar::Bool(true))
        }
        // SAFETY: as above.
        super::FastRead::Bool if value.as_ptr() == unsafe { ffi::Py_False() } => {
            Some(Scalar::Bool(false))
        }
        _ => None,
    }
}

/// Exact `float` and `int` values that fit: the hot path of appends and writes, kept free of
/// error values (which are large and would be copied around even when unused).
#[inline(always)]
pub(super) fn fast_scalar(obj: &Bound<'_, PyAny>, dtype: DType) -> Option<Scalar> {
    let p = obj.as_ptr();
    // SAFETY: a type check on a live object.
    if unsafe { ffi::PyFloat_CheckExact(p) } != 0 {
        // SAFETY: `p` is an exact float.
        let x = unsafe { ffi::PyFloat_AS_DOUBLE(p) };
        return match dtype {
            DType::F64 => Some(Scalar::F64(x)),
            _ => None,
        };
    }
    // SAFETY: a type check on a live object.
    if unsafe { ffi::PyLong_CheckExact(p) } != 0 {
        let mut overflow = 0;
        // SAFETY: `p` is an exact int; reading it runs no Python code.
        let v = unsafe { ffi::PyLong_AsLongLongAndOverflow(p, &mut overflow) };
        // SAFETY: checks the thread's error indicator.
        if overflow != 0 || (v == -1 && !unsafe { ffi::PyErr_Occurred() }.is_null()) {
            // SAFETY: clears the error the conversion set (the slow path explains it).
            unsafe { ffi::PyErr_Clear() };
            return None;
        }
        // The default int type needs no range check.
        if dtype == DType::I64 {
            return Some(Scalar::I64(v));
        }
        return dtype.coerce(Value::Int(v)).ok();
    }
    None
}
