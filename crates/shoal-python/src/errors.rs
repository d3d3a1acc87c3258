//! The binding layer's one error type and its mapping to Python exceptions.
//!
//! Every message names the record type, the field, the row and the value where they are known,
//! and says what was left unchanged.
//!
//! This is the one place a Python exception is made: the rest of the crate returns
//! `ShoalError` (or lets a `PyErr` that Python raised pass through), and core errors become
//! `ShoalError`s here, in [`ShoalError::from_core`], with the names the core does not know.

use pyo3::exceptions::{
    PyBufferError, PyIndexError, PyKeyError, PyMemoryError, PyOSError, PyOverflowError,
    PyReferenceError, PyRuntimeError, PySystemError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use shoal_core::{DType, Problem};

pyo3::create_exception!(
    shoal,
    StaleRowError,
    PyReferenceError,
    "A row handle was used after a structural change (del, pop, insert, clear, sort) to its table."
);
/// `dataclasses.FrozenInstanceError`, which ours subclasses so that code ported from
/// dataclasses catches it.
mod from_dataclasses {
    pyo3::import_exception!(dataclasses, FrozenInstanceError);
}
pyo3::create_exception!(
    shoal,
    FrozenInstanceError,
    from_dataclasses::FrozenInstanceError,
    "An attempt to assign to a field of a frozen record (a dataclasses.FrozenInstanceError)."
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
    /// Measuring met an object whose size cannot be real (a layout shoal misreads).
    ImpossibleSize {
        type_name: String,
        bytes: u64,
    },
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
    /// A key a unique index already holds, at row `existing`.
    DuplicateKey {
        at: Target,
        value: String,
        existing: usize,
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
    /// A row index past the table's end (the index as written: it may not fit an `isize`).
    RowIndex {
        index: String,
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
    /// The table is borrowed by an operation still running (re-entrant use).
    Busy,
    /// `pop()` on an empty table.
    Empty,
    /// A key of the wrong type for `t[key]`.
    BadKey {
        got: String,
    },
    /// Column index out of range.
    ColumnIndex {
        index: isize,
        len: usize,
    },
    /// An operation that needs a numeric column got another type.
    NotNumeric {
        column: String,
        operation: &'static str,
        dtype: DType,
    },
    /// A buffer export that cannot be given (a write request, a column without a plain buffer).
    NoBuffer {
        detail: String,
    },
    /// Arrow input that shoal refused (the core's reason); nothing was imported.
    Arrow {
        record: String,
        error: shoal_core::Error,
    },
    /// Saving or opening a file failed (the file layer's error names the file).
    File {
        record: String,
        error: Box<shoal_io::IoError>,
    },
    /// A change to a table opened read-only from a file.
    ReadOnly {
        path: String,
    },
    /// `from_arrow` given something that is not an Arrow producer.
    NotArrow {
        record: String,
        got: String,
    },
    /// An Arrow stream that broke its protocol.
    MalformedStream {
        detail: String,
    },
    /// A stored value that Python's own type cannot hold.
    OutOfPython {
        what: &'static str,
    },
    /// A class that cannot be a record class (or a Schema given something that is not one).
    NotRecordClass {
        detail: String,
    },
    /// A field declaration shoal cannot store.
    BadField {
        record: String,
        field: String,
        detail: String,
    },
    /// Two fields with one name.
    DuplicateField {
        record: String,
    },
    /// A class with no shoal schema where a record class was expected.
    NoSchema {
        class: String,
    },
    /// A subclass of a record class that declares no fields of its own.
    InheritedSchema {
        class: String,
        record: String,
    },
    /// A record class with abstract methods left, called.
    Abstract {
        class: String,
    },
    /// A class's own `__init__` returned without setting a field that has no default.
    Unset {
        record: String,
        field: String,
    },
    /// A field descriptor used on an object that is not one of its records.
    WrongInstance {
        owner: String,
        got: String,
    },
    /// `del record.field`.
    DeleteField {
        record: String,
        field: String,
    },
    /// An allocation the system refused (a column sized from a Python object's `len()`).
    OutOfMemory {
        detail: String,
    },
    /// A Rust panic caught at the C boundary (a bug: never expected).
    Internal {
        detail: &'static str,
    },
    Python(PyErr),
}

/// What turning a core error into a message needs to know about a record type: the core
/// names fields by index.
pub trait RecordNames {
    /// The record class's name.
    fn record_name(&self) -> &str;
    /// Field `field`'s name.
    fn field_name(&self, field: usize) -> &str;
    /// Field `field`'s storage type and, for a closed category, its values.
    fn field_kind(&self, field: usize) -> (DType, Option<&[String]>);
}

impl ShoalError {
    /// The error for a value a column refused (`problem`), naming the value. `dtype` and
    /// `choices` are the field's storage type and closed-category values.
    pub fn refused(
        problem: Problem,
        at: Target,
        value: String,
        dtype: DType,
        choices: Option<&[String]>,
    ) -> ShoalError {
        match problem {
            Problem::NotOptional => ShoalError::NotOptional {
                declared: dtype.name().to_owned(),
                at,
            },
            Problem::UnknownCategory => ShoalError::UnknownCategory {
                at,
                value,
                choices: quoted(choices.unwrap_or(&[])),
            },
            Problem::TooMuchData => ShoalError::TooMuchData { at },
            Problem::OutOfMemory => ShoalError::OutOfMemory {
                detail: format!(
                    "field '{}' of {}: out of memory storing the value{}",
                    at.field,
                    at.record,
                    row_note(at.row)
                ),
            },
            Problem::OutOfRange { dtype } => ShoalError::OutOfRange { at, dtype, value },
            Problem::DuplicateKey { row } => ShoalError::DuplicateKey {
                at,
                value,
                existing: row,
            },
            Problem::WrongType { expected, .. } => ShoalError::WrongType {
                at,
                expected,
                value,
            },
        }
    }

    /// A core error about already-converted values (whose Python objects are gone), or about
    /// whole columns, with the record's names.
    pub fn from_core(e: shoal_core::Error, names: &impl RecordNames) -> ShoalError {
        match e {
            shoal_core::Error::Datum {
                field,
                row,
                problem,
            } => {
                let (dtype, choices) = names.field_kind(field);
                let at = Target {
                    record: names.record_name().to_owned(),
                    field: names.field_name(field).to_owned(),
                    row: Some(row),
                };
                ShoalError::refused(problem, at, "the value".into(), dtype, choices)
            }
            shoal_core::Error::OutOfMemory { field, rows } => ShoalError::OutOfMemory {
                detail: format!(
                    "{}: out of memory copying {rows} rows{}; the table is unchanged",
                    names.record_name(),
                    field.map_or(String::new(), |f| format!(
                        " of field '{}'",
                        names.field_name(f)
                    )),
                ),
            },
            shoal_core::Error::TooMuchText { field } => ShoalError::TooMuchData {
                at: Target {
                    record: names.record_name().to_owned(),
                    field,
                    row: None,
                },
            },
            other => ShoalError::BadColumn {
                detail: format!(
                    "{}: {}",
                    names.record_name(),
                    ShoalError::core_message(&other, names)
                ),
            },
        }
    }

    /// A core error about whole columns in words, with field names instead of indices.
    pub fn core_message(e: &shoal_core::Error, names: &impl RecordNames) -> String {
        match e {
            shoal_core::Error::ColumnLength {
                field,
                expected,
                got,
            } => format!(
                "column '{}' has {got} values but the others have {expected}",
                names.field_name(*field)
            ),
            shoal_core::Error::ColumnType {
                field,
                expected,
                got,
            } => format!(
                "column '{}' has type {got}, expected {expected}",
                names.field_name(*field)
            ),
            other => other.to_string(),
        }
    }
}

/// `'a', 'b'`: values for a message (the first 10).
pub fn quoted(values: &[String]) -> String {
    let mut shown: Vec<String> = values.iter().take(10).map(|v| format!("{v:?}")).collect();
    if values.len() > 10 {
        shown.push("...".into());
    }
    shown.join(", ")
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
            ShoalError::ImpossibleSize { type_name, bytes } => PyRuntimeError::new_err(format!(
                "cannot measure an object of type '{type_name}': its layout reads as {bytes} \
                 bytes, more than the address space, so shoal does not know this type's layout; \
                 no total is reported. Size its objects with shoal.register_sizer(type, fn)"
            )),
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
            ShoalError::DuplicateKey {
                at,
                value,
                existing,
            } => PyValueError::new_err(format!(
                "field '{}' of {}: {value}{} is already the key of row {existing} in a unique \
                 index; nothing changed (index_by(..., unique=False) allows repeated keys)",
                at.field,
                at.record,
                at.row.map_or(String::new(), |r| format!(" for row {r}")),
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
            ShoalError::Busy => PyRuntimeError::new_err(
                "the table is in the middle of another operation (e.g. extend() is iterating a \
                 generator that uses the same table); finish that first",
            ),
            ShoalError::Empty => PyIndexError::new_err("pop from an empty table"),
            ShoalError::BadKey { got } => PyTypeError::new_err(format!(
                "table indices must be integers, slices, field names, lists of rows or bool masks, not {got}"
            )),
            ShoalError::ColumnIndex { index, len } => PyIndexError::new_err(format!(
                "column index {index} out of range for {len} values"
            )),
            ShoalError::NotNumeric {
                column,
                operation,
                dtype,
            } => PyTypeError::new_err(format!(
                "{operation} needs a numeric column; {column} is {dtype}"
            )),
            ShoalError::NoBuffer { detail } => PyBufferError::new_err(detail),
            ShoalError::Arrow { record, error } => {
                let message = format!("{record}.from_arrow: {error}; nothing was imported");
                if error.is_type_error() {
                    PyTypeError::new_err(message)
                } else if error.is_overflow() {
                    PyOverflowError::new_err(message)
                } else {
                    PyValueError::new_err(message)
                }
            }
            ShoalError::File { record, error } => file_error(&record, *error),
            ShoalError::ReadOnly { path } => PyValueError::new_err(format!(
                "this table is a read-only memory map of '{path}'; open the file with \
                 shoal.open(path, Record, mode=\"c\") to change the rows in memory (the file \
                 never changes), or save the changes elsewhere from a copy: copy.copy(t)"
            )),
            ShoalError::NotArrow { record, got } => PyTypeError::new_err(format!(
                "{record}.from_arrow expects an object with __arrow_c_stream__ or \
                 __arrow_c_array__ (a pyarrow Table or RecordBatch, a polars DataFrame ...), \
                 got {got}"
            )),
            ShoalError::MalformedStream { detail } => {
                PyValueError::new_err(format!("malformed Arrow stream: {detail}"))
            }
            ShoalError::OutOfPython { what } => {
                PyOverflowError::new_err(format!("{what} out of Python's range"))
            }
            ShoalError::NotRecordClass { detail } => PyTypeError::new_err(detail),
            ShoalError::BadField {
                record,
                field,
                detail,
            } => PyValueError::new_err(format!("field '{field}' of {record}: {detail}")),
            ShoalError::DuplicateField { record } => {
                PyValueError::new_err(format!("{record}: duplicate field name"))
            }
            ShoalError::NoSchema { class } => PyTypeError::new_err(format!(
                "{class} has no fields; declare a record as `class Point(shoal.Record): x: float`"
            )),
            ShoalError::InheritedSchema { class, record } => PyTypeError::new_err(format!(
                "{class} inherits its schema from {record}; declare its fields by subclassing \
                 shoal.Record"
            )),
            ShoalError::Abstract { class } => PyTypeError::new_err(format!(
                "Can't instantiate abstract class {class}: it has abstract methods left; \
                 define them in a subclass"
            )),
            ShoalError::Unset { record, field } => PyTypeError::new_err(format!(
                "{record}.__init__ returned without setting field '{field}', which has no \
                 default; set it (self.{field} = ...) or give the field a default"
            )),
            ShoalError::WrongInstance { owner, got } => {
                PyTypeError::new_err(format!("field descriptor for {owner} used on {got}"))
            }
            ShoalError::DeleteField { record, field } => PyTypeError::new_err(format!(
                "cannot delete field '{field}' of {record}: every record has every field"
            )),
            ShoalError::OutOfMemory { detail } => PyMemoryError::new_err(detail),
            ShoalError::Internal { detail } => {
                PySystemError::new_err(format!("shoal: internal panic in {detail}"))
            }
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
    match dtype {
        DType::Timedelta => {
            "timedelta (microseconds in a signed 64-bit integer: about ±292,000 years)".into()
        }
        DType::Datetime => "datetime (years 1 to 9999, in UTC for a tz-aware field)".into(),
        DType::Date => "date (years 1 to 9999)".into(),
        DType::F32 => format!("f32 (finite values up to {:e})", f32::MAX),
        DType::F64 => format!("float (finite values up to {:e})", f64::MAX),
        _ => match dtype.int_range() {
            Some((lo, hi)) => format!("{} ({lo}..={hi})", dtype.name()),
            None => dtype.name().to_owned(),
        },
    }
}

/// A file error as Python's: the system's refusals as `OSError` (its errno picks the subclass,
/// `FileNotFoundError` ...), unreadable files as `ValueError`, columns that do not fit the
/// record class as `TypeError`/`ValueError` as for `from_arrow`.
fn file_error(record: &str, error: shoal_io::IoError) -> PyErr {
    if let shoal_io::IoError::Unfinished { path, .. } = &error {
        let path = path.display().to_string();
        return PyValueError::new_err(format!(
            "{record}: {error}: shoal.recover({path:?}) writes them as a complete file"
        ));
    }
    match error {
        shoal_io::IoError::Os {
            path,
            action,
            source,
        } => {
            let message = format!("{record}: cannot {action} the file: {source}");
            let path = path.display().to_string();
            match source.raw_os_error() {
                Some(errno) => PyOSError::new_err((errno, message, path)),
                None => PyOSError::new_err(format!("{message} ('{path}')")),
            }
        }
        shoal_io::IoError::Import { path, batch, error } => {
            let message = format!(
                "{record}: the file '{}' does not fit the record class (batch {batch}): {error}",
                path.display()
            );
            if error.is_type_error() {
                PyTypeError::new_err(message)
            } else {
                PyValueError::new_err(message)
            }
        }
        format => PyValueError::new_err(format!("{record}: {format}")),
    }
}
