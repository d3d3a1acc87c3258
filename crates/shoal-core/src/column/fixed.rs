//! `Fixed`: one growable buffer per fixed-width storage type, and its snapshot.

use super::kernels;
use super::Refused;
use crate::buffer::{AllocError, Buffer, Snapshot};
use crate::dtype::{DType, Scalar};

macro_rules! dispatch {
    ($value:expr, $b:ident => $body:expr) => {
        match $value {
            Fixed::F64($b) => $body,
            Fixed::F32($b) => $body,
            Fixed::I8($b) => $body,
            Fixed::I16($b) => $body,
            Fixed::I32($b) => $body,
            Fixed::I64($b) => $body,
            Fixed::U8($b) => $body,
            Fixed::U16($b) => $body,
            Fixed::U32($b) => $body,
            Fixed::U64($b) => $body,
            Fixed::Bool($b) => $body,
        }
    };
}

/// Applies `$body` to the typed payload of a matching (column variant, scalar variant) pair.
macro_rules! with_scalar {
    ($col:expr, $s:expr, $b:ident, $v:ident => $body:expr) => {
        match ($col, $s) {
            (Fixed::F64($b), Scalar::F64($v)) => $body,
            (Fixed::F32($b), Scalar::F32($v)) => $body,
            (Fixed::I8($b), Scalar::I8($v)) => $body,
            (Fixed::I16($b), Scalar::I16($v)) => $body,
            (Fixed::I32($b), Scalar::I32($v)) => $body,
            (Fixed::I64($b), Scalar::I64($v)) => $body,
            (Fixed::U8($b), Scalar::U8($v)) => $body,
            (Fixed::U16($b), Scalar::U16($v)) => $body,
            (Fixed::U32($b), Scalar::U32($v)) => $body,
            (Fixed::U64($b), Scalar::U64($v)) => $body,
            (Fixed::Bool($b), Scalar::Bool($v)) => $body,
            (col, s) => panic!("{:?} scalar written to a {} column", s, col.dtype()),
        }
    };
}

/// Values of one fixed-width storage type: one `Buffer` per type.
#[derive(Clone, Debug)]
pub enum Fixed {
    /// `f64` values.
    F64(Buffer<f64>),
    /// `f32` values.
    F32(Buffer<f32>),
    /// `i8` values.
    I8(Buffer<i8>),
    /// `i16` values.
    I16(Buffer<i16>),
    /// `i32` values.
    I32(Buffer<i32>),
    /// `i64` values.
    I64(Buffer<i64>),
    /// `u8` values.
    U8(Buffer<u8>),
    /// `u16` values.
    U16(Buffer<u16>),
    /// `u32` values.
    U32(Buffer<u32>),
    /// `u64` values.
    U64(Buffer<u64>),
    /// `bool` values.
    Bool(Buffer<bool>),
}

impl Fixed {
    /// An empty column of `dtype`'s storage type (which must be fixed-width).
    pub fn new(dtype: DType) -> Fixed {
        match dtype.storage() {
            DType::F64 => Fixed::F64(Buffer::new()),
            DType::F32 => Fixed::F32(Buffer::new()),
            DType::I8 => Fixed::I8(Buffer::new()),
            DType::I16 => Fixed::I16(Buffer::new()),
            DType::I32 => Fixed::I32(Buffer::new()),
            DType::I64 => Fixed::I64(Buffer::new()),
            DType::U8 => Fixed::U8(Buffer::new()),
            DType::U16 => Fixed::U16(Buffer::new()),
            DType::U32 => Fixed::U32(Buffer::new()),
            DType::U64 => Fixed::U64(Buffer::new()),
            DType::Bool => Fixed::Bool(Buffer::new()),
            other => panic!("{other} is not a fixed-width type"),
        }
    }

