//! The binding layer's one error type and its mapping to Python exceptions.
//!
//! Every message names the record type, the field, the row and the value where they are known,
//! and says what was left unchanged.

use pyo3::exceptions::{
    PyAttributeError, PyIndexError, PyKeyError, PyOverflowError, PyReferenceError, PyRuntimeError,
    PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use shoal_core::DType;

pyo3::create_exception!(
    shoal,
    StaleRowError,
    PyReferenceError,
    "A row handle was used after a structural change (del, pop, insert, clear, sort) to its table."
);
pyo3::create_exception!(
    shoal,
    FrozenInstanceError,
    PyAttributeError,
    "An attempt to assign to a field of a frozen record."
);

/// Where a value was headed: a record type's field, and the table row if any.
#[derive(Clone, Debug)]
pub struct Target {
    pub record: String,
    pub field: String,
    pub row: Option<usize>,
}

#[derive(Debug)]
pub enum ShoalError {
    /// The value has a type the field does not accept.
    WrongType {
        at: Target,
        expected: DType,
        value: String,
    },
    /// The value is of an accepted type but outside the field type's range.
    OutOfRange {
        at: Target,
        dtype: DType,
        value: String,
    },
    /// The value is not of the type (described in words) the field takes.
    Expected {
        at: Target,
        expected: String,
        value: String,
    },
    /// `None` for a field that is not optional.
    NotOptional {
        at: Target,
        declared: String,
    },
    /// A str that cannot be encoded as UTF-8 (it holds a lone surrogate).
    NotUtf8 {
        at: Target,
        value: String,
    },
    /// A value outside a closed category.
    UnknownCategory {
        at: Target,
        value: String,
        choices: String,
    },
    /// A naive datetime for a tz-aware field, or the reverse.
    TimeZone {
        at: Target,
        value: String,
        detail: String,
    },
    /// A column's text would pass Arrow's 2 GiB limit for one array.
    TooMuchData {
        at: Target,
    },
    /// A row with the wrong number of values, or missing/unknown/duplicated field names.
    BadRow {
        record: String,
        detail: String,
    },
    RowIndex {
        index: isize,
        len: usize,
    },
    NoSuchField {
        record: String,
        name: String,
    },
    StaleRow {
        record: String,
        row: usize,
    },
    Frozen {
        record: String,
        field: String,
    },
    /// Mismatched lengths or element types of whole columns.
    BadColumn {
        detail: String,
    },
    /// A table was changed in a way that invalidates an ongoing operation.
    Changed {
        detail: String,
    },
    Python(PyErr),
}

pub type Result<T> = std::result::Result<T, ShoalError>;

fn row_note(row: Option<usize>) -> String {
    match row {
        Some(r) => format!(" (row {r}); the table is unchanged"),
        None => String::new(),
    }
}

impl From<PyErr> for ShoalError {
    fn from(e: PyErr) -> Self {
        ShoalError::Python(e)
    }
}

impl From<ShoalError> for PyErr {
    fn from(e: ShoalError) -> PyErr {
        match e {
            ShoalError::WrongType {
                at,
                expected,
                value,
            } => PyTypeError::new_err(format!(
                "field '{}' of {} expects {}, got {}{}",
                at.field,
                at.record,
                accepted(expected),
                value,
                row_note(at.row)
            )),
            ShoalError::OutOfRange { at, dtype, value } => PyOverflowError::new_err(format!(
                "field '{}' of {} is {}: {} is out of range{}",
                at.field,
                at.record,
                range_text(dtype),
                value,
                row_note(at.row)
            )),
            ShoalError::Expected {
                at,
                expected,
                value,
            } => PyTypeError::new_err(format!(
                "field '{}' of {} expects {expected}, got {value}{}",
                at.field,
                at.record,
                row_note(at.row)
            )),
            ShoalError::NotOptional { at, declared } => PyTypeError::new_err(format!(
                "field '{}' of {} is not optional, got None{}; declare it `{}: {declared} | None` \
                 to allow it",
                at.field,
                at.record,
                row_note(at.row),
                at.field
            )),
            ShoalError::NotUtf8 { at, value } => PyValueError::new_err(format!(
                "field '{}' of {}: {value} cannot be stored as UTF-8 (it holds a lone \
                 surrogate){}",
                at.field,
                at.record,
                row_note(at.row)
            )),
            ShoalError::UnknownCategory { at, value, choices } => PyValueError::new_err(format!(
                "field '{}' of {}: {value} is not one of {choices}{}",
                at.field,
                at.record,
                row_note(at.row)
            )),
            ShoalError::TimeZone { at, value, detail } => PyTypeError::new_err(format!(
                "field '{}' of {}: {value}: {detail}{}",
                at.field,
                at.record,
                row_note(at.row)
            )),
            ShoalError::TooMuchData { at } => PyOverflowError::new_err(format!(
                "field '{}' of {}: the column would hold more than 2 GiB of data, the most one \
                 Arrow array can address{}",
                at.field,
                at.record,
                row_note(at.row)
            )),
            ShoalError::BadRow { record, detail } => {
                PyTypeError::new_err(format!("{record}: {detail}"))
            }
            ShoalError::RowIndex { index, len } => PyIndexError::new_err(format!(
                "table index {index} out of range for a table of {len} rows"
            )),
            ShoalError::NoSuchField { record, name } => {
                PyKeyError::new_err(format!("{record} has no field '{name}'"))
            }
            ShoalError::StaleRow { record, row } => StaleRowError::new_err(format!(
                "this {record} was row {row} of a table that has since had rows removed, \
                 inserted or reordered, so the index may name another record now; \
                 read the row again with t[i]"
            )),
            ShoalError::Frozen { record, field } => FrozenInstanceError::new_err(format!(
                "cannot assign to field '{field}': {record} is frozen"
            )),
            ShoalError::BadColumn { detail } => PyValueError::new_err(detail),
            ShoalError::Changed { detail } => PyRuntimeError::new_err(detail),
            ShoalError::Python(e) => e,
        }
    }
}

/// What a field of this type accepts, for error messages.
fn accepted(dtype: DType) -> String {
    match dtype {
        DType::F64 => "float (int is accepted)".to_owned(),
        DType::F32 => "f32 (float; int is accepted)".to_owned(),
        DType::Bool => "bool".to_owned(),
        DType::Str | DType::Category => "str".to_owned(),
        DType::Bytes => "bytes (or bytearray)".to_owned(),
        DType::Datetime => "datetime.datetime".to_owned(),
        DType::Date => {
            "datetime.date (a datetime is not accepted: it would lose its time)".to_owned()
        }
        DType::Timedelta => "datetime.timedelta".to_owned(),
        int => format!("{} (an int; float is not accepted)", int.name()),
    }
}

fn range_text(dtype: DType) -> String {
    if dtype == DType::Timedelta {
        return "timedelta (microseconds in a signed 64-bit integer: about ±292,000 years)".into();
    }
    match dtype.int_range() {
        Some((lo, hi)) => format!("{} ({lo}..={hi})", dtype.name()),
        None => format!("{} (finite values up to {:e})", dtype.name(), f32::MAX),
    }
}
