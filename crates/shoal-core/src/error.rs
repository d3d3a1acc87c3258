//! The core's one error type. Errors about rows name fields by index: the binding layer, which
//! knows the names and the original Python values, turns them into messages. Errors about
//! Arrow input name fields by name (the producer's columns are matched by name); nothing is
//! imported when one is returned.
//!
//! [`Problem`] is the context-free reason a column refused one value; `Error::Value` and
//! `Error::Datum` carry it with the field and row.

use crate::dtype::{DType, Problem, Value};
use std::fmt;

/// Why the core refused an operation; the table is unchanged when one is returned.
#[derive(Clone, Debug, PartialEq)]
pub enum Error {
    /// `value` does not fit field `field`; nothing was changed.
    Value {
        /// The field's index.
        field: usize,
        /// The row.
        row: usize,
        /// The value as it came in.
        value: Value,
        /// Why it does not fit.
        problem: Problem,
    },
    /// A column refused a value for field `field` (the caller knows the value); nothing changed.
    Datum {
        /// The field's index.
        field: usize,
        /// The row.
        row: usize,
        /// Why the column refused it.
        problem: Problem,
    },
    /// A row had `got` values for a schema of `expected` fields.
    /// A row had `got` values for a schema of `expected` fields.
    Arity {
        /// Fields in the schema.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// Row `index` does not exist in a table of `len` rows.
    /// Row `index` does not exist in a table of `len` rows.
    RowOutOfRange {
        /// The row asked for.
        index: usize,
        /// Rows in the table.
        len: usize,
    },
    /// A column given to `from_columns` has `got` rows where the first had `expected`.
    ColumnLength {
        /// The field's index.
        field: usize,
        /// Rows of the first column.
        expected: usize,
        /// Rows of this one.
        got: usize,
    },
    /// A column given to `from_columns` has the wrong type.
    ColumnType {
        /// The field's index.
        field: usize,
        /// The field's type.
        expected: DType,
        /// The column's type.
        got: DType,
    },
    /// Arrow input whose top level is not a struct (record batch) of columns.
    /// Arrow input whose top level is not a struct (record batch) of columns.
    NotAStruct {
        /// The top level's Arrow format.
        format: String,
    },
    /// Arrow input without a column for field `field`.
    /// Arrow input without a column for field `field`.
    MissingColumn {
        /// The field's name.
        field: String,
    },
    /// An Arrow column whose type (`got`, described) does not fit the field's type.
    TypeMismatch {
        /// The field's name.
        field: String,
        /// The field's type, as users declared it.
        expected: String,
        /// The Arrow type, described.
        got: String,
    },
    /// An Arrow column holding nulls for a field that is not optional.
    /// An Arrow column holding `count` nulls for a field that is not optional.
    Nulls {
        /// The field's name.
        field: String,
        /// Nulls in the column.
        count: usize,
    },
    /// An Arrow value the field cannot hold (out of range, not in a closed category, ...).
    BadValue {
        /// The field's name.
        field: String,
        /// The row.
        row: usize,
        /// What was wrong.
        detail: String,
    },
    /// An Arrow text or bytes column whose values pass the 2 GiB one column can hold.
    TooMuchText {
        /// The field's name.
        field: String,
    },
    /// The allocator refused the room to copy `rows` rows (of field `field`, if one) for
    /// slicing, sorting, deleting, compacting or exporting; nothing changed.
    OutOfMemory {
        /// The field's index, if the copy was of one column.
        field: Option<usize>,
        /// Rows being copied.
        rows: usize,
    },
    /// Arrow arrays that do not have the shape their schema promises.
    /// Arrow arrays that do not have the shape their schema promises.
    Malformed {
        /// What was wrong.
        detail: String,
    },
}

impl Error {
    /// Whether the error is about a size past a limit (`OverflowError` in Python).
    pub fn is_overflow(&self) -> bool {
        matches!(self, Error::TooMuchText { .. })
    }

    /// Whether the error is about a type (`TypeError` in Python) rather than a value.
    pub fn is_type_error(&self) -> bool {
        matches!(
            self,
            Error::TypeMismatch { .. } | Error::NotAStruct { .. } | Error::ColumnType { .. }
        )
    }
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
            | Error::Datum {
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
            Error::NotAStruct { format } => write!(
                f,
                "expected a struct of columns (a table or record batch), got Arrow format {format:?}"
            ),
            Error::MissingColumn { field } => write!(f, "no column named '{field}'"),
            Error::TypeMismatch {
                field,
                expected,
                got,
            } => write!(
                f,
                "column '{field}' has Arrow type {got} but the field is {expected}"
            ),
            Error::Nulls { field, count } => write!(
                f,
                "column '{field}' has {count} nulls, but the field is not optional \
                 (declare it `T | None`)"
            ),
            Error::BadValue { field, row, detail } => {
                write!(f, "column '{field}', row {row}: {detail}")
            }
            Error::Malformed { detail } => write!(f, "malformed Arrow data: {detail}"),
            Error::OutOfMemory { field, rows } => {
                write!(f, "out of memory copying {rows} rows")?;
                if let Some(field) = field {
                    write!(f, " of field {field}")?;
                }
                write!(f, "; nothing changed")
            }
            Error::TooMuchText { field } => write!(
                f,
                "column '{field}' holds more than 2 GiB of data, the most one shoal column \
                 (an Arrow array with 32-bit offsets) can address; split the input"
            ),
        }
    }
}

impl std::error::Error for Error {}
