//! `ColumnSnapshot`: the buffers of a column at one moment, outliving later writes.

use super::FixedSnapshot;
use crate::buffer::Snapshot;
use crate::dtype::{DType, Datum, Scalar};

/// The buffers of a column at one moment.
#[derive(Clone, Debug)]
pub enum SnapshotData {
    /// Fixed-width values.
    Fixed(FixedSnapshot),
    /// Text or bytes in Arrow's layout.
    Var {
        /// `len + 1` offsets into `data`.
        offsets: Snapshot<i32>,
        /// The rows' bytes, back to back.
        data: Snapshot<u8>,
    },
    /// A category: codes into a dictionary of texts in Arrow's layout.
    Cat {
        /// One code per row.
        codes: FixedSnapshot,
        /// Offsets into the dictionary's `data`, one more than its values.
        offsets: Snapshot<i32>,
        /// The dictionary's texts, back to back.
        data: Snapshot<u8>,
    },
}

/// An immutable view of a column at one moment; outlives any later change to the column.
#[derive(Clone, Debug)]
pub struct ColumnSnapshot {
    pub(super) dtype: DType,
    pub(super) len: usize,
    pub(super) data: SnapshotData,
    /// The packed validity bits and the number of nulls.
    pub(super) validity: Option<(Snapshot<u8>, usize)>,
}

impl ColumnSnapshot {
    /// The field's type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffers.
    pub fn data(&self) -> &SnapshotData {
        &self.data
    }

    /// Number of nulls.
    pub fn null_count(&self) -> usize {
        self.validity.as_ref().map_or(0, |v| v.1)
    }

    /// The type of a category column's codes; `None` for other columns.
    pub fn code_type(&self) -> Option<DType> {
        match &self.data {
            SnapshotData::Cat { codes, .. } => Some(codes.dtype()),
            _ => None,
        }
    }

    /// The validity bits (Arrow layout), if the column has held a null.
    pub fn validity(&self) -> Option<&[u8]> {
        self.validity.as_ref().map(|v| v.0.as_slice())
    }

    /// The fixed-width values, if this is a fixed-width column.
    pub fn fixed(&self) -> Option<&FixedSnapshot> {
        match &self.data {
            SnapshotData::Fixed(f) => Some(f),
            _ => None,
        }
    }

    /// Row `i` (`Datum::Null` for a null), or `None` past the end.
    pub fn get(&self, i: usize) -> Option<Datum<'_>> {
        if i >= self.len {
            return None;
        }
        if let Some((bits, _)) = &self.validity {
            if bits.as_slice()[i / 8] >> (i % 8) & 1 == 0 {
                return Some(Datum::Null);
            }
        }
        let span = |offsets: &Snapshot<i32>, k: usize| {
            let o = offsets.as_slice();
            (o[k] as usize, o[k + 1] as usize)
        };
        Some(match &self.data {
            SnapshotData::Fixed(f) => Datum::Num(f.get(i)?),
            SnapshotData::Var { offsets, data } => {
                let (a, b) = span(offsets, i);
                Datum::bytes(&data.as_slice()[a..b])
            }
            SnapshotData::Cat {
                codes,
                offsets,
                data,
            } => {
                let code = match codes.get(i)? {
                    Scalar::U8(c) => c as usize,
                    Scalar::U16(c) => c as usize,
                    Scalar::U32(c) => c as usize,
                    _ => unreachable!("codes are unsigned"),
                };
                let (a, b) = span(offsets, code);
                Datum::bytes(&data.as_slice()[a..b])
            }
        })
    }

    /// Ids of the allocations this snapshot keeps alive, with their sizes (for memory
    /// accounting, which counts each allocation once).
    pub fn allocations(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut raw = |id, bytes| out.push((id, bytes));
        match &self.data {
            SnapshotData::Fixed(f) => raw(f.allocation_id(), f.allocation_bytes()),
            SnapshotData::Var { offsets, data } => {
                raw(offsets.allocation_id(), offsets.allocation_bytes());
                raw(data.allocation_id(), data.allocation_bytes());
            }
            SnapshotData::Cat {
                codes,
                offsets,
                data,
            } => {
                raw(codes.allocation_id(), codes.allocation_bytes());
                raw(offsets.allocation_id(), offsets.allocation_bytes());
                raw(data.allocation_id(), data.allocation_bytes());
            }
        }
        if let Some((v, _)) = &self.validity {
            raw(v.allocation_id(), v.allocation_bytes());
        }
        out
    }
}
