//! Field types, the values Python hands us, and the typed scalars columns store.

use std::fmt;

/// The storage type of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F64,
    F32,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Bool,
}

impl DType {
    pub const ALL: [DType; 11] = [
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
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        match name {
            "f64" => Some(DType::F64),
            "i64" => Some(DType::I64),
            _ => DType::ALL.into_iter().find(|d| d.name() == name),
        }
    }

    pub fn itemsize(self) -> usize {
        match self {
            DType::F64 | DType::I64 | DType::U64 => 8,
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::I16 | DType::U16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// The PEP 3118 / `struct` format character (native byte order and size).
    pub fn format(self) -> &'static str {
        match self {
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
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::F64 | DType::F32)
    }

    /// The inclusive integer range of an integer type.
    pub fn int_range(self) -> Option<(i128, i128)> {
        Some(match self {
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
    #[inline]
    pub fn coerce(self, value: Value) -> Result<Scalar, Problem> {
        let wrong = || Problem::WrongType {
            expected: self,
            got: value.kind(),
        };
        let out_of_range = || Problem::OutOfRange { dtype: self };
        match (self, value) {
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
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value as it arrives from the outside world, before it is checked against a field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Float(f64),
    Int(i64),
    /// An integer above `i64::MAX` (up to `u64::MAX`).
    UInt(u64),
    Bool(bool),
}

impl Value {
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
    F64(f64),
    F32(f32),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    Bool(bool),
}

impl Scalar {
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

/// Why a value does not fit a field (the caller adds which field, row and value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    WrongType { expected: DType, got: &'static str },
    OutOfRange { dtype: DType },
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
