//! Indexes that live beside a table's columns and stay right as it changes.
//!
//! A table owns its indexes ([`Indexes`]); whoever asked for one holds a token (an `Arc`) and
//! the index lives while the token does, so a forgotten index stops costing anything at the
//! next change. Appends and cell writes update a hash index in place (a unique one refuses a
//! repeated key before anything changes); a sorted index merges appended rows at its next
//! query. Changes that move rows (insert, delete, sort, clear) drop the built index, which is
//! rebuilt at its next query — an index never names a row that does not hold the key.

mod hash;
mod sorted;

use std::sync::{Arc, Weak};

pub use hash::{HashIndex, Refusal, MAX_ROWS, NOT_FOUND};
pub use sorted::SortedIndex;

use crate::column::{Column, KeyPart};

/// What kind of index to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKind {
    /// Key → rows; `unique` refuses a key held by two rows.
    Hash {
        /// One row per key.
        unique: bool,
    },
    /// Rows in key order.
    Sorted,
}

/// A built index.
#[derive(Debug)]
pub enum Index {
    /// Key → rows.
    Hash(HashIndex),
    /// Rows in key order.
    Sorted(SortedIndex),
}

impl Index {
    /// Bytes allocated.
    pub fn nbytes(&self) -> usize {
        match self {
            Index::Hash(h) => h.nbytes(),
            Index::Sorted(s) => s.nbytes(),
        }
    }

    /// An address identifying the index's main allocation (for counting it once).
    pub fn allocation_id(&self) -> usize {
        match self {
            Index::Hash(h) => h.allocation_id(),
            Index::Sorted(s) => s.allocation_id(),
        }
    }
}

#[derive(Debug)]
struct Entry {
    id: u64,
    alive: Weak<()>,
    fields: Box<[usize]>,
    kind: IndexKind,
    /// `None` after a change that moved rows: rebuilt at the next query.
    built: Option<Index>,
}

impl Entry {
    fn build(&self, columns: &[Column], len: usize) -> Result<Index, (usize, Refusal)> {
        Ok(match self.kind {
            IndexKind::Hash { unique } => {
                Index::Hash(HashIndex::build(&self.fields, unique, columns, len)?)
            }
            IndexKind::Sorted => {
                Index::Sorted(SortedIndex::build(&self.fields, columns, len).map_err(|e| (0, e))?)
            }
        })
    }

    fn is_unique(&self) -> bool {
        self.kind == IndexKind::Hash { unique: true }
    }

    fn has(&self, field: usize) -> bool {
        self.fields.contains(&field)
    }
}

/// A refused change: the index's first field, and why (the row already holding the key).
pub type Conflict = (usize, Refusal);

/// A table's indexes. Copies of a table start without any (`clone` is empty).
#[derive(Debug, Default)]
pub struct Indexes {
    entries: Vec<Entry>,
    next_id: u64,
}

impl Clone for Indexes {
    fn clone(&self) -> Indexes {
        Indexes::default()
    }
}

impl Indexes {
    /// Whether the table has no index (the check every change makes first).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether an index reads field `field` (its cells must not be written behind its back).
    pub fn covers(&self, field: usize) -> bool {
        self.entries.iter().any(|e| e.has(field))
    }

    /// Builds an index over rows `0..len`; its id and the token that keeps it alive, or the row
    /// that could not be indexed and why.
    pub fn add(
        &mut self,
        fields: &[usize],
        kind: IndexKind,
        columns: &[Column],
        len: usize,
    ) -> Result<(u64, Arc<()>), (usize, Refusal)> {
        self.prune();
        let token = Arc::new(());
        let mut entry = Entry {
            id: self.next_id,
            alive: Arc::downgrade(&token),
            fields: fields.into(),
            kind,
            built: None,
        };
        entry.built = Some(entry.build(columns, len)?);
        self.next_id += 1;
        self.entries.push(entry);
        Ok((self.next_id - 1, token))
    }

    /// Each built index's allocation (identity, bytes), for measuring the table (a dropped
    /// one's too, until it is forgotten: its memory is still held).
    pub fn allocations(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.entries
            .iter()
            .filter_map(|e| e.built.as_ref())
            .map(|i| (i.allocation_id(), i.nbytes()))
    }

