//! Dictionary-encoded text: each row holds a code into a dictionary of distinct values. Codes
//! start as `u8` and widen to `u16` and `u32` as the dictionary grows past 256 and 65,536
//! values. A closed category (an `Enum` or `Literal` field) has a fixed dictionary and refuses
//! other values.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::fixed::{Fixed, FixedSnapshot};
use super::strings::Strings;
use super::Refused;
use crate::buffer::{AllocError, Snapshot};
use crate::dtype::{DType, Problem, Scalar};

/// A category column: integer codes (u8, widened to u16/u32 as the dictionary grows) into an
/// append-only dictionary of distinct texts, open or closed.
#[derive(Clone, Debug)]
pub struct Categories {
    codes: Fixed,
    values: Strings,
    lookup: HashMap<Box<[u8]>, u32, BuildHasherDefault<TextHasher>>,
    closed: bool,
}

/// A fast hash for short text keys (a multiply-rotate over 8-byte words, as rustc's FxHash,
/// with a final mix).
/// Not resistant to chosen collisions; a dictionary only ever holds a column's distinct values.
#[derive(Default)]
pub struct TextHasher(u64);

impl Hasher for TextHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0.rotate_left(5) ^ n as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the low bits (which pick the bucket) depending only on the low
        // input bits; fold the high bits down (MurmurHash3's finaliser).
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^ (h >> 33)
    }
}

fn code_type(values: usize) -> DType {
    if values <= 1 << 8 {
        DType::U8
    } else if values <= 1 << 16 {
        DType::U16
    } else {
        DType::U32
    }
}

impl Categories {
    /// An open category (any value), or a closed one if `closed` lists its values.
    pub fn new(closed: Option<&[String]>) -> Categories {
        let mut c = Categories {
            codes: Fixed::new(DType::U8),
            values: Strings::new(),
            lookup: HashMap::default(),
            closed: false,
        };
        if let Some(values) = closed {
            for v in values {
                c.code_of(v.as_bytes()).expect("a few names fit");
            }
            c.codes = Fixed::new(code_type(values.len()));
            c.closed = true;
        }
        c
    }

    /// The codes.
    pub(super) fn codes(&self) -> &Fixed {
        &self.codes
    }

    /// The codes, for reordering them in place (any order of valid codes stays valid).
    pub(super) fn codes_mut(&mut self) -> &mut Fixed {
        &mut self.codes
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of distinct values in the dictionary.
    pub fn dictionary_len(&self) -> usize {
        self.values.len()
    }

    /// Bytes of data held (values, offsets, codes, dictionary; not spare capacity).
    pub fn nbytes(&self) -> usize {
        let entry = std::mem::size_of::<(Box<[u8]>, u32)>() + 8;
        let keys: usize = self.lookup.keys().map(|k| k.len()).sum();
        self.codes.nbytes() + self.values.nbytes() + self.lookup.capacity() * entry + keys
    }

    /// Bytes of [`Categories::nbytes`] that are adopted foreign memory (the codes, when
    /// adopted; the dictionary is always the column's own).
    pub fn foreign_bytes(&self) -> usize {
        self.codes.foreign_bytes()
    }

    /// Makes room for `additional` more rows.
    pub fn reserve(&mut self, additional: usize) {
        self.codes.reserve(additional);
    }

    /// See [`Fixed::try_unshare_from`] (the codes).
    pub fn try_unshare_from(&mut self, start: usize) -> Result<(), AllocError> {
        self.codes.try_unshare_from(start)
    }

    /// See [`Fixed::try_reserve`].
    #[inline]
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), AllocError> {
        self.codes.try_reserve(additional)
    }

    /// Identifies the allocation, which snapshots may share: memory accounting counts each
    /// allocation once.
    pub fn allocation_id(&self) -> usize {
        self.codes.allocation_id()
    }

    /// The storage type of the codes now (u8, u16 or u32).
    pub fn code_type(&self) -> DType {
        self.codes.dtype()
    }

    /// The code of row `i`.
    #[inline]
    pub fn code(&self, i: usize) -> Option<u32> {
        match &self.codes {
            Fixed::U8(b) => b.get(i).map(u32::from),
            Fixed::U16(b) => b.get(i).map(u32::from),
            Fixed::U32(b) => b.get(i),
            _ => None, // codes are unsigned: never reached
        }
    }

