//! A column as bytes and back: the buffers pickling ships ([`ColumnSnapshot::parts`]) and
//! [`Column::from_parts`], which rebuilds a column from them and checks everything.

use std::mem::{align_of, size_of};
use std::ptr::NonNull;

use super::{Column, ColumnSnapshot, Fixed, SnapshotData, Strings};
use crate::buffer::{Buffer, KeepAlive, Snapshot};
use crate::dtype::DType;

fn offset_bytes(offsets: &Snapshot<i32>) -> &[u8] {
    let o = offsets.as_slice();
    // SAFETY: i32s are plain bytes; the view covers exactly the snapshot's initialised elements
    // and lives as long as the borrow of `offsets`.
    unsafe { std::slice::from_raw_parts(o.as_ptr().cast::<u8>(), std::mem::size_of_val(o)) }
}

/// Native-endian i32s from bytes (any alignment); `None` if the length is not a multiple of 4.
fn i32s(bytes: &[u8]) -> Option<Vec<i32>> {
    (bytes.len() % 4 == 0).then(|| {
        bytes
            .chunks_exact(4)
            .map(|c| i32::from_ne_bytes(c.try_into().expect("4 bytes")))
            .collect()
    })
}

/// Whether the stored values of a temporal column are within the type's range (the values a
/// Python `datetime`/`date` can hold); other types have no range to check.
fn temporal_in_range(dtype: DType, data: &[u8]) -> bool {
    let Some((lo, hi)) = dtype.temporal_range() else {
        return true;
    };
    let width = dtype.itemsize();
    data.chunks_exact(width).all(|c| {
        let v = match width {
            4 => i64::from(i32::from_ne_bytes(c.try_into().expect("4 bytes"))),
            _ => i64::from_ne_bytes(c.try_into().expect("8 bytes")),
        };
        (lo..=hi).contains(&v)
    })
}

impl Column {
    /// Rebuilds a column of `len` rows from [`ColumnSnapshot::parts`] and validity bits, as
    /// pickling ships them, checking everything: `None` if the parts do not describe `len`
    /// valid rows of this field.
    pub fn from_parts(
        field: &crate::dtype::Field,
        parts: &[&[u8]],
        validity: Option<&[u8]>,
        len: usize,
    ) -> Option<Column> {
        let mut c = Column::for_field(field);
        let ok = match (field.dtype, parts) {
            (DType::Str | DType::Bytes, [offsets, data]) => {
                c.extend_from_offsets(&i32s(offsets)?, data).is_ok()
            }
            (DType::Category, [codes, offsets, data]) => {
                let dict = Strings::collect_arrow(&i32s(offsets)?, data, true).ok()?;
                let words: Vec<Option<&[u8]>> = (0..dict.len()).map(|i| dict.get(i)).collect();
                let width = codes.len().checked_div(len).unwrap_or(1);
                if codes.len() != width * len || ![1, 2, 4].contains(&width) {
                    return None;
                }
                let indices = codes.chunks_exact(width).map(|b| match b {
                    [c] => i64::from(*c),
                    [a, b] => i64::from(u16::from_ne_bytes([*a, *b])),
                    _ => i64::from(u32::from_ne_bytes(b.try_into().expect("4 bytes"))),
                });
                let valid = |i: usize| {
                    validity.is_none_or(|b| b.get(i / 8).is_none_or(|x| x >> (i % 8) & 1 == 1))
                };
                c.extend_indexed(&words, indices, valid).is_ok()
            }
            (fixed, [data]) if fixed.is_fixed() => {
                c.extend_from_bytes(data).is_ok() && temporal_in_range(fixed, data)
            }
            _ => false,
        };
        if !ok || c.len() != len {
            return None;
        }
        if let Some(bits) = validity {
            if !field.nullable || bits.len() < len.div_ceil(8) {
                return None;
            }
            c.mark_nulls(0, bits, 0).ok()?;
        }
        Some(c)
    }
}

impl Column {
    /// As [`Column::from_parts`], but reading the parts in place where their layout is the
    /// column's own (no nulls, aligned, a category's dictionary in its own order), `keep[i]`
    /// keeping `parts[i]` alive; the same checks, and the copying path otherwise. The first
    /// write copies.
    ///
    /// # Safety
    /// Each `parts[i]` must stay valid, and unwritten by anyone, as long as `keep[i]` lives.
    pub unsafe fn from_parts_in_place(
        field: &crate::dtype::Field,
        parts: &[&[u8]],
        validity: Option<&[u8]>,
        len: usize,
        keep: &[KeepAlive],
    ) -> Option<Column> {
        if validity.is_none() && keep.len() == parts.len() && len > 0 {
            // SAFETY: guaranteed by the caller.
            if let Some(c) = unsafe { adopt_parts(field, parts, len, keep) } {
                return Some(c);
            }
        }
        Column::from_parts(field, parts, validity, len)
    }
}

