//! A column: a field's values (fixed-width, variable-width or dictionary-encoded) and, once the
//! field has held a null, a validity bitmap beside them.

mod categories;
mod fixed;
mod kernels;
mod key;
mod order;
mod parts;
mod permute;
mod slice;
mod snapshot;
mod strings;

pub use categories::Categories;
pub use fixed::{Fixed, FixedSnapshot};
pub use key::{key_parts, KeyPart};
pub use order::{order_of, SortKey};
pub use permute::{is_permutation, Reordered, Scratch};
pub use snapshot::{ColumnSnapshot, SnapshotData};
pub use strings::Strings;

use crate::buffer::bitmap::Bitmap;
use crate::buffer::AllocError;
use crate::dtype::{DType, Datum, Problem, Scalar};

/// Why values given in bulk (an Arrow array's buffers, a pickle's parts) were refused; nothing
/// was appended.
#[derive(Clone, Debug, PartialEq)]
pub enum Refused {
    /// The buffers contradict each other (offsets decreasing, negative or past the data; an
    /// index past the dictionary; a length that is not a whole number of values).
    Layout(&'static str),
    /// Row `row` (counted from the first given) is not UTF-8 on its own.
    NotUtf8 {
        /// The row.
        row: usize,
    },
    /// Row `row`'s value is refused (a value outside a closed category).
    Value {
        /// The row.
        row: usize,
        /// Why.
        problem: Problem,
    },
    /// The batch as a whole does not fit (text past 2 GiB, or the allocator refused).
    Batch(Problem),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Layout(detail) => f.write_str(detail),
            Refused::NotUtf8 { row } => write!(f, "row {row} is not valid UTF-8"),
            Refused::Value { row, problem } => write!(f, "row {row}: {problem:?}"),
            Refused::Batch(Problem::TooMuchData) => f.write_str("text past 2 GiB"),
            Refused::Batch(_) => f.write_str("does not fit in memory"),
        }
    }
}

impl Refused {
    /// A refused allocation.
    pub(crate) fn oom<E>(_: E) -> Refused {
        Refused::Batch(Problem::OutOfMemory)
    }
}

/// Where a column's values live.
#[derive(Clone, Debug)]
enum Values {
    Fixed(Fixed),
    Var(Strings),
    Cat(Categories),
}

/// One field's values (fixed-width, text/bytes or category) and, once the field has held a null, a
/// validity bitmap.
#[derive(Clone, Debug)]
pub struct Column {
    dtype: DType,
    nullable: bool,
    values: Values,
    /// Absent until the first null (Arrow's convention: no bitmap means no nulls).
    validity: Option<Bitmap>,
}

impl Column {
    /// An empty column. `categories` lists the values of a closed category.
    pub fn new(dtype: DType, nullable: bool, categories: Option<&[String]>) -> Column {
        let values = match dtype {
            DType::Str | DType::Bytes => Values::Var(Strings::new()),
            DType::Category => Values::Cat(Categories::new(categories)),
            fixed => Values::Fixed(Fixed::new(fixed)),
        };
        Column {
            dtype,
            nullable,
            values,
            validity: None,
        }
    }

    /// An empty column for a schema field.
    pub fn for_field(field: &crate::dtype::Field) -> Column {
        Column::new(field.dtype, field.nullable, field.categories.as_deref())
    }

    /// An empty column with the same type, optionality and (closed) categories as `self`.
    pub fn empty_like(&self) -> Column {
        let mut c = self.clone();
        c.clear();
        c
    }

    /// `len` copies of `cell` in an empty column like `self`.
    pub fn filled_like(&self, cell: Datum<'_>, len: usize) -> Result<Column, Problem> {
        let mut c = self.empty_like();
        c.reserve(len);
        for _ in 0..len {
            c.push(cell.reborrow())?;
        }
        Ok(c)
    }

    /// The field's type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.values {
            Values::Fixed(f) => f.len(),
            Values::Var(s) => s.len(),
            Values::Cat(c) => c.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of nulls.
    pub fn null_count(&self) -> usize {
        self.validity.as_ref().map_or(0, Bitmap::count_unset)
    }

    /// Bytes of data held (values, offsets, codes, dictionary; not spare capacity).
    pub fn nbytes(&self) -> usize {
        let values = match &self.values {
            Values::Fixed(f) => f.nbytes(),
            Values::Var(s) => s.nbytes(),
            Values::Cat(c) => c.nbytes(),
        };
        values + self.validity.as_ref().map_or(0, Bitmap::nbytes)
    }

