//! A hash index: key → rows, in 8 bytes a slot at a load of at most 3/4 (about 12 bytes a key
//! when built), because the keys themselves stay in the columns.
//!
//! Open addressing with linear probing. A slot holds a row number and 32 bits of the key's
//! hash (its *tag*): the tag skips most rows whose key differs without reading the column, and
//! the slot's home position is computed from the tag alone, so growing and deleting never read
//! a key. Rows sharing a key (a non-unique index) are chained through `next`, one `u32` per row,
//! allocated at the first repeat.

use crate::column::{Column, KeyPart};
use crate::dtype::Problem;

const EMPTY: u64 = u64::MAX;
const END: u32 = u32::MAX;

/// What [`HashIndex::first_rows`] gives for a key no row holds.
pub const NOT_FOUND: usize = usize::MAX;

/// The largest row number an index can hold (`u32::MAX` marks an empty slot).
pub const MAX_ROWS: usize = u32::MAX as usize;

/// Why a row could not be indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A unique index already holds the key, at this row.
    Duplicate(usize),
    /// The allocator refused (or the table passed [`MAX_ROWS`]).
    OutOfMemory,
}

impl From<Refusal> for Problem {
    fn from(r: Refusal) -> Problem {
        match r {
            Refusal::Duplicate(row) => Problem::DuplicateKey { row },
            Refusal::OutOfMemory => Problem::OutOfMemory,
        }
    }
}

/// Key → rows for the fields `fields` of a table's columns.
#[derive(Debug)]
pub struct HashIndex {
    fields: Box<[usize]>,
    unique: bool,
    slots: Vec<u64>,
    next: Vec<u32>,
    keys: usize,
}

fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// The slot a tag's probe starts at: the tag scaled to the table's size (no power of two
/// needed, so a table can be sized to its keys).
fn home(tag: u32, cap: usize) -> usize {
    ((u64::from(tag) * cap as u64) >> 32) as usize
}

fn slot(tag: u32, row: usize) -> u64 {
    (u64::from(tag) << 32) | row as u64
}

fn slot_row(s: u64) -> usize {
    (s & u64::from(u32::MAX)) as usize
}

fn slot_tag(s: u64) -> u32 {
    (s >> 32) as u32
}

/// Hashes a key's parts (MurmurHash3's finaliser spreads the mix to the high bits the tag takes).
pub fn hash_parts<'a>(parts: impl Iterator<Item = KeyPart<'a>>) -> u64 {
    let mut h = parts.fold(0, |h, p| p.hash_into(h));
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// Asks the CPU to bring `p`'s cache line in: a hint, without effect on any value.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory, whatever the address.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

fn try_filled<T: Copy>(n: usize, value: T) -> Result<Vec<T>, Refusal> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Refusal::OutOfMemory)?;
    v.resize(n, value);
    Ok(v)
}

impl HashIndex {
    /// Indexes rows `0..len` of `columns` by `fields`; a unique index refuses a repeated key.
    pub fn build(
        fields: &[usize],
        unique: bool,
        columns: &[Column],
        len: usize,
    ) -> Result<HashIndex, (usize, Refusal)> {
        if len > MAX_ROWS {
            return Err((MAX_ROWS, Refusal::OutOfMemory));
        }
        let mut index = HashIndex {
            fields: fields.into(),
            unique,
            slots: try_filled((len + len / 2).max(8), EMPTY).map_err(|e| (0, e))?,
            next: Vec::new(),
            keys: 0,
        };
        for row in 0..len {
            index.insert(columns, row).map_err(|e| (row, e))?;
        }
        Ok(index)
    }

    /// The indexed fields.
    pub fn fields(&self) -> &[usize] {
        &self.fields
    }

    /// Whether a key may have one row only.
    pub fn is_unique(&self) -> bool {
        self.unique
    }

    /// Distinct keys held.
    pub fn keys(&self) -> usize {
        self.keys
    }

    /// Bytes allocated.
    pub fn nbytes(&self) -> usize {
        self.slots.capacity() * 8 + self.next.capacity() * 4
    }

    /// The slots' address.
    pub fn allocation_id(&self) -> usize {
        self.slots.as_ptr() as usize
    }

