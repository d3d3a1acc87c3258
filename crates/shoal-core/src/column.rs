//! A column: a field's values (fixed-width, variable-width or dictionary-encoded) and, once the
//! field has held a null, a validity bitmap beside them.

use crate::bitmap::Bitmap;
use crate::buffer::Snapshot as RawSnapshot;
use crate::buffer::{Buffer, Snapshot};
use crate::category::Categories;
use crate::dtype::{Cell, DType, Problem, Scalar};
use crate::kernels;
use crate::strings::Strings;

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

#[derive(Clone, Debug)]
pub enum Fixed {
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

    /// Appends a scalar of this column's type; `false` (appending nothing) if it is of another.
    #[inline]
    pub fn try_push(&mut self, s: Scalar) -> bool {
        match (self, s) {
            (Fixed::F64(b), Scalar::F64(v)) => b.push(v),
            (Fixed::I64(b), Scalar::I64(v)) => b.push(v),
            (Fixed::F32(b), Scalar::F32(v)) => b.push(v),
            (Fixed::I8(b), Scalar::I8(v)) => b.push(v),
            (Fixed::I16(b), Scalar::I16(v)) => b.push(v),
            (Fixed::I32(b), Scalar::I32(v)) => b.push(v),
            (Fixed::U8(b), Scalar::U8(v)) => b.push(v),
            (Fixed::U16(b), Scalar::U16(v)) => b.push(v),
            (Fixed::U32(b), Scalar::U32(v)) => b.push(v),
            (Fixed::U64(b), Scalar::U64(v)) => b.push(v),
            (Fixed::Bool(b), Scalar::Bool(v)) => b.push(v),
            _ => return false,
        }
        true
    }

    /// Appends a scalar of this column's type (panics on a mismatched scalar: a caller bug).
    #[inline]
    pub fn push(&mut self, s: Scalar) {
        with_scalar!(self, s, b, v => b.push(v))
    }

