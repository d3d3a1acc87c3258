//! A column: one typed [`Buffer`] per field, dispatched over [`DType`].
//!
//! Variable-width types (strings, bytes) and validity bitmaps will be further variants and an
//! optional bitmap beside the data; every operation here is already per-column and length-based,
//! so they slot in without touching `Table`.

use crate::buffer::{Buffer, Snapshot};
use crate::dtype::{DType, Scalar};
use crate::kernels;

macro_rules! dispatch {
    ($value:expr, $b:ident => $body:expr) => {
        match $value {
            Column::F64($b) => $body,
            Column::F32($b) => $body,
            Column::I8($b) => $body,
            Column::I16($b) => $body,
            Column::I32($b) => $body,
            Column::I64($b) => $body,
            Column::U8($b) => $body,
            Column::U16($b) => $body,
            Column::U32($b) => $body,
            Column::U64($b) => $body,
            Column::Bool($b) => $body,
        }
    };
}

/// Applies `$body` to the typed payload of a matching (column variant, scalar variant) pair.
macro_rules! with_scalar {
    ($col:expr, $s:expr, $b:ident, $v:ident => $body:expr) => {
        match ($col, $s) {
            (Column::F64($b), Scalar::F64($v)) => $body,
            (Column::F32($b), Scalar::F32($v)) => $body,
            (Column::I8($b), Scalar::I8($v)) => $body,
            (Column::I16($b), Scalar::I16($v)) => $body,
            (Column::I32($b), Scalar::I32($v)) => $body,
            (Column::I64($b), Scalar::I64($v)) => $body,
            (Column::U8($b), Scalar::U8($v)) => $body,
            (Column::U16($b), Scalar::U16($v)) => $body,
            (Column::U32($b), Scalar::U32($v)) => $body,
            (Column::U64($b), Scalar::U64($v)) => $body,
            (Column::Bool($b), Scalar::Bool($v)) => $body,
            (col, s) => panic!("{:?} scalar written to a {} column", s, col.dtype()),
        }
    };
}

#[derive(Clone, Debug)]
pub enum Column {
    F64(Buffer<f64>),
    F32(Buffer<f32>),
    I8(Buffer<i8>),
    I16(Buffer<i16>),
    I32(Buffer<i32>),
    I64(Buffer<i64>),
    U8(Buffer<u8>),
    U16(Buffer<u16>),
    U32(Buffer<u32>),
    U64(Buffer<u64>),
    Bool(Buffer<bool>),
}

impl Column {
    pub fn new(dtype: DType) -> Column {
        match dtype {
            DType::F64 => Column::F64(Buffer::new()),
            DType::F32 => Column::F32(Buffer::new()),
            DType::I8 => Column::I8(Buffer::new()),
            DType::I16 => Column::I16(Buffer::new()),
            DType::I32 => Column::I32(Buffer::new()),
            DType::I64 => Column::I64(Buffer::new()),
            DType::U8 => Column::U8(Buffer::new()),
            DType::U16 => Column::U16(Buffer::new()),
            DType::U32 => Column::U32(Buffer::new()),
            DType::U64 => Column::U64(Buffer::new()),
            DType::Bool => Column::Bool(Buffer::new()),
        }
    }

    /// A column of `len` copies of `value`.
    pub fn filled(value: Scalar, len: usize) -> Column {
        let mut c = Column::new(value.dtype());
        c.reserve(len);
        for _ in 0..len {
            c.push(value);
        }
        c
    }