    fn row_parts<'s, 'c: 's>(
        &'s self,
        columns: &'c [Column],
        row: usize,
    ) -> impl Iterator<Item = KeyPart<'c>> + 's {
        self.fields.iter().map(move |&f| columns[f].key_part(row))
    }

    /// Calls `f` with `row`'s key (on the stack for keys of up to four fields).
    fn with_row_key<R>(
        &self,
        columns: &[Column],
        row: usize,
        f: impl FnOnce(&[KeyPart<'_>]) -> R,
    ) -> R {
        if self.fields.len() <= 4 {
            let mut key = [KeyPart::Null; 4];
            for (k, p) in key.iter_mut().zip(self.row_parts(columns, row)) {
                *k = p;
            }
            f(&key[..self.fields.len()])
        } else {
            f(&self.row_parts(columns, row).collect::<Vec<_>>())
        }
    }

    fn row_equals(&self, columns: &[Column], row: usize, key: &[KeyPart<'_>]) -> bool {
        self.row_parts(columns, row)
            .zip(key)
            .all(|(a, b)| a.equals(b))
    }

    /// The slot holding `key`'s rows (`Ok`), or the empty slot where it would go (`Err`).
    fn probe(&self, columns: &[Column], hash: u64, key: &[KeyPart<'_>]) -> Result<usize, usize> {
        self.probe_by(hash, |row| self.row_equals(columns, row, key))
    }

    /// The slot of the first row of `hash`'s probe run for which `matches(row)` holds (`Ok`), or
    /// the empty slot that ends the run (`Err`).
    #[inline]
    fn probe_by(&self, hash: u64, matches: impl Fn(usize) -> bool) -> Result<usize, usize> {
        let (tag, cap) = (tag_of(hash), self.slots.len());
        let mut pos = home(tag, cap);
        loop {
            let s = self.slots[pos];
            if s == EMPTY {
                return Err(pos);
            }
            if slot_tag(s) == tag && matches(slot_row(s)) {
                return Ok(pos);
            }
            pos = if pos + 1 == cap { 0 } else { pos + 1 };
        }
    }

    fn next_of(&self, row: usize) -> usize {
        match self.next.get(row) {
            Some(&n) if n != END => n as usize,
            _ => usize::MAX,
        }
    }

    /// The rows holding `key` (parts in field order), most recently indexed first.
    pub fn rows_of<'s>(
        &'s self,
        columns: &[Column],
        key: &[KeyPart<'_>],
    ) -> impl Iterator<Item = usize> + 's {
        let first = self
            .probe(columns, hash_parts(key.iter().copied()), key)
            .ok()
            .map_or(usize::MAX, |pos| slot_row(self.slots[pos]));
        std::iter::successors(Some(first).filter(|&r| r != usize::MAX), |&r| {
            Some(self.next_of(r)).filter(|&n| n != usize::MAX)
        })
    }

    /// The row most recently indexed under each key (`keys` holds one part per field for each
    /// key, in order), or [`NOT_FOUND`], appended to `out`.
    pub fn first_rows(&self, columns: &[Column], keys: &[KeyPart<'_>], out: &mut Vec<usize>) {
        let width = self.fields.len();
        let key = |j: usize| &keys[j * width..(j + 1) * width];
        let column = &columns[self.fields[0]];
        self.pipelined(
            keys.len() / width,
            |j| hash_parts(key(j).iter().copied()),
            |row| column.row_address(row),
            |j, row| self.row_equals(columns, row, key(j)),
            |_, row| out.push(row),
        );
    }

    /// As [`HashIndex::first_rows`] for `n` integer keys (`key(j)`) of an index on one int64
    /// field, each result given to `emit(j, row)`: compared with the column's values directly
    /// when it has no nulls.
    pub fn first_rows_i64(
        &self,
        columns: &[Column],
        n: usize,
        key: impl Fn(usize) -> i64,
        mut emit: impl FnMut(usize, usize),
    ) {
        let column = &columns[self.fields[0]];
        let Some(values) = column.i64_values().filter(|_| self.fields.len() == 1) else {
            let parts: Vec<KeyPart<'_>> = (0..n).map(|j| KeyPart::Int(key(j))).collect();
            let mut rows = Vec::with_capacity(n);
            self.first_rows(columns, &parts, &mut rows);
            return rows.into_iter().enumerate().for_each(|(j, r)| emit(j, r));
        };
        self.pipelined(
            n,
            |j| hash_parts(std::iter::once(KeyPart::Int(key(j)))),
            |row| values.get(row).map(|v| std::ptr::from_ref(v).cast()),
            |j, row| values.get(row) == Some(&key(j)),
            emit,
        );
    }

    /// Looks up `n` keys, pipelined so that many are in flight at once: a lookup is two
    /// dependent cache misses (the slot, then the row's key in the column) on a table larger
    /// than the cache, so key `j` is hashed and its slot prefetched while key `j - AHEAD`'s
    /// slot is read and its row's key prefetched, and key `j - 2 * AHEAD` is compared
    /// (`matches(j, row)`; a slot of another key sends it along its probe run).
    fn pipelined(
        &self,
        n: usize,
        hash_of: impl Fn(usize) -> u64,
        address_of: impl Fn(usize) -> Option<*const u8>,
        matches: impl Fn(usize, usize) -> bool,
        mut emit: impl FnMut(usize, usize),
    ) {
        const AHEAD: usize = 48;
        const RING: usize = 128; // > 2 * AHEAD, a power of two
        let cap = self.slots.len();
        let (mut hashes, mut seen) = ([0u64; RING], [EMPTY; RING]);
        for j in 0..n + 2 * AHEAD {
            if j < n {
                let h = hash_of(j);
                hashes[j % RING] = h;
                prefetch(&self.slots[home(tag_of(h), cap)]);
            }
            if let Some(k) = j.checked_sub(AHEAD).filter(|&k| k < n) {
                let s = self.slots[home(tag_of(hashes[k % RING]), cap)];
                seen[k % RING] = s;
                if let Some(p) = (s != EMPTY).then(|| address_of(slot_row(s))).flatten() {
                    prefetch(p);
                }
            }
            if let Some(k) = j.checked_sub(2 * AHEAD) {
                let (s, h) = (seen[k % RING], hashes[k % RING]);
                let row = if s == EMPTY {
                    NOT_FOUND
                } else if slot_tag(s) == tag_of(h) && matches(k, slot_row(s)) {
                    slot_row(s)
                } else {
                    self.probe_by(h, |row| matches(k, row))
                        .map_or(NOT_FOUND, |pos| slot_row(self.slots[pos]))
                };
                emit(k, row);
            }
        }
    }

    /// Adds `row` under its key (read from `columns`).
    pub fn insert(&mut self, columns: &[Column], row: usize) -> Result<(), Refusal> {
        let (hash, found) = self.with_row_key(columns, row, |key| {
            let hash = hash_parts(key.iter().copied());
            (hash, self.probe(columns, hash, key))
        });
        match found {
            Ok(pos) => {
                let head = slot_row(self.slots[pos]);
                if self.unique {
                    return Err(Refusal::Duplicate(head));
                }
                if self.next.len() <= row {
                    let more = row + 1 - self.next.len();
                    self.next
                        .try_reserve(more)
                        .map_err(|_| Refusal::OutOfMemory)?;
                    self.next.resize(row + 1, END);
                }
                self.next[row] = head as u32;
                self.slots[pos] = slot(tag_of(hash), row);
            }
            Err(pos) => {
                self.slots[pos] = slot(tag_of(hash), row);
                self.keys += 1;
                if self.keys * 4 > self.slots.len() * 3 {
                    self.grow()?;
                }
            }
        }
        Ok(())
    }

    /// Takes `row` out from under its key (as the columns hold it now).
    pub fn remove(&mut self, columns: &[Column], row: usize) {
        let found = self.with_row_key(columns, row, |key| {
            self.probe(columns, hash_parts(key.iter().copied()), key)
        });
        let Ok(pos) = found else {
            return;
        };
        let head = slot_row(self.slots[pos]);
        let after = self.next_of(row);
        if head == row {
            if after == usize::MAX {
                self.delete(pos);
            } else {
                self.slots[pos] = slot(slot_tag(self.slots[pos]), after);
            }
        } else {
            let mut prev = head;
            while self.next_of(prev) != row {
                prev = self.next_of(prev);
                if prev == usize::MAX {
                    return;
                }
            }
            self.next[prev] = self.next.get(row).copied().unwrap_or(END);
        }
        if let Some(n) = self.next.get_mut(row) {
            *n = END;
        }
    }

    /// Empties slot `pos`, moving later slots of its probe run back so no probe stops early.
    fn delete(&mut self, mut pos: usize) {
        let cap = self.slots.len();
        self.keys -= 1;
        let mut next = pos;
        loop {
            self.slots[pos] = EMPTY;
            loop {
                next = if next + 1 == cap { 0 } else { next + 1 };
                let s = self.slots[next];
                if s == EMPTY {
                    return;
                }
                let from_home = (next + cap - home(slot_tag(s), cap)) % cap;
                let from_gap = (next + cap - pos) % cap;
                if from_home >= from_gap {
                    self.slots[pos] = s;
                    pos = next;
                    break;
                }
            }
        }
    }

    /// Twice the keys' room (load 1/2), placed by their tags alone.
    fn grow(&mut self) -> Result<(), Refusal> {
        let cap = (self.keys * 2).max(8);
        let mut slots = try_filled(cap, EMPTY)?;
        for &s in self.slots.iter().filter(|&&s| s != EMPTY) {
            let mut pos = home(slot_tag(s), cap);
            while slots[pos] != EMPTY {
                pos = if pos + 1 == cap { 0 } else { pos + 1 };
            }
            slots[pos] = s;
        }
        self.slots = slots;
        Ok(())
    }
}
