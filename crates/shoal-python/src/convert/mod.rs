//! Python objects to checked column scalars, and back.
//!
//! The accepted inputs (documented in docs/types.md): float fields take `float`, `int` and any
//! other real number (NumPy scalars, `fractions.Fraction`); int fields take `int` and objects
//! with `__index__` (NumPy integers) but never floats; bool fields take `bool` and `numpy.bool_`.
//! A `bool` is never taken as a number. str fields take `str`; bytes fields `bytes` and
//! `bytearray`; category fields `str` (an Enum field: its members); temporal fields the
//! `datetime` types; any optional field `None`.
//!
//! `from_py` is the checking path, `fast` the error-free subset the fast-call append tries
//! first, `to_py` the way back.

mod fast;
mod from_py;
mod to_py;

pub use fast::{fast_cell, fast_number};
pub use from_py::to_cell;
pub use to_py::{cell_to_py, new_str};

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyType;
use shoal_core::{DType, Field, Problem};

use crate::errors::{quoted, ShoalError, Target};

/// How a field's values convert between Python and its column.
pub struct FieldSpec {
    pub dtype: DType,
    pub nullable: bool,
    /// The values of a closed category (`Enum` member names or `Literal` strings).
    pub choices: Option<Arc<[String]>>,
    /// For an `Enum` field: the class, and its members by name.
    pub enum_type: Option<Py<PyType>>,
    pub members: HashMap<Box<[u8]>, Py<PyAny>>,
    /// For a tz-aware datetime field: the zone values are read back in.
    pub tz: Option<Py<PyAny>>,
    /// How `row.x` reads this field on its hot path.
    pub fast: FastRead,
}

/// How a field's values are read on the hot path of `row.x`, decided once per class: the
/// types whose Python value is made straight from the stored one, and the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastRead {
    /// `float`.
    F64,
    /// `int`.
    I64,
    /// `bool`.
    Bool,
    /// `str`: a new str from the bytes.
    Str,
    /// An open or `Literal` category: the table's cached str for the code.
    Category,
    /// Everything else (Enum members, temporal values, bytes, narrow ints): the general path.
    General,
}

impl FastRead {
    /// The fast read for a field of `dtype` (an Enum field if `is_enum`).
    pub fn of(dtype: DType, is_enum: bool) -> FastRead {
        match dtype {
            DType::F64 => FastRead::F64,
            DType::I64 => FastRead::I64,
            DType::Bool => FastRead::Bool,
            DType::Str => FastRead::Str,
            DType::Category if !is_enum => FastRead::Category,
            _ => FastRead::General,
        }
    }
}

impl FieldSpec {
    /// The type as users declared it, for messages: `str | None`, `datetime in UTC`.
    pub fn declared(&self, core: &Field) -> String {
        let mut name = match (&self.enum_type, &self.choices) {
            (Some(e), _) => Python::attach(|py| {
                e.bind(py)
                    .name()
                    .map_or_else(|_| "Enum".into(), |n| n.to_string())
            }),
            (None, Some(c)) => format!("Literal[{}]", quoted(c)),
            (None, None) => self.dtype.name().to_owned(),
        };
        if let Some(tz) = &core.tz {
            name = format!("datetime in {tz}");
        }
        if self.nullable {
            name += " | None";
        }
        name
    }

    /// The error for a value this field's column refused (`problem`), naming the value.
    pub fn refused(&self, problem: Problem, at: Target, value: String) -> ShoalError {
        ShoalError::refused(problem, at, value, self.dtype, self.choices.as_deref())
    }
}

/// `"str 'abc'"`: the type and a (shortened) repr, for error messages.
pub fn value_repr(obj: &Bound<'_, PyAny>) -> String {
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
