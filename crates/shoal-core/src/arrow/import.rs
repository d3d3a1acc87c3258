//! Import: reads a producer's struct array into fresh columns, checking offsets, view buffers,
//! dictionary indices, UTF-8 and ranges before use — never trusting the producer.

use std::ffi::c_char;

use super::ffi::{ArrowArray, ArrowSchema, MovedChild};
use super::format::{field_type_name, fixed_format, format_name, unit_factor};
use std::ptr::NonNull;
use std::sync::Arc;

use crate::buffer::{Buffer, KeepAlive};
use crate::column::{Fixed, Refused, Strings};
use crate::dtype::{DType, Datum, Field, Problem, Schema};
use crate::error::Error;

/// Reads a NUL-terminated C string (empty for null).
///
/// # Safety
/// `p` must be null or point to a NUL-terminated string.
unsafe fn c_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// One Arrow array as the importer reads it: its format, length, offset and buffers, checked
/// against the counts the producer gave.
///
/// Invariant (established by the unsafe [`Input::new`]): `schema` and `array` are valid C Data
/// Interface structs describing the same data, so every buffer the format implies exists with
/// the length the format and `array.length` imply. Everything read through an `Input` relies on
/// it, and on nothing else the producer says: offsets, views and indices are checked.
struct Input<'a> {
    format: String,
    len: usize,
    offset: usize,
    array: &'a ArrowArray,
    schema: &'a ArrowSchema,
}

impl<'a> Input<'a> {
    /// # Safety
    /// `schema` and `array` must be valid C Data Interface structs describing the same data.
    unsafe fn new(
        schema: &'a ArrowSchema,
        array: &'a ArrowArray,
        len: usize,
        offset: usize,
    ) -> Result<Input<'a>, Error> {
        if array.length < 0 || array.offset < 0 || (array.length as usize) < offset + len {
            return Err(malformed("a column is shorter than its table"));
        }
        Ok(Input {
            // SAFETY: guaranteed by the caller.
            format: unsafe { c_str(schema.format) },
            len,
            offset: offset + array.offset as usize,
            array,
            schema,
        })
    }

    /// Buffer `i` (null if absent); an error if the array has fewer buffers.
    fn buffer(&self, i: usize) -> Result<*const u8, Error> {
        if i >= self.array.n_buffers.max(0) as usize {
            return Err(malformed(&format!(
                "format {:?} needs buffer {i}",
                self.format
            )));
        }
        // SAFETY: `i` is below the producer's buffer count, so the slot is inside the array of
        // buffer pointers (the `Input` invariant).
        let slot = unsafe { self.array.buffers.add(i) };
        // SAFETY: as above: the slot holds a buffer pointer (possibly null).
        Ok(unsafe { *slot }.cast())
    }

    /// Elements `[offset, offset + len + extra)` of buffer `i` as `T`s.
    ///
    /// # Safety
    /// The producer promises that buffer `i` holds at least that many `T`s.
    unsafe fn slice<T>(&self, i: usize, extra: usize) -> Result<&'a [T], Error> {
        let p = self.buffer(i)?;
        let n = self.len + extra;
        if n == 0 {
            return Ok(&[]);
        }
        if p.is_null() {
            return Err(malformed(&format!(
                "buffer {i} of a {:?} column is missing",
                self.format
            )));
        }
        // The format promises Arrow's alignment, but a hostile producer's pointer is checked:
        // an unaligned slice would be undefined behaviour (found by Miri on the fuzz harness).
        if (p as usize) % std::mem::align_of::<T>() != 0 {
            return Err(malformed(&format!(
                "buffer {i} of a {:?} column is not aligned for its values",
                self.format
            )));
        }
        // SAFETY: the buffer holds `offset + len + extra` `T`s (guaranteed by the caller) and
        // is aligned for `T` (checked above).
        let all = unsafe { std::slice::from_raw_parts(p.cast::<T>(), self.offset + n) };
        Ok(&all[self.offset..])
    }

    /// The validity bits and the number of nulls among the rows.
    fn validity(&self) -> Result<Option<(&'a [u8], usize)>, Error> {
        let p = self.buffer(0)?;
        if p.is_null() || self.array.null_count == 0 || self.len == 0 {
            return Ok(None);
        }
        let bytes = (self.offset + self.len).div_ceil(8);
        // SAFETY: a validity buffer covers `offset + length` bits (the `Input` invariant).
        let bits = unsafe { std::slice::from_raw_parts(p, bytes) };
        let nulls = (self.offset..self.offset + self.len)
            .filter(|&i| bits[i / 8] >> (i % 8) & 1 == 0)
            .count();
        Ok((nulls > 0).then_some((bits, nulls)))
    }

    /// Child `i` of a struct array (`i` below both structs' child counts, which the caller
    /// checked equal), for `len` rows from `offset`.
    fn child(&self, i: usize, len: usize, offset: usize) -> Result<Input<'a>, Error> {
        // SAFETY: `i` is below the child count (checked by the caller), so the slot is inside
        // the schema's array of child pointers (the `Input` invariant).
        let schema_slot = unsafe { self.schema.children.add(i) };
        // SAFETY: the same for the array, whose child count equals the schema's.
        let array_slot = unsafe { self.array.children.add(i) };
        // SAFETY: the slot holds a pointer to a valid child schema (the invariant).
        let schema_ptr = unsafe { *schema_slot };
        // SAFETY: the slot holds a pointer to a valid child array (the invariant).
        let array_ptr = unsafe { *array_slot };
        // SAFETY: valid children live as long as their parents.
        let schema = unsafe { &*schema_ptr };
        // SAFETY: as above.
        let array = unsafe { &*array_ptr };
        // SAFETY: children of valid structs are valid structs describing the same data.
        unsafe { Input::new(schema, array, len, offset) }
    }

    /// The name of child `i` of a struct array (`i` below the child count).
    fn child_name(&self, i: usize) -> String {
        // SAFETY: `i` is below the child count (checked by the caller).
        let slot = unsafe { self.schema.children.add(i) };
        // SAFETY: as above: the slot holds a pointer to a valid child schema.
        let child = unsafe { *slot };
        // SAFETY: a valid child schema lives as long as its parent.
        let name = unsafe { (*child).name };
        // SAFETY: a valid schema's name is null or a C string.
        unsafe { c_str(name) }
    }

    /// The dictionary of a dictionary-encoded array: `None` if the schema has none.
    fn dictionary(&self) -> Result<Option<Input<'a>>, Error> {
        if self.schema.dictionary.is_null() {
            return Ok(None);
        }
        if self.array.dictionary.is_null() {
            return Err(malformed("a dictionary column without its dictionary"));
        }
        // SAFETY: both pointers are non-null and, by the invariant, point to valid structs.
        let schema = unsafe { &*self.schema.dictionary };
        // SAFETY: as above.
        let array = unsafe { &*self.array.dictionary };
        let len = array.length.max(0) as usize;
        // SAFETY: a valid dictionary is a valid array describing its own data.
        unsafe { Input::new(schema, array, len, 0) }.map(Some)
    }

    /// Buffer 1 as `T`s widened to i64: the indices of a dictionary-encoded column.
    ///
    /// # Safety
    /// The format must say buffer 1 holds `T`s.
    unsafe fn widened<T: Copy + Into<i64>>(&self) -> Result<Vec<i64>, Error> {
        // SAFETY: guaranteed by the caller.
        let raw = unsafe { self.slice::<T>(1, 0) }?;
        Ok(raw.iter().map(|&c| c.into()).collect())
    }

    fn is_valid(bits: Option<(&[u8], usize)>, i: usize) -> bool {
        bits.is_none_or(|(b, _)| b[i / 8] >> (i % 8) & 1 == 1)
    }
}

