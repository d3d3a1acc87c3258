//! What sorting and filtering by a field read from its column: one comparable key per row
//! ([`Column::sort_key`]) and the rows holding a given value ([`Column::rows_equal`]), each a
//! typed loop over the column's storage.

use std::cmp::Ordering;

use super::{Column, Fixed, Values};
use crate::buffer::bitmap::Bitmap;
use crate::dtype::{Datum, Problem, Scalar};

/// One key per row, in an order that matches Python's `<` on the values.
enum Keys<'a> {
    /// Floats with -0.0 made 0.0 and every NaN one NaN, compared by `total_cmp`: `<`'s order
    /// on numbers, NaN after all of them.
    Float(Vec<f64>),
    Int(Vec<i64>),
    UInt(Vec<u64>),
    /// Text (UTF-8 bytes order as code points do) or bytes.
    Bytes(Vec<&'a [u8]>),
    /// A category's code's rank among its dictionary's texts.
    Rank(Vec<u32>),
}

/// A field's sort key for every row, with its nulls (which sort last).
pub struct SortKey<'a> {
    keys: Keys<'a>,
    nulls: Option<&'a Bitmap>,
}

fn collect<T>(values: impl ExactSizeIterator<Item = T>) -> Result<Vec<T>, Problem> {
    let mut out = Vec::new();
    out.try_reserve_exact(values.len())
        .map_err(|_| Problem::OutOfMemory)?;
    out.extend(values);
    Ok(out)
}

fn float_key(f: f64) -> f64 {
    if f.is_nan() {
        f64::NAN
    } else if f == 0.0 {
        0.0
    } else {
        f
    }
}

fn fixed_keys(f: &Fixed) -> Result<Keys<'static>, Problem> {
    macro_rules! ints {
        ($b:expr) => {
            Keys::Int(collect($b.as_slice().iter().map(|&v| i64::from(v)))?)
        };
    }
    Ok(match f {
        Fixed::F64(b) => Keys::Float(collect(b.as_slice().iter().map(|&v| float_key(v)))?),
        Fixed::F32(b) => Keys::Float(collect(b.as_slice().iter().map(|&v| float_key(v.into())))?),
        Fixed::I8(b) => ints!(b),
        Fixed::I16(b) => ints!(b),
        Fixed::I32(b) => ints!(b),
        Fixed::I64(b) => ints!(b),
        Fixed::U8(b) => ints!(b),
        Fixed::U16(b) => ints!(b),
        Fixed::U32(b) => ints!(b),
        Fixed::U64(b) => Keys::UInt(collect(b.as_slice().iter().copied())?),
        Fixed::Bool(b) => ints!(b),
    })
}

