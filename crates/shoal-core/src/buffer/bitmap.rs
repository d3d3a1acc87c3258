//! A validity bitmap in Arrow's layout: bit `i % 8` of byte `i / 8` is 1 when row `i` holds a
//! value and 0 when it is null. Kept in a copy-on-write [`Buffer`] so Arrow can borrow it.

use super::AllocError;
use crate::buffer::{Buffer, Snapshot};

/// Arrow validity bits (1 = valid), least significant bit first, in a copy-on-write buffer.
#[derive(Clone, Debug, Default)]
pub struct Bitmap {
    bytes: Buffer<u8>,
    len: usize,
}

impl Bitmap {
    /// `len` set bits.
    pub fn all_set(len: usize) -> Bitmap {
        Bitmap::try_all_set(len).unwrap_or_else(|_| {
            std::alloc::handle_alloc_error(
                std::alloc::Layout::array::<u8>(len.div_ceil(8)).expect("a bitmap's size fits"),
            )
        })
    }

    /// `len` set bits, with room for one more; a refused allocation is an error.
    pub fn try_all_set(len: usize) -> Result<Bitmap, AllocError> {
        let mut b = Bitmap::default();
        b.bytes.try_reserve(len / 8 + 1)?;
        for _ in 0..len / 8 {
            b.bytes.push(0xff);
        }
        b.len = len / 8 * 8;
        for _ in b.len..len {
            b.push(true);
        }
        Ok(b)
    }

    /// `len` bits read from Arrow-layout `bits` starting at bit `offset`.
    pub fn from_bits(bits: &[u8], offset: usize, len: usize) -> Bitmap {
        let mut b = Bitmap::default();
        b.bytes.reserve(len.div_ceil(8));
        for i in offset..offset + len {
            b.push(bits[i / 8] >> (i % 8) & 1 == 1);
        }
        b
    }

    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of packed bits.
    pub fn nbytes(&self) -> usize {
        self.bytes.nbytes()
    }