    pub fn push_zero(&mut self) {
        self.push(Scalar::zero(self.dtype()));
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
        if let Fixed::Bool(b) = self {
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
    pub fn take(&self, rows: impl ExactSizeIterator<Item = usize>) -> Fixed {
        let mut out = Fixed::new(self.dtype());
        out.reserve(rows.len());
        for i in rows {
            out.push(self.get(i).expect("row index in range"));
        }
        out
    }

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

/// Where a column's values live.
#[derive(Clone, Debug)]
enum Values {
    Fixed(Fixed),
    Var(Strings),
    Cat(Categories),
}

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
    pub fn for_field(field: &crate::Field) -> Column {
        Column::new(field.dtype, field.nullable, field.categories.as_deref())
    }

    /// An empty column with the same type, optionality and (closed) categories as `self`.
    pub fn empty_like(&self) -> Column {
        let mut c = self.clone();
        c.clear();
        c
    }

    /// `len` copies of `cell` in an empty column like `self`.
    pub fn filled_like(&self, cell: Cell<'_>, len: usize) -> Result<Column, Problem> {
        let mut c = self.empty_like();
        c.reserve(len);
        for _ in 0..len {
            c.push(cell.reborrow())?;
        }
        Ok(c)
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn len(&self) -> usize {
        match &self.values {
            Values::Fixed(f) => f.len(),
            Values::Var(s) => s.len(),
            Values::Cat(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn null_count(&self) -> usize {
        self.validity.as_ref().map_or(0, Bitmap::count_unset)
    }

    pub fn nbytes(&self) -> usize {
        let values = match &self.values {
            Values::Fixed(f) => f.nbytes(),
            Values::Var(s) => s.nbytes(),
            Values::Cat(c) => c.nbytes(),
        };
        values + self.validity.as_ref().map_or(0, Bitmap::nbytes)
    }

    pub fn reserve(&mut self, additional: usize) {
        match &mut self.values {
            Values::Fixed(f) => f.reserve(additional),
            Values::Var(s) => s.reserve(additional, 0),
            Values::Cat(c) => c.reserve(additional),
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

    #[inline]
    pub fn get(&self, i: usize) -> Option<Cell<'_>> {
        if i < self.len() && self.is_null(i) {
            return Some(Cell::Null);
        }
        match &self.values {
            Values::Fixed(f) => f.get(i).map(Cell::Num),
            Values::Var(s) => s.get(i).map(Cell::bytes),
            Values::Cat(c) => c.get(i).map(Cell::bytes),
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
    fn check(&self, cell: &Cell<'_>) -> Result<(), Problem> {
        let wrong = |got| Problem::WrongType {
            expected: self.dtype,
            got,
        };
        match (cell, &self.values) {
            (Cell::Null, _) if !self.nullable => Err(Problem::NotOptional),
            (Cell::Null, _) => Ok(()),
            (Cell::Num(s), Values::Fixed(f)) if s.dtype() == f.dtype() => Ok(()),
            (Cell::Num(s), _) => Err(wrong(s.to_value().kind())),
            (Cell::Bytes(_), Values::Fixed(_)) => Err(wrong("bytes")),
            (Cell::Bytes(_), _) => Ok(()),
        }
    }

    /// Appends a value; on error nothing is appended.
    #[inline]
    pub fn push(&mut self, cell: Cell<'_>) -> Result<(), Problem> {
        match (cell, &mut self.values) {
            (Cell::Num(s), Values::Fixed(f)) => {
                if !f.try_push(s) {
                    return self.check(&Cell::Num(s));
                }
            }
            (Cell::Bytes(b), Values::Var(s)) => s.push(&b)?,
            (Cell::Bytes(b), Values::Cat(c)) => c.push(&b)?,
            (Cell::Null, _) => return self.push_null(),
            (cell, _) => return self.check(&cell),
        }
        if let Some(v) = &mut self.validity {
            v.push(true);
        }
        Ok(())
    }

    #[cold]
    fn push_null(&mut self) -> Result<(), Problem> {
        self.check(&Cell::Null)?;
        let len = self.len();
        self.push_placeholder();
        self.validity
            .get_or_insert_with(|| Bitmap::all_set(len))
            .push(false);
        Ok(())
    }

    /// Overwrites row `i` (which must exist); on error nothing changes.
    pub fn set(&mut self, i: usize, cell: Cell<'_>) -> Result<(), Problem> {
        self.check(&cell)?;
        let valid = !matches!(cell, Cell::Null);
        match (cell, &mut self.values) {
            // Null slots hold zero (so sums can ignore validity) or empty bytes.
            (Cell::Null, Values::Fixed(f)) => f.set(i, Scalar::zero(f.dtype())),
            (Cell::Null, Values::Var(s)) => s.set(i, b"")?,
            (Cell::Null, Values::Cat(_)) => {}
            (Cell::Num(s), Values::Fixed(f)) => f.set(i, s),
            (Cell::Bytes(b), Values::Var(s)) => s.set(i, &b)?,
            (Cell::Bytes(b), Values::Cat(c)) => c.set(i, &b)?,
            _ => unreachable!("checked"),
        }
        let len = self.len();
        if !valid {
            self.validity
                .get_or_insert_with(|| Bitmap::all_set(len))
                .set(i, false);
        } else if let Some(v) = &mut self.validity {
            v.set(i, true);
        }
        Ok(())
    }

    /// Inserts before row `i` (at most `len`); on error nothing changes.
    pub fn insert(&mut self, i: usize, cell: Cell<'_>) -> Result<(), Problem> {
        self.check(&cell)?;
        let len = self.len();
        let valid = !matches!(cell, Cell::Null);
        match (cell, &mut self.values) {
            (Cell::Null, Values::Fixed(f)) => f.insert(i, Scalar::zero(f.dtype())),
            (Cell::Null, Values::Var(s)) => s.insert(i, b"")?,
            (Cell::Null, Values::Cat(c)) => c.insert_code(i, 0),
            (Cell::Num(s), Values::Fixed(f)) => f.insert(i, s),
            (Cell::Bytes(b), Values::Var(s)) => s.insert(i, &b)?,
            (Cell::Bytes(b), Values::Cat(c)) => c.insert(i, &b)?,
            _ => unreachable!("checked"),
        }
        if !valid || self.validity.is_some() {
            self.validity
                .get_or_insert_with(|| Bitmap::all_set(len))
                .insert(i, valid);
        }
        Ok(())
    }

    pub fn remove(&mut self, i: usize) {
        match &mut self.values {
            Values::Fixed(f) => f.remove(i),
            Values::Var(s) => s.remove(i),
            Values::Cat(c) => c.remove(i),
        }
        if let Some(v) = &mut self.validity {
            v.remove(i);
        }
    }

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

    pub fn clear(&mut self) {
        match &mut self.values {
            Values::Fixed(f) => f.clear(),
            Values::Var(s) => s.clear(),
            Values::Cat(c) => c.clear(),
        }
        self.validity = None;
    }

    /// Reclaims the space of overwritten strings; returns whether there was any.
    pub fn compact(&mut self) -> bool {
        match &mut self.values {
            Values::Var(s) => s.compact(),
            _ => false,
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

    /// A new column holding copies of the given rows, in order (each must be in range).
    pub fn take(&self, rows: impl ExactSizeIterator<Item = usize> + Clone) -> Column {
        let validity = self.validity.as_ref().map(|v| {
            let mut out = Bitmap::default();
            for i in rows.clone() {
                out.push(v.get(i));
            }
            out
        });
        let values = match &self.values {
            Values::Fixed(f) => Values::Fixed(f.take(rows)),
            Values::Var(s) => Values::Var(s.take(rows).expect("a subset fits")),
            Values::Cat(c) => Values::Cat(c.take(rows)),
        };
        Column {
            dtype: self.dtype,
            nullable: self.nullable,
            values,
            validity,
        }
    }

    /// Appends fixed-width values given as native-endian bytes (see [`Fixed::extend_from_bytes`]).
    /// Returns `false`, appending nothing, for a variable-width column or malformed bytes.
    pub fn extend_from_bytes(&mut self, bytes: &[u8]) -> bool {
        let before = self.len();
        let ok = match &mut self.values {
            Values::Fixed(f) => f.extend_from_bytes(bytes),
            _ => false,
        };
        if ok {
            self.extend_validity(before);
        }
        ok
    }

    /// Appends Arrow-layout variable-width values (see [`Strings::extend_from_arrow`]).
    pub fn extend_from_offsets(&mut self, offsets: &[i32], data: &[u8]) -> bool {
        let before = self.len();
        let ok = match &mut self.values {
            Values::Var(s) => s.extend_from_arrow(offsets, data),
            _ => false,
        };
        if ok {
            self.extend_validity(before);
        }
        ok
    }

    /// Appends category rows by value (for imports); on error nothing is appended and the
    /// error names the offending row (counted from the first appended).
    pub fn extend_categories<'a>(
        &mut self,
        values: impl Iterator<Item = Option<&'a [u8]>>,
    ) -> Result<(), (usize, Problem)> {
        let before = self.len();
        for (row, v) in values.enumerate() {
            if let Err(e) = self.push(v.map_or(Cell::Null, Cell::bytes)) {
                self.truncate(before);
                return Err((row, e));
            }
        }
        Ok(())
    }

    /// Marks the rows appended since `before` as valid.
    fn extend_validity(&mut self, before: usize) {
        let len = self.len();
        if let Some(v) = &mut self.validity {
            for _ in before..len {
                v.push(true);
            }
        }
    }

    /// Makes null the rows appended since `before` whose bit in `bits` (Arrow layout, counted
    /// from bit `offset`) is 0. The column must be nullable.
    pub fn mark_nulls(&mut self, before: usize, bits: &[u8], offset: usize) {
        for k in before..self.len() {
            let i = offset + (k - before);
            if bits[i / 8] >> (i % 8) & 1 == 0 {
                self.set(k, Cell::Null).expect("nullable column");
            }
        }
    }

    pub fn snapshot(&mut self) -> ColumnSnapshot {
        let len = self.len();
        let data = match &mut self.values {
            Values::Fixed(f) => SnapshotData::Fixed(f.snapshot()),
            Values::Var(s) => {
                let (offsets, data) = s.snapshot();
                SnapshotData::Var { offsets, data }
            }
            Values::Cat(c) => {
                let (codes, offsets, data) = c.snapshot();
                SnapshotData::Cat {
                    codes,
                    offsets,
                    data,
                }
            }
        };
        let null_count = self.null_count();
        ColumnSnapshot {
            dtype: self.dtype,
            len,
            data,
            validity: self.validity.as_mut().map(|v| (v.snapshot(), null_count)),
        }
    }
}

fn offset_bytes(offsets: &RawSnapshot<i32>) -> &[u8] {
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

impl Column {
    /// Rebuilds a column of `len` rows from [`ColumnSnapshot::parts`] and validity bits, as
    /// pickling ships them, checking everything: `None` if the parts do not describe `len`
    /// valid rows of this field.
    pub fn from_parts(
        field: &crate::Field,
        parts: &[&[u8]],
        validity: Option<&[u8]>,
        len: usize,
    ) -> Option<Column> {
        let mut c = Column::for_field(field);
        let ok = match (field.dtype, parts) {
            (DType::Str | DType::Bytes, [offsets, data]) => {
                let offsets = i32s(offsets)?;
                let text = field.dtype == DType::Str;
                c.extend_from_offsets(&offsets, data)
                    && (!text || std::str::from_utf8(data).is_ok())
            }
            (DType::Category, [codes, offsets, data]) => {
                let dict = Strings::collect_arrow(&i32s(offsets)?, data)?;
                let width = codes.len().checked_div(len).unwrap_or(1);
                let code_at = |i: usize| -> Option<&[u8]> {
                    let b = codes.get(i * width..(i + 1) * width)?;
                    let code = match width {
                        1 => u32::from(b[0]),
                        2 => u32::from(u16::from_ne_bytes(b.try_into().ok()?)),
                        4 => u32::from_ne_bytes(b.try_into().ok()?),
                        _ => return None,
                    };
                    dict.get(code as usize)
                };
                let is_null = |i: usize| {
                    validity.is_some_and(|b| b.get(i / 8).is_some_and(|x| x >> (i % 8) & 1 == 0))
                };
                let values: Option<Vec<Option<&[u8]>>> = (0..len)
                    .map(|i| {
                        if is_null(i) {
                            Some(None)
                        } else {
                            code_at(i).map(Some)
                        }
                    })
                    .collect();
                let text_ok = (0..dict.len())
                    .all(|i| std::str::from_utf8(dict.get(i).expect("in range")).is_ok());
                text_ok && c.extend_categories(values?.into_iter()).is_ok()
            }
            (fixed, [data]) if fixed.is_fixed() => c.extend_from_bytes(data),
            _ => false,
        };
        if !ok || c.len() != len {
            return None;
        }
        if let Some(bits) = validity {
            if !field.nullable || bits.len() < len.div_ceil(8) {
                return None;
            }
            c.mark_nulls(0, bits, 0);
        }
        Some(c)
    }
}

/// The buffers of a column at one moment.
#[derive(Clone, Debug)]
pub enum SnapshotData {
    Fixed(FixedSnapshot),
    Var {
        offsets: RawSnapshot<i32>,
        data: RawSnapshot<u8>,
    },
    Cat {
        codes: FixedSnapshot,
        offsets: RawSnapshot<i32>,
        data: RawSnapshot<u8>,
    },
}

/// An immutable view of a column at one moment; outlives any later change to the column.
#[derive(Clone, Debug)]
pub struct ColumnSnapshot {
    dtype: DType,
    len: usize,
    data: SnapshotData,
    /// The packed validity bits and the number of nulls.
    validity: Option<(RawSnapshot<u8>, usize)>,
}

impl ColumnSnapshot {
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn data(&self) -> &SnapshotData {
        &self.data
    }

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

    pub fn get(&self, i: usize) -> Option<Cell<'_>> {
        if i >= self.len {
            return None;
        }
        if let Some((bits, _)) = &self.validity {
            if bits.as_slice()[i / 8] >> (i % 8) & 1 == 0 {
                return Some(Cell::Null);
            }
        }
        let span = |offsets: &RawSnapshot<i32>, k: usize| {
            let o = offsets.as_slice();
            (o[k] as usize, o[k + 1] as usize)
        };
        Some(match &self.data {
            SnapshotData::Fixed(f) => Cell::Num(f.get(i)?),
            SnapshotData::Var { offsets, data } => {
                let (a, b) = span(offsets, i);
                Cell::bytes(&data.as_slice()[a..b])
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
                Cell::bytes(&data.as_slice()[a..b])
            }
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_from_bytes_rejects_bad_bools_and_ragged_input() {
        let mut c = Fixed::new(DType::Bool);
        assert!(!c.extend_from_bytes(&[0, 2]));
        assert!(c.is_empty());
        let mut c = Fixed::new(DType::I32);
        assert!(!c.extend_from_bytes(&[0, 0, 0]));
        assert!(c.extend_from_bytes(&7i32.to_ne_bytes()));
        assert_eq!(c.get(0), Some(Scalar::I32(7)));
    }
}
