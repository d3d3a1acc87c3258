//! Python objects to checked cells: the converting path, with an error that names the field,
//! the row and the value for anything a field does not take.

use std::borrow::Cow;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess,
    PyFloat, PyInt, PyTimeAccess, PyType,
};
use shoal_core::temporal::{days_from_civil, Civil, US_PER_DAY};
use shoal_core::{DType, Datum, Problem, Scalar, Value};

use super::fast::{bytes_data, fast_scalar, str_utf8};
use super::{value_repr, FieldSpec};
use crate::errors::quoted;
use crate::errors::{Result, ShoalError, Target};

/// Checks `obj` against a field; `at` names the destination for the error message. Text and
/// bytes are borrowed from `obj` (valid while it lives), not copied.
#[inline(always)]
pub fn to_cell<'a>(
    obj: pyo3::Borrowed<'a, '_, PyAny>,
    spec: &FieldSpec,
    at: impl Fn() -> Target,
) -> Result<Datum<'a>> {
    if obj.is_none() {
        return if spec.nullable {
            Ok(Datum::Null)
        } else {
            Err(not_optional(spec, at))
        };
    }
    match spec.dtype {
        DType::Str | DType::Category => text_cell(obj, spec, at),
        DType::Bytes => bytes_cell(obj, at),
        DType::Datetime | DType::Date | DType::Timedelta => temporal_cell(&obj, spec, at),
        numeric => to_scalar(&obj, numeric, at).map(Datum::Num),
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
) -> Result<Datum<'a>> {
    if let Some(e) = &spec.enum_type {
        return enum_cell(&obj, spec, e.bind(obj.py()), at);
    }
    // SAFETY: a str check on a live object.
    if unsafe { ffi::PyUnicode_Check(obj.as_ptr()) } == 0 {
        return Err(ShoalError::WrongType {
            at: at(),
            expected: spec.dtype,
            value: value_repr(&obj),
        });
    }
    // SAFETY: `obj` is a str, alive for `'a`.
    let Some(bytes) = (unsafe { str_utf8(obj.as_ptr()) }) else {
        return Err(ShoalError::NotUtf8 {
            at: at(),
            value: value_repr(&obj),
        });
    };
    if let Some(choices) = &spec.choices {
        if !choices.iter().any(|c| c.as_bytes() == bytes) {
            return Err(ShoalError::UnknownCategory {
                at: at(),
                value: value_repr(&obj),
                choices: quoted(choices),
            });
        }
    }
    Ok(Datum::Bytes(Cow::Borrowed(bytes)))
}

/// An Enum field takes its members, or a value the Enum maps to a member (`Color(1)`), like
/// the Enum's own constructor; anything else is an unknown value.
fn enum_cell<'a>(
    obj: &Bound<'_, PyAny>,
    spec: &FieldSpec,
    enum_type: &Bound<'_, PyType>,
    at: impl Fn() -> Target,
) -> Result<Datum<'a>> {
    let unknown = || -> Result<Datum<'a>> {
        Err(ShoalError::UnknownCategory {
            at: at(),
            value: value_repr(obj),
            choices: format!(
                "the members of {} ({})",
                enum_type.name()?,
                quoted(spec.choices.as_deref().unwrap_or(&[]))
            ),
        })
    };
    let member = if obj.is_instance(enum_type)? {
        obj.clone()
    } else if obj.is_instance_of::<PyBool>() || obj.is_instance(enum_base(obj.py())?)? {
        // `True` is 1 to an IntEnum, and another Enum's member may share a value: neither is
        // a member of this one.
        return unknown();
    } else {
        match enum_type.call1((obj,)) {
            Ok(m) if m.is_instance(enum_type)? => m,
            Ok(_) => return unknown(),
            // Not a value of the Enum; anything else its `_missing_` raised is the user's.
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyValueError>(obj.py()) => {
                return unknown()
            }
            Err(e) => return Err(e.into()),
        }
    };
    let name: String = member.getattr(pyo3::intern!(obj.py(), "name"))?.extract()?;
    Ok(Datum::Bytes(Cow::Owned(name.into_bytes())))
}

/// `enum.Enum`.
fn enum_base(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static ENUM: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    ENUM.import(py, "enum", "Enum")
}

fn bytes_cell<'a>(
    obj: pyo3::Borrowed<'a, '_, PyAny>,
    at: impl Fn() -> Target,
) -> Result<Datum<'a>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        // SAFETY: `b` is a bytes object (or subclass) alive for `'a`.
        return Ok(Datum::Bytes(Cow::Borrowed(unsafe {
            bytes_data(b.as_ptr())
        })));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Datum::Bytes(Cow::Owned(b.to_vec())));
    }
    Err(ShoalError::WrongType {
        at: at(),
        expected: DType::Bytes,
        value: value_repr(&obj),
    })
}

fn temporal_cell<'a>(
    obj: &Bound<'_, PyAny>,
    spec: &FieldSpec,
    at: impl Fn() -> Target,
) -> Result<Datum<'a>> {
    let wrong = || ShoalError::WrongType {
        at: at(),
        expected: spec.dtype,
        value: value_repr(obj),
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
            Scalar::I64(delta_micros(d).ok_or_else(|| ShoalError::OutOfRange {
                at: at(),
                dtype: DType::Timedelta,
                value: value_repr(obj),
            })?)
        }
    };
    Ok(Datum::Num(scalar))
}

/// A timedelta in microseconds; `None` if it does not fit an i64 (from ±106,751 days on).
fn delta_micros(d: &Bound<'_, PyDelta>) -> Option<i64> {
    i64::from(d.get_days())
        .checked_mul(US_PER_DAY)
        .and_then(|us| us.checked_add(i64::from(d.get_seconds()) * 1_000_000))
        .and_then(|us| us.checked_add(i64::from(d.get_microseconds())))
}

/// A datetime subclass with nanoseconds (pandas' `Timestamp`) would lose them: refused, as
/// `from_arrow` refuses a nanosecond timestamp that is not whole microseconds.
#[cold]
fn refuse_nanoseconds(obj: &Bound<'_, PyAny>, at: &impl Fn() -> Target) -> Result<()> {
    let nanos = match obj.getattr(pyo3::intern!(obj.py(), "nanosecond")) {
        Ok(n) => n.extract::<i64>().unwrap_or(0),
        Err(_) => 0,
    };
    if nanos == 0 {
        return Ok(());
    }
    Err(ShoalError::Expected {
        at: at(),
        expected: "whole microseconds (this datetime has nanoseconds, which a microsecond \
                   column would drop; round it first, e.g. ts.floor('us'))"
            .into(),
        value: value_repr(obj),
    })
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
    if !obj.is_exact_instance_of::<PyDateTime>() {
        refuse_nanoseconds(obj, at)?;
    }
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
        value: value_repr(obj),
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
            // Checked: a tzinfo subclass may claim any offset (days up to ±999,999,999), and a
            // wrapped sum could land back in range.
            let utc = delta_micros(d).and_then(|off| local.checked_sub(off));
            let (lo, hi) = shoal_core::dtype::DATETIME_RANGE_US;
            let Some(utc) = utc.filter(|us| (lo..=hi).contains(us)) else {
                return Err(ShoalError::OutOfRange {
                    at: at(),
                    dtype: DType::Datetime,
                    value: value_repr(obj),
                });
            };
            Ok(Some(utc))
        }
    }
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
            value: value_repr(obj),
        },
        Problem::OutOfRange { dtype } => ShoalError::OutOfRange {
            at: at(),
            dtype,
            value: value_repr(obj),
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
