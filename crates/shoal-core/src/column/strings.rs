//! Variable-width values (UTF-8 text or bytes) in Arrow's layout: `offsets[i]..offsets[i + 1]`
//! is row `i`'s slice of one `data` buffer. 4 bytes of offset per row plus the bytes themselves.
//!
//! Appends are amortised O(1). A write of the same length, or to the last row, happens in place.
//! Any other write cannot move the rows after it without an O(n) copy, so the new value goes to a
//! side region (`patches`: row → slice) and the old bytes become dead. Reads check the side region
//! only when it exists. Dead bytes are reclaimed by [`Strings::compact`], which runs by itself once
//! they pass half the live data (and 64 KiB), and before any export, so exported buffers are
//! always plain Arrow arrays.

use std::collections::HashMap;

use super::Refused;
use crate::buffer::{AllocError, Buffer, Snapshot};
use crate::dtype::Problem;

/// Arrow's `utf8`/`binary` arrays have signed 32-bit offsets.
/// The most bytes one Arrow array with i32 offsets can address (1 MiB in unit tests, so the
/// limit can be reached).
const MAX_DATA: usize = if cfg!(test) {
    1 << 20
} else {
    i32::MAX as usize
};
/// Dead bytes below this are never worth a compaction.
const MIN_DEAD_TO_COMPACT: usize = 64 * 1024;

/// Text or bytes in Arrow's layout (i32 offsets and one data buffer), with a side region for
/// overwrites that change a row's length.
#[derive(Clone, Debug)]
pub struct Strings {
    offsets: Buffer<i32>,
    data: Buffer<u8>,
    patches: Option<Box<Patches>>,
}

#[derive(Clone, Debug, Default)]
struct Patches {
    /// Row → (start, length) in `data`.
    rows: HashMap<usize, (usize, usize)>,
    data: Vec<u8>,
    /// Bytes no row reads any more, in either region.
    dead: usize,
}

impl Default for Strings {
    fn default() -> Self {
        Strings::new()
    }
}

impl Strings {
    /// An empty column.
    pub fn new() -> Strings {
        let mut offsets = Buffer::new();
        offsets.push(0);
        Strings {
            offsets,
            data: Buffer::new(),
            patches: None,
        }
    }