fn malformed(detail: &str) -> Error {
    Error::Malformed {
        detail: detail.to_owned(),
    }
}

/// Appends the rows of one Arrow struct array to `columns` (one per schema field, matched by
/// name), checking every value. On error the columns may hold part of the batch: callers build
/// into fresh columns and drop them on error.
///
/// With `adopt`, an empty column takes the producer's buffers without copying where their
/// layout is shoal's own (numbers, and text with i32 offsets, with no nulls), after the same
/// checks: that child array is moved out of the struct (the specification's "moving child
/// arrays") and released when the last column or snapshot reading it goes; the first write
/// copies. The other children stay with the struct, which the caller must then release at
/// once, so only the adopted columns' memory stays alive.
///
/// # Safety
/// `arrow_schema` and `array` must be valid, unreleased C Data Interface structs describing
/// the same data (as a producer hands them over). With `adopt`, the caller must own `array`
/// and release it right after this call.
pub unsafe fn import_struct(
    schema: &Schema,
    arrow_schema: &ArrowSchema,
    array: &ArrowArray,
    columns: &mut [crate::column::Column],
    adopt: bool,
) -> Result<(), Error> {
    // SAFETY: a valid schema's format is a C string (guaranteed by the caller).
    let format = unsafe { c_str(arrow_schema.format) };
    if format != "+s" {
        return Err(Error::NotAStruct { format });
    }
    if array.offset < 0 {
        return Err(malformed("a negative offset at the top level"));
    }
    if array.n_children != arrow_schema.n_children || array.n_children < 0 || array.length < 0 {
        return Err(malformed(
            "the array's and the schema's column counts differ",
        ));
    }
    let (len, offset) = (array.length as usize, array.offset as usize);
    // SAFETY: guaranteed by the caller.
    let top = unsafe { Input::new(arrow_schema, array, len, 0) }?;
    if array.null_count > 0 {
        return Err(malformed("null rows at the top level"));
    }
    let n = array.n_children as usize;
    for (field, col) in schema.fields().iter().zip(columns.iter_mut()) {
        let Some(i) = (0..n).find(|&i| top.child_name(i) == field.name) else {
            return Err(Error::MissingColumn {
                field: field.name.clone(),
            });
        };
        let owner = adopt.then(|| Arc::new(MovedChild::default()));
        let keep = owner.as_ref().map(|o| -> KeepAlive { o.clone() });
        import_column(field, &top.child(i, len, offset)?, col, keep.as_ref())?;
        drop(keep);
        if let Some(owner) = owner.filter(|o| Arc::strong_count(o) > 1) {
            // SAFETY: `i` is below the child count (found above), so the slot is inside the
            // array of child pointers.
            let slot = unsafe { array.children.add(i) };
            // SAFETY: the slot holds a pointer to a valid child array; nothing borrows the
            // child any more (its `Input` is gone).
            let slot = unsafe { *slot };
            // SAFETY: the slot points to a valid child array; we take the struct (its release
            // moves with it) ...
            let child = unsafe { std::ptr::read(slot) };
            // SAFETY: ... and mark the parent's copy released, so the parent's release leaves
            // this child to us (the specification's "moving child arrays").
            unsafe { (*slot).release = None };
            owner.hold(child);
        }
    }
    Ok(())
}

