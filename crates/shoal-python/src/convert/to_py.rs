//! Cells back to Python objects: a new `str`, the Enum member, a `datetime` in the field's zone.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDate, PyDateTime, PyDelta, PyFloat, PyInt, PyTzInfo};
use shoal_core::temporal::{Civil, US_PER_DAY};
use shoal_core::{DType, Datum, Scalar};

use super::FieldSpec;
use crate::errors::ShoalError;

/// A new Python object for a stored cell of a field.
#[inline(always)]
pub fn cell_to_py<'py>(
    py: Python<'py>,
    cell: Datum<'_>,
    spec: &FieldSpec,
) -> PyResult<Bound<'py, PyAny>> {
    match cell {
        Datum::Num(s) if spec.dtype.storage() == spec.dtype => Ok(scalar_to_py(py, s)),
        Datum::Num(s) => temporal_to_py(py, s, spec),
        Datum::Null => Ok(py.None().into_bound(py)),
        Datum::Bytes(b) => bytes_to_py(py, &b, spec),
    }
}

fn bytes_to_py<'py>(py: Python<'py>, b: &[u8], spec: &FieldSpec) -> PyResult<Bound<'py, PyAny>> {
    if spec.dtype == DType::Bytes {
        return Ok(PyBytes::new(py, b).into_any());
    }
    if spec.enum_type.is_some() {
        if let Some(m) = spec.members.get(b) {
            return Ok(m.bind(py).clone());
        }
    }
    // SAFETY: `new_str` returns a new reference or null with an exception set.
    unsafe { Bound::from_owned_ptr_or_err(py, new_str(b)) }
}

/// A new `str` of stored text: a new reference, or null with an exception set.
///
/// Text reaches a column only as UTF-8 (from a Python str, or Arrow data checked on import);
/// the length fits a Py_ssize_t as it came from a Rust slice.
#[inline(always)]
pub fn new_str(b: &[u8]) -> *mut ffi::PyObject {
    #[cfg(not(Py_3_14))]
    if b.is_ascii() {
        // An ASCII string is made directly: a new compact ASCII str has room for `len` bytes
        // (and its terminator).
        // SAFETY: creating a str object; null with an exception set on failure.
        let s = unsafe { ffi::PyUnicode_New(b.len() as ffi::Py_ssize_t, 127) };
        if !s.is_null() {
            // SAFETY: `s` is a new compact ASCII str of `len` characters, not yet shared.
            let data = unsafe { ffi::PyUnicode_1BYTE_DATA(s) };
            // SAFETY: `data` has room for `len` bytes; `b` is a separate Rust slice.
            unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), data, b.len()) };
        }
        return s;
    }
    // SAFETY: decodes `len` bytes of UTF-8 from a live slice; a new reference or null with an
    // exception set.
    unsafe {
        ffi::PyUnicode_DecodeUTF8(
            b.as_ptr().cast(),
            b.len() as ffi::Py_ssize_t,
            std::ptr::null(),
        )
    }
}

fn temporal_to_py<'py>(
    py: Python<'py>,
    s: Scalar,
    spec: &FieldSpec,
) -> PyResult<Bound<'py, PyAny>> {
    match (spec.dtype, s) {
        (DType::Date, Scalar::I32(days)) => {
            let (y, m, d) = shoal_core::temporal::civil_from_days(days);
            Ok(PyDate::new(py, y, m as u8, d as u8)?.into_any())
        }
        (DType::Timedelta, Scalar::I64(us)) => {
            let days = us.div_euclid(US_PER_DAY);
            let rem = us.rem_euclid(US_PER_DAY);
            let days =
                i32::try_from(days).map_err(|_| ShoalError::OutOfPython { what: "timedelta" })?;
            Ok(PyDelta::new(
                py,
                days,
                (rem / 1_000_000) as i32,
                (rem % 1_000_000) as i32,
                false,
            )?
            .into_any())
        }
        (DType::Datetime, Scalar::I64(us)) => {
            let c = Civil::from_micros(us);
            let tz = spec
                .tz
                .as_ref()
                .map(|t| t.bind(py).cast::<PyTzInfo>())
                .transpose()?;
            let dt = PyDateTime::new(
                py,
                c.year,
                c.month as u8,
                c.day as u8,
                c.hour as u8,
                c.minute as u8,
                c.second as u8,
                c.micro,
                tz,
            )?;
            match tz {
                // The fields are UTC; the zone turns them into its local time.
                Some(tz) => tz.call_method1(pyo3::intern!(py, "fromutc"), (dt,)),
                None => Ok(dt.into_any()),
            }
        }
        _ => Ok(scalar_to_py(py, s)),
    }
}

/// A new Python object for a stored scalar.
#[inline(always)]
pub fn scalar_to_py(py: Python<'_>, s: Scalar) -> Bound<'_, PyAny> {
    match s {
        Scalar::F64(x) => PyFloat::new(py, x).into_any(),
        Scalar::F32(x) => PyFloat::new(py, x.into()).into_any(),
        Scalar::I8(i) => PyInt::new(py, i).into_any(),
        Scalar::I16(i) => PyInt::new(py, i).into_any(),
        Scalar::I32(i) => PyInt::new(py, i).into_any(),
        Scalar::I64(i) => PyInt::new(py, i).into_any(),
        Scalar::U8(i) => PyInt::new(py, i).into_any(),
        Scalar::U16(i) => PyInt::new(py, i).into_any(),
        Scalar::U32(i) => PyInt::new(py, i).into_any(),
        Scalar::U64(i) => PyInt::new(py, i).into_any(),
        Scalar::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
    }
}
