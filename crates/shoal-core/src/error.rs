//! The core's one error type. Fields are named by index: the binding layer, which knows the
//! names and the original Python values, turns these into messages.

use crate::dtype::{DType, Problem, Value};
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// `value` does not fit field `field`; nothing was changed.
    Value {
        field: usize,
        row: usize,
        value: Value,
        problem: Problem,
    },
    /// A column refused a value for field `field` (the caller knows the value); nothing changed.
    Cell {
        field: usize,
        row: usize,
        problem: Problem,
    },
    /// A row had `got` values for a schema of `expected` fields.
    Arity { expected: usize, got: usize },
    /// Row `index` does not exist in a table of `len` rows.
    RowOutOfRange { index: usize, len: usize },
    /// A column given to `from_columns` has `got` rows where the first had `expected`.
    ColumnLength {
        field: usize,
        expected: usize,
        got: usize,
    },
    /// A column given to `from_columns` has the wrong type.
    ColumnType {
        field: usize,
        expected: DType,
        got: DType,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Value {
                field,
                row,
                value,
                problem: Problem::WrongType { expected, got },
            } => write!(
                f,
                "field {field} expects {expected}, got {got} {value} (row {row})"
            ),
            Error::Value {
                field,
                row,
                value,
                problem: Problem::OutOfRange { dtype },
            } => write!(
                f,
                "field {field}: {value} does not fit in {dtype} (row {row})"
            ),
            Error::Value {
                field,
                row,
                problem,
                ..
            }
            | Error::Cell {
                field,
                row,
                problem,
            } => {
                write!(f, "field {field} refused a value ({problem:?}, row {row})")
            }
            Error::Arity { expected, got } => {
                write!(f, "expected {expected} values per row, got {got}")
            }
            Error::RowOutOfRange { index, len } => {
                write!(f, "row {index} out of range for a table of {len} rows")
            }
            Error::ColumnLength {
                field,
                expected,
                got,
            } => write!(f, "column {field} has {got} rows, expected {expected}"),
            Error::ColumnType {
                field,
                expected,
                got,
            } => write!(f, "column {field} has type {got}, expected {expected}"),
        }
    }
}

impl std::error::Error for Error {}
