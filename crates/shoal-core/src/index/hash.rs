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
/// Keys looked up together by [`HashIndex::first_rows`]: enough to overlap a block's cache
/// misses, few enough that its hashes stay in registers' reach.
const BLOCK: usize = 64;

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
        let (tag, cap) = (tag_of(hash), self.slots.len());
        let mut pos = home(tag, cap);
        loop {
            let s = self.slots[pos];
            if s == EMPTY {
                return Err(pos);
            }
            if slot_tag(s) == tag && self.row_equals(columns, slot_row(s), key) {
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
    /// key, in order), or [`NOT_FOUND`], appended to `out`. Each block's home slots are all
    /// loaded before any key is compared, so their cache misses overlap instead of queueing.
    pub fn first_rows(&self, columns: &[Column], keys: &[KeyPart<'_>], out: &mut Vec<usize>) {
        let width = self.fields.len();
        let cap = self.slots.len();
        let (mut hashes, mut seen) = ([0u64; BLOCK], [0u64; BLOCK]);
        for block in keys.chunks(width * BLOCK) {
            let m = block.len() / width;
            for (h, key) in hashes.iter_mut().zip(block.chunks_exact(width)) {
                *h = hash_parts(key.iter().copied());
            }
            for (s, &h) in seen.iter_mut().zip(&hashes[..m]) {
                *s = self.slots[home(tag_of(h), cap)];
            }
            // The candidates' keys, read from the columns in a loop of independent loads.
            let mut hit = [false; BLOCK];
            for (j, key) in block.chunks_exact(width).enumerate() {
                let s = seen[j];
                hit[j] = s != EMPTY
                    && slot_tag(s) == tag_of(hashes[j])
                    && self.row_equals(columns, slot_row(s), key);
            }
            for (j, key) in block.chunks_exact(width).enumerate() {
                out.push(if hit[j] {
                    slot_row(seen[j])
                } else if seen[j] == EMPTY {
                    NOT_FOUND
                } else {
                    self.probe(columns, hashes[j], key)
                        .map_or(NOT_FOUND, |pos| slot_row(self.slots[pos]))
                });
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