    /// Same type and the same values, element by element (NaN differs from NaN, as in NumPy).
    pub fn values_eq(&self, other: &Column) -> bool {
        match (self, other) {
            (Column::F64(a), Column::F64(b)) => a.as_slice() == b.as_slice(),
            (Column::F32(a), Column::F32(b)) => a.as_slice() == b.as_slice(),
            (Column::I8(a), Column::I8(b)) => a.as_slice() == b.as_slice(),
            (Column::I16(a), Column::I16(b)) => a.as_slice() == b.as_slice(),
            (Column::I32(a), Column::I32(b)) => a.as_slice() == b.as_slice(),
            (Column::I64(a), Column::I64(b)) => a.as_slice() == b.as_slice(),
            (Column::U8(a), Column::U8(b)) => a.as_slice() == b.as_slice(),
            (Column::U16(a), Column::U16(b)) => a.as_slice() == b.as_slice(),
            (Column::U32(a), Column::U32(b)) => a.as_slice() == b.as_slice(),
            (Column::U64(a), Column::U64(b)) => a.as_slice() == b.as_slice(),
            (Column::Bool(a), Column::Bool(b)) => a.as_slice() == b.as_slice(),
            _ => false,
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            Column::F64(_) => DType::F64,
            Column::F32(_) => DType::F32,
            Column::I8(_) => DType::I8,
            Column::I16(_) => DType::I16,
            Column::I32(_) => DType::I32,
            Column::I64(_) => DType::I64,
            Column::U8(_) => DType::U8,
            Column::U16(_) => DType::U16,
            Column::U32(_) => DType::U32,
            Column::U64(_) => DType::U64,
            Column::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        dispatch!(self, b => b.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn nbytes(&self) -> usize {
        dispatch!(self, b => b.nbytes())
    }

    pub fn reserve(&mut self, additional: usize) {
        dispatch!(self, b => b.reserve(additional))
    }

    /// See [`Buffer::allocation_id`].
    pub fn allocation_id(&self) -> usize {
        dispatch!(self, b => b.allocation_id())
    }

    #[inline]
    pub fn get(&self, i: usize) -> Option<Scalar> {
        match self {
            Column::F64(b) => b.get(i).map(Scalar::F64),
            Column::F32(b) => b.get(i).map(Scalar::F32),
            Column::I8(b) => b.get(i).map(Scalar::I8),
            Column::I16(b) => b.get(i).map(Scalar::I16),
            Column::I32(b) => b.get(i).map(Scalar::I32),
            Column::I64(b) => b.get(i).map(Scalar::I64),
            Column::U8(b) => b.get(i).map(Scalar::U8),
            Column::U16(b) => b.get(i).map(Scalar::U16),
            Column::U32(b) => b.get(i).map(Scalar::U32),
            Column::U64(b) => b.get(i).map(Scalar::U64),
            Column::Bool(b) => b.get(i).map(Scalar::Bool),
        }
    }

    /// Appends a scalar of this column's type (panics on a mismatched scalar: a caller bug).
    #[inline]
    pub fn push(&mut self, s: Scalar) {
        with_scalar!(self, s, b, v => b.push(v))
    }

    pub fn set(&mut self, i: usize, s: Scalar) {
        with_scalar!(self, s, b, v => b.set(i, v))
    }

    pub fn insert(&mut self, i: usize, s: Scalar) {
        with_scalar!(self, s, b, v => b.insert(i, v))
    }

    pub fn remove(&mut self, i: usize) {
        dispatch!(self, b => { b.remove(i); })
    }

    pub fn truncate(&mut self, len: usize) {
        dispatch!(self, b => b.truncate(len))
    }

    pub fn clear(&mut self) {
        dispatch!(self, b => b.clear())
    }

    /// Appends `bytes`, which must hold whole native-endian elements of this column's type.
    /// Returns `false` (appending nothing) if the length is not a multiple of the item size,
    /// or, for `bool`, if a byte is neither 0 nor 1.
    pub fn extend_from_bytes(&mut self, bytes: &[u8]) -> bool {
        let size = self.dtype().itemsize();
        if bytes.len() % size != 0 {
            return false;
        }
        if let Column::Bool(b) = self {
            if bytes.iter().any(|&x| x > 1) {
                return false;
            }
            let values: Vec<bool> = bytes.iter().map(|&x| x == 1).collect();
            b.extend_from_slice(&values);
            return true;
        }
        dispatch!(self, b => {
            let n = bytes.len() / size;
            b.reserve(n);
            for chunk in bytes.chunks_exact(size) {
                b.push(from_ne_bytes(chunk));
            }
        });
        true
    }

    /// A new column holding copies of the given rows, in order (each must be in range).
    pub fn take(&self, rows: impl ExactSizeIterator<Item = usize>) -> Column {
        let mut out = Column::new(self.dtype());
        out.reserve(rows.len());
        for i in rows {
            out.push(self.get(i).expect("row index in range"));
        }
        out
    }

    pub fn snapshot(&mut self) -> ColumnSnapshot {
        match self {
            Column::F64(b) => ColumnSnapshot::F64(b.snapshot()),
            Column::F32(b) => ColumnSnapshot::F32(b.snapshot()),
            Column::I8(b) => ColumnSnapshot::I8(b.snapshot()),
            Column::I16(b) => ColumnSnapshot::I16(b.snapshot()),
            Column::I32(b) => ColumnSnapshot::I32(b.snapshot()),
            Column::I64(b) => ColumnSnapshot::I64(b.snapshot()),
            Column::U8(b) => ColumnSnapshot::U8(b.snapshot()),
            Column::U16(b) => ColumnSnapshot::U16(b.snapshot()),
            Column::U32(b) => ColumnSnapshot::U32(b.snapshot()),
            Column::U64(b) => ColumnSnapshot::U64(b.snapshot()),
            Column::Bool(b) => ColumnSnapshot::Bool(b.snapshot()),
        }
    }
}

/// Reads one native-endian element; `chunk` has exactly `size_of::<T>()` bytes.
fn from_ne_bytes<T: crate::buffer::Native>(chunk: &[u8]) -> T {
    assert_eq!(chunk.len(), std::mem::size_of::<T>());
    // SAFETY: the length is checked above, `read_unaligned` has no alignment requirement, and
    // every bit pattern is a valid value of the numeric types this is called with (bool is
    // handled separately by the caller).
    unsafe { chunk.as_ptr().cast::<T>().read_unaligned() }
}

/// An immutable view of a column at one moment (see [`Snapshot`]).
#[derive(Clone, Debug)]
pub enum ColumnSnapshot {
    F64(Snapshot<f64>),
    F32(Snapshot<f32>),
    I8(Snapshot<i8>),
    I16(Snapshot<i16>),
    I32(Snapshot<i32>),
    I64(Snapshot<i64>),
    U8(Snapshot<u8>),
    U16(Snapshot<u16>),
    U32(Snapshot<u32>),
    U64(Snapshot<u64>),
    Bool(Snapshot<bool>),
}

macro_rules! dispatch_snapshot {
    ($value:expr, $s:ident => $body:expr) => {
        match $value {
            ColumnSnapshot::F64($s) => $body,
            ColumnSnapshot::F32($s) => $body,
            ColumnSnapshot::I8($s) => $body,
            ColumnSnapshot::I16($s) => $body,
            ColumnSnapshot::I32($s) => $body,
            ColumnSnapshot::I64($s) => $body,
            ColumnSnapshot::U8($s) => $body,
            ColumnSnapshot::U16($s) => $body,
            ColumnSnapshot::U32($s) => $body,
            ColumnSnapshot::U64($s) => $body,
            ColumnSnapshot::Bool($s) => $body,
        }
    };
}

impl ColumnSnapshot {
    pub fn dtype(&self) -> DType {
        match self {
            ColumnSnapshot::F64(_) => DType::F64,
            ColumnSnapshot::F32(_) => DType::F32,
            ColumnSnapshot::I8(_) => DType::I8,
            ColumnSnapshot::I16(_) => DType::I16,
            ColumnSnapshot::I32(_) => DType::I32,
            ColumnSnapshot::I64(_) => DType::I64,
            ColumnSnapshot::U8(_) => DType::U8,
            ColumnSnapshot::U16(_) => DType::U16,
            ColumnSnapshot::U32(_) => DType::U32,
            ColumnSnapshot::U64(_) => DType::U64,
            ColumnSnapshot::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        dispatch_snapshot!(self, s => s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// See [`Buffer::allocation_id`].
    pub fn allocation_id(&self) -> usize {
        dispatch_snapshot!(self, s => s.allocation_id())
    }

    pub fn allocation_bytes(&self) -> usize {
        dispatch_snapshot!(self, s => s.allocation_bytes())
    }

    /// Start of the data, for zero-copy export; valid while `self` (or a clone) lives.
    pub fn as_ptr(&self) -> *const u8 {
        dispatch_snapshot!(self, s => s.as_slice().as_ptr().cast())
    }

    /// The data as bytes (native byte order), for pickling and buffer export.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: the snapshot's elements are plain numbers (bool is one byte, 0 or 1), so
        // viewing `len * itemsize` initialised bytes as `u8` is valid for the snapshot's life.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.len() * self.dtype().itemsize()) }
    }

    pub fn get(&self, i: usize) -> Option<Scalar> {
        match self {
            ColumnSnapshot::F64(s) => s.as_slice().get(i).copied().map(Scalar::F64),
            ColumnSnapshot::F32(s) => s.as_slice().get(i).copied().map(Scalar::F32),
            ColumnSnapshot::I8(s) => s.as_slice().get(i).copied().map(Scalar::I8),
            ColumnSnapshot::I16(s) => s.as_slice().get(i).copied().map(Scalar::I16),
            ColumnSnapshot::I32(s) => s.as_slice().get(i).copied().map(Scalar::I32),
            ColumnSnapshot::I64(s) => s.as_slice().get(i).copied().map(Scalar::I64),
            ColumnSnapshot::U8(s) => s.as_slice().get(i).copied().map(Scalar::U8),
            ColumnSnapshot::U16(s) => s.as_slice().get(i).copied().map(Scalar::U16),
            ColumnSnapshot::U32(s) => s.as_slice().get(i).copied().map(Scalar::U32),
            ColumnSnapshot::U64(s) => s.as_slice().get(i).copied().map(Scalar::U64),
            ColumnSnapshot::Bool(s) => s.as_slice().get(i).copied().map(Scalar::Bool),
        }
    }

    /// The sum as f64 for float columns, computed pairwise in blocks like NumPy's (so the
    /// rounding error grows as O(log n), not O(n)).
    pub fn sum_f64(&self) -> Option<f64> {
        match self {
            ColumnSnapshot::F64(s) => Some(kernels::sum_f64(s.as_slice())),
            ColumnSnapshot::F32(s) => Some(kernels::sum_f32(s.as_slice())),
            _ => None,
        }
    }

    /// The exact sum of an integer or bool column.
    pub fn sum_int(&self) -> Option<i128> {
        fn total<T: Copy + Into<i128>>(xs: &[T]) -> i128 {
            xs.iter().map(|&x| x.into()).sum()
        }
        Some(match self {
            ColumnSnapshot::I8(s) => total(s.as_slice()),
            ColumnSnapshot::I16(s) => total(s.as_slice()),
            ColumnSnapshot::I32(s) => total(s.as_slice()),
            ColumnSnapshot::I64(s) => total(s.as_slice()),
            ColumnSnapshot::U8(s) => total(s.as_slice()),
            ColumnSnapshot::U16(s) => total(s.as_slice()),
            ColumnSnapshot::U32(s) => total(s.as_slice()),
            ColumnSnapshot::U64(s) => total(s.as_slice()),
            ColumnSnapshot::Bool(s) => s.as_slice().iter().map(|&b| i128::from(b)).sum(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_from_bytes_rejects_bad_bools_and_ragged_input() {
        let mut c = Column::new(DType::Bool);
        assert!(!c.extend_from_bytes(&[0, 2]));
        assert!(c.is_empty());
        let mut c = Column::new(DType::I32);
        assert!(!c.extend_from_bytes(&[0, 0, 0]));
        assert!(c.extend_from_bytes(&7i32.to_ne_bytes()));
        assert_eq!(c.get(0), Some(Scalar::I32(7)));
    }
}
