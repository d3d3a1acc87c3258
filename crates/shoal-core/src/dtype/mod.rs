//! Field types, the values Python hands us, and the typed scalars and cells columns store.

pub mod schema;
pub mod temporal;

pub use schema::{Field, Schema};

use std::borrow::Cow;
use std::fmt;

/// The storage type of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// `f64`.
    F64,
    /// `f32`.
    F32,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `bool`.
    Bool,
    /// UTF-8 text: offsets and bytes.
    Str,
    /// Binary data: offsets and bytes.
    Bytes,
    /// Dictionary-encoded text: a code per row (u8, widening to u16 and u32) and a dictionary.
    Category,
    /// Microseconds since 1970-01-01T00:00 (UTC for tz-aware fields), as i64.
    Datetime,
    /// Days since 1970-01-01, as i32.
    Date,
    /// Microseconds, as i64.
    Timedelta,
}

/// The range of `datetime.datetime` (years 1 to 9999) in microseconds since the epoch.
pub const DATETIME_RANGE_US: (i64, i64) = (-62_135_596_800_000_000, 253_402_300_799_999_999);
/// The range of `datetime.date` in days since the epoch.
pub const DATE_RANGE_DAYS: (i32, i32) = (-719_162, 2_932_896);

impl DType {
    /// Every storage type, in a fixed order.
    pub const ALL: [DType; 17] = [
        DType::F64,
        DType::F32,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::Bool,
        DType::Str,
        DType::Bytes,
        DType::Category,
        DType::Datetime,
        DType::Date,
        DType::Timedelta,
    ];

    /// The name users write: `float`, `int` and `bool` for the defaults, `shoal.<name>` otherwise.
    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "float",
            DType::F32 => "f32",
            DType::I8 => "i8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "int",
            DType::U8 => "u8",
            DType::U16 => "u16",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::Bool => "bool",
            DType::Str => "str",
            DType::Bytes => "bytes",
            DType::Category => "category",
            DType::Datetime => "datetime",
            DType::Date => "date",
            DType::Timedelta => "timedelta",
        }
    }

    /// The fixed-width type values are stored as: temporal types are integers; the others are
    /// their own storage (variable-width types have none).
    pub fn storage(self) -> DType {
        match self {
            DType::Datetime | DType::Timedelta => DType::I64,
            DType::Date => DType::I32,
            other => other,
        }
    }

    /// Whether values are stored one fixed-width element per row.
    pub fn is_fixed(self) -> bool {
        !matches!(self, DType::Str | DType::Bytes | DType::Category)
    }

    /// The type with this name (`f64`, `str`, `category` ...), as `DType::name` gives it.
    pub fn from_name(name: &str) -> Option<DType> {
        match name {
            "f64" => Some(DType::F64),
            "i64" => Some(DType::I64),
            _ => DType::ALL.into_iter().find(|d| d.name() == name),
        }
    }

    /// Bytes per row of the fixed-width part: the value, an offset (str, bytes) or the narrowest
    /// code (category).
    pub fn itemsize(self) -> usize {
        match self.storage() {
            DType::Str | DType::Bytes => 4,
            DType::Category => 1,
            DType::F64 | DType::I64 | DType::U64 => 8,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::I16 | DType::U16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
            _ => unreachable!("storage types are fixed-width"),
        }
    }

    /// The PEP 3118 / `struct` format character (native byte order and size) of the storage
    /// type; `None` for variable-width types.
    pub fn format(self) -> Option<&'static str> {
        Some(match self.storage() {
            DType::F64 => "d",
            DType::F32 => "f",
            DType::I8 => "b",
            DType::I16 => "h",
            DType::I32 => "i",
            DType::I64 => "q",
            DType::U8 => "B",
            DType::U16 => "H",
            DType::U32 => "I",
            DType::U64 => "Q",
            DType::Bool => "?",
            _ => return None,
        })
    }

    /// Whether it is `f64` or `f32`.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F64 | DType::F32)
    }

    /// The inclusive integer range of an integer type.
    pub fn int_range(self) -> Option<(i128, i128)> {
        Some(match self.storage() {
            DType::I8 => (i8::MIN.into(), i8::MAX.into()),
            DType::I16 => (i16::MIN.into(), i16::MAX.into()),
            DType::I32 => (i32::MIN.into(), i32::MAX.into()),
            DType::I64 => (i64::MIN.into(), i64::MAX.into()),
            DType::U8 => (0, u8::MAX.into()),
            DType::U16 => (0, u16::MAX.into()),
            DType::U32 => (0, u32::MAX.into()),
            DType::U64 => (0, u64::MAX.into()),
            _ => return None,
        })
    }

    /// Checks and converts a value for this type. The rules: ints are accepted by float fields
    /// (rounded to the nearest float, as `float(i)` does); floats are never accepted by int fields
    /// (not even `3.0`); bools go only into bool fields; integers must fit the type's range and
    /// floats the finite range of `f32`.
    /// Temporal types take integers in their unit; variable-width types take no `Value`.
    #[inline]
    pub fn coerce(self, value: Value) -> Result<Scalar, Problem> {
        let wrong = || Problem::WrongType {
            expected: self,
            got: value.kind(),
        };
        let out_of_range = || Problem::OutOfRange { dtype: self };
        if !self.is_fixed() {
            return Err(wrong());
        }
        match (self.storage(), value) {
            (DType::Bool, Value::Bool(b)) => Ok(Scalar::Bool(b)),
            (DType::Bool, _) | (_, Value::Bool(_)) => Err(wrong()),
            (DType::F64, v) => Ok(Scalar::F64(v.as_f64())),
            (DType::F32, v) => {
                let x = v.as_f64();
                let y = x as f32;
                if y.is_infinite() && x.is_finite() {
                    Err(out_of_range())
                } else {
                    Ok(Scalar::F32(y))
                }
            }
            (_, Value::Float(_)) => Err(wrong()),
            (int_type, v) => {
                let i = v.as_i128().expect("integer value");
                let (lo, hi) = int_type.int_range().expect("integer type");
                if i < lo || i > hi {
                    return Err(out_of_range());
                }
                // The range check above makes every cast below lossless.
                Ok(match int_type {
                    DType::I8 => Scalar::I8(i as i8),
                    DType::I16 => Scalar::I16(i as i16),
                    DType::I32 => Scalar::I32(i as i32),
                    DType::I64 => Scalar::I64(i as i64),
                    DType::U8 => Scalar::U8(i as u8),
                    DType::U16 => Scalar::U16(i as u16),
                    DType::U32 => Scalar::U32(i as u32),
                    DType::U64 => Scalar::U64(i as u64),
                    _ => unreachable!("float and bool handled above"),
                })
            }
        }
    }

    /// The inclusive range of stored values a temporal type accepts (Python's own range for
    /// datetimes and dates).
    pub fn temporal_range(self) -> Option<(i64, i64)> {
        match self {
            DType::Datetime => Some(DATETIME_RANGE_US),
            DType::Date => Some((DATE_RANGE_DAYS.0.into(), DATE_RANGE_DAYS.1.into())),
            _ => None,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value as it arrives from the outside world, before it is checked against a field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A Python float (or another real number converted to one).
    Float(f64),
    /// An integer in the `i64` range.
    Int(i64),
    /// An integer above `i64::MAX` (up to `u64::MAX`).
    UInt(u64),
    /// A bool.
    Bool(bool),
}

impl Value {
    /// The Python type's name, for messages: `float`, `int`, `bool`.
    pub fn kind(self) -> &'static str {
        match self {
            Value::Float(_) => "float",
            Value::Int(_) | Value::UInt(_) => "int",
            Value::Bool(_) => "bool",
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Value::Float(x) => x,
            Value::Int(i) => i as f64,
            Value::UInt(u) => u as f64,
            Value::Bool(b) => f64::from(u8::from(b)),
        }
    }

    fn as_i128(self) -> Option<i128> {
        match self {
            Value::Int(i) => Some(i.into()),
            Value::UInt(u) => Some(u.into()),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
        }
    }
}

