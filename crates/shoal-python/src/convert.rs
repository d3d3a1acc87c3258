//! Python objects to checked column scalars, and back.
//!
//! The accepted inputs (documented in docs/types.md): float fields take `float`, `int` and any
//! other real number (NumPy scalars, `fractions.Fraction`); int fields take `int` and objects
//! with `__index__` (NumPy integers) but never floats; bool fields take `bool` and `numpy.bool_`.
//! A `bool` is never taken as a number. str fields take `str`; bytes fields `bytes` and
//! `bytearray`; category fields `str` (an Enum field: its members); temporal fields the
//! `datetime` types; any optional field `None`.

use std::borrow::Cow;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess,
    PyFloat, PyInt, PyTimeAccess, PyType, PyTzInfo,
};
use shoal_core::temporal::{days_from_civil, Civil, US_PER_DAY};
use shoal_core::{Cell, DType, Problem, Scalar, Value};

use crate::errors::{Result, ShoalError, Target};
use crate::schema::{quoted, FieldSpec};

/// Checks `obj` against a field; `at` names the destination for the error message. Text and
/// bytes are borrowed from `obj` (valid while it lives), not copied.
#[inline(always)]
pub fn to_cell<'a>(
    obj: pyo3::Borrowed<'a, '_, PyAny>,
    spec: &FieldSpec,
    at: impl Fn() -> Target,
) -> Result<Cell<'a>> {
    if obj.is_none() {
        return if spec.nullable {
            Ok(Cell::Null)
        } else {
            Err(not_optional(spec, at))
        };
    }
    match spec.dtype {
        DType::Str | DType::Category => text_cell(obj, spec, at),
        DType::Bytes => bytes_cell(obj, at),
        DType::Datetime | DType::Date | DType::Timedelta => temporal_cell(&obj, spec, at),
        numeric => to_scalar(&obj, numeric, at).map(Cell::Num),
    }
}

#[cold]
fn not_optional(spec: &FieldSpec, at: impl Fn() -> Target) -> ShoalError {
    let at = at();
    ShoalError::NotOptional {
        declared: spec.dtype.name().to_owned(),
        at,
    }
}

#[inline]
fn text_cell<'a>(
    obj: pyo3::Borrowed<'a, '_, PyAny>,
    spec: &FieldSpec,
    at: impl Fn() -> Target,
) -> Result<Cell<'a>> {
    if let Some(e) = &spec.enum_type {
        return enum_cell(&obj, spec, e.bind(obj.py()), at);
    }
    // SAFETY: a str check on a live object.
    if unsafe { ffi::PyUnicode_Check(obj.as_ptr()) } == 0 {
        return Err(ShoalError::WrongType {
            at: at(),
            expected: spec.dtype,
            value: describe(&obj),
        });
    }
    // SAFETY: `obj` is a str, alive for `'a`.
    let Some(bytes) = (unsafe { str_utf8(obj.as_ptr()) }) else {
        return Err(ShoalError::NotUtf8 {
            at: at(),
            value: describe(&obj),
        });
    };
    if let Some(choices) = &spec.choices {
        if !choices.iter().any(|c| c.as_bytes() == bytes) {
            return Err(ShoalError::UnknownCategory {
                at: at(),
                value: describe(&obj),
                choices: quoted(choices),
            });
        }
    }
    Ok(Cell::Bytes(Cow::Borrowed(bytes)))
}

/// An Enum field takes its members, or a value the Enum maps to a member (`Color(1)`), like
/// the Enum's own constructor; anything else is an unknown value.
fn enum_cell<'a>(
    obj: &Bound<'_, PyAny>,
    spec: &FieldSpec,
    enum_type: &Bound<'_, PyType>,
    at: impl Fn() -> Target,
) -> Result<Cell<'a>> {
    let member = if obj.is_instance(enum_type)? {
        obj.clone()
    } else {
        match enum_type.call1((obj,)) {
            Ok(m) if m.is_instance(enum_type)? => m,
            _ => {
                return Err(ShoalError::UnknownCategory {
                    at: at(),
                    value: describe(obj),
                    choices: format!(
                        "the members of {} ({})",
                        enum_type.name()?,
                        quoted(spec.choices.as_deref().unwrap_or(&[]))
                    ),
                })
            }
        }
    };
    let name: String = member.getattr(pyo3::intern!(obj.py(), "name"))?.extract()?;
    Ok(Cell::Bytes(Cow::Owned(name.into_bytes())))
}