/// The `len` elements of `T` that `bytes` holds, as an adoptable pointer: `None` unless the
/// length is exact and the address aligned.
fn elements<T>(bytes: &[u8], len: usize) -> Option<NonNull<T>> {
    let exact = bytes.len() == len.checked_mul(size_of::<T>())?;
    let aligned = bytes.as_ptr() as usize % align_of::<T>() == 0;
    (exact && aligned).then(|| NonNull::from(bytes).cast::<T>())
}

/// A null-free column whose buffers are `parts` themselves, checked as `from_parts` checks
/// them; `None` if any check or the layout says otherwise.
///
/// # Safety
/// As for [`Column::from_parts_in_place`].
unsafe fn adopt_parts(
    field: &crate::dtype::Field,
    parts: &[&[u8]],
    len: usize,
    keep: &[KeepAlive],
) -> Option<Column> {
    let mut c = Column::for_field(field);
    let adopted = match (field.dtype, parts) {
        (DType::Str | DType::Bytes, [offsets, data]) => {
            let ptr = elements::<i32>(offsets, len + 1)?;
            // SAFETY: `len + 1` aligned i32s that `keep[0]` keeps valid and unwritten.
            let offsets = unsafe { Buffer::adopt(ptr, len + 1, keep[0].clone()) }.ok()?;
            let ptr = elements::<u8>(data, data.len())?;
            // SAFETY: the bytes that `keep[1]` keeps valid and unwritten.
            let data = unsafe { Buffer::adopt(ptr, data.len(), keep[1].clone()) }.ok()?;
            let strings = Strings::adopt(offsets, data, field.dtype == DType::Str).ok()?;
            c.adopt_strings(strings)
        }
        (DType::Category, [codes, offsets, data]) => {
            let words = Strings::collect_arrow(&i32s(offsets)?, data, true).ok()?;
            let code_type = c.code_type()?;
            let width = code_type.itemsize();
            let ptr = elements::<u8>(codes, len * width)?;
            if ptr.as_ptr() as usize % width != 0 {
                return None;
            }
            // SAFETY: `len` aligned codes of the column's code type that `keep[0]` keeps
            // valid and unwritten (each checked within the dictionary before use).
            let codes = unsafe { Fixed::adopt(code_type, ptr, len, keep[0].clone()) }?;
            c.adopt_codes(&words, codes)
        }
        (fixed, [data]) if fixed.is_fixed() => {
            let width = fixed.itemsize();
            let ptr = elements::<u8>(data, len * width)?;
            let bools_ok = fixed != DType::Bool || data.iter().all(|&b| b <= 1);
            if ptr.as_ptr() as usize % width != 0 || !bools_ok || !temporal_in_range(fixed, data) {
                return None;
            }
            // SAFETY: `len` aligned values of the storage type (bools checked 0 or 1) that
            // `keep[0]` keeps valid and unwritten.
            let values = unsafe { Fixed::adopt(fixed, ptr, len, keep[0].clone()) }?;
            c.adopt_fixed(values)
        }
        _ => false,
    };
    (adopted && c.len() == len).then_some(c)
}

impl ColumnSnapshot {
    /// The bytes of each buffer, validity aside: `[values]` for fixed-width columns,
    /// `[offsets, data]` for text and bytes, `[codes, dictionary offsets, dictionary data]`
    /// for categories (native byte order). [`Column::from_parts`] rebuilds a column from them.
    pub fn parts(&self) -> Vec<&[u8]> {
        match &self.data {
            SnapshotData::Fixed(f) => vec![f.as_bytes()],
            SnapshotData::Var { offsets, data } => vec![offset_bytes(offsets), data.as_slice()],
            SnapshotData::Cat {
                codes,
                offsets,
                data,
            } => vec![codes.as_bytes(), offset_bytes(offsets), data.as_slice()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::{Field, DATETIME_RANGE_US};

    #[test]
    fn rows_that_split_a_character_are_refused() {
        // ../shared/repros/reliability/06: "é" split into b"\xc3" and b"\xa9" passed a check of
        // the whole buffer.
        let field = Field::new("s", DType::Str);
        let offsets: Vec<u8> = [0i32, 1, 2].iter().flat_map(|o| o.to_ne_bytes()).collect();
        let data = "é".as_bytes();
        assert!(Column::from_parts(&field, &[&offsets, data], None, 2).is_none());
        let whole: Vec<u8> = [0i32, 2, 2].iter().flat_map(|o| o.to_ne_bytes()).collect();
        assert!(Column::from_parts(&field, &[&whole, data], None, 2).is_some());
    }

    #[test]
    fn temporal_values_out_of_range_are_refused() {
        // ../shared/repros/reliability/16.
        let field = Field::new("t", DType::Datetime);
        let ok = DATETIME_RANGE_US.1.to_ne_bytes();
        let past = (DATETIME_RANGE_US.1 + 1).to_ne_bytes();
        assert!(Column::from_parts(&field, &[&ok], None, 1).is_some());
        assert!(Column::from_parts(&field, &[&past], None, 1).is_none());
        let date = Field::new("d", DType::Date);
        assert!(Column::from_parts(&date, &[&i32::MAX.to_ne_bytes()], None, 1).is_none());
    }
}
