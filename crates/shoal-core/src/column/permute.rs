//! Reordering a column in place through one scratch buffer: each fixed-width column (and a
//! category's codes) is gathered into the scratch and copied back, so sorting a table holds
//! one extra column at a time rather than a second copy of the table. Everything that can
//! fail — the scratch, private copies of shared storage, validity bits, text — is allocated
//! before the first value moves, so a table is reordered whole or not at all.

use super::{Column, Fixed, Values};
use crate::buffer::bitmap::Bitmap;
use std::mem::{align_of, size_of};

use crate::buffer::{AllocError, Native};

/// Whether `order` holds each of `0..order.len()` exactly once (`None`: no memory to check).
pub fn is_permutation(order: &[usize]) -> Option<bool> {
    let mut seen = Vec::new();
    seen.try_reserve_exact(order.len()).ok()?;
    seen.resize(order.len(), false);
    Some(
        order
            .iter()
            .all(|&i| i < order.len() && !std::mem::replace(&mut seen[i], true)),
    )
}

/// Room to gather one column of `rows` values of any fixed-width type (at most 8 bytes).
pub struct Scratch(Vec<u64>);

impl Scratch {
    /// A zeroed scratch buffer for `rows` values; a refused allocation is an error.
    pub fn try_new(rows: usize) -> Result<Scratch, AllocError> {
        let mut words = Vec::new();
        words.try_reserve_exact(rows).map_err(|_| AllocError)?;
        words.resize(rows, 0);
        Ok(Scratch(words))
    }

    /// Row `k` of `values` takes the value row `order[k]` held (`order` as long as `values`,
    /// each index in range).
    fn gather_back<T: Native>(&mut self, values: &mut [T], order: &[usize]) {
        assert!(values.len() <= self.0.len() && size_of::<T>() <= 8 && align_of::<T>() <= 8);
        // SAFETY: the words are initialised and 8-aligned, with room for `values.len()`
        // elements of at most 8 bytes and alignment at most 8 (asserted above); every bit
        // pattern read through the view is one of `T`'s: the words start zeroed (a valid
        // value of every `Native` type) and only `T`s are stored through it.
        let typed = unsafe {
            std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast::<T>(), values.len())
        };
        for (slot, &src) in typed.iter_mut().zip(order) {
            *slot = values[src];
        }
        values.copy_from_slice(typed);
    }

    fn permute(&mut self, f: &mut Fixed, order: &[usize]) {
        match f {
            Fixed::F64(b) => self.gather_back(b.as_mut_slice(), order),
            Fixed::F32(b) => self.gather_back(b.as_mut_slice(), order),
            Fixed::I8(b) => self.gather_back(b.as_mut_slice(), order),
            Fixed::I16(b) => self.gather_back(b.as_mut_slice(), order),
            Fixed::I32(b) => self.gather_back(b.as_mut_slice(), order),
            Fixed::I64(b) => self.gather_back(b.as_mut_slice(), order),
            Fixed::U8(b) => self.gather_back(b.as_mut_slice(), order),
            Fixed::U16(b) => self.gather_back(b.as_mut_slice(), order),
            Fixed::U32(b) => self.gather_back(b.as_mut_slice(), order),
            Fixed::U64(b) => self.gather_back(b.as_mut_slice(), order),
            Fixed::Bool(b) => self.gather_back(b.as_mut_slice(), order),
        }
    }
}

/// What reordering a column needs, allocated before anything moves.
pub enum Reordered {
    /// Fixed-width values or codes, reordered in place; the reordered validity bits, if any.
    InPlace(Option<Bitmap>),
    /// A reordered copy (text).
    Copy(Column),
}

impl Column {
    /// Whether this column reorders in place (fixed-width values and category codes); text is
    /// reordered by a copy.
    pub fn permutes_in_place(&self) -> bool {
        !matches!(self.values, Values::Var(_))
    }

    /// The fallible half of a reordering by `order` (a permutation of the rows): a private
    /// copy of anything a snapshot shares, then the reordered validity bits (or, for text,
    /// the reordered copy). Nothing visible changes.
    pub fn prepare_permute(&mut self, order: &[usize]) -> Result<Reordered, super::Problem> {
        let oom = |_| super::Problem::OutOfMemory;
        if !self.permutes_in_place() {
            return self.take(order.iter().copied()).map(Reordered::Copy);
        }
        self.try_unshare_from(0).map_err(oom)?;
        let bits = match &self.validity {
            Some(v) => Some(v.try_take(order.iter().copied()).map_err(oom)?),
            None => None,
        };
        Ok(Reordered::InPlace(bits))
    }

    /// The half that cannot fail: reorders by `order` with what [`Column::prepare_permute`]
    /// made for it (no write below allocates: the column is unshared).
    pub fn finish_permute(&mut self, prepared: Reordered, order: &[usize], scratch: &mut Scratch) {
        match prepared {
            Reordered::Copy(column) => *self = column,
            Reordered::InPlace(bits) => {
                match &mut self.values {
                    Values::Fixed(f) => scratch.permute(f, order),
                    Values::Cat(c) => scratch.permute(c.codes_mut(), order),
                    Values::Var(_) => unreachable!("text is reordered by a copy"),
                }
                self.validity = bits;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::{DType, Datum, Scalar};
    use proptest::prelude::*;

    fn shuffled(n: usize, seed: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        let mut s = seed | 1;
        for i in (1..n).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        order
    }

    proptest! {
        #[test]
        fn reorders_like_a_gather(
            values in proptest::collection::vec(proptest::option::of(any::<i16>()), 0..200),
            seed in any::<u64>(),
        ) {
            let order = shuffled(values.len(), seed);
            prop_assert_eq!(is_permutation(&order), Some(true));
            let mut c = Column::new(DType::I16, true, None);
            for v in &values {
                c.push(v.map_or(Datum::Null, |v| Datum::Num(Scalar::I16(v)))).unwrap();
            }
            let snapshot = c.snapshot().unwrap(); // shared storage: copied, never written
            let prepared = c.prepare_permute(&order).unwrap();
            c.finish_permute(prepared, &order, &mut Scratch::try_new(values.len()).unwrap());
            for (k, &src) in order.iter().enumerate() {
                let want = values[src].map_or(Datum::Null, |v| Datum::Num(Scalar::I16(v)));
                prop_assert_eq!(c.get(k), Some(want));
            }
            prop_assert_eq!(snapshot.len(), values.len());
        }
    }

    #[test]
    fn repeats_and_strays_are_not_permutations() {
        assert_eq!(is_permutation(&[0, 0, 2]), Some(false));
        assert_eq!(is_permutation(&[0, 1, 3]), Some(false));
        assert_eq!(is_permutation(&[2, 0, 1]), Some(true));
    }
}