/// Checks a producer's schema against `schema` without data, for a stream that sends no
/// batch: the top level is a struct and every field has a column of its name. (Column types
/// are checked with the data, which here there is none of.)
///
/// # Safety
/// `arrow_schema` must be a valid, unreleased C Data Interface schema.
pub unsafe fn check_struct_schema(
    schema: &Schema,
    arrow_schema: &ArrowSchema,
) -> Result<(), Error> {
    // SAFETY: a valid schema's format is a C string (guaranteed by the caller).
    let format = unsafe { c_str(arrow_schema.format) };
    if format != "+s" {
        return Err(Error::NotAStruct { format });
    }
    let names: Vec<String> = (0..arrow_schema.n_children.max(0) as usize)
        .map(|i| {
            // SAFETY: `i` is below the child count, so the slot is inside the array of child
            // pointers of a valid schema.
            let slot = unsafe { arrow_schema.children.add(i) };
            // SAFETY: the slot holds a pointer to a valid child schema.
            let child = unsafe { *slot };
            // SAFETY: a valid child schema lives as long as its parent.
            let name = unsafe { (*child).name };
            // SAFETY: a valid schema's name is null or a C string.
            unsafe { c_str(name) }
        })
        .collect();
    match schema.fields().iter().find(|f| !names.contains(&f.name)) {
        Some(f) => Err(Error::MissingColumn {
            field: f.name.clone(),
        }),
        None => Ok(()),
    }
}