    /// Forgets the indexes whose tokens are gone.
    pub fn prune(&mut self) {
        self.entries.retain(|e| e.alive.strong_count() > 0);
    }

    /// Drops every built index (rows moved); each is rebuilt at its next query.
    pub fn invalidate(&mut self) {
        self.prune();
        for e in &mut self.entries {
            e.built = None;
        }
    }

    /// Refuses a key that a unique index already holds at a row other than `except`. `key_of`
    /// gives the new key's part for each field; unique indexes dropped by a change are rebuilt
    /// first.
    pub fn check_unique<'k>(
        &mut self,
        columns: &[Column],
        len: usize,
        except: Option<usize>,
        key_of: impl Fn(usize) -> KeyPart<'k>,
    ) -> Result<(), Conflict> {
        self.prune();
        for e in self.entries.iter_mut().filter(|e| e.is_unique()) {
            let first = e.fields[0];
            if e.built.is_none() {
                e.built = Some(e.build(columns, len).map_err(|(_, r)| (first, r))?);
            }
            let Some(Index::Hash(h)) = &e.built else {
                continue;
            };
            let key: Vec<KeyPart<'k>> = e.fields.iter().map(|&f| key_of(f)).collect();
            if let Some(held) = h.rows_of(columns, &key).find(|&r| Some(r) != except) {
                return Err((first, Refusal::Duplicate(held)));
            }
        }
        Ok(())
    }

    /// Indexes appended row `row` (after [`Indexes::check_unique`] accepted its key).
    pub fn appended(&mut self, columns: &[Column], row: usize) {
        for e in &mut self.entries {
            if let Some(Index::Hash(h)) = &mut e.built {
                if h.insert(columns, row).is_err() {
                    e.built = None;
                }
            }
        }
    }

    /// Takes `row` out of the hash indexes reading `field`, whose cell is about to change;
    /// sorted ones are dropped (rebuilt at their next query).
    pub fn before_write(&mut self, columns: &[Column], row: usize, field: usize) {
        for e in self.entries.iter_mut().filter(|e| e.has(field)) {
            match &mut e.built {
                Some(Index::Hash(h)) => h.remove(columns, row),
                Some(Index::Sorted(_)) => e.built = None,
                None => {}
            }
        }
    }

    /// Puts `row` back into the hash indexes reading `field`, under its key as it is now.
    pub fn after_write(&mut self, columns: &[Column], row: usize, field: usize) {
        for e in self.entries.iter_mut().filter(|e| e.has(field)) {
            if let Some(Index::Hash(h)) = &mut e.built {
                if h.insert(columns, row).is_err() {
                    e.built = None;
                }
            }
        }
    }

    /// Rebuilds the indexes reading `field`, whose column was replaced: a unique one refuses
    /// a repeated key in the new column (the caller puts the old one back).
    pub fn rebuild_field(
        &mut self,
        columns: &[Column],
        len: usize,
        field: usize,
    ) -> Result<(), Conflict> {
        self.prune();
        for e in self.entries.iter_mut().filter(|e| e.has(field)) {
            e.built = None;
            if e.is_unique() {
                let first = e.fields[0];
                e.built = Some(e.build(columns, len).map_err(|(_, r)| (first, r))?);
            }
        }
        Ok(())
    }

    /// Index `id`, brought up to date with rows `0..len`; `None` if there is no such index.
    pub fn get(
        &mut self,
        id: u64,
        columns: &[Column],
        len: usize,
    ) -> Option<Result<&Index, Conflict>> {
        let e = self.entries.iter_mut().find(|e| e.id == id)?;
        let first = e.fields[0];
        if e.built.is_none() {
            match e.build(columns, len) {
                Ok(built) => e.built = Some(built),
                Err((_, r)) => return Some(Err((first, r))),
            }
        }
        if let Some(Index::Sorted(s)) = &mut e.built {
            if let Err(r) = s.merge_appended(columns, len) {
                e.built = None;
                return Some(Err((first, r)));
            }
        }
        e.built.as_ref().map(Ok)
    }
}