/// A checked value of one specific [`DType`], as stored in a column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// A `f64`.
    F64(f64),
    /// A `f32`.
    F32(f32),
    /// A `i8`.
    I8(i8),
    /// A `i16`.
    I16(i16),
    /// A `i32`.
    I32(i32),
    /// A `i64`.
    I64(i64),
    /// A `u8`.
    U8(u8),
    /// A `u16`.
    U16(u16),
    /// A `u32`.
    U32(u32),
    /// A `u64`.
    U64(u64),
    /// A `bool`.
    Bool(bool),
}

impl Scalar {
    /// Zero (false) of a fixed-width storage type: what a null slot holds.
    pub fn zero(dtype: DType) -> Scalar {
        match dtype.storage() {
            DType::F64 => Scalar::F64(0.0),
            DType::F32 => Scalar::F32(0.0),
            DType::I8 => Scalar::I8(0),
            DType::I16 => Scalar::I16(0),
            DType::I32 => Scalar::I32(0),
            DType::I64 => Scalar::I64(0),
            DType::U8 => Scalar::U8(0),
            DType::U16 => Scalar::U16(0),
            DType::U32 => Scalar::U32(0),
            DType::U64 => Scalar::U64(0),
            DType::Bool => Scalar::Bool(false),
            other => panic!("{other} has no scalar zero"),
        }
    }