impl Column {
    /// Every row's sort key: numbers as `<` orders them (NaN last), text and bytes by their
    /// bytes (UTF-8 keeps code point order), categories by their text; nulls sort last.
    pub fn sort_key(&self) -> Result<SortKey<'_>, Problem> {
        let keys = match &self.values {
            Values::Fixed(f) => fixed_keys(f)?,
            Values::Var(s) => Keys::Bytes(collect((0..s.len()).map(|i| s.get(i).unwrap_or(b"")))?),
            Values::Cat(c) => {
                let ranks = c.ranks()?;
                Keys::Rank(collect(
                    (0..c.len()).map(|i| ranks[c.code(i).unwrap_or(0) as usize]),
                )?)
            }
        };
        Ok(SortKey {
            keys,
            nulls: self.validity.as_ref(),
        })
    }

    /// The rows among `rows` whose value equals `cell` (`Datum::Null`: the null rows), as
    /// `==` has it (NaN equals nothing); `cell` must be of the column's storage type (the
    /// binding layer converts it first), anything else matches no row.
    pub fn rows_equal(&self, cell: &Datum<'_>, rows: impl Iterator<Item = usize>) -> Vec<usize> {
        let valid = |i: usize| self.validity.as_ref().is_none_or(|v| v.get(i));
        match (cell, &self.values) {
            (Datum::Null, _) => rows.filter(|&i| !valid(i)).collect(),
            (Datum::Num(s), Values::Fixed(f)) => {
                let eq = fixed_equal(f, *s);
                rows.filter(|&i| eq(i) && valid(i)).collect()
            }
            (Datum::Bytes(b), Values::Var(s)) => rows
                .filter(|&i| s.get(i) == Some(b.as_ref()) && valid(i))
                .collect(),
            (Datum::Bytes(b), Values::Cat(c)) => match c.code_if_known(b) {
                Some(code) => rows
                    .filter(|&i| c.code(i) == Some(code) && valid(i))
                    .collect(),
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

/// Whether row `i` of `f` holds `s` (of `f`'s type; another type matches nothing).
fn fixed_equal(f: &Fixed, s: Scalar) -> Box<dyn Fn(usize) -> bool + '_> {
    macro_rules! eq {
        ($b:expr, $v:expr) => {{
            let (values, v) = ($b.as_slice(), $v);
            Box::new(move |i| values[i] == v)
        }};
    }
    match (f, s) {
        (Fixed::F64(b), Scalar::F64(v)) => eq!(b, v),
        (Fixed::F32(b), Scalar::F32(v)) => eq!(b, v),
        (Fixed::I8(b), Scalar::I8(v)) => eq!(b, v),
        (Fixed::I16(b), Scalar::I16(v)) => eq!(b, v),
        (Fixed::I32(b), Scalar::I32(v)) => eq!(b, v),
        (Fixed::I64(b), Scalar::I64(v)) => eq!(b, v),
        (Fixed::U8(b), Scalar::U8(v)) => eq!(b, v),
        (Fixed::U16(b), Scalar::U16(v)) => eq!(b, v),
        (Fixed::U32(b), Scalar::U32(v)) => eq!(b, v),
        (Fixed::U64(b), Scalar::U64(v)) => eq!(b, v),
        (Fixed::Bool(b), Scalar::Bool(v)) => eq!(b, v),
        _ => Box::new(|_| false),
    }
}

/// Rows sorted by their keys (ties by row number, so the order is stable), through
/// `(key, row)` pairs: each comparison reads two pairs side by side, not two rows' columns.
fn sorted_pairs<K: Copy>(
    rows: &[usize],
    key: impl Fn(usize) -> K,
    cmp: impl Fn(&K, &K) -> Ordering,
    reverse: bool,
) -> Result<Vec<usize>, Problem> {
    let mut pairs: Vec<(K, usize)> = collect(rows.iter().map(|&r| (key(r), r)))?;
    pairs.sort_unstable_by(|a, b| {
        let order = cmp(&a.0, &b.0);
        let order = if reverse { order.reverse() } else { order };
        order.then(a.1.cmp(&b.1))
    });
    collect(pairs.into_iter().map(|(_, row)| row))
}

/// The stable order of rows `0..len` of `columns` sorted by `fields` (the first decides, each
/// next one breaks the ties left), descending with `reverse`, nulls last either way;
/// `order[k]` is the row that goes to position `k`. A refused allocation names the field
/// whose keys did not fit (`None`: the order itself).
pub fn order_of(
    columns: &[Column],
    fields: &[usize],
    len: usize,
    reverse: bool,
) -> Result<Vec<usize>, Option<usize>> {
    let keys = fields
        .iter()
        .map(|&f| columns[f].sort_key().map_err(|_| Some(f)))
        .collect::<Result<Vec<_>, _>>()?;
    if let [key] = keys.as_slice() {
        return key.order(len, reverse).map_err(|_| Some(fields[0]));
    }
    let mut order = Vec::new();
    order.try_reserve_exact(len).map_err(|_| None)?;
    order.extend(0..len);
    order.sort_by(|&a, &b| {
        keys.iter()
            .map(|k| k.cmp(a, b, reverse))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    Ok(order)
}

impl SortKey<'_> {
    /// The stable order of all `len` rows by this key alone (as [`SortKey::cmp`] orders them:
    /// nulls last, in row order).
    pub fn order(&self, len: usize, reverse: bool) -> Result<Vec<usize>, Problem> {
        let null = |i: usize| self.nulls.is_some_and(|v| !v.get(i));
        let mut valid = Vec::new();
        valid
            .try_reserve_exact(len)
            .map_err(|_| Problem::OutOfMemory)?;
        valid.extend((0..len).filter(|&i| !null(i)));
        let mut order = match &self.keys {
            Keys::Float(k) => sorted_pairs(&valid, |r| k[r], f64::total_cmp, reverse),
            Keys::Int(k) => sorted_pairs(&valid, |r| k[r], i64::cmp, reverse),
            Keys::UInt(k) => sorted_pairs(&valid, |r| k[r], u64::cmp, reverse),
            Keys::Bytes(k) => sorted_pairs(&valid, |r| k[r], |a, b| a.cmp(b), reverse),
            Keys::Rank(k) => sorted_pairs(&valid, |r| k[r], u32::cmp, reverse),
        }?;
        order.extend((0..len).filter(|&i| null(i)));
        Ok(order)
    }

    /// Row `a` against row `b`: nulls after values whatever `reverse` says, values ascending
    /// or (with `reverse`) descending.
    pub fn cmp(&self, a: usize, b: usize, reverse: bool) -> Ordering {
        let null = |i: usize| self.nulls.is_some_and(|v| !v.get(i));
        match (null(a), null(b)) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {}
        }
        let order = match &self.keys {
            Keys::Float(k) => k[a].total_cmp(&k[b]),
            Keys::Int(k) => k[a].cmp(&k[b]),
            Keys::UInt(k) => k[a].cmp(&k[b]),
            Keys::Bytes(k) => k[a].cmp(k[b]),
            Keys::Rank(k) => k[a].cmp(&k[b]),
        };
        if reverse {
            order.reverse()
        } else {
            order
        }
    }
}