    /// Bit `i` (`i < len`).
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        debug_assert!(i < self.len);
        self.bytes.as_slice()[i / 8] >> (i % 8) & 1 == 1
    }

    /// Room for one more bit; a refused allocation is an error, the bitmap unchanged.
    pub fn try_reserve_one(&mut self) -> Result<(), AllocError> {
        if self.len % 8 == 0 {
            self.bytes.try_reserve(1)
        } else {
            Ok(())
        }
    }

    /// Makes writes copy-free: copies now (fallibly) if a snapshot can see the bits.
    pub fn try_unshare(&mut self) -> Result<(), AllocError> {
        self.bytes.try_unshare_from(0)
    }

    /// Appends one bit.
    pub fn push(&mut self, bit: bool) {
        if self.len % 8 == 0 {
            self.bytes.push(u8::from(bit));
        } else {
            self.write(self.len, bit);
        }
        self.len += 1;
    }

    /// Appends `n` set bits, whole bytes at a time; a refused allocation is an error, the
    /// bitmap unchanged.
    pub fn try_extend_set(&mut self, n: usize) -> Result<(), AllocError> {
        let bytes = (self.len + n).div_ceil(8) - self.bytes.len();
        self.bytes.try_reserve(bytes)?;
        let mut left = n;
        while left > 0 && self.len % 8 != 0 {
            self.push(true);
            left -= 1;
        }
        self.bytes
            .try_extend(std::iter::repeat_n(0xff, left / 8))
            .expect("reserved above");
        self.len += left / 8 * 8;
        for _ in 0..left % 8 {
            self.push(true);
        }
        Ok(())
    }

    /// Sets bit `i` (copying first if a snapshot can see it). Panics if `i >= len`.
    pub fn set(&mut self, i: usize, bit: bool) {
        assert!(i < self.len, "bit {i} of {}", self.len);
        self.write(i, bit);
    }

    fn write(&mut self, i: usize, bit: bool) {
        let byte = self.bytes.as_slice()[i / 8];
        let mask = 1u8 << (i % 8);
        let new = if bit { byte | mask } else { byte & !mask };
        if new != byte {
            self.bytes.set(i / 8, new);
        }
    }

    /// Inserts a bit before `i` (O(n), like inserting into any column). Makes no allocation
    /// after [`Bitmap::try_reserve_one`] and [`Bitmap::try_unshare`].
    pub fn insert(&mut self, i: usize, bit: bool) {
        assert!(i <= self.len, "bit {i} of {}", self.len);
        self.push(false);
        for k in (i + 1..self.len).rev() {
            let moved = self.get(k - 1);
            self.write(k, moved);
        }
        self.write(i, bit);
    }

    /// Removes bit `i` (O(n)), moving the later bits down by one. Makes no allocation after
    /// [`Bitmap::try_unshare`].
    pub fn remove(&mut self, i: usize) {
        assert!(i < self.len, "bit {i} of {}", self.len);
        for k in i..self.len - 1 {
            let moved = self.get(k + 1);
            self.write(k, moved);
        }
        self.truncate(self.len - 1);
    }

    /// The bits at `rows`, in order, in a new bitmap; a refused allocation is an error.
    pub fn try_take(
        &self,
        rows: impl ExactSizeIterator<Item = usize>,
    ) -> Result<Bitmap, AllocError> {
        let mut out = Bitmap::default();
        out.bytes.try_reserve(rows.len().div_ceil(8))?;
        for i in rows {
            out.push(self.get(i));
        }
        Ok(out)
    }

    /// Shortens to `len` bits, clearing the bits past the end of the last byte.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        self.bytes.truncate(len.div_ceil(8));
        if len % 8 != 0 {
            let last = self.bytes.as_slice()[len / 8] & ((1u8 << (len % 8)) - 1);
            self.bytes.set(len / 8, last);
        }
        self.len = len;
    }

    /// Number of unset bits (nulls).
    pub fn count_unset(&self) -> usize {
        let full = self.len / 8;
        let bytes = self.bytes.as_slice();
        let mut set: usize = bytes[..full].iter().map(|b| b.count_ones() as usize).sum();
        for i in full * 8..self.len {
            set += usize::from(self.get(i));
        }
        self.len - set
    }

    /// The packed bytes as an immutable snapshot.
    pub fn snapshot(&mut self) -> Snapshot<u8> {
        self.bytes.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn behaves_like_a_vec_of_bools(
            start in proptest::collection::vec(any::<bool>(), 0..40),
            ops in proptest::collection::vec((0u8..5, any::<usize>(), any::<bool>()), 0..40),
        ) {
            let mut model = start.clone();
            let mut bits = Bitmap::default();
            for &b in &start {
                bits.push(b);
            }
            for (op, at, bit) in ops {
                match op {
                    0 => { model.push(bit); bits.push(bit); }
                    1 if !model.is_empty() => { let i = at % model.len(); model[i] = bit; bits.set(i, bit); }
                    2 => { let i = at % (model.len() + 1); model.insert(i, bit); bits.insert(i, bit); }
                    3 if !model.is_empty() => {
                        if bit { let i = at % model.len(); model.remove(i); bits.remove(i); }
                        else { let n = at % model.len(); model.truncate(n); bits.truncate(n); }
                    }
                    4 => {
                        let n = at % 20;
                        model.extend(std::iter::repeat_n(true, n));
                        bits.try_extend_set(n).unwrap();
                    }
                    _ => {}
                }
                prop_assert_eq!(bits.len(), model.len());
                let got: Vec<bool> = (0..bits.len()).map(|i| bits.get(i)).collect();
                prop_assert_eq!(&got, &model);
                prop_assert_eq!(bits.count_unset(), model.iter().filter(|b| !**b).count());
            }
        }
    }

    #[test]
    fn all_set_and_from_bits() {
        let b = Bitmap::all_set(13);
        assert_eq!(b.count_unset(), 0);
        assert_eq!(b.len(), 13);
        let c = Bitmap::from_bits(&[0b1010_0000, 0b0000_0001], 5, 4);
        assert_eq!(
            (0..4).map(|i| c.get(i)).collect::<Vec<_>>(),
            [true, false, true, true]
        );
    }
}
