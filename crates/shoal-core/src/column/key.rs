//! A cell as an index sees it: a [`KeyPart`] that hashes and compares the way Python's `==` and
//! `<` treat the value, read from a row ([`Column::key_part`]) or made from a looked-up
//! [`Datum`] ([`KeyPart::of`]) — the two must agree, so both go through one normalisation.

use std::cmp::Ordering;
use std::hash::Hasher;

use super::categories::TextHasher;
use super::{Column, Values};
use crate::dtype::{Datum, Scalar};

/// One field of a key, normalised: equal values have equal parts.
#[derive(Clone, Copy, Debug)]
pub enum KeyPart<'a> {
    /// A null (equal to a null: `None == None`).
    Null,
    /// A NaN, which equals nothing (not even itself) and sorts after every number.
    NaN,
    /// A float (-0.0 made 0.0, so that `0.0 == -0.0` holds).
    Float(f64),
    /// A signed integer, a bool (0 or 1) or a temporal value in its storage.
    Int(i64),
    /// An unsigned 64-bit integer (a `u64` column; every value of one column has one kind).
    UInt(u64),
    /// Text (UTF-8), bytes or a category's text.
    Bytes(&'a [u8]),
}

fn scalar_part(s: Scalar) -> KeyPart<'static> {
    let float = |f: f64| {
        if f.is_nan() {
            KeyPart::NaN
        } else {
            // Adding zero turns -0.0 into 0.0 and leaves every other float as it is.
            KeyPart::Float(f + 0.0)
        }
    };
    match s {
        Scalar::F64(f) => float(f),
        Scalar::F32(f) => float(f.into()),
        Scalar::I8(i) => KeyPart::Int(i.into()),
        Scalar::I16(i) => KeyPart::Int(i.into()),
        Scalar::I32(i) => KeyPart::Int(i.into()),
        Scalar::I64(i) => KeyPart::Int(i),
        Scalar::U8(u) => KeyPart::Int(u.into()),
        Scalar::U16(u) => KeyPart::Int(u.into()),
        Scalar::U32(u) => KeyPart::Int(u.into()),
        Scalar::U64(u) => KeyPart::UInt(u),
        Scalar::Bool(b) => KeyPart::Int(b.into()),
    }
}

impl<'a> KeyPart<'a> {
    /// The part of a looked-up value, converted to the column's storage type first.
    pub fn of(cell: &'a Datum<'_>) -> KeyPart<'a> {
        match cell {
            Datum::Null => KeyPart::Null,
            Datum::Num(s) => scalar_part(*s),
            Datum::Bytes(b) => KeyPart::Bytes(b),
        }
    }

    /// Whether the values are equal as `==` has it (NaN equals nothing; null equals null).
    pub fn equals(&self, other: &KeyPart<'_>) -> bool {
        match (self, other) {
            (KeyPart::Null, KeyPart::Null) => true,
            (KeyPart::Float(a), KeyPart::Float(b)) => a == b,
            (KeyPart::Int(a), KeyPart::Int(b)) => a == b,
            (KeyPart::UInt(a), KeyPart::UInt(b)) => a == b,
            (KeyPart::Bytes(a), KeyPart::Bytes(b)) => a == b,
            _ => false,
        }
    }

    /// The order `sort(by=...)` uses: numbers as `<` orders them, NaN after them, text by its
    /// bytes (code point order), nulls last.
    pub fn order(&self, other: &KeyPart<'_>) -> Ordering {
        fn rank(p: &KeyPart<'_>) -> u8 {
            match p {
                KeyPart::Null => 2,
                KeyPart::NaN => 1,
                _ => 0,
            }
        }
        match (self, other) {
            (KeyPart::Float(a), KeyPart::Float(b)) => a.total_cmp(b),
            (KeyPart::Int(a), KeyPart::Int(b)) => a.cmp(b),
            (KeyPart::UInt(a), KeyPart::UInt(b)) => a.cmp(b),
            (KeyPart::Bytes(a), KeyPart::Bytes(b)) => a.cmp(b),
            (a, b) => rank(a).cmp(&rank(b)),
        }
    }

    /// Mixes this part into a running hash (equal parts mix in equally).
    pub fn hash_into(&self, h: u64) -> u64 {
        let word = match self {
            KeyPart::Null => 0x243f_6a88_85a3_08d3,
            KeyPart::NaN => 0x1319_8a2e_0370_7344,
            KeyPart::Float(f) => f.to_bits(),
            KeyPart::Int(i) => *i as u64,
            KeyPart::UInt(u) => *u,
            KeyPart::Bytes(b) => {
                let mut t = TextHasher::default();
                t.write(b);
                t.finish()
            }
        };
        (h.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95)
    }
}

impl Column {
    /// The values of a null-free int64 column (the fast path of integer key lookups).
    #[inline]
    pub fn i64_values(&self) -> Option<&[i64]> {
        match (&self.values, &self.validity) {
            (Values::Fixed(super::Fixed::I64(b)), None) => Some(b.as_slice()),
            _ => None,
        }
    }

    /// Where row `i`'s value (or offset, or code) is stored: an address to prefetch, never
    /// read through.
    #[inline]
    pub fn row_address(&self, i: usize) -> Option<*const u8> {
        match &self.values {
            Values::Fixed(f) => f.address(i),
            Values::Var(s) => s.address(i),
            Values::Cat(c) => c.codes().address(i),
        }
    }

    /// Row `i`'s key part (`Null` past the end, which callers never ask for).
    #[inline]
    pub fn key_part(&self, i: usize) -> KeyPart<'_> {
        if self.is_null(i) {
            return KeyPart::Null;
        }
        let bytes = match &self.values {
            Values::Fixed(f) => return f.get(i).map_or(KeyPart::Null, scalar_part),
            Values::Var(s) => s.get(i),
            Values::Cat(c) => c.get(i),
        };
        bytes.map_or(KeyPart::Null, KeyPart::Bytes)
    }
}

/// The parts of a cell list, for looking up a key given as cells.
pub fn key_parts<'a>(cells: &'a [Datum<'_>]) -> Vec<KeyPart<'a>> {
    cells.iter().map(KeyPart::of).collect()
}
