//! Zero-copy slices: a column over rows `start..start + len` of another column's snapshot,
//! reading the snapshot's buffers in place. The snapshot's rows already hold every invariant
//! of their column type (offsets in range and increasing, UTF-8 rows, codes in the
//! dictionary), and a slice of valid rows is valid, so nothing is checked again: this is what
//! makes `Table::batches` cost nothing a row.

use std::ptr::NonNull;
use std::sync::Arc;

use super::{Column, ColumnSnapshot, Fixed, SnapshotData, Strings};
use crate::buffer::{AllocError, Bitmap, Buffer, KeepAlive, Snapshot};
use crate::dtype::Field;

/// `len` elements of `snapshot` from `start` on, adopted with `owner` keeping them alive.
fn adopt_range<T: crate::buffer::Native>(
    snapshot: &Snapshot<T>,
    start: usize,
    len: usize,
    owner: &KeepAlive,
) -> Option<Buffer<T>> {
    let elements = snapshot.as_slice().get(start..start.checked_add(len)?)?;
    let ptr = NonNull::from(elements).cast::<T>();
    // SAFETY: `elements` is an aligned view of `len` initialised values of the snapshot, which
    // `owner` (holding a clone of it) keeps valid; a snapshot's elements are never written.
    unsafe { Buffer::adopt(ptr, len, Arc::clone(owner)) }.ok()
}

impl Column {
    /// Rows `start..start + len` of `snapshot`, a snapshot of a column of `field`: numbers,
    /// text and category codes read the snapshot's buffers in place (kept alive by the new
    /// column); text offsets (rebased to 0, 4 bytes a row), validity bits and a category's
    /// dictionary lookup are built anew. The first write copies, as for any adopted buffer.
    /// `None` if the rows are outside the snapshot or the snapshot is not of `field`'s type;
    /// an error if the allocator refuses what must be built.
    pub fn slice_of(
        field: &Field,
        snapshot: &ColumnSnapshot,
        start: usize,
        len: usize,
    ) -> Option<Result<Column, AllocError>> {
        if start.checked_add(len)? > snapshot.len() || snapshot.dtype() != field.dtype {
            return None;
        }
        let owner: KeepAlive = Arc::new(snapshot.clone());
        let mut col = Column::for_field(field);
        let adopted = match snapshot.data() {
            SnapshotData::Fixed(f) => {
                let size = f.dtype().itemsize();
                let base = NonNull::new(f.as_ptr().cast_mut())?;
                // SAFETY: the snapshot holds `snapshot.len() >= start + len` values of `size`
                // bytes from `base`, so the address of value `start` is inside (or one past).
                let at = unsafe { base.add(start * size) };
                // SAFETY: `at` is aligned (the snapshot's buffer is an array of the type) and
                // points to `len` values that `owner` keeps valid and unwritten.
                let values = unsafe { Fixed::adopt(f.dtype(), at, len, Arc::clone(&owner)) }?;
                col.adopt_fixed(values)
            }
            SnapshotData::Var { offsets, data } => {
                let strings = match slice_strings(offsets, data, start, len, &owner)? {
                    Ok(s) => s,
                    Err(e) => return Some(Err(e)),
                };
                col.adopt_strings(strings)
            }
            SnapshotData::Cat {
                codes,
                offsets,
                data,
            } => {
                let words_len = offsets.len().checked_sub(1)?;
                let words = match slice_strings(offsets, data, 0, words_len, &owner)? {
                    Ok(s) => s,
                    Err(e) => return Some(Err(e)),
                };
                let width = codes.dtype().itemsize();
                let base = NonNull::new(codes.as_ptr().cast_mut())?;
                // SAFETY: as for fixed values above, for the codes.
                let at = unsafe { base.add(start * width) };
                // SAFETY: as above; `adopt_codes` checks each code against the dictionary.
                let codes = unsafe { Fixed::adopt(codes.dtype(), at, len, Arc::clone(&owner)) }?;
                col.adopt_codes(&words, codes)
            }
        };
        if !adopted {
            return None;
        }
        if let Some(bits) = snapshot.validity() {
            col.validity = Some(Bitmap::from_bits(bits, start, len));
        }
        Some(Ok(col))
    }
}

/// Rows `start..start + len` of a snapshot's text: its bytes adopted, its offsets rebased to 0
/// (adopted as they are when `start` is 0).
fn slice_strings(
    offsets: &Snapshot<i32>,
    data: &Snapshot<u8>,
    start: usize,
    len: usize,
    owner: &KeepAlive,
) -> Option<Result<Strings, AllocError>> {
    let o = offsets.as_slice().get(start..=start.checked_add(len)?)?;
    let (first, last) = (usize::try_from(o[0]).ok()?, usize::try_from(o[len]).ok()?);
    let bytes = adopt_range(data, first, last.checked_sub(first)?, owner)?;
    let offsets = if start == 0 {
        adopt_range(offsets, 0, len + 1, owner)?
    } else {
        let mut rebased = Buffer::new();
        if let Err(e) = rebased.try_extend(o.iter().map(|&v| v - o[0])) {
            return Some(Err(e));
        }
        rebased
    };
    // SAFETY: rows of a valid column's snapshot: offsets increasing from `first` to `last`
    // within its data, each row UTF-8 on its own for text; rebased they start at 0 and end at
    // the adopted bytes' length.
    Some(Ok(unsafe { Strings::from_valid_parts(offsets, bytes) }))
}