    /// Builds from values; an error if they pass the 2 GiB limit or the allocator refuses.
    pub fn collect<'a>(
        values: impl ExactSizeIterator<Item = &'a [u8]>,
    ) -> Result<Strings, Problem> {
        let mut s = Strings::new();
        s.try_reserve_rows(values.len())
            .map_err(|_| Problem::OutOfMemory)?;
        for v in values {
            s.push(v)?;
        }
        Ok(s)
    }

    /// Rows whose offsets and data are given as buffers (adopted foreign memory, see
    /// [`Buffer::adopt`]): the offsets must start at 0, never decrease and end at the data's
    /// length, and for text every row must be UTF-8 on its own.
    pub fn adopt(offsets: Buffer<i32>, data: Buffer<u8>, text: bool) -> Result<Strings, Refused> {
        let o = offsets.as_slice();
        let fits = o.first() == Some(&0)
            && o.windows(2).all(|w| w[0] <= w[1])
            && o.last().is_some_and(|&last| last as usize == data.len());
        if !fits {
            return Err(Refused::Layout(
                "offsets are decreasing, negative or past the data",
            ));
        }
        if text {
            check_rows_utf8(o, data.as_slice(), 0)?;
        }
        Ok(Strings {
            offsets,
            data,
            patches: None,
        })
    }

    /// Rows from buffers known to be valid, unchecked (see [`Strings::adopt`] for the
    /// checked way).
    ///
    /// # Safety
    /// The offsets must start at 0, never decrease and end at `data`'s length, and for a text
    /// column every row must be UTF-8 on its own: other code reads rows without checking.
    pub(crate) unsafe fn from_valid_parts(offsets: Buffer<i32>, data: Buffer<u8>) -> Strings {
        debug_assert!(offsets.as_slice().first() == Some(&0));
        debug_assert!(offsets
            .as_slice()
            .last()
            .is_some_and(|&l| l as usize == data.len()));
        Strings {
            offsets,
            data,
            patches: None,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of data held (values, offsets, codes, dictionary; not spare capacity).
    pub fn nbytes(&self) -> usize {
        let patches = self.patches.as_ref().map_or(0, |p| {
            p.data.capacity() + p.rows.capacity() * std::mem::size_of::<(usize, (usize, usize))>()
        });
        self.offsets.nbytes() + self.data.nbytes() + patches
    }

    /// Bytes of [`Strings::nbytes`] that are adopted foreign memory ([`Buffer::adopt`]).
    pub fn foreign_bytes(&self) -> usize {
        let foreign = |adopted: bool, n: usize| if adopted { n } else { 0 };
        foreign(self.offsets.is_adopted(), self.offsets.nbytes())
            + foreign(self.data.is_adopted(), self.data.nbytes())
    }

    /// Bytes written and no longer read (reclaimed by [`Strings::compact`]).
    pub fn dead_bytes(&self) -> usize {
        self.patches.as_ref().map_or(0, |p| p.dead)
    }

    /// Bytes of the rows' values as they read now: what a compaction (or an export) holds.
    /// Every write keeps it within `MAX_DATA`, so compaction always fits Arrow's offsets.
    fn live_bytes(&self) -> usize {
        self.patches
            .as_ref()
            .map_or(self.data.len(), |p| self.data.len() + p.data.len() - p.dead)
    }

    /// Makes room for `rows` more rows holding `bytes` more bytes.
    pub fn reserve(&mut self, rows: usize, bytes: usize) {
        self.offsets.reserve(rows);
        self.data.reserve(bytes);
    }

    /// Makes writes copy-free: copies the offsets and data now (fallibly) if a snapshot can
    /// see them.
    pub fn try_unshare(&mut self) -> Result<(), AllocError> {
        self.offsets.try_unshare_from(0)?;
        self.data.try_unshare_from(0)
    }

    /// Room for `rows` more rows' offsets; a refused allocation is an error.
    pub fn try_reserve_rows(&mut self, rows: usize) -> Result<(), AllocError> {
        self.offsets.try_reserve(rows)
    }

    /// Identifies the allocation, which snapshots may share: memory accounting counts each
    /// allocation once.
    pub fn allocation_id(&self) -> usize {
        self.data.allocation_id()
    }

    #[inline]
    fn span(&self, i: usize) -> (usize, usize) {
        let o = self.offsets.as_slice();
        (o[i] as usize, o[i + 1] as usize)
    }

    /// Where row `i`'s offset is stored (for a cache prefetch hint), if it exists.
    pub(crate) fn address(&self, i: usize) -> Option<*const u8> {
        self.offsets
            .as_slice()
            .get(i)
            .map(|v| (v as *const i32).cast())
    }

    /// The bytes of row `i`, or `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len() {
            return None;
        }
        if let Some(p) = &self.patches {
            if let Some(&(start, len)) = p.rows.get(&i) {
                return Some(&p.data[start..start + len]);
            }
        }
        let (a, b) = self.span(i);
        Some(&self.data.as_slice()[a..b])
    }

    /// Appends a row; refuses one that would take the data past 2 GiB (Arrow's 32-bit offsets).
    #[inline]
    pub fn push(&mut self, value: &[u8]) -> Result<(), Problem> {
        let end = self.data.len() + value.len();
        if end > MAX_DATA || (self.patches.is_some() && self.live_bytes() + value.len() > MAX_DATA)
        {
            return Err(Problem::TooMuchData);
        }
        // Both reservations before either push: a refused allocation leaves the column as it was.
        self.data
            .try_reserve(value.len())
            .and_then(|()| self.offsets.try_reserve(1))
            .map_err(|_| Problem::OutOfMemory)?;
        self.data.extend_from_slice(value);
        self.offsets.push(end as i32);
        Ok(())
    }

    /// Overwrites row `i` (which must exist).
    pub fn set(&mut self, i: usize, value: &[u8]) -> Result<(), Problem> {
        let patched = self.patches.as_ref().and_then(|p| p.rows.get(&i).copied());
        let (a, b) = self.span(i);
        let old = patched.map_or(b - a, |(_, len)| len);
        // The rows as they will read must fit one Arrow array, wherever the bytes go (a write to
        // a row that is not the last goes to the side region, which compaction folds back in).
        if self.live_bytes() - old + value.len() > MAX_DATA {
            return Err(Problem::TooMuchData);
        }
        if patched.is_none() && b - a == value.len() {
            self.data.as_mut_slice()[a..b].copy_from_slice(value);
            return Ok(());
        }
        if patched.is_none() && i + 1 == self.len() {
            if a + value.len() > MAX_DATA {
                return Err(Problem::TooMuchData);
            }
            // Room before the old bytes go: a refused allocation changes nothing.
            let extra = (a + value.len()).saturating_sub(self.data.len());
            self.data
                .try_reserve(extra)
                .map_err(|_| Problem::OutOfMemory)?;
            self.data.truncate(a);
            self.data.extend_from_slice(value);
            self.offsets.set(i + 1, (a + value.len()) as i32);
            return Ok(());
        }
        let p = self.patches.get_or_insert_with(Box::default);
        if p.data.len() + value.len() > MAX_DATA {
            return Err(Problem::TooMuchData);
        }
        p.data
            .try_reserve(value.len())
            .ok()
            .and_then(|()| p.rows.try_reserve(1).ok())
            .ok_or(Problem::OutOfMemory)?;
        p.rows.insert(i, (p.data.len(), value.len()));
        p.data.extend_from_slice(value);
        p.dead += old;
        let live = (self.data.len() + p.data.len()).saturating_sub(p.dead);
        if p.dead > MIN_DEAD_TO_COMPACT && p.dead > live / 2 {
            // The write is done; a compaction the allocator refuses waits for a later one.
            let _ = self.compact();
        }
        Ok(())
    }

    /// Rewrites the values into one contiguous region, dropping dead bytes. Returns whether
    /// there was anything to reclaim.
    /// A refused allocation is an error, the column unchanged (compaction never grows the
    /// data past the limit: every write keeps the live bytes within it).
    pub fn compact(&mut self) -> Result<bool, Problem> {
        if self.patches.is_none() {
            return Ok(false);
        }
        *self = self.take(0..self.len())?;
        Ok(true)
    }

    /// A new column holding copies of the given rows, in order (each must be in range; rows
    /// may repeat, so the copy can pass the 2 GiB limit: an error, as a refused allocation).
    pub fn take(
        &self,
        rows: impl ExactSizeIterator<Item = usize> + Clone,
    ) -> Result<Strings, Problem> {
        let mut s = Strings::new();
        s.offsets
            .try_reserve(rows.len())
            .map_err(|_| Problem::OutOfMemory)?;
        // The offsets first, in one pass (a sum past the limit is caught below, before any
        // byte is copied); then the bytes, into room reserved for all of them.
        let mut end = 0usize;
        let ends = rows.clone().map(|i| {
            end = end.saturating_add(self.value_len(i));
            end.min(MAX_DATA) as i32
        });
        s.offsets
            .try_extend(ends)
            .map_err(|_| Problem::OutOfMemory)?;
        if end > MAX_DATA {
            return Err(Problem::TooMuchData);
        }
        s.data.try_reserve(end).map_err(|_| Problem::OutOfMemory)?;
        for i in rows {
            s.data.extend_from_slice(self.get(i).expect("row in range"));
        }
        Ok(s)
    }

    /// The length of row `i`'s value (`i < len`).
    fn value_len(&self, i: usize) -> usize {
        self.get(i).map_or(0, <[u8]>::len)
    }

    /// Inserts before row `i` (O(n)).
    pub fn insert(&mut self, i: usize, value: &[u8]) -> Result<(), Problem> {
        let n = self.len();
        let mut out = Strings::new();
        for k in 0..n {
            if k == i {
                out.push(value)?;
            }
            out.push(self.get(k).expect("row in range"))?;
        }
        if i >= n {
            out.push(value)?;
        }
        *self = out;
        Ok(())
    }

    /// Removes row `i` (O(n) in place; O(1) for the last row). Allocates nothing once
    /// compacted and unshared ([`Strings::compact`], [`Strings::try_unshare`]); otherwise a
    /// refused allocation is an error, the column unchanged.
    pub fn remove(&mut self, i: usize) -> Result<(), Problem> {
        if i + 1 == self.len() {
            self.truncate(i); // `pop()`: nothing moves
            return Ok(());
        }
        // Patched rows would need renumbering; a compacted column has none.
        self.compact()?;
        self.try_unshare().map_err(|_| Problem::OutOfMemory)?;
        let (a, b) = self.span(i);
        let gone = b - a;
        let data = self.data.as_mut_slice();
        data.copy_within(b.., a);
        let end = data.len() - gone;
        self.data.truncate(end);
        self.offsets.remove(i + 1);
        for o in &mut self.offsets.as_mut_slice()[i + 1..] {
            *o -= gone as i32;
        }
        Ok(())
    }

    /// Keeps the first `len` rows; a no-op if there are fewer.
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        let end = self.offsets.as_slice()[len] as usize;
        if let Some(p) = &mut self.patches {
            // A patched row past the cut: its old bytes in `data` (counted dead) go with the
            // truncation, its patch bytes stay behind, dead now.
            let offsets = self.offsets.as_slice();
            p.rows.retain(|&row, &mut (_, patch_len)| {
                if row < len {
                    return true;
                }
                let span = (offsets[row + 1] - offsets[row]) as usize;
                p.dead = p.dead - span + patch_len;
                false
            });
            if p.rows.is_empty() {
                self.patches = None;
            }
        }
        self.offsets.truncate(len + 1);
        self.data.truncate(end);
    }

    /// Removes every row.
    pub fn clear(&mut self) {
        *self = Strings::new();
    }

    /// Immutable views of the offsets (`len + 1` of them) and the data, compacting first.
    pub fn snapshot(&mut self) -> Result<(Snapshot<i32>, Snapshot<u8>), Problem> {
        self.compact()?;
        Ok((self.offsets.snapshot(), self.data.snapshot()))
    }

    /// A column from Arrow offsets and data (checked as [`Strings::extend_from_arrow`] does).
    pub fn collect_arrow<O: Copy + Into<i64>>(
        offsets: &[O],
        data: &[u8],
        text: bool,
    ) -> Result<Strings, Refused> {
        let mut s = Strings::new();
        s.extend_from_arrow(offsets, data, text)?;
        Ok(s)
    }

    /// Appends rows given as Arrow offsets (i32 or i64) and data: `offsets` has one more entry
    /// than rows and must be non-negative, non-decreasing and within `data`; for text, every
    /// row must be UTF-8 on its own. The bytes are checked once and copied in one piece; on
    /// error nothing is appended.
    pub fn extend_from_arrow<O: Copy + Into<i64>>(
        &mut self,
        offsets: &[O],
        data: &[u8],
        text: bool,
    ) -> Result<(), Refused> {
        let (Some(&first), Some(&last)) = (offsets.first(), offsets.last()) else {
            return Err(Refused::Layout("no offsets"));
        };
        let (first, last) = (first.into(), last.into());
        let monotone = offsets.windows(2).all(|w| w[0].into() <= w[1].into());
        if first < 0 || !monotone || last as u64 > data.len() as u64 {
            return Err(Refused::Layout(
                "offsets are decreasing, negative or past the data",
            ));
        }
        let (first, last) = (first as usize, last as usize);
        let bytes = &data[first..last];
        if text {
            check_rows_utf8(offsets, bytes, first)?;
        }
        if self.live_bytes() + bytes.len() > MAX_DATA {
            return Err(Refused::Batch(Problem::TooMuchData));
        }
        self.data
            .try_reserve(bytes.len())
            .and_then(|()| self.offsets.try_reserve(offsets.len() - 1))
            .map_err(Refused::oom)?;
        // In range: the data stays within `MAX_DATA` (checked above), which fits an i32.
        let base = self.data.len() as i64 - first as i64;
        self.data.extend_from_slice(bytes);
        let rebased = offsets[1..].iter().map(|&o| (o.into() + base) as i32);
        self.offsets.try_extend(rebased).map_err(Refused::oom)
    }
}