fn import_column(
    field: &Field,
    input: &Input<'_>,
    col: &mut crate::column::Column,
    keep: Option<&KeepAlive>,
) -> Result<(), Error> {
    let mismatch = || Error::TypeMismatch {
        field: field.name.clone(),
        expected: field_type_name(field),
        got: format_name(&input.format),
    };
    let validity = input.validity()?;
    if let Some((_, count)) = validity {
        if !field.nullable {
            return Err(Error::Nulls {
                field: field.name.clone(),
                count,
            });
        }
    }
    if let Some(keep) = keep.filter(|_| validity.is_none() && col.is_empty()) {
        if let Some(adopted) = adopt_buffers(field, input, col, keep) {
            return adopted.map_err(|e| refused_in_bulk(field, input, e));
        }
    }
    let bad = |row: usize, detail: String| Error::BadValue {
        field: field.name.clone(),
        row,
        detail,
    };
    let before = col.len();
    match field.dtype {
        DType::Category => return import_category(field, input, col, validity, &mismatch),
        DType::Str | DType::Bytes => {
            if let Some(bulk) = import_offsets_in_bulk(input, validity, col) {
                bulk.map_err(|e| refused_in_bulk(field, input, e))?;
                return mark_nulls(col, before, validity, input);
            }
            let values = read_var(input, field.dtype == DType::Str)
                .ok_or_else(mismatch)?
                .map_err(|e| match e {
                    Error::BadValue { row, detail, .. } => bad(row, detail),
                    other => other,
                })?;
            for (row, v) in values.into_iter().enumerate() {
                match col.push(v.map_or(Datum::Null, Datum::bytes)) {
                    Ok(()) => {}
                    Err(Problem::TooMuchData) => {
                        return Err(Error::TooMuchText {
                            field: field.name.clone(),
                        })
                    }
                    Err(p) => return Err(bad(row, format!("{p:?}"))),
                }
            }
            return Ok(());
        }
        DType::Datetime | DType::Timedelta => {
            let (prefix, tz) = if field.dtype == DType::Datetime {
                ("ts", format!(":{}", field.tz.as_deref().unwrap_or("")))
            } else {
                ("tD", String::new())
            };
            let unit = input
                .format
                .strip_prefix(prefix)
                // `get`, not indexing: a hostile format may hold a multi-byte character here.
                .filter(|rest| rest.get(1..) == Some(tz.as_str()))
                .and_then(|rest| unit_factor(rest.get(..1)?))
                .ok_or_else(mismatch)?;
            // SAFETY: the format is a timestamp or duration: buffer 1 holds i64s.
            let raw = unsafe { input.slice::<i64>(1, 0) }?;
            let range = field.dtype.temporal_range().unwrap_or((i64::MIN, i64::MAX));
            let mut out = Vec::with_capacity(raw.len());
            for (row, &v) in raw.iter().enumerate() {
                if !Input::is_valid(validity, input.offset + row) {
                    out.push(0);
                    continue;
                }
                let us = match unit {
                    (true, k) => v.checked_mul(k),
                    (false, k) if v % k == 0 => Some(v / k),
                    (false, _) => {
                        return Err(bad(
                            row,
                            format!("{v} ns is not a whole number of microseconds"),
                        ))
                    }
                };
                match us.filter(|us| (range.0..=range.1).contains(us)) {
                    Some(us) => out.push(us),
                    None => {
                        return Err(bad(row, format!("{v} is out of the {} range", field.dtype)))
                    }
                }
            }
            // SAFETY: i64s are plain bytes; the view covers exactly `out`, which outlives it.
            let bytes =
                unsafe { std::slice::from_raw_parts(out.as_ptr().cast::<u8>(), out.len() * 8) };
            col.extend_from_bytes(bytes)
                .map_err(|e| refused_in_bulk(field, input, e))?;
        }
        DType::Date => {
            if input.format != "tdD" {
                return Err(mismatch());
            }
            // SAFETY: the format is date32: buffer 1 holds i32s.
            let raw = unsafe { input.slice::<i32>(1, 0) }?;
            let range = crate::dtype::DATE_RANGE_DAYS;
            for (row, &v) in raw.iter().enumerate() {
                if Input::is_valid(validity, input.offset + row)
                    && !(range.0..=range.1).contains(&v)
                {
                    return Err(bad(row, format!("{v} days is out of the date range")));
                }
            }
            // SAFETY: i32s are plain bytes; the view covers exactly `raw`.
            let bytes =
                unsafe { std::slice::from_raw_parts(raw.as_ptr().cast::<u8>(), raw.len() * 4) };
            col.extend_from_bytes(bytes)
                .map_err(|e| refused_in_bulk(field, input, e))?;
        }
        DType::Bool => {
            if input.format != "b" {
                return Err(mismatch());
            }
            let data = input.buffer(1)?;
            if data.is_null() && input.len > 0 {
                return Err(malformed("a bool column has no data"));
            }
            let packed = if input.len == 0 {
                &[][..]
            } else {
                // SAFETY: the format is bool: buffer 1 holds `offset + len` bits.
                unsafe { std::slice::from_raw_parts(data, (input.offset + input.len).div_ceil(8)) }
            };
            let bits: Vec<u8> = (input.offset..input.offset + input.len)
                .map(|i| (packed[i / 8] >> (i % 8)) & 1)
                .collect();
            col.extend_from_bytes(&bits)
                .map_err(|e| refused_in_bulk(field, input, e))?;
        }
        fixed => {
            if input.format != fixed_format(fixed) {
                return Err(mismatch());
            }
            let size = fixed.itemsize();
            let data = input.buffer(1)?;
            if data.is_null() && input.len > 0 {
                return Err(malformed("a column has no data buffer"));
            }
            if input.len > 0 {
                // SAFETY: the format is this fixed-width type: buffer 1 holds `offset + len`
                // values of `size` bytes.
                let all =
                    unsafe { std::slice::from_raw_parts(data, (input.offset + input.len) * size) };
                col.extend_from_bytes(&all[input.offset * size..])
                    .map_err(|e| refused_in_bulk(field, input, e))?;
            }
        }
    }
    mark_nulls(col, before, validity, input)
}