fn bytes_cell<'a>(obj: pyo3::Borrowed<'a, '_, PyAny>, at: impl Fn() -> Target) -> Result<Cell<'a>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        // SAFETY: a bytes object's buffer is immutable and lives as long as the object (`'a`).
        let data = unsafe {
            let p = ffi::PyBytes_AsString(b.as_ptr());
            std::slice::from_raw_parts(p.cast::<u8>(), ffi::PyBytes_Size(b.as_ptr()) as usize)
        };
        return Ok(Cell::Bytes(Cow::Borrowed(data)));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cell::Bytes(Cow::Owned(b.to_vec())));
    }
    Err(ShoalError::WrongType {
        at: at(),
        expected: DType::Bytes,
        value: describe(&obj),
    })
}

fn temporal_cell<'a>(
    obj: &Bound<'_, PyAny>,
    spec: &FieldSpec,
    at: impl Fn() -> Target,
) -> Result<Cell<'a>> {
    let wrong = || ShoalError::WrongType {
        at: at(),
        expected: spec.dtype,
        value: describe(obj),
    };
    let scalar = match spec.dtype {
        DType::Datetime => Scalar::I64(datetime_micros(obj, spec, &at)?.ok_or_else(wrong)?),
        DType::Date => {
            if obj.is_instance_of::<PyDateTime>() {
                return Err(wrong());
            }
            let d = obj.cast::<PyDate>().map_err(|_| wrong())?;
            Scalar::I32(days_from_civil(
                d.get_year(),
                d.get_month().into(),
                d.get_day().into(),
            ))
        }
        _ => {
            let d = obj.cast::<PyDelta>().map_err(|_| wrong())?;
            let us = i64::from(d.get_days())
                .checked_mul(US_PER_DAY)
                .and_then(|x| x.checked_add(i64::from(d.get_seconds()) * 1_000_000))
                .and_then(|x| x.checked_add(d.get_microseconds().into()));
            Scalar::I64(us.ok_or_else(|| ShoalError::OutOfRange {
                at: at(),
                dtype: DType::Timedelta,
                value: describe(obj),
            })?)
        }
    };
    Ok(Cell::Num(scalar))
}

/// Microseconds since the epoch (UTC for a tz-aware field); `None` if `obj` is not a datetime.
fn datetime_micros(
    obj: &Bound<'_, PyAny>,
    spec: &FieldSpec,
    at: &impl Fn() -> Target,
) -> Result<Option<i64>> {
    let Ok(dt) = obj.cast::<PyDateTime>() else {
        return Ok(None);
    };
    let local = Civil {
        year: dt.get_year(),
        month: dt.get_month().into(),
        day: dt.get_day().into(),
        hour: dt.get_hour().into(),
        minute: dt.get_minute().into(),
        second: dt.get_second().into(),
        micro: dt.get_microsecond(),
    }
    .to_micros();
    let offset = obj.call_method0(pyo3::intern!(obj.py(), "utcoffset"))?;
    let zone_error = |detail: &str| ShoalError::TimeZone {
        at: at(),
        value: describe(obj),
        detail: detail.to_owned(),
    };
    match (spec.tz.is_some(), offset.is_none()) {
        (false, true) => Ok(Some(local)),
        (false, false) => Err(zone_error(
            "an aware datetime for a naive field; declare the field shoal.tz(...) or pass \
             a naive datetime",
        )),
        (true, true) => Err(zone_error(
            "a naive datetime for a tz-aware field; attach a time zone (dt.replace(tzinfo=...))",
        )),
        (true, false) => {
            let d = offset.cast::<PyDelta>().map_err(PyErr::from)?;
            let off = i64::from(d.get_days()) * US_PER_DAY
                + i64::from(d.get_seconds()) * 1_000_000
                + i64::from(d.get_microseconds());
            let utc = local - off;
            let (lo, hi) = shoal_core::dtype::DATETIME_RANGE_US;
            if !(lo..=hi).contains(&utc) {
                return Err(ShoalError::OutOfRange {
                    at: at(),
                    dtype: DType::Datetime,
                    value: describe(obj),
                });
            }
            Ok(Some(utc))
        }
    }
}