    /// `len` values of `dtype` (a fixed-width storage type) read in place from foreign memory
    /// at `ptr` that `owner` keeps alive (see [`Buffer::adopt`]); `None` for other types or a
    /// length no allocation can have.
    ///
    /// # Safety
    /// As for [`Buffer::adopt`], for elements of `dtype`'s storage type (for bool: bytes that
    /// are all 0 or 1).
    pub unsafe fn adopt(
        dtype: DType,
        ptr: std::ptr::NonNull<u8>,
        len: usize,
        owner: crate::buffer::KeepAlive,
    ) -> Option<Fixed> {
        macro_rules! adopt {
            ($variant:ident) => {
                // SAFETY: guaranteed by the caller, for this storage type.
                Fixed::$variant(unsafe { Buffer::adopt(ptr.cast(), len, owner) }.ok()?)
            };
        }
        Some(match dtype.storage() {
            DType::F64 => adopt!(F64),
            DType::F32 => adopt!(F32),
            DType::I8 => adopt!(I8),
            DType::I16 => adopt!(I16),
            DType::I32 => adopt!(I32),
            DType::I64 => adopt!(I64),
            DType::U8 => adopt!(U8),
            DType::U16 => adopt!(U16),
            DType::U32 => adopt!(U32),
            DType::U64 => adopt!(U64),
            DType::Bool => adopt!(Bool),
            _ => return None,
        })
    }

    /// Same type and the same values, element by element (NaN differs from NaN, as in NumPy).
    pub fn values_eq(&self, other: &Fixed) -> bool {
        match (self, other) {
            (Fixed::F64(a), Fixed::F64(b)) => a.as_slice() == b.as_slice(),
            (Fixed::F32(a), Fixed::F32(b)) => a.as_slice() == b.as_slice(),
            (Fixed::I8(a), Fixed::I8(b)) => a.as_slice() == b.as_slice(),
            (Fixed::I16(a), Fixed::I16(b)) => a.as_slice() == b.as_slice(),
            (Fixed::I32(a), Fixed::I32(b)) => a.as_slice() == b.as_slice(),
            (Fixed::I64(a), Fixed::I64(b)) => a.as_slice() == b.as_slice(),
            (Fixed::U8(a), Fixed::U8(b)) => a.as_slice() == b.as_slice(),
            (Fixed::U16(a), Fixed::U16(b)) => a.as_slice() == b.as_slice(),
            (Fixed::U32(a), Fixed::U32(b)) => a.as_slice() == b.as_slice(),
            (Fixed::U64(a), Fixed::U64(b)) => a.as_slice() == b.as_slice(),
            (Fixed::Bool(a), Fixed::Bool(b)) => a.as_slice() == b.as_slice(),
            _ => false,
        }
    }

    /// The storage type.
    pub fn dtype(&self) -> DType {
        match self {
            Fixed::F64(_) => DType::F64,
            Fixed::F32(_) => DType::F32,
            Fixed::I8(_) => DType::I8,
            Fixed::I16(_) => DType::I16,
            Fixed::I32(_) => DType::I32,
            Fixed::I64(_) => DType::I64,
            Fixed::U8(_) => DType::U8,
            Fixed::U16(_) => DType::U16,
            Fixed::U32(_) => DType::U32,
            Fixed::U64(_) => DType::U64,
            Fixed::Bool(_) => DType::Bool,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        dispatch!(self, b => b.len())
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of data held (values, offsets, codes, dictionary; not spare capacity).
    pub fn nbytes(&self) -> usize {
        dispatch!(self, b => b.nbytes())
    }

    /// Bytes of [`Fixed::nbytes`] that are adopted foreign memory ([`Buffer::adopt`]).
    pub fn foreign_bytes(&self) -> usize {
        dispatch!(self, b => if b.is_adopted() { b.nbytes() } else { 0 })
    }

    /// Makes room for `additional` more rows.
    pub fn reserve(&mut self, additional: usize) {
        dispatch!(self, b => b.reserve(additional))
    }

    /// See [`Buffer::try_unshare_from`].
    pub fn try_unshare_from(&mut self, start: usize) -> Result<(), AllocError> {
        dispatch!(self, b => b.try_unshare_from(start))
    }

    /// See [`Buffer::try_reserve`].
    #[inline]
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), AllocError> {
        dispatch!(self, b => b.try_reserve(additional))
    }

    /// See [`Buffer::allocation_id`].
    pub fn allocation_id(&self) -> usize {
        dispatch!(self, b => b.allocation_id())
    }

    /// Where row `i`'s value is stored (for a cache prefetch hint), if it exists.
    pub(crate) fn address(&self, i: usize) -> Option<*const u8> {
        dispatch!(self, b => b.as_slice().get(i).map(|v| std::ptr::from_ref(v).cast::<u8>()))
    }

    /// Row `i` as a scalar, or `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Scalar> {
        match self {
            Fixed::F64(b) => b.get(i).map(Scalar::F64),
            Fixed::F32(b) => b.get(i).map(Scalar::F32),
            Fixed::I8(b) => b.get(i).map(Scalar::I8),
            Fixed::I16(b) => b.get(i).map(Scalar::I16),
            Fixed::I32(b) => b.get(i).map(Scalar::I32),
            Fixed::I64(b) => b.get(i).map(Scalar::I64),
            Fixed::U8(b) => b.get(i).map(Scalar::U8),
            Fixed::U16(b) => b.get(i).map(Scalar::U16),
            Fixed::U32(b) => b.get(i).map(Scalar::U32),
            Fixed::U64(b) => b.get(i).map(Scalar::U64),
            Fixed::Bool(b) => b.get(i).map(Scalar::Bool),
        }
    }