/// Takes the producer's buffers as the rows of the empty, null-free `col` where their layout
/// is shoal's own: numbers (not temporal types, whose values are checked or scaled, nor bools,
/// which Arrow packs into bits) and text or bytes with i32 offsets starting at 0 (checked as
/// any import is). `None` where the copying path must run.
fn adopt_buffers(
    field: &Field,
    input: &Input<'_>,
    col: &mut crate::column::Column,
    keep: &KeepAlive,
) -> Option<Result<(), Refused>> {
    let owner = || Arc::clone(keep);
    let dtype = field.dtype;
    if input.len == 0 {
        return None;
    }
    if dtype.is_fixed() && dtype.storage() == dtype && dtype != DType::Bool {
        if input.format != fixed_format(dtype) {
            return None;
        }
        let size = dtype.itemsize();
        let data = NonNull::new(input.buffer(1).ok()?.cast_mut())?;
        // SAFETY: buffer 1 of this fixed-width format holds `offset + len` values (the `Input`
        // invariant), so the address of value `offset` is inside (or one past) it.
        let start = unsafe { data.add(input.offset * size) };
        // Arrow promises alignment; a hostile producer's pointer is checked (as `slice` does).
        if start.as_ptr() as usize % size != 0 {
            return None;
        }
        // SAFETY: `start` is aligned for the type (checked) and points to `len` values that
        // `keep`, which owns the array, keeps valid and unwritten (the caller's promise).
        let values = unsafe { Fixed::adopt(dtype, start, input.len, owner()) }?;
        return col.adopt_fixed(values).then_some(Ok(()));
    }
    if dtype == DType::Category {
        return adopt_codes(input, col, keep);
    }
    if !matches!(input.format.as_str(), "u" | "z") {
        return None;
    }
    // SAFETY: the format is utf8/binary: buffer 1 holds `len + 1` i32 offsets.
    let offsets = unsafe { input.slice::<i32>(1, 1) }.ok()?;
    let end = usize::try_from(*offsets.last()?).ok()?;
    let start = usize::try_from(offsets[0]).ok()?;
    let bytes = end.checked_sub(start)?;
    let data = match input.buffer(2).ok()? {
        p if bytes == 0 => NonNull::new(p.cast_mut()).unwrap_or(NonNull::dangling()),
        // SAFETY: the data buffer holds at least `end` bytes (the `Input` invariant) and
        // `start <= end`, so the address stays inside it.
        p => unsafe { NonNull::new(p.cast_mut())?.add(start) },
    };
    let offsets = if start == 0 {
        let offsets_ptr = NonNull::from(offsets).cast::<i32>();
        // SAFETY: `offsets` is a checked, aligned view of `len + 1` initialised i32s in the
        // producer's buffer, which `keep` keeps valid and unwritten.
        unsafe { Buffer::adopt(offsets_ptr, input.len + 1, owner()) }.ok()?
    } else {
        // A slice of a longer array: its offsets are rebased to start at 0 (a copy of 4 bytes
        // a row); its text is still read in place. `Strings::adopt` checks the result.
        let mut rebased = Buffer::new();
        rebased
            .try_extend(offsets.iter().map(|&o| o.wrapping_sub(offsets[0])))
            .ok()?;
        rebased
    };
    // SAFETY: the data buffer holds at least its last offset's bytes (the `Input` invariant;
    // `Strings::adopt` checks the offsets against this length), so the `bytes` from `start`
    // on are inside it, and `keep` keeps them valid and unwritten.
    let data = unsafe { Buffer::adopt(data, bytes, owner()) }.ok()?;
    let values = match Strings::adopt(offsets, data, dtype == DType::Str) {
        Ok(values) => values,
        Err(e) => return Some(Err(e)),
    };
    col.adopt_strings(values).then_some(Ok(()))
}