/// Checks that every row of (checked) offsets is UTF-8 on its own: the rows' bytes are UTF-8
/// as a whole, and no offset falls inside a character (a boundary there would split one
/// character into two invalid rows, which an Arrow consumer trusting `utf8` then reads).
/// `bytes` are the data from offset `first` on.
fn check_rows_utf8<O: Copy + Into<i64>>(
    offsets: &[O],
    bytes: &[u8],
    first: usize,
) -> Result<(), Refused> {
    let boundary = |o: O| {
        let i = o.into() as usize - first;
        // Not a UTF-8 continuation byte (0b10xx_xxxx), or the end.
        bytes.get(i).is_none_or(|&b| (b as i8) >= -0x40)
    };
    if std::str::from_utf8(bytes).is_ok() && offsets.iter().all(|&o| boundary(o)) {
        return Ok(());
    }
    let row = offsets
        .windows(2)
        .position(|w| {
            let span = w[0].into() as usize - first..w[1].into() as usize - first;
            std::str::from_utf8(&bytes[span]).is_err()
        })
        .unwrap_or(0);
    Err(Refused::NotUtf8 { row })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..20)
    }

    proptest! {
        #[test]
        fn behaves_like_a_vec_of_byte_strings(
            start in proptest::collection::vec(value(), 0..20),
            ops in proptest::collection::vec((0u8..6, any::<usize>(), value()), 0..60),
        ) {
            let mut model: Vec<Vec<u8>> = start.clone();
            let mut s = Strings::collect(start.iter().map(Vec::as_slice)).unwrap();
            let mut snap = s.snapshot().unwrap();
            let mut snap_model = model.clone();
            for (op, at, v) in ops {
                match op {
                    0 => { model.push(v.clone()); s.push(&v).unwrap(); }
                    1 | 2 if !model.is_empty() => {
                        let i = at % model.len(); model[i] = v.clone(); s.set(i, &v).unwrap();
                    }
                    3 => { let i = at % (model.len() + 1); model.insert(i, v.clone()); s.insert(i, &v).unwrap(); }
                    4 if !model.is_empty() => {
                        if at % 2 == 0 { let i = at % model.len(); model.remove(i); s.remove(i).unwrap(); }
                        else { let n = at % model.len(); model.truncate(n); s.truncate(n); }
                    }
                    5 => { snap = s.snapshot().unwrap(); snap_model = model.clone(); }
                    _ => {}
                }
                prop_assert_eq!(s.len(), model.len());
                prop_assert_eq!(s.live_bytes(), model.iter().map(Vec::len).sum::<usize>());
                for (i, m) in model.iter().enumerate() {
                    prop_assert_eq!(s.get(i).unwrap(), m.as_slice());
                }
                // A snapshot reads what the column held when it was taken, whatever came after.
                let (offs, data) = &snap;
                for (i, m) in snap_model.iter().enumerate() {
                    let (a, b) = (offs.as_slice()[i] as usize, offs.as_slice()[i + 1] as usize);
                    prop_assert_eq!(&data.as_slice()[a..b], m.as_slice());
                }
            }
        }
    }

    #[test]
    fn overwrites_are_reclaimed_past_the_threshold() {
        let mut s = Strings::new();
        for _ in 0..10_000 {
            s.push(b"0123456789ab").unwrap();
        }
        let before = s.nbytes();
        for round in 0..20 {
            for i in 0..10_000 {
                let v = if round % 2 == 0 {
                    &b"a much longer value"[..]
                } else {
                    b"short"
                };
                s.set(i, v).unwrap();
            }
        }
        assert!(
            s.dead_bytes() <= 64 * 1024 + 10_000 * 19,
            "dead {}",
            s.dead_bytes()
        );
        assert!(s.nbytes() < 8 * before, "{} vs {before}", s.nbytes());
        assert!(s.compact().unwrap() || s.dead_bytes() == 0);
        assert_eq!(s.dead_bytes(), 0);
        assert_eq!(s.get(9_999), Some(&b"short"[..]));
    }

    #[test]
    fn rejects_invalid_arrow_offsets() {
        let mut s = Strings::new();
        assert!(s.extend_from_arrow(&[0, 5, 3], b"hello", false).is_err());
        assert!(s.extend_from_arrow(&[0, 9], b"hello", false).is_err());
        assert!(s.extend_from_arrow(&[-1, 2], b"hello", false).is_err());
        assert!(s.extend_from_arrow::<i32>(&[], b"hello", false).is_err());
        assert!(s.is_empty());
        assert!(s.extend_from_arrow(&[1i64, 3, 5], b"hello", true).is_ok());
        assert_eq!(s.get(0), Some(&b"el"[..]));
        assert_eq!(s.get(1), Some(&b"lo"[..]));
        // "é" split into two rows is refused even though the whole is UTF-8, naming the row.
        let e = "aé".as_bytes();
        let split = s.extend_from_arrow(&[0, 1, 2, 3], e, true);
        assert_eq!(split, Err(Refused::NotUtf8 { row: 1 }));
        assert_eq!(s.len(), 2);
        assert!(s.extend_from_arrow(&[0, 1, 3], e, true).is_ok());
        assert_eq!(s.get(3), Some("é".as_bytes()));
    }

    #[test]
    fn overwrites_never_take_the_rows_past_the_limit() {
        // ../shared/repros/reliability/09: an overwrite of a row that is not the last went to
        // the side region and took the live text past the limit; every compaction then panicked.
        let mut s = Strings::new();
        s.push(b"a").unwrap();
        s.push(&vec![b'b'; MAX_DATA - 100]).unwrap();
        assert_eq!(s.set(0, &[b'c'; 1000]), Err(Problem::TooMuchData));
        assert_eq!(s.get(0), Some(&b"a"[..]));
        s.set(0, &[b'c'; 50]).unwrap();
        assert_eq!(s.push(&[b'd'; 60]), Err(Problem::TooMuchData));
        assert!(s.compact().unwrap());
        assert_eq!(s.live_bytes(), MAX_DATA - 100 + 50);
        assert_eq!(s.get(0), Some(&[b'c'; 50][..]));
    }
}