    /// The text of row `i`, or `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        self.code(i)
            .map(|c| self.values.get(c as usize).expect("code in range"))
    }

    /// The code for `value`, adding it to an open dictionary (and widening the codes) if new.
    #[inline]
    pub fn code_of(&mut self, value: &[u8]) -> Result<u32, Problem> {
        if let Some(&c) = self.lookup.get(value) {
            return Ok(c);
        }
        self.add_value(value)
    }

    #[cold]
    fn add_value(&mut self, value: &[u8]) -> Result<u32, Problem> {
        if self.closed {
            return Err(Problem::UnknownCategory);
        }
        let code = u32::try_from(self.values.len()).map_err(|_| Problem::TooMuchData)?;
        self.values.push(value)?;
        self.lookup.insert(value.into(), code);
        let wanted = code_type(self.values.len());
        if wanted.itemsize() > self.codes.dtype().itemsize() {
            let n = self.codes.len();
            let widened = (0..n).map(|i| self.code(i).expect("row in range"));
            let mut codes = Fixed::new(wanted);
            codes.reserve(n);
            for c in widened {
                codes.push(code_scalar(wanted, c));
            }
            self.codes = codes;
        }
        Ok(code)
    }

    /// The code of `value` if the dictionary holds it (nothing added).
    pub fn code_if_known(&self, value: &[u8]) -> Option<u32> {
        self.lookup.get(value).copied()
    }

    /// Each code's rank among the dictionary's texts in byte order (UTF-8 keeps code point
    /// order): what sorting by a category compares.
    pub fn ranks(&self) -> Result<Vec<u32>, Problem> {
        let n = self.values.len();
        let mut by_text: Vec<usize> = Vec::new();
        by_text
            .try_reserve_exact(n)
            .map_err(|_| Problem::OutOfMemory)?;
        by_text.extend(0..n);
        by_text.sort_by_key(|&c| self.values.get(c));
        let mut ranks = vec![0u32; n];
        for (rank, &code) in by_text.iter().enumerate() {
            ranks[code] = rank as u32;
        }
        Ok(ranks)
    }

    /// Appends a row by code (`code` must be in the dictionary).
    #[inline]
    pub fn push_code(&mut self, code: u32) {
        self.codes.push(code_scalar(self.codes.dtype(), code));
    }

    /// Appends a row, adding `value` to an open dictionary; a closed one refuses values outside it.
    #[inline]
    pub fn push(&mut self, value: &[u8]) -> Result<(), Problem> {
        let code = self.code_of(value)?;
        self.push_code(code);
        Ok(())
    }

    /// Overwrites row `i` (as `push` for values outside the dictionary).
    pub fn set(&mut self, i: usize, value: &[u8]) -> Result<(), Problem> {
        let code = self.code_of(value)?;
        self.codes.set(i, code_scalar(self.codes.dtype(), code));
        Ok(())
    }

    /// Appends rows given as indices into a producer's dictionary `words` (a null word may be
    /// referenced only by null rows; `valid(row)` says which rows are not null, and those get
    /// code 0). Each word is looked up once, when a row first uses it, and the codes are
    /// appended in one piece: on error no row is appended (words met before it may have been
    /// added to an open dictionary).
    pub fn extend_indexed(
        &mut self,
        words: &[Option<&[u8]>],
        indices: impl ExactSizeIterator<Item = i64>,
        valid: impl Fn(usize) -> bool,
    ) -> Result<(), Refused> {
        const UNSEEN: u32 = u32::MAX;
        let mut translated = try_filled(UNSEEN, words.len())?;
        let mut codes: Vec<u32> = Vec::new();
        codes.try_reserve(indices.len()).map_err(Refused::oom)?;
        for (row, index) in indices.enumerate() {
            if !valid(row) {
                codes.push(0);
                continue;
            }
            let k = usize::try_from(index)
                .ok()
                .filter(|&k| k < words.len())
                .ok_or(Refused::Layout("a dictionary index is out of range"))?;
            if translated[k] == UNSEEN {
                let word = words[k].ok_or(Refused::Layout("a null in a dictionary"))?;
                translated[k] = self
                    .code_of(word)
                    .map_err(|problem| Refused::Value { row, problem })?;
            }
            codes.push(translated[k]);
        }
        match &mut self.codes {
            Fixed::U8(b) => b.try_extend(codes.iter().map(|&c| c as u8)),
            Fixed::U16(b) => b.try_extend(codes.iter().map(|&c| c as u16)),
            Fixed::U32(b) => b.try_extend(codes.into_iter()),
            _ => unreachable!("codes are unsigned"),
        }
        .map_err(Refused::oom)
    }

    /// Takes `codes` (for instance adopted foreign memory) as the rows of this empty category,
    /// whose codes index `words` (a pickled dictionary): only where that needs no translation —
    /// `words` in order are this category's own dictionary (an open one takes them, a closed
    /// one must already list them so) and `codes` have its code type, each within `words`.
    /// `false` otherwise: the caller translates instead (an open dictionary may have taken
    /// some of the words).
    pub fn adopt_codes(&mut self, words: &Strings, codes: Fixed) -> bool {
        let in_order = (0..words.len())
            .all(|i| words.get(i).and_then(|w| self.code_of(w).ok()) == Some(i as u32));
        if !self.is_empty() || !in_order || self.values.len() != words.len() {
            return false;
        }
        let n = words.len();
        let in_range = match &codes {
            Fixed::U8(b) if self.codes.dtype() == DType::U8 => {
                b.as_slice().iter().all(|&c| usize::from(c) < n)
            }
            Fixed::U16(b) if self.codes.dtype() == DType::U16 => {
                b.as_slice().iter().all(|&c| usize::from(c) < n)
            }
            Fixed::U32(b) if self.codes.dtype() == DType::U32 => {
                b.as_slice().iter().all(|&c| (c as usize) < n)
            }
            _ => false,
        };
        if in_range {
            self.codes = codes;
        }
        in_range
    }

    /// Inserts a row at `i` (as `push` for values outside the dictionary).
    pub fn insert(&mut self, i: usize, value: &[u8]) -> Result<(), Problem> {
        let code = self.code_of(value)?;
        self.codes.insert(i, code_scalar(self.codes.dtype(), code));
        Ok(())
    }

    /// Inserts a row by code at `i` (`code` must be in the dictionary).
    pub fn insert_code(&mut self, i: usize, code: u32) {
        self.codes.insert(i, code_scalar(self.codes.dtype(), code));
    }

    /// Removes row `i` (`i < len`), moving the later rows down.
    pub fn remove(&mut self, i: usize) {
        self.codes.remove(i);
    }

    /// Keeps the first `len` rows; a no-op if there are fewer.
    pub fn truncate(&mut self, len: usize) {
        self.codes.truncate(len);
    }

    /// Removes every row; the dictionary stays (codes already handed out keep their meaning).
    pub fn clear(&mut self) {
        self.codes.clear();
    }

    /// Same dictionary, copies of the given rows' codes; a refused allocation is an error.
    pub fn take(&self, rows: impl ExactSizeIterator<Item = usize>) -> Result<Categories, Problem> {
        let codes = self.codes.take(rows).map_err(|_| Problem::OutOfMemory)?;
        let values = self.values.take(0..self.values.len())?;
        let mut lookup = HashMap::default();
        lookup
            .try_reserve(self.lookup.len())
            .map_err(|_| Problem::OutOfMemory)?;
        lookup.extend(self.lookup.iter().map(|(k, &v)| (k.clone(), v)));
        Ok(Categories {
            codes,
            values,
            lookup,
            closed: self.closed,
        })
    }

    /// Views of the codes and of the dictionary's offsets and data.
    pub fn snapshot(&mut self) -> Result<(FixedSnapshot, Snapshot<i32>, Snapshot<u8>), Problem> {
        let (offsets, data) = self.values.snapshot()?;
        Ok((self.codes.snapshot(), offsets, data))
    }
}