/// A category's codes adopted as they are: where the producer's dictionary indices have the
/// column's code type and its dictionary (text, i32 offsets, no nulls) lists the column's
/// own words in the column's order — as shoal writes them. `None` where they must be
/// translated (the copying path).
fn adopt_codes(
    input: &Input<'_>,
    col: &mut crate::column::Column,
    keep: &KeepAlive,
) -> Option<Result<(), Refused>> {
    let code_type = col.code_type()?;
    let dict = input.dictionary().ok()??;
    if input.format != fixed_format(code_type)
        || dict.format != "u"
        || dict.validity().ok()?.is_some()
    {
        return None;
    }
    // SAFETY: the dictionary's format is utf8: buffer 1 holds `len + 1` i32 offsets.
    let offsets = unsafe { dict.slice::<i32>(1, 1) }.ok()?;
    let end = usize::try_from(*offsets.last()?).ok()?;
    let data = dict.buffer(2).ok()?;
    let bytes: &[u8] = if end == 0 {
        &[]
    } else if data.is_null() {
        return None;
    } else {
        // SAFETY: a utf8 array's data buffer holds at least its last offset's bytes (the
        // `Input` invariant); `collect_arrow` checks the offsets and the UTF-8 within them.
        unsafe { std::slice::from_raw_parts(data, end) }
    };
    let words = Strings::collect_arrow(offsets, bytes, true).ok()?;
    let width = code_type.itemsize();
    let codes = NonNull::new(input.buffer(1).ok()?.cast_mut())?;
    // SAFETY: buffer 1 of an index array of this type holds `offset + len` codes, so the
    // address of code `offset` is inside (or one past) it.
    let start = unsafe { codes.add(input.offset * width) };
    if start.as_ptr() as usize % width != 0 {
        return None;
    }
    // SAFETY: `start` is aligned for the code type (checked) and points to `len` codes that
    // `keep`, which owns the array, keeps valid and unwritten; `adopt_codes` checks each
    // against the dictionary before the column uses them.
    let codes = unsafe { Fixed::adopt(code_type, start, input.len, Arc::clone(keep)) }?;
    col.adopt_codes(&words, codes).then_some(Ok(()))
}

/// Makes null the rows appended since `before` that the producer's validity bits mark null.
fn mark_nulls(
    col: &mut crate::column::Column,
    before: usize,
    validity: Option<(&[u8], usize)>,
    input: &Input<'_>,
) -> Result<(), Error> {
    if let Some((bits, _)) = validity {
        col.mark_nulls(before, bits, input.offset)
            .map_err(|_| Error::OutOfMemory {
                field: None,
                rows: input.len,
            })?;
    }
    Ok(())
}

/// The error for values of `field` refused in bulk.
fn refused_in_bulk(field: &Field, input: &Input<'_>, e: Refused) -> Error {
    let bad = |row, detail: String| Error::BadValue {
        field: field.name.clone(),
        row,
        detail,
    };
    match e {
        Refused::Layout(detail) => malformed(detail),
        Refused::NotUtf8 { row } => bad(row, "invalid UTF-8 in a text column".into()),
        Refused::Value {
            row,
            problem: Problem::UnknownCategory,
        } => bad(row, "not one of the field's values".into()),
        Refused::Value { row, problem } => bad(row, format!("{problem:?}")),
        Refused::Batch(Problem::TooMuchData) => Error::TooMuchText {
            field: field.name.clone(),
        },
        Refused::Batch(_) => Error::OutOfMemory {
            field: None,
            rows: input.len,
        },
    }
}

/// Appends a text or binary column with i32 or i64 offsets in one piece (offsets checked, UTF-8
/// checked once over the data, bytes copied at once). `None` where the per-row path must run:
/// views, and null rows whose slots hold bytes (which must not be copied or checked).
fn import_offsets_in_bulk(
    input: &Input<'_>,
    validity: Option<(&[u8], usize)>,
    col: &mut crate::column::Column,
) -> Option<Result<(), Refused>> {
    match input.format.as_str() {
        // SAFETY: the format is utf8/binary: buffer 1 holds `len + 1` i32 offsets.
        "u" | "z" => offsets_in_bulk(unsafe { input.slice::<i32>(1, 1) }, input, validity, col),
        // SAFETY: the format is large utf8/binary: buffer 1 holds `len + 1` i64 offsets.
        "U" | "Z" => offsets_in_bulk(unsafe { input.slice::<i64>(1, 1) }, input, validity, col),
        _ => None,
    }
}

fn offsets_in_bulk<O: Copy + Into<i64>>(
    offsets: Result<&[O], Error>,
    input: &Input<'_>,
    validity: Option<(&[u8], usize)>,
    col: &mut crate::column::Column,
) -> Option<Result<(), Refused>> {
    // A malformed layout is reported by the per-row path, which names it.
    let offsets = offsets.ok()?;
    let null_with_bytes = |row: usize| {
        !Input::is_valid(validity, input.offset + row)
            && offsets[row].into() != offsets[row + 1].into()
    };
    if validity.is_some() && (0..input.len).any(null_with_bytes) {
        return None;
    }
    // Checked before any slice is made: the data buffer is only known to reach the last
    // offset of offsets that never decrease (the per-row path names what is wrong).
    let monotone = offsets.windows(2).all(|w| w[0].into() <= w[1].into());
    if !monotone || offsets.first().is_none_or(|&o| o.into() < 0) {
        return None;
    }
    let end = offsets.last().map_or(0, |&o| o.into());
    let Ok(data) = input.buffer(2) else {
        return None;
    };
    if data.is_null() && end > 0 {
        return None;
    }
    let data = if end == 0 {
        &[][..]
    } else {
        // SAFETY: a utf8/binary array's data buffer holds at least its last offset's bytes
        // (the `Input` invariant), and the offsets never decrease (checked above).
        unsafe { std::slice::from_raw_parts(data, end as usize) }
    };
    Some(col.extend_from_offsets(offsets, data))
}