/// A new Python object for a stored cell of a field.
#[inline(always)]
pub fn cell_to_py<'py>(
    py: Python<'py>,
    cell: Cell<'_>,
    spec: &FieldSpec,
) -> PyResult<Bound<'py, PyAny>> {
    match cell {
        Cell::Num(s) if spec.dtype.storage() == spec.dtype => Ok(scalar_to_py(py, s)),
        Cell::Num(s) => temporal_to_py(py, s, spec),
        Cell::Null => Ok(py.None().into_bound(py)),
        Cell::Bytes(b) => bytes_to_py(py, &b, spec),
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
    // SAFETY: text reaches a column only as UTF-8 (from a Python str, or Arrow data checked on
    // import); the length fits a Py_ssize_t as it came from a Rust slice. An ASCII string is
    // made directly: a new compact ASCII str has room for `len` bytes (and its terminator).
    unsafe {
        #[cfg(not(Py_3_14))]
        if b.is_ascii() {
            let s = ffi::PyUnicode_New(b.len() as ffi::Py_ssize_t, 127);
            if !s.is_null() {
                std::ptr::copy_nonoverlapping(b.as_ptr(), ffi::PyUnicode_1BYTE_DATA(s), b.len());
            }
            return Bound::from_owned_ptr_or_err(py, s);
        }
        let p = ffi::PyUnicode_DecodeUTF8(
            b.as_ptr().cast(),
            b.len() as ffi::Py_ssize_t,
            std::ptr::null(),
        );
        Bound::from_owned_ptr_or_err(py, p)
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
            let days = i32::try_from(days).map_err(|_| {
                pyo3::exceptions::PyOverflowError::new_err("timedelta out of Python's range")
            })?;
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

/// The error for a value a column refused (`problem`), naming the value.
pub fn refused(problem: Problem, spec: &FieldSpec, at: Target, value: String) -> ShoalError {
    match problem {
        Problem::NotOptional => ShoalError::NotOptional {
            declared: spec.dtype.name().to_owned(),
            at,
        },
        Problem::UnknownCategory => ShoalError::UnknownCategory {
            at,
            value,
            choices: quoted(spec.choices.as_deref().unwrap_or(&[])),
        },
        Problem::TooMuchData => ShoalError::TooMuchData { at },
        Problem::OutOfRange { dtype } => ShoalError::OutOfRange { at, dtype, value },
        Problem::WrongType { expected, .. } => ShoalError::WrongType {
            at,
            expected,
            value,
        },
    }
}

/// Checks `obj` against `dtype`; `at` names the destination for the error message.
#[inline(always)]
pub fn to_scalar(obj: &Bound<'_, PyAny>, dtype: DType, at: impl Fn() -> Target) -> Result<Scalar> {
    match fast_scalar(obj, dtype) {
        Some(s) => Ok(s),
        None => to_scalar_slow(obj, dtype, at),
    }
}

/// The UTF-8 bytes of a `str` (which must be one), borrowed from it: the object's own data for
/// compact ASCII strings, CPython's cached UTF-8 form otherwise. `None` (no exception set) if
/// it cannot be encoded (a lone surrogate).
///
/// # Safety
/// `p` must be a live `str`; the slice is valid while it lives.
#[inline(always)]
unsafe fn str_utf8<'a>(p: *mut ffi::PyObject) -> Option<&'a [u8]> {
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
fn fast_scalar(obj: &Bound<'_, PyAny>, dtype: DType) -> Option<Scalar> {
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

#[cold]
#[inline(never)]
fn to_scalar_slow(obj: &Bound<'_, PyAny>, dtype: DType, at: impl Fn() -> Target) -> Result<Scalar> {
    let problem = match to_value(obj, dtype)? {
        Extracted::Value(v) => match dtype.coerce(v) {
            Ok(s) => return Ok(s),
            Err(p) => p,
        },
        Extracted::NotANumber => Problem::WrongType {
            expected: dtype,
            got: "object",
        },
        Extracted::TooLarge => Problem::OutOfRange { dtype },
    };
    Err(match problem {
        Problem::WrongType { expected, .. } => ShoalError::WrongType {
            at: at(),
            expected,
            value: describe(obj),
        },
        Problem::OutOfRange { dtype } => ShoalError::OutOfRange {
            at: at(),
            dtype,
            value: describe(obj),
        },
        other => unreachable!("numeric coercion does not report {other:?}"),
    })
}

enum Extracted {
    Value(Value),
    NotANumber,
    /// An integer beyond every integer column type (and, for float fields, beyond f64).
    TooLarge,
}

fn to_value(obj: &Bound<'_, PyAny>, dtype: DType) -> Result<Extracted> {
    if let Ok(f) = obj.cast_exact::<PyFloat>() {
        return Ok(Extracted::Value(Value::Float(f.value())));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        if let Ok(b) = obj.cast::<PyBool>() {
            return Ok(Extracted::Value(Value::Bool(b.is_true())));
        }
        return Ok(int_value(i, dtype));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Extracted::Value(Value::Float(f.value())));
    }
    if is_numpy_bool(obj) {
        return Ok(Extracted::Value(Value::Bool(obj.is_truthy()?)));
    }
    let py = obj.py();
    // SAFETY: `obj` is a valid object; PyIndex_Check only reads its type's slots.
    if unsafe { ffi::PyIndex_Check(obj.as_ptr()) } != 0 {
        let i = obj.call_method0(pyo3::intern!(py, "__index__"))?;
        return Ok(int_value(i.cast::<PyInt>().map_err(PyErr::from)?, dtype));
    }
    if obj.is_instance(real_type(py)?)? {
        return Ok(Extracted::Value(Value::Float(obj.extract::<f64>()?)));
    }
    Ok(Extracted::NotANumber)
}

fn int_value(i: &Bound<'_, PyInt>, dtype: DType) -> Extracted {
    if let Ok(v) = i.extract::<i64>() {
        return Extracted::Value(Value::Int(v));
    }
    if let Ok(v) = i.extract::<u64>() {
        return Extracted::Value(Value::UInt(v));
    }
    match i.extract::<f64>() {
        // Beyond u64 a float field still takes it, rounded, as `float(i)` would.
        Ok(x) if dtype.is_float() => Extracted::Value(Value::Float(x)),
        _ => Extracted::TooLarge,
    }
}

fn is_numpy_bool(obj: &Bound<'_, PyAny>) -> bool {
    let ty = obj.get_type();
    ty.name().is_ok_and(|n| n == "bool" || n == "bool_") && ty.module().is_ok_and(|m| m == "numpy")
}

fn real_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static REAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    REAL.import(py, "numbers", "Real")
}

/// `"str 'abc'"`: the type and a (shortened) repr, for error messages.
pub fn describe(obj: &Bound<'_, PyAny>) -> String {
    let ty = obj
        .get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string());
    let mut r = obj
        .repr()
        .map_or_else(|_| "<unrepresentable>".to_owned(), |r| r.to_string());
    if r.chars().count() > 60 {
        r = r.chars().take(57).collect::<String>() + "...";
    }
    format!("{ty} {r}")
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