/// `n` copies of `value`; a refused allocation is an error.
fn try_filled(value: u32, n: usize) -> Result<Vec<u32>, Refused> {
    let mut v = Vec::new();
    v.try_reserve(n).map_err(Refused::oom)?;
    v.resize(n, value);
    Ok(v)
}

fn code_scalar(dtype: DType, code: u32) -> Scalar {
    // `code_of` widens the codes before handing out a code that needs it.
    match dtype {
        DType::U8 => Scalar::U8(code as u8),
        DType::U16 => Scalar::U16(code as u16),
        _ => Scalar::U32(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_widen_as_the_dictionary_grows() {
        let mut c = Categories::new(None);
        for i in 0..70_000u32 {
            c.push(i.to_string().as_bytes()).unwrap();
            c.push(b"0").unwrap();
        }
        assert_eq!(c.codes.dtype(), DType::U32);
        assert_eq!(c.get(0), Some(&b"0"[..]));
        assert_eq!(c.get(2 * 300), Some(&b"300"[..]));
        assert_eq!(c.get(2 * 69_999), Some(&b"69999"[..]));
        assert_eq!(c.dictionary_len(), 70_000);
    }

    #[test]
    fn closed_categories_refuse_other_values() {
        let names = ["red".to_owned(), "green".to_owned()];
        let mut c = Categories::new(Some(&names));
        c.push(b"green").unwrap();
        assert_eq!(c.push(b"blue"), Err(Problem::UnknownCategory));
        assert_eq!(c.len(), 1);
        assert_eq!(c.code(0), Some(1));
    }
}