/// Reads a text or binary column as row slices (`None` for nulls), checking offsets, views and
/// (for text) UTF-8. `None` if the format is not a text/binary one of the right kind.
fn read_var<'a>(input: &Input<'a>, text: bool) -> Option<Result<Vec<Option<&'a [u8]>>, Error>> {
    let kind = match (input.format.as_str(), text) {
        ("u", true) | ("z", false) => VarKind::Offsets32,
        ("U", true) | ("Z", false) => VarKind::Offsets64,
        ("vu", true) | ("vz", false) => VarKind::Views,
        _ => return None,
    };
    Some(read_var_kind(input, kind, text))
}

/// How a variable-width Arrow array lays out its rows.
#[derive(Clone, Copy, PartialEq)]
enum VarKind {
    Offsets32,
    Offsets64,
    Views,
}

/// The (start, length, buffer, buffer size) of each row of an offsets array (i32 or i64),
/// with offsets checked monotone and non-negative.
fn offset_spans(
    input: &Input<'_>,
    kind: VarKind,
) -> Result<Vec<(usize, usize, *const u8, usize)>, Error> {
    let offsets: Vec<i64> = if kind == VarKind::Offsets32 {
        // SAFETY: the format is utf8/binary: buffer 1 holds `len + 1` i32 offsets.
        let raw = unsafe { input.slice::<i32>(1, 1) }?;
        raw.iter().map(|&o| o.into()).collect()
    } else {
        // SAFETY: the format is large utf8/binary: buffer 1 holds `len + 1` i64 offsets.
        unsafe { input.slice::<i64>(1, 1) }?.to_vec()
    };
    let data = input.buffer(2)?;
    let end = offsets.iter().copied().max().unwrap_or(0);
    if offsets.windows(2).any(|w| w[0] > w[1] || w[0] < 0) || (data.is_null() && end > 0) {
        return Err(malformed(
            "offsets are decreasing, negative or without data",
        ));
    }
    Ok(offsets
        .windows(2)
        .map(|w| (w[0] as usize, (w[1] - w[0]) as usize, data, end as usize))
        .collect())
}

fn read_var_kind<'a>(
    input: &Input<'a>,
    kind: VarKind,
    text: bool,
) -> Result<Vec<Option<&'a [u8]>>, Error> {
    let validity = input.validity()?;
    let spans = match kind {
        VarKind::Views => read_views(input)?,
        _ => offset_spans(input, kind)?,
    };
    let mut out = Vec::with_capacity(spans.len());
    for (row, (start, len, base, bound)) in spans.into_iter().enumerate() {
        if !Input::is_valid(validity, input.offset + row) {
            out.push(None);
            continue;
        }
        if start + len > bound {
            return Err(malformed("a value runs past its data buffer"));
        }
        // SAFETY: `base` points to a producer buffer of at least `bound` bytes (the largest
        // offset, or the buffer size the producer listed for views), and `start + len <= bound`.
        let buffer = unsafe { std::slice::from_raw_parts(base, bound) };
        let bytes = &buffer[start..start + len];
        if text && std::str::from_utf8(bytes).is_err() {
            return Err(Error::BadValue {
                field: String::new(),
                row,
                detail: "invalid UTF-8 in a text column".into(),
            });
        }
        out.push(Some(bytes));
    }
    Ok(out)
}