    /// Makes room for `additional` more rows.
    pub fn reserve(&mut self, additional: usize) {
        match &mut self.values {
            Values::Fixed(f) => f.reserve(additional),
            Values::Var(s) => s.reserve(additional, 0),
            Values::Cat(c) => c.reserve(additional),
        }
    }

    /// As [`Column::reserve`], but a refused allocation is an error, the column unchanged: for
    /// row counts that come from outside (`len()` of a Python object).
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), AllocError> {
        match &mut self.values {
            Values::Fixed(f) => f.try_reserve(additional),
            Values::Var(s) => s.try_reserve_rows(additional),
            Values::Cat(c) => c.try_reserve(additional),
        }
    }

    fn try_unshare_from(&mut self, i: usize) -> Result<(), AllocError> {
        match &mut self.values {
            Values::Fixed(f) => f.try_unshare_from(i)?,
            Values::Var(s) => s.try_unshare()?,
            Values::Cat(c) => c.try_unshare_from(i)?,
        }
        self.validity.as_mut().map_or(Ok(()), Bitmap::try_unshare)
    }

    /// Bytes of [`Column::nbytes`] that are adopted foreign memory — an Arrow producer's
    /// buffers, or a memory-mapped file's — rather than the column's own allocations.
    pub fn foreign_bytes(&self) -> usize {
        match &self.values {
            Values::Fixed(f) => f.foreign_bytes(),
            Values::Var(s) => s.foreign_bytes(),
            Values::Cat(c) => c.foreign_bytes(),
        }
    }

    /// See [`Buffer::allocation_id`] (the data buffer; for categories, the codes).
    pub fn allocation_id(&self) -> usize {
        match &self.values {
            Values::Fixed(f) => f.allocation_id(),
            Values::Var(s) => s.allocation_id(),
            Values::Cat(c) => c.allocation_id(),
        }
    }

    /// The dictionary of a category column.
    pub fn categories(&self) -> Option<&Categories> {
        match &self.values {
            Values::Cat(c) => Some(c),
            _ => None,
        }
    }

    /// Adds `value` to a category column's dictionary without adding a row (at the next code,
    /// unless it is there already): for a column that must number its values as another
    /// table did. `Ok(false)` for a column that is not a category.
    pub fn intern_category(&mut self, value: &[u8]) -> Result<bool, Problem> {
        match &mut self.values {
            Values::Cat(c) => c.code_of(value).map(|_| true),
            _ => Ok(false),
        }
    }

    /// The type of a category column's codes (u8, u16 or u32); `None` for other columns.
    pub fn code_type(&self) -> Option<DType> {
        self.categories().map(Categories::code_type)
    }

    /// The category code of row `i` (for binding layers that cache one object per value).
    #[inline]
    pub fn code(&self, i: usize) -> Option<Option<u32>> {
        if i >= self.len() {
            return None;
        }
        if self.is_null(i) {
            return Some(None);
        }
        match &self.values {
            Values::Cat(c) => Some(c.code(i)),
            _ => None,
        }
    }

    #[inline]
    fn is_null(&self, i: usize) -> bool {
        self.validity.as_ref().is_some_and(|v| !v.get(i))
    }

    /// Row `i` of an `f64` column, if it exists and is not null: the typed read path of
    /// binding layers (`row.x`), with no `Datum` to match on.
    #[inline]
    pub fn f64_at(&self, i: usize) -> Option<f64> {
        let Values::Fixed(Fixed::F64(b)) = &self.values else {
            return None;
        };
        let value = b.get(i);
        match &self.validity {
            None => value,
            // The bitmap has a bit per row: `i` is in range if the value was.
            Some(v) => value.filter(|_| v.get(i)),
        }
    }

    /// As [`Column::f64_at`], for an `i64` column.
    #[inline]
    pub fn i64_at(&self, i: usize) -> Option<i64> {
        let Values::Fixed(Fixed::I64(b)) = &self.values else {
            return None;
        };
        let value = b.get(i);
        match &self.validity {
            None => value,
            // The bitmap has a bit per row: `i` is in range if the value was.
            Some(v) => value.filter(|_| v.get(i)),
        }
    }

    /// As [`Column::f64_at`], for a `bool` column.
    #[inline]
    pub fn bool_at(&self, i: usize) -> Option<bool> {
        let Values::Fixed(Fixed::Bool(b)) = &self.values else {
            return None;
        };
        let value = b.get(i);
        match &self.validity {
            None => value,
            // The bitmap has a bit per row: `i` is in range if the value was.
            Some(v) => value.filter(|_| v.get(i)),
        }
    }

    /// As [`Column::f64_at`], for a text or bytes column: the row's bytes.
    #[inline]
    pub fn bytes_at(&self, i: usize) -> Option<&[u8]> {
        let Values::Var(s) = &self.values else {
            return None;
        };
        let value = s.get(i);
        match &self.validity {
            None => value,
            // The bitmap has a bit per row: `i` is in range if the value was.
            Some(v) => value.filter(|_| v.get(i)),
        }
    }

    /// As [`Column::f64_at`], for a category column: the row's code.
    #[inline]
    pub fn code_at(&self, i: usize) -> Option<u32> {
        let Values::Cat(c) = &self.values else {
            return None;
        };
        let value = c.code(i);
        match &self.validity {
            None => value,
            // The bitmap has a bit per row: `i` is in range if the value was.
            Some(v) => value.filter(|_| v.get(i)),
        }
    }

    /// Overwrites row `i` of a `float`, `int` or `bool` column with `s` in place if that is all
    /// it takes: the types match, the row exists and holds a value, no snapshot shares it.
    /// `false` (nothing changed) otherwise, for the general [`Column::set`]. The write path of
    /// binding layers (`row.x = v`).
    #[inline]
    pub fn set_in_place(&mut self, i: usize, s: Scalar) -> bool {
        if let Some(v) = &self.validity {
            if i >= v.len() || !v.get(i) {
                return false;
            }
        }
        match (&mut self.values, s) {
            (Values::Fixed(Fixed::F64(b)), Scalar::F64(x)) => b.set_if_private(i, x),
            (Values::Fixed(Fixed::I64(b)), Scalar::I64(x)) => b.set_if_private(i, x),
            (Values::Fixed(Fixed::Bool(b)), Scalar::Bool(x)) => b.set_if_private(i, x),
            _ => false,
        }
    }

    /// Row `i` (`Datum::Null` for a null), or `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Datum<'_>> {
        if i < self.len() && self.is_null(i) {
            return Some(Datum::Null);
        }
        match &self.values {
            Values::Fixed(f) => f.get(i).map(Datum::Num),
            Values::Var(s) => s.get(i).map(Datum::bytes),
            Values::Cat(c) => c.get(i).map(Datum::bytes),
        }
    }

    /// The value stored in a null slot: zero, or empty (categories: the first code).
    fn push_placeholder(&mut self) {
        match &mut self.values {
            Values::Fixed(f) => f.push_zero(),
            Values::Var(s) => s.push(b"").expect("empty fits"),
            Values::Cat(c) => c.push_code(0),
        }
    }

    /// Checks `cell` against this column's type without storing it.
    fn check(&self, cell: &Datum<'_>) -> Result<(), Problem> {
        let wrong = |got| Problem::WrongType {
            expected: self.dtype,
            got,
        };
        match (cell, &self.values) {
            (Datum::Null, _) if !self.nullable => Err(Problem::NotOptional),
            (Datum::Null, _) => Ok(()),
            (Datum::Num(s), Values::Fixed(f)) if s.dtype() == f.dtype() => Ok(()),
            (Datum::Num(s), _) => Err(wrong(s.to_value().kind())),
            (Datum::Bytes(_), Values::Fixed(_)) => Err(wrong("bytes")),
            (Datum::Bytes(_), _) => Ok(()),
        }
    }

    /// Appends a value; on error nothing is appended.
    #[inline]
    pub fn push(&mut self, cell: Datum<'_>) -> Result<(), Problem> {
        // A refused allocation is an error with nothing changed, never an abort: the validity
        // bit's room first, then each push reserves its own (text its bytes, categories their
        // code) before it changes anything.
        if let Some(v) = &mut self.validity {
            v.try_reserve_one().map_err(|_| Problem::OutOfMemory)?;
        }
        match (cell, &mut self.values) {
            (Datum::Num(s), Values::Fixed(f)) => {
                if !f.try_push(s).map_err(|_| Problem::OutOfMemory)? {
                    return self.check(&Datum::Num(s));
                }
            }
            (Datum::Bytes(b), Values::Var(s)) => s.push(&b)?,
            (Datum::Bytes(b), Values::Cat(c)) => {
                c.try_reserve(1).map_err(|_| Problem::OutOfMemory)?;
                c.push(&b)?
            }
            (Datum::Null, _) => return self.push_null(),
            (cell, _) => return self.check(&cell),
        }
        if let Some(v) = &mut self.validity {
            v.push(true);
        }
        Ok(())
    }

    #[cold]
    fn push_null(&mut self) -> Result<(), Problem> {
        self.check(&Datum::Null)?;
        self.validity_for_null()?;
        self.try_reserve(1).map_err(|_| Problem::OutOfMemory)?;
        self.push_placeholder();
        if let Some(v) = &mut self.validity {
            v.push(false);
        }
        Ok(())
    }

    /// The validity bitmap, made (all set: the same meaning as none) if there is none yet, with
    /// room for one more bit and unshared; a refused allocation is an error, the values as
    /// they were.
    fn validity_for_null(&mut self) -> Result<(), Problem> {
        let oom = |_| Problem::OutOfMemory;
        if self.validity.is_none() {
            self.validity = Some(Bitmap::try_all_set(self.len()).map_err(oom)?);
        }
        let v = self.validity.as_mut().expect("made above");
        v.try_reserve_one().map_err(oom)?;
        v.try_unshare().map_err(oom)
    }

    /// Overwrites row `i` (which must exist); on error nothing changes.
    pub fn set(&mut self, i: usize, cell: Datum<'_>) -> Result<(), Problem> {
        self.check(&cell)?;
        // A snapshot (a `Column`, an export) may still share the storage: the write copies it
        // first, and a refused copy is an error before anything changes.
        self.try_unshare_from(i).map_err(|_| Problem::OutOfMemory)?;
        let valid = !matches!(cell, Datum::Null);
        if !valid {
            self.validity_for_null()?;
        }
        match (cell, &mut self.values) {
            // Null slots hold zero (so sums can ignore validity) or empty bytes.
            (Datum::Null, Values::Fixed(f)) => f.set(i, Scalar::zero(f.dtype())),
            (Datum::Null, Values::Var(s)) => s.set(i, b"")?,
            (Datum::Null, Values::Cat(_)) => {}
            (Datum::Num(s), Values::Fixed(f)) => f.set(i, s),
            (Datum::Bytes(b), Values::Var(s)) => s.set(i, &b)?,
            (Datum::Bytes(b), Values::Cat(c)) => c.set(i, &b)?,
            _ => unreachable!("checked"),
        }
        if let Some(v) = &mut self.validity {
            v.set(i, valid);
        }
        Ok(())
    }

    /// Inserts before row `i` (at most `len`); on error nothing changes.
    pub fn insert(&mut self, i: usize, cell: Datum<'_>) -> Result<(), Problem> {
        self.check(&cell)?;
        // Room before anything moves (text is rebuilt, fallibly, by `Strings::insert`).
        self.try_reserve(1).map_err(|_| Problem::OutOfMemory)?;
        self.try_unshare_from(i).map_err(|_| Problem::OutOfMemory)?;
        let valid = !matches!(cell, Datum::Null);
        if !valid {
            self.validity_for_null()?;
        } else if let Some(v) = &mut self.validity {
            v.try_reserve_one().map_err(|_| Problem::OutOfMemory)?;
        }
        match (cell, &mut self.values) {
            (Datum::Null, Values::Fixed(f)) => f.insert(i, Scalar::zero(f.dtype())),
            (Datum::Null, Values::Var(s)) => s.insert(i, b"")?,
            (Datum::Null, Values::Cat(c)) => c.insert_code(i, 0),
            (Datum::Num(s), Values::Fixed(f)) => f.insert(i, s),
            (Datum::Bytes(b), Values::Var(s)) => s.insert(i, &b)?,
            (Datum::Bytes(b), Values::Cat(c)) => c.insert(i, &b)?,
            _ => unreachable!("checked"),
        }
        if let Some(v) = &mut self.validity {
            v.insert(i, valid);
        }
        Ok(())
    }

    /// Makes [`Column::remove`] of row `i` unable to fail: copies now what a snapshot shares
    /// and folds overwritten text back in. A refused allocation is an error, the values
    /// unchanged.
    pub fn prepare_remove(&mut self, i: usize) -> Result<(), Problem> {
        self.try_unshare_from(i).map_err(|_| Problem::OutOfMemory)?;
        if let Values::Var(s) = &mut self.values {
            s.compact()?;
        }
        Ok(())
    }

    /// Removes row `i` (`i < len`), moving the later rows down, in place. Cannot fail after
    /// [`Column::prepare_remove`]; otherwise a refused allocation is an error, the column
    /// unchanged.
    pub fn remove(&mut self, i: usize) -> Result<(), Problem> {
        self.prepare_remove(i)?;
        match &mut self.values {
            Values::Fixed(f) => f.remove(i),
            Values::Var(s) => s.remove(i)?,
            Values::Cat(c) => c.remove(i),
        }
        if let Some(v) = &mut self.validity {
            v.remove(i);
        }
        Ok(())
    }

    /// Keeps the first `len` rows; a no-op if there are fewer.
    pub fn truncate(&mut self, len: usize) {
        match &mut self.values {
            Values::Fixed(f) => f.truncate(len),
            Values::Var(s) => s.truncate(len),
            Values::Cat(c) => c.truncate(len),
        }
        if let Some(v) = &mut self.validity {
            v.truncate(len);
        }
    }

    /// Removes every row.
    pub fn clear(&mut self) {
        match &mut self.values {
            Values::Fixed(f) => f.clear(),
            Values::Var(s) => s.clear(),
            Values::Cat(c) => c.clear(),
        }
        self.validity = None;
    }

    /// Reclaims the space of overwritten strings; returns whether there was any. A refused
    /// allocation is an error, the column unchanged.
    pub fn compact(&mut self) -> Result<bool, Problem> {
        match &mut self.values {
            Values::Var(s) => s.compact(),
            _ => Ok(false),
        }
    }

    /// Bytes of overwritten strings not yet reclaimed.
    pub fn dead_bytes(&self) -> usize {
        match &self.values {
            Values::Var(s) => s.dead_bytes(),
            _ => 0,
        }
    }

    /// Same type and the same values, row by row (NaN differs from NaN, as in NumPy).
    pub fn values_eq(&self, other: &Column) -> bool {
        if self.dtype != other.dtype || self.len() != other.len() {
            return false;
        }
        match (&self.values, &other.values) {
            (Values::Fixed(a), Values::Fixed(b))
                if self.validity.is_none() && other.validity.is_none() =>
            {
                a.values_eq(b)
            }
            _ => (0..self.len()).all(|i| self.get(i) == other.get(i)),
        }
    }

    /// A new column holding copies of the given rows, in order (each must be in range; rows
    /// may repeat). A refused allocation is an error.
    pub fn take(
        &self,
        rows: impl ExactSizeIterator<Item = usize> + Clone,
    ) -> Result<Column, Problem> {
        let oom = |_| Problem::OutOfMemory;
        let validity = match &self.validity {
            Some(v) => Some(v.try_take(rows.clone()).map_err(oom)?),
            None => None,
        };
        let values = match &self.values {
            Values::Fixed(f) => Values::Fixed(f.take(rows).map_err(oom)?),
            Values::Var(s) => Values::Var(s.take(rows)?),
            Values::Cat(c) => Values::Cat(c.take(rows)?),
        };
        Ok(Column {
            dtype: self.dtype,
            nullable: self.nullable,
            values,
            validity,
        })
    }

    /// Appends fixed-width values given as native-endian bytes (see [`Fixed::extend_from_bytes`]);
    /// on error nothing is appended.
    pub fn extend_from_bytes(&mut self, bytes: &[u8]) -> Result<(), Refused> {
        let before = self.len();
        match &mut self.values {
            Values::Fixed(f) => f.extend_from_bytes(bytes)?,
            _ => {
                return Err(Refused::Layout(
                    "fixed-width values for a variable-width column",
                ))
            }
        }
        self.extend_validity(before)
    }

    /// Appends Arrow-layout variable-width values (see [`Strings::extend_from_arrow`]; text
    /// columns check UTF-8); on error nothing is appended.
    pub fn extend_from_offsets<O: Copy + Into<i64>>(
        &mut self,
        offsets: &[O],
        data: &[u8],
    ) -> Result<(), Refused> {
        let before = self.len();
        let text = self.dtype == DType::Str;
        match &mut self.values {
            Values::Var(s) => s.extend_from_arrow(offsets, data, text)?,
            _ => return Err(Refused::Layout("offsets and data for a fixed-width column")),
        }
        self.extend_validity(before)
    }

    /// Appends category rows given as indices into a producer's dictionary (see
    /// [`Categories::extend_indexed`]); rows that are not `valid` are appended as placeholders
    /// for the caller to mark null. On error nothing is appended.
    pub fn extend_indexed(
        &mut self,
        words: &[Option<&[u8]>],
        indices: impl ExactSizeIterator<Item = i64>,
        valid: impl Fn(usize) -> bool,
    ) -> Result<(), Refused> {
        let before = self.len();
        match &mut self.values {
            Values::Cat(c) => c.extend_indexed(words, indices, valid)?,
            _ => {
                return Err(Refused::Layout(
                    "dictionary indices for a column of another type",
                ))
            }
        }
        self.extend_validity(before)
    }

    /// Takes `values` (for instance adopted foreign memory, see [`Fixed::adopt`]) as the rows
    /// of this empty column, which has held no null: `false`, nothing changed, if it holds
    /// rows or the values are of another type.
    pub fn adopt_fixed(&mut self, values: Fixed) -> bool {
        let fits = matches!(&self.values, Values::Fixed(f) if f.dtype() == values.dtype());
        if !fits || !self.is_empty() || self.validity.is_some() {
            return false;
        }
        self.values = Values::Fixed(values);
        true
    }

    /// As [`Column::adopt_fixed`], for text or bytes (see [`Strings::adopt`]).
    pub fn adopt_strings(&mut self, values: Strings) -> bool {
        if !matches!(self.values, Values::Var(_)) || !self.is_empty() || self.validity.is_some() {
            return false;
        }
        self.values = Values::Var(values);
        true
    }

    /// As [`Column::adopt_fixed`], for a category's codes (see [`Categories::adopt_codes`]).
    pub fn adopt_codes(&mut self, words: &Strings, codes: Fixed) -> bool {
        match &mut self.values {
            Values::Cat(c) if self.validity.is_none() => c.adopt_codes(words, codes),
            _ => false,
        }
    }

    /// Appends category rows by value (for imports); on error nothing is appended and the
    /// error names the offending row (counted from the first appended).
    pub fn extend_categories<'a>(
        &mut self,
        values: impl Iterator<Item = Option<&'a [u8]>>,
    ) -> Result<(), (usize, Problem)> {
        let before = self.len();
        for (row, v) in values.enumerate() {
            if let Err(e) = self.push(v.map_or(Datum::Null, Datum::bytes)) {
                self.truncate(before);
                return Err((row, e));
            }
        }
        Ok(())
    }

    /// Marks the rows appended since `before` as valid; if the bitmap cannot grow, the rows
    /// are removed again and the error returned.
    fn extend_validity(&mut self, before: usize) -> Result<(), Refused> {
        let len = self.len();
        if let Some(v) = &mut self.validity {
            if v.try_extend_set(len - before).is_err() {
                self.truncate(before);
                return Err(Refused::Batch(Problem::OutOfMemory));
            }
        }
        Ok(())
    }

    /// Makes null the rows appended since `before` whose bit in `bits` (Arrow layout, counted
    /// from bit `offset`) is 0. The column must be nullable.
    pub fn mark_nulls(&mut self, before: usize, bits: &[u8], offset: usize) -> Result<(), Problem> {
        for k in before..self.len() {
            let i = offset + (k - before);
            if bits[i / 8] >> (i % 8) & 1 == 0 {
                self.set(k, Datum::Null)?;
            }
        }
        Ok(())
    }

    /// An immutable snapshot of the values and validity, sharing their buffers (text is
    /// compacted first: a refused allocation is an error, the column unchanged).
    pub fn snapshot(&mut self) -> Result<ColumnSnapshot, Problem> {
        let len = self.len();
        let data = match &mut self.values {
            Values::Fixed(f) => SnapshotData::Fixed(f.snapshot()),
            Values::Var(s) => {
                let (offsets, data) = s.snapshot()?;
                SnapshotData::Var { offsets, data }
            }
            Values::Cat(c) => {
                let (codes, offsets, data) = c.snapshot()?;
                SnapshotData::Cat {
                    codes,
                    offsets,
                    data,
                }
            }
        };
        let null_count = self.null_count();
        Ok(ColumnSnapshot {
            dtype: self.dtype,
            len,
            data,
            validity: self.validity.as_mut().map(|v| (v.snapshot(), null_count)),
        })
    }
}
