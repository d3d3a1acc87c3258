//! A sorted index: the rows in key order (4 bytes a row), for ranges and ordered scans.
//!
//! The order is `sort(by=fields)`'s: numbers as `<` orders them, NaN after them, text by code
//! point, nulls last; ties in row order. Appended rows are sorted on their own and merged in
//! at the next query; any other change rebuilds it then.

use std::cmp::Ordering;

use super::hash::{Refusal, MAX_ROWS};
use crate::column::{order_of, Column, KeyPart};

/// Rows of a table in the order of fields `fields`.
#[derive(Debug)]
pub struct SortedIndex {
    fields: Box<[usize]>,
    order: Vec<u32>,
}

/// `row`'s key against `key` (a prefix of the fields: only its parts are compared).
fn cmp_key(columns: &[Column], fields: &[usize], row: usize, key: &[KeyPart<'_>]) -> Ordering {
    fields
        .iter()
        .zip(key)
        .map(|(&f, k)| columns[f].key_part(row).order(k))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

fn cmp_rows(columns: &[Column], fields: &[usize], a: usize, b: usize) -> Ordering {
    fields
        .iter()
        .map(|&f| columns[f].key_part(a).order(&columns[f].key_part(b)))
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.cmp(&b))
}

impl SortedIndex {
    /// Rows `0..len` of `columns` in the order of `fields`.
    pub fn build(fields: &[usize], columns: &[Column], len: usize) -> Result<SortedIndex, Refusal> {
        if len > MAX_ROWS {
            return Err(Refusal::OutOfMemory);
        }
        let order = order_of(columns, fields, len, false).map_err(|_| Refusal::OutOfMemory)?;
        let mut narrow = Vec::new();
        narrow
            .try_reserve_exact(len)
            .map_err(|_| Refusal::OutOfMemory)?;
        narrow.extend(order.into_iter().map(|r| r as u32));
        Ok(SortedIndex {
            fields: fields.into(),
            order: narrow,
        })
    }

    /// The indexed fields.
    pub fn fields(&self) -> &[usize] {
        &self.fields
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Bytes allocated.
    pub fn nbytes(&self) -> usize {
        self.order.capacity() * 4
    }

    /// The order's address.
    pub fn allocation_id(&self) -> usize {
        self.order.as_ptr() as usize
    }

    /// Merges rows `self.len()..len` (appended since) into the order.
    pub fn merge_appended(&mut self, columns: &[Column], len: usize) -> Result<(), Refusal> {
        let start = self.order.len();
        if len <= start {
            return Ok(());
        }
        if len > MAX_ROWS {
            return Err(Refusal::OutOfMemory);
        }
        let fields = &self.fields;
        let mut tail: Vec<usize> = (start..len).collect();
        tail.sort_by(|&a, &b| cmp_rows(columns, fields, a, b));
        let mut merged = Vec::new();
        merged
            .try_reserve_exact(len)
            .map_err(|_| Refusal::OutOfMemory)?;
        let (mut old, mut new) = (self.order.iter().peekable(), tail.into_iter().peekable());
        while let (Some(&&a), Some(&b)) = (old.peek(), new.peek()) {
            if cmp_rows(columns, fields, a as usize, b).is_le() {
                merged.push(a);
                old.next();
            } else {
                merged.push(b as u32);
                new.next();
            }
        }
        merged.extend(old);
        merged.extend(new.map(|r| r as u32));
        self.order = merged;
        Ok(())
    }

    /// Positions in the order of the rows whose key (compared over `low`'s and `high`'s parts)
    /// is at least `low` and below `high` (`None`: unbounded). An unbounded top stops before
    /// the rows whose first field is null or NaN, which no bound is below.
    pub fn range(
        &self,
        columns: &[Column],
        low: Option<&[KeyPart<'_>]>,
        high: Option<&[KeyPart<'_>]>,
        high_inclusive: bool,
    ) -> &[u32] {
        let fields = &self.fields;
        let start = low.map_or(0, |k| {
            self.order
                .partition_point(|&r| cmp_key(columns, fields, r as usize, k).is_lt())
        });
        let end = match high {
            Some(k) => self.order.partition_point(|&r| {
                let o = cmp_key(columns, fields, r as usize, k);
                o.is_lt() || (high_inclusive && o.is_eq())
            }),
            None => self.order.partition_point(|&r| {
                !matches!(
                    columns[fields[0]].key_part(r as usize),
                    KeyPart::Null | KeyPart::NaN
                )
            }),
        };
        &self.order[start..end.max(start)]
    }

    /// The rows whose key equals `key` (all fields), in row order.
    pub fn rows_of(&self, columns: &[Column], key: &[KeyPart<'_>]) -> &[u32] {
        if key.iter().any(|k| matches!(k, KeyPart::NaN)) {
            return &[];
        }
        self.range(columns, Some(key), Some(key), true)
    }
}