    /// Appends a scalar of this column's type; `Ok(false)` (appending nothing) if it is of
    /// another, an error (appending nothing) if the allocator refuses the room.
    #[inline]
    pub fn try_push(&mut self, s: Scalar) -> Result<bool, AllocError> {
        match (self, s) {
            (Fixed::F64(b), Scalar::F64(v)) => b.try_push(v)?,
            (Fixed::I64(b), Scalar::I64(v)) => b.try_push(v)?,
            (Fixed::F32(b), Scalar::F32(v)) => b.try_push(v)?,
            (Fixed::I8(b), Scalar::I8(v)) => b.try_push(v)?,
            (Fixed::I16(b), Scalar::I16(v)) => b.try_push(v)?,
            (Fixed::I32(b), Scalar::I32(v)) => b.try_push(v)?,
            (Fixed::U8(b), Scalar::U8(v)) => b.try_push(v)?,
            (Fixed::U16(b), Scalar::U16(v)) => b.try_push(v)?,
            (Fixed::U32(b), Scalar::U32(v)) => b.try_push(v)?,
            (Fixed::U64(b), Scalar::U64(v)) => b.try_push(v)?,
            (Fixed::Bool(b), Scalar::Bool(v)) => b.try_push(v)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Appends a scalar of this column's type (panics on a mismatched scalar: a caller bug).
    #[inline]
    pub fn push(&mut self, s: Scalar) {
        with_scalar!(self, s, b, v => b.push(v))
    }

    /// Appends a zero (the placeholder under a null).
    pub fn push_zero(&mut self) {
        self.push(Scalar::zero(self.dtype()));
    }

    /// Overwrites row `i`. Panics if the scalar's type differs or `i >= len`.
    pub fn set(&mut self, i: usize, s: Scalar) {
        with_scalar!(self, s, b, v => b.set(i, v))
    }

    /// Inserts at `i`. Panics if the scalar's type differs or `i > len`.
    pub fn insert(&mut self, i: usize, s: Scalar) {
        with_scalar!(self, s, b, v => b.insert(i, v))
    }

    /// Removes row `i` (`i < len`), moving the later rows down.
    pub fn remove(&mut self, i: usize) {
        dispatch!(self, b => { b.remove(i); })
    }

    /// Keeps the first `len` rows; a no-op if there are fewer.
    pub fn truncate(&mut self, len: usize) {
        dispatch!(self, b => b.truncate(len))
    }

    /// Removes every row.
    pub fn clear(&mut self) {
        dispatch!(self, b => b.clear())
    }

    /// Appends `bytes`, which must hold whole native-endian elements of this column's type (a
    /// byte 0 or 1 for `bool`); on error nothing is appended.
    pub fn extend_from_bytes(&mut self, bytes: &[u8]) -> Result<(), Refused> {
        let size = self.dtype().itemsize();
        if bytes.len() % size != 0 {
            return Err(Refused::Layout(
                "a length that is not a whole number of values",
            ));
        }
        if let Fixed::Bool(b) = self {
            if bytes.iter().any(|&x| x > 1) {
                return Err(Refused::Layout(
                    "a bool buffer holds bytes other than 0 and 1",
                ));
            }
            return b
                .try_extend(bytes.iter().map(|&x| x == 1))
                .map_err(Refused::oom);
        }
        dispatch!(self, b => b.try_extend(bytes.chunks_exact(size).map(from_ne_bytes)))
            .map_err(Refused::oom)
    }

    /// A new column holding copies of the given rows, in order (each must be in range); a
    /// refused allocation is an error.
    pub fn take(&self, rows: impl ExactSizeIterator<Item = usize>) -> Result<Fixed, AllocError> {
        fn gather<T: crate::buffer::Native>(
            b: &Buffer<T>,
            rows: impl ExactSizeIterator<Item = usize>,
        ) -> Result<Buffer<T>, AllocError> {
            let values = b.as_slice();
            let mut out = Buffer::new();
            out.try_extend(rows.map(|i| values[i]))?;
            Ok(out)
        }
        Ok(match self {
            Fixed::F64(b) => Fixed::F64(gather(b, rows)?),
            Fixed::F32(b) => Fixed::F32(gather(b, rows)?),
            Fixed::I8(b) => Fixed::I8(gather(b, rows)?),
            Fixed::I16(b) => Fixed::I16(gather(b, rows)?),
            Fixed::I32(b) => Fixed::I32(gather(b, rows)?),
            Fixed::I64(b) => Fixed::I64(gather(b, rows)?),
            Fixed::U8(b) => Fixed::U8(gather(b, rows)?),
            Fixed::U16(b) => Fixed::U16(gather(b, rows)?),
            Fixed::U32(b) => Fixed::U32(gather(b, rows)?),
            Fixed::U64(b) => Fixed::U64(gather(b, rows)?),
            Fixed::Bool(b) => Fixed::Bool(gather(b, rows)?),
        })
    }

    /// An immutable snapshot of the current values.
    pub fn snapshot(&mut self) -> FixedSnapshot {
        match self {
            Fixed::F64(b) => FixedSnapshot::F64(b.snapshot()),
            Fixed::F32(b) => FixedSnapshot::F32(b.snapshot()),
            Fixed::I8(b) => FixedSnapshot::I8(b.snapshot()),
            Fixed::I16(b) => FixedSnapshot::I16(b.snapshot()),
            Fixed::I32(b) => FixedSnapshot::I32(b.snapshot()),
            Fixed::I64(b) => FixedSnapshot::I64(b.snapshot()),
            Fixed::U8(b) => FixedSnapshot::U8(b.snapshot()),
            Fixed::U16(b) => FixedSnapshot::U16(b.snapshot()),
            Fixed::U32(b) => FixedSnapshot::U32(b.snapshot()),
            Fixed::U64(b) => FixedSnapshot::U64(b.snapshot()),
            Fixed::Bool(b) => FixedSnapshot::Bool(b.snapshot()),
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
pub enum FixedSnapshot {
    /// `f64` values.
    F64(Snapshot<f64>),
    /// `f32` values.
    F32(Snapshot<f32>),
    /// `i8` values.
    I8(Snapshot<i8>),
    /// `i16` values.
    I16(Snapshot<i16>),
    /// `i32` values.
    I32(Snapshot<i32>),
    /// `i64` values.
    I64(Snapshot<i64>),
    /// `u8` values.
    U8(Snapshot<u8>),
    /// `u16` values.
    U16(Snapshot<u16>),
    /// `u32` values.
    U32(Snapshot<u32>),
    /// `u64` values.
    U64(Snapshot<u64>),
    /// `bool` values.
    Bool(Snapshot<bool>),
}

macro_rules! dispatch_snapshot {
    ($value:expr, $s:ident => $body:expr) => {
        match $value {
            FixedSnapshot::F64($s) => $body,
            FixedSnapshot::F32($s) => $body,
            FixedSnapshot::I8($s) => $body,
            FixedSnapshot::I16($s) => $body,
            FixedSnapshot::I32($s) => $body,
            FixedSnapshot::I64($s) => $body,
            FixedSnapshot::U8($s) => $body,
            FixedSnapshot::U16($s) => $body,
            FixedSnapshot::U32($s) => $body,
            FixedSnapshot::U64($s) => $body,
            FixedSnapshot::Bool($s) => $body,
        }
    };
}

impl FixedSnapshot {
    /// The storage type.
    pub fn dtype(&self) -> DType {
        match self {
            FixedSnapshot::F64(_) => DType::F64,
            FixedSnapshot::F32(_) => DType::F32,
            FixedSnapshot::I8(_) => DType::I8,
            FixedSnapshot::I16(_) => DType::I16,
            FixedSnapshot::I32(_) => DType::I32,
            FixedSnapshot::I64(_) => DType::I64,
            FixedSnapshot::U8(_) => DType::U8,
            FixedSnapshot::U16(_) => DType::U16,
            FixedSnapshot::U32(_) => DType::U32,
            FixedSnapshot::U64(_) => DType::U64,
            FixedSnapshot::Bool(_) => DType::Bool,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        dispatch_snapshot!(self, s => s.len())
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// See [`Buffer::allocation_id`].
    pub fn allocation_id(&self) -> usize {
        dispatch_snapshot!(self, s => s.allocation_id())
    }

    /// Bytes of the allocation the snapshot keeps alive.
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

    /// Row `i` as a scalar, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<Scalar> {
        match self {
            FixedSnapshot::F64(s) => s.as_slice().get(i).copied().map(Scalar::F64),
            FixedSnapshot::F32(s) => s.as_slice().get(i).copied().map(Scalar::F32),
            FixedSnapshot::I8(s) => s.as_slice().get(i).copied().map(Scalar::I8),
            FixedSnapshot::I16(s) => s.as_slice().get(i).copied().map(Scalar::I16),
            FixedSnapshot::I32(s) => s.as_slice().get(i).copied().map(Scalar::I32),
            FixedSnapshot::I64(s) => s.as_slice().get(i).copied().map(Scalar::I64),
            FixedSnapshot::U8(s) => s.as_slice().get(i).copied().map(Scalar::U8),
            FixedSnapshot::U16(s) => s.as_slice().get(i).copied().map(Scalar::U16),
            FixedSnapshot::U32(s) => s.as_slice().get(i).copied().map(Scalar::U32),
            FixedSnapshot::U64(s) => s.as_slice().get(i).copied().map(Scalar::U64),
            FixedSnapshot::Bool(s) => s.as_slice().get(i).copied().map(Scalar::Bool),
        }
    }

    /// The sum as f64 for float columns, computed pairwise in blocks like NumPy's (so the
    /// rounding error grows as O(log n), not O(n)).
    pub fn sum_f64(&self) -> Option<f64> {
        match self {
            FixedSnapshot::F64(s) => Some(kernels::sum_f64(s.as_slice())),
            FixedSnapshot::F32(s) => Some(kernels::sum_f32(s.as_slice())),
            _ => None,
        }
    }

    /// The exact sum of an integer or bool column.
    pub fn sum_int(&self) -> Option<i128> {
        fn total<T: Copy + Into<i128>>(xs: &[T]) -> i128 {
            xs.iter().map(|&x| x.into()).sum()
        }
        Some(match self {
            FixedSnapshot::I8(s) => total(s.as_slice()),
            FixedSnapshot::I16(s) => total(s.as_slice()),
            FixedSnapshot::I32(s) => total(s.as_slice()),
            FixedSnapshot::I64(s) => total(s.as_slice()),
            FixedSnapshot::U8(s) => total(s.as_slice()),
            FixedSnapshot::U16(s) => total(s.as_slice()),
            FixedSnapshot::U32(s) => total(s.as_slice()),
            FixedSnapshot::U64(s) => total(s.as_slice()),
            FixedSnapshot::Bool(s) => s.as_slice().iter().map(|&b| i128::from(b)).sum(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn extend_from_bytes_rejects_bad_bools_and_ragged_input() {
        let mut c = Fixed::new(DType::Bool);
        assert!(c.extend_from_bytes(&[0, 2]).is_err());
        assert!(c.is_empty());
        let mut c = Fixed::new(DType::I32);
        assert!(c.extend_from_bytes(&[0, 0, 0]).is_err());
        assert!(c.extend_from_bytes(&7i32.to_ne_bytes()).is_ok());
        assert_eq!(c.get(0), Some(Scalar::I32(7)));
    }
}