    /// The storage type.
    pub fn dtype(self) -> DType {
        match self {
            Scalar::F64(_) => DType::F64,
            Scalar::F32(_) => DType::F32,
            Scalar::I8(_) => DType::I8,
            Scalar::I16(_) => DType::I16,
            Scalar::I32(_) => DType::I32,
            Scalar::I64(_) => DType::I64,
            Scalar::U8(_) => DType::U8,
            Scalar::U16(_) => DType::U16,
            Scalar::U32(_) => DType::U32,
            Scalar::U64(_) => DType::U64,
            Scalar::Bool(_) => DType::Bool,
        }
    }

    /// The value as the outside world sees it (floats widen to f64, ints to i64/u64).
    pub fn to_value(self) -> Value {
        match self {
            Scalar::F64(x) => Value::Float(x),
            Scalar::F32(x) => Value::Float(x.into()),
            Scalar::I8(i) => Value::Int(i.into()),
            Scalar::I16(i) => Value::Int(i.into()),
            Scalar::I32(i) => Value::Int(i.into()),
            Scalar::I64(i) => Value::Int(i),
            Scalar::U8(u) => Value::Int(u.into()),
            Scalar::U16(u) => Value::Int(u.into()),
            Scalar::U32(u) => Value::Int(u.into()),
            Scalar::U64(u) => match i64::try_from(u) {
                Ok(i) => Value::Int(i),
                Err(_) => Value::UInt(u),
            },
            Scalar::Bool(b) => Value::Bool(b),
        }
    }
}

/// One value of a row as columns take and give it: a null, a fixed-width scalar, or the bytes of
/// a string, a bytes value or a category (borrowed on the way in and out, owned when kept).
#[derive(Clone, Debug, PartialEq)]
pub enum Datum<'a> {
    /// A null.
    Null,
    /// A fixed-width value (temporal values in their integer storage).
    Num(Scalar),
    /// The UTF-8 of a str or category, or the bytes of a bytes value.
    Bytes(Cow<'a, [u8]>),
}

impl Datum<'_> {
    /// An owned copy (no borrow left).
    pub fn into_owned(self) -> Datum<'static> {
        match self {
            Datum::Null => Datum::Null,
            Datum::Num(s) => Datum::Num(s),
            Datum::Bytes(b) => Datum::Bytes(Cow::Owned(b.into_owned())),
        }
    }

    /// A borrowed copy (cheap whatever `self` holds).
    pub fn reborrow(&self) -> Datum<'_> {
        match self {
            Datum::Null => Datum::Null,
            Datum::Num(s) => Datum::Num(*s),
            Datum::Bytes(b) => Datum::Bytes(Cow::Borrowed(b)),
        }
    }

    /// Borrowed bytes.
    pub fn bytes(b: &[u8]) -> Datum<'_> {
        Datum::Bytes(Cow::Borrowed(b))
    }
}

impl From<Scalar> for Datum<'_> {
    fn from(s: Scalar) -> Self {
        Datum::Num(s)
    }
}

/// Why a value does not fit a field (the caller adds which field, row and value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A value of a type the field does not take.
    WrongType {
        /// The field's type.
        expected: DType,
        /// The value's kind (`float`, `int`, `bool`).
        got: &'static str,
    },
    /// A value of an accepted type but outside the storage type's range.
    OutOfRange {
        /// The storage type it does not fit.
        dtype: DType,
    },
    /// `None` for a field that is not optional.
    NotOptional,
    /// A value outside a closed category's set.
    UnknownCategory,
    /// A column's string data would pass 2 GiB (Arrow's 32-bit offsets).
    TooMuchData,
    /// The allocator refused the memory the value needs (the column is unchanged).
    OutOfMemory,
    /// A unique index already holds the key (the value with the row's other key fields), at
    /// row `row`.
    DuplicateKey {
        /// The row holding the key.
        row: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercion_rules() {
        assert_eq!(DType::F64.coerce(Value::Int(3)), Ok(Scalar::F64(3.0)));
        assert_eq!(DType::U8.coerce(Value::Int(255)), Ok(Scalar::U8(255)));
        assert_eq!(
            DType::U8.coerce(Value::Int(300)),
            Err(Problem::OutOfRange { dtype: DType::U8 })
        );
        assert_eq!(
            DType::I64.coerce(Value::Float(3.0)),
            Err(Problem::WrongType {
                expected: DType::I64,
                got: "float"
            })
        );
        assert!(DType::I64.coerce(Value::Bool(true)).is_err());
        assert!(DType::Bool.coerce(Value::Int(1)).is_err());
        assert!(DType::F32.coerce(Value::Float(1e300)).is_err());
        assert_eq!(
            DType::F32.coerce(Value::Float(f64::INFINITY)),
            Ok(Scalar::F32(f32::INFINITY))
        );
        assert_eq!(
            DType::U64.coerce(Value::UInt(u64::MAX)),
            Ok(Scalar::U64(u64::MAX))
        );
        assert!(DType::I64.coerce(Value::UInt(u64::MAX)).is_err());
    }

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_name(d.name()), Some(d));
        }
    }
}
