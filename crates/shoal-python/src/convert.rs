//! Python objects to checked column scalars, and back.
//!
//! The accepted inputs (documented in docs/types.md): float fields take `float`, `int` and any
//! other real number (NumPy scalars, `fractions.Fraction`); int fields take `int` and objects
//! with `__index__` (NumPy integers) but never floats; bool fields take `bool` and `numpy.bool_`.
//! A `bool` is never taken as a number.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyType};
use shoal_core::{DType, Problem, Scalar, Value};

use crate::errors::{Result, ShoalError, Target};

/// Checks `obj` against `dtype`; `at` names the destination for the error message.
#[inline(always)]
pub fn to_scalar(obj: &Bound<'_, PyAny>, dtype: DType, at: impl Fn() -> Target) -> Result<Scalar> {
    match fast_scalar(obj, dtype) {
        Some(s) => Ok(s),
        None => to_scalar_slow(obj, dtype, at),
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