/// The (start, length, buffer, buffer size) of each row of a string/binary view array: buffer
/// 1 holds 16-byte views, then come the variadic data buffers, then an i64 array of their
/// sizes.
fn read_views(input: &Input<'_>) -> Result<Vec<(usize, usize, *const u8, usize)>, Error> {
    let n_buffers = input.array.n_buffers.max(0) as usize;
    if n_buffers < 3 {
        return Err(malformed("a view array needs a sizes buffer"));
    }
    let variadic = n_buffers - 3;
    let sizes_ptr = input.buffer(n_buffers - 1)?.cast::<i64>();
    if variadic > 0 && (sizes_ptr.is_null() || !sizes_ptr.is_aligned()) {
        return Err(malformed("a view array without its (aligned) buffer sizes"));
    }
    let sizes = if variadic == 0 {
        &[][..]
    } else {
        // SAFETY: the last buffer of a view array holds one i64 size per variadic buffer, and
        // the pointer is aligned (checked above).
        unsafe { std::slice::from_raw_parts(sizes_ptr, variadic) }
    };
    // SAFETY: the format is a view type: buffer 1 holds `len` 16-byte views.
    let views = unsafe { input.slice::<[u8; 16]>(1, 0) }?;
    let mut out = Vec::with_capacity(views.len());
    for view in views {
        let len = i32::from_le_bytes(view[0..4].try_into().expect("4 bytes"));
        if len < 0 {
            return Err(malformed("negative view length"));
        }
        if len <= 12 {
            // Short values are stored inline, in the 12 bytes after the length.
            out.push((4, len as usize, view.as_ptr(), 16));
            continue;
        }
        let buf = i32::from_le_bytes(view[8..12].try_into().expect("4 bytes"));
        let off = i32::from_le_bytes(view[12..16].try_into().expect("4 bytes"));
        if buf < 0 || buf as usize >= variadic || off < 0 {
            return Err(malformed("a view points to no buffer"));
        }
        let base = input.buffer(2 + buf as usize)?;
        let size = sizes[buf as usize].max(0) as usize;
        if base.is_null() && size > 0 {
            return Err(malformed("a view points to a missing buffer"));
        }
        out.push((off as usize, len as usize, base, size));
    }
    Ok(out)
}

/// Imports a category field from a dictionary-encoded column (any integer indices, text
/// values) or from a plain text column.
fn import_category(
    field: &Field,
    input: &Input<'_>,
    col: &mut crate::column::Column,
    validity: Option<(&[u8], usize)>,
    mismatch: &dyn Fn() -> Error,
) -> Result<(), Error> {
    let refused = |row: usize, p: Problem| Error::BadValue {
        field: field.name.clone(),
        row,
        detail: match p {
            Problem::UnknownCategory => "not one of the field's values".into(),
            other => format!("{other:?}"),
        },
    };
    let with_field = |e: Error| match e {
        Error::BadValue { row, detail, .. } => Error::BadValue {
            field: field.name.clone(),
            row,
            detail,
        },
        other => other,
    };
    let Some(dict) = input.dictionary()? else {
        let values = read_var(input, true)
            .ok_or_else(mismatch)?
            .map_err(with_field)?;
        return col
            .extend_categories(values.into_iter())
            .map_err(|(row, p)| refused(row, p));
    };
    let words = read_var(&dict, true)
        .ok_or_else(mismatch)?
        .map_err(with_field)?;
    let codes = dictionary_indices(input).ok_or_else(mismatch)??;
    let before = col.len();
    let valid = |row: usize| Input::is_valid(validity, input.offset + row);
    col.extend_indexed(&words, codes.into_iter(), valid)
        .map_err(|e| refused_in_bulk(field, input, e))?;
    mark_nulls(col, before, validity, input)
}

/// The indices of a dictionary-encoded column, widened to i64: `None` if the format is not an
/// integer type.
fn dictionary_indices(input: &Input<'_>) -> Option<Result<Vec<i64>, Error>> {
    let codes = match input.format.as_str() {
        // SAFETY: format "c" says buffer 1 holds int8 indices.
        "c" => unsafe { input.widened::<i8>() },
        // SAFETY: format "C" says buffer 1 holds uint8 indices.
        "C" => unsafe { input.widened::<u8>() },
        // SAFETY: format "s" says buffer 1 holds int16 indices.
        "s" => unsafe { input.widened::<i16>() },
        // SAFETY: format "S" says buffer 1 holds uint16 indices.
        "S" => unsafe { input.widened::<u16>() },
        // SAFETY: format "i" says buffer 1 holds int32 indices.
        "i" => unsafe { input.widened::<i32>() },
        // SAFETY: format "I" says buffer 1 holds uint32 indices.
        "I" => unsafe { input.widened::<u32>() },
        // SAFETY: format "l" says buffer 1 holds int64 indices.
        "l" => unsafe { input.widened::<i64>() },
        // SAFETY: format "L" says buffer 1 holds uint64 indices (any past i64 is out of the
        // dictionary's range anyway, and refused as such).
        "L" => unsafe { input.slice::<u64>(1, 0) }.map(|raw| {
            raw.iter()
                .map(|&c| i64::try_from(c).unwrap_or(i64::MAX))
                .collect()
        }),
        _ => return None,
    };
    Some(codes)
}
