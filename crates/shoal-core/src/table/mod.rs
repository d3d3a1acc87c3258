//! A table: one column per schema field, all the same length, changed a whole row at a time.

use std::sync::Arc;

mod select;

use crate::column::KeyPart;
use crate::column::{is_permutation, Scratch};
use crate::column::{Column, ColumnSnapshot};
use crate::dtype::Schema;
use crate::dtype::{DType, Datum, Problem, Scalar, Value};
use crate::error::Error;
use crate::index::{Conflict, Index, IndexKind, Indexes};

/// Columns of equal length, one per schema field, changed one whole row at a time.
#[derive(Clone, Debug)]
pub struct Table {
    schema: Arc<Schema>,
    columns: Vec<Column>,
    len: usize,
    /// Bumped by every change that moves or removes rows (not by appends), so a row handle
    /// taken earlier can tell that its index may now name another record.
    version: u64,
    /// Indexes over the columns, kept right by every change below.
    indexes: Indexes,
}

impl Table {
    /// An empty table of `schema`.
    pub fn new(schema: Arc<Schema>) -> Table {
        let columns = schema.fields().iter().map(Column::for_field).collect();
        Table {
            schema,
            columns,
            len: 0,
            version: 0,
            indexes: Indexes::default(),
        }
    }

    /// Builds a table from whole columns, which must match the schema's types and agree in length.
    pub fn from_columns(schema: Arc<Schema>, columns: Vec<Column>) -> Result<Table, Error> {
        if columns.len() != schema.len() {
            return Err(Error::Arity {
                expected: schema.len(),
                got: columns.len(),
            });
        }
        let len = columns.first().map_or(0, Column::len);
        let mut table = Table::new(schema);
        for (field, c) in columns.iter().enumerate() {
            table.check_column(field, c, len)?;
        }
        table.columns = columns;
        table.len = len;
        Ok(table)
    }

    /// The schema.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Counts structural changes (insert, remove, clear, permute): row handles compare it to know
    /// whether their index still names the same record. Appends and cell writes do not change it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The column of field `field`. Panics if out of range.
    pub fn column(&self, field: usize) -> &Column {
        &self.columns[field]
    }

    /// All columns, in field order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Bytes allocated by all column buffers.
    pub fn nbytes(&self) -> usize {
        self.columns.iter().map(Column::nbytes).sum()
    }

    /// Makes room for `additional` more rows.
    pub fn reserve(&mut self, additional: usize) {
        for c in &mut self.columns {
            c.reserve(additional);
        }
    }

    /// As [`Table::reserve`], but a refused allocation is an error naming the field (what
    /// was reserved before it stays: room, not rows).
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), Error> {
        for (field, c) in self.columns.iter_mut().enumerate() {
            c.try_reserve(additional).map_err(|_| Error::OutOfMemory {
                field: Some(field),
                rows: additional,
            })?;
        }
        Ok(())
    }

    fn check_row(&self, row: usize) -> Result<(), Error> {
        if row < self.len {
            Ok(())
        } else {
            Err(Error::RowOutOfRange {
                index: row,
                len: self.len,
            })
        }
    }

    fn check_arity(&self, got: usize) -> Result<(), Error> {
        if got == self.schema.len() {
            Ok(())
        } else {
            Err(Error::Arity {
                expected: self.schema.len(),
                got,
            })
        }
    }

    /// Appends one row of plain numbers. On error nothing is appended.
    pub fn push_row(&mut self, values: &[Value]) -> Result<(), Error> {
        self.check_arity(values.len())?;
        let row = self.len;
        self.push_with(
            |field, dtype| {
                dtype
                    .coerce(values[field])
                    .map(Datum::Num)
                    .map_err(|problem| Error::Value {
                        field,
                        row,
                        value: values[field],
                        problem,
                    })
            },
            |field, problem| Error::Datum {
                field,
                row,
                problem,
            },
        )
    }

    /// Appends a row of cells. On error nothing is appended.
    pub fn push_cells(&mut self, cells: &[Datum<'_>]) -> Result<(), Error> {
        self.check_arity(cells.len())?;
        let row = self.len;
        self.push_with(
            |field, _| Ok(cells[field].reborrow()),
            |field, problem| Error::Datum {
                field,
                row,
                problem,
            },
        )
    }

    /// Appends one row whose values come from `value_of(field, dtype)`. If it fails for some
    /// field, or a column refuses a value (`refused(field, problem)` makes that error), the
    /// fields already pushed are rolled back and the error is returned: the table is unchanged.
    #[inline]
    pub fn push_with<'a, E>(
        &mut self,
        mut value_of: impl FnMut(usize, DType) -> Result<Datum<'a>, E>,
        mut refused: impl FnMut(usize, Problem) -> E,
    ) -> Result<(), E> {
        for field in 0..self.columns.len() {
            let outcome = match value_of(field, self.schema.fields()[field].dtype) {
                Ok(cell) => self.columns[field]
                    .push(cell)
                    .map_err(|p| refused(field, p)),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                for c in &mut self.columns[..field] {
                    c.truncate(self.len);
                }
                return Err(e);
            }
        }
        if !self.indexes.is_empty() {
            if let Err((field, refusal)) = self.index_appended() {
                for c in &mut self.columns {
                    c.truncate(self.len);
                }
                return Err(refused(field, refusal.into()));
            }
        }
        self.len += 1;
        Ok(())
    }

    /// Indexes the row just pushed into the columns (at `self.len`), unless a unique index
    /// holds its key.
    #[cold]
    fn index_appended(&mut self) -> Result<(), Conflict> {
        let (row, columns) = (self.len, &self.columns);
        self.indexes
            .check_unique(columns, row, None, |f| columns[f].key_part(row))?;
        self.indexes.appended(columns, row);
        Ok(())
    }

    /// Inserts a row of cells before `row` (at most `len`). On error nothing changes.
    pub fn insert_cells(&mut self, row: usize, cells: &[Datum<'_>]) -> Result<(), Error> {
        self.check_arity(cells.len())?;
        if row > self.len {
            return Err(Error::RowOutOfRange {
                index: row,
                len: self.len,
            });
        }
        if !self.indexes.is_empty() {
            self.indexes
                .check_unique(&self.columns, self.len, None, |f| KeyPart::of(&cells[f]))
                .map_err(|c| conflict_error(c, row))?;
        }
        for (field, cell) in cells.iter().enumerate() {
            if let Err(problem) = self.columns[field].insert(row, cell.reborrow()) {
                for c in &mut self.columns[..field] {
                    // A column that just took an insert is unshared and compact: removing
                    // the row again allocates nothing and cannot fail.
                    let undone = c.remove(row);
                    debug_assert!(undone.is_ok(), "undoing an insert failed");
                }
                return Err(Error::Datum {
                    field,
                    row,
                    problem,
                });
            }
        }
        self.len += 1;
        self.moved_rows();
        Ok(())
    }

    /// Overwrites one cell. On error nothing changes.
    pub fn set_cell(&mut self, row: usize, field: usize, cell: Datum<'_>) -> Result<(), Error> {
        self.check_row(row)?;
        if !self.indexes.is_empty() && self.indexes.covers(field) {
            return self.set_indexed_cell(row, field, cell);
        }
        self.columns[field]
            .set(row, cell)
            .map_err(|problem| Error::Datum {
                field,
                row,
                problem,
            })
    }

    /// [`Table::set_cell`] for a field an index reads: a unique index refuses the new key
    /// first; the row leaves its old key's entry and joins the new one's.
    #[cold]
    fn set_indexed_cell(&mut self, row: usize, field: usize, cell: Datum<'_>) -> Result<(), Error> {
        let columns = &self.columns;
        let new = KeyPart::of(&cell);
        let key_of = |f: usize| {
            if f == field {
                new
            } else {
                columns[f].key_part(row)
            }
        };
        self.indexes
            .check_unique(columns, self.len, Some(row), key_of)
            .map_err(|(_, r)| Error::Datum {
                field,
                row,
                problem: r.into(),
            })?;
        self.indexes.before_write(&self.columns, row, field);
        let written = self.columns[field].set(row, cell);
        self.indexes.after_write(&self.columns, row, field);
        written.map_err(|problem| Error::Datum {
            field,
            row,
            problem,
        })
    }

    /// Rows moved or went: handles go stale and built indexes are dropped (rebuilt when next
    /// used).
    fn moved_rows(&mut self) {
        self.version += 1;
        if !self.indexes.is_empty() {
            self.indexes.invalidate();
        }
    }

    /// Overwrites one number in place if the row is current as of `version` and
    /// [`Column::set_in_place`] can; `false` (nothing changed) for the general path.
    #[inline]
    pub fn set_in_place(&mut self, version: u64, row: usize, field: usize, s: Scalar) -> bool {
        self.version == version
            && row < self.len
            && (self.indexes.is_empty() || !self.indexes.covers(field))
            && self
                .columns
                .get_mut(field)
                .is_some_and(|c| c.set_in_place(row, s))
    }

    /// Overwrites one cell with a plain number.
    pub fn set(&mut self, row: usize, field: usize, value: Value) -> Result<(), Error> {
        self.check_row(row)?;
        let s = self.schema.fields()[field]
            .dtype
            .coerce(value)
            .map_err(|problem| Error::Value {
                field,
                row,
                value,
                problem,
            })?;
        self.set_cell(row, field, Datum::Num(s))
    }

    /// Replaces a whole column with one of the same type and length.
    pub fn replace_column(&mut self, field: usize, column: Column) -> Result<(), Error> {
        self.check_column(field, &column, self.len)?;
        let old = std::mem::replace(&mut self.columns[field], column);
        if !self.indexes.is_empty() {
            if let Err((_, r)) = self.indexes.rebuild_field(&self.columns, self.len, field) {
                self.columns[field] = old;
                return Err(refusal_error(field, self.len, r));
            }
        }
        Ok(())
    }

    fn check_column(&self, field: usize, column: &Column, len: usize) -> Result<(), Error> {
        let f = &self.schema.fields()[field];
        if column.dtype() != f.dtype || (column.null_count() > 0 && !f.nullable) {
            return Err(Error::ColumnType {
                field,
                expected: f.dtype,
                got: column.dtype(),
            });
        }
        if column.len() != len {
            return Err(Error::ColumnLength {
                field,
                expected: len,
                got: column.len(),
            });
        }
        Ok(())
    }

    /// Whether both tables hold the same values (schemas are compared by the caller).
    pub fn values_eq(&self, other: &Table) -> bool {
        self.len == other.len
            && self
                .columns
                .iter()
                .zip(&other.columns)
                .all(|(a, b)| a.values_eq(b))
    }

    /// Undoes appends made since the table had `len` rows (for all-or-nothing bulk appends).
    /// Rows below `len` are untouched, so handles to them stay valid.
    pub fn rollback_to(&mut self, len: usize) {
        if len < self.len {
            for c in &mut self.columns {
                c.truncate(len);
            }
            self.len = len;
            if !self.indexes.is_empty() {
                self.indexes.invalidate();
            }
        }
    }

    /// The value of `field` in `row`.
    pub fn get(&self, row: usize, field: usize) -> Result<Datum<'_>, Error> {
        self.check_row(row)?;
        Ok(self.columns[field].get(row).expect("row checked"))
    }

    /// The values of a row, owned.
    pub fn row(&self, row: usize) -> Result<Vec<Datum<'static>>, Error> {
        self.check_row(row)?;
        Ok(self
            .columns
            .iter()
            .map(|c| c.get(row).expect("row checked").into_owned())
            .collect())
    }

    /// Inserts a row of values at `row`, all or nothing.
    pub fn insert(&mut self, row: usize, values: &[Value]) -> Result<(), Error> {
        self.check_arity(values.len())?;
        let row = row.min(self.len);
        let cells = values
            .iter()
            .enumerate()
            .map(|(field, &value)| {
                self.schema.fields()[field]
                    .dtype
                    .coerce(value)
                    .map(Datum::Num)
                    .map_err(|problem| Error::Value {
                        field,
                        row,
                        value,
                        problem,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.insert_cells(row, &cells)
    }

    /// Removes a row and returns its values; a refused allocation (copying a column a snapshot
    /// shares, folding overwritten text back in) is an error, nothing changed.
    pub fn remove(&mut self, row: usize) -> Result<Vec<Datum<'static>>, Error> {
        let values = self.row(row)?;
        let schema = &self.schema;
        for (field, c) in self.columns.iter_mut().enumerate() {
            c.prepare_remove(row)
                .map_err(|p| copy_error(schema, field, 1, p))?;
        }
        for (field, c) in self.columns.iter_mut().enumerate() {
            c.remove(row).map_err(|p| copy_error(schema, field, 1, p))?;
        }
        self.len -= 1;
        self.moved_rows();
        Ok(values)
    }

    /// Removes the given rows (in any order, repeats allowed) in one O(n) pass per column;
    /// nothing changes if one is out of range or the allocator refuses the copies.
    pub fn remove_rows(&mut self, rows: impl IntoIterator<Item = usize>) -> Result<(), Error> {
        let mut gone = try_vec(self.len)?;
        gone.resize(self.len, false);
        for r in rows {
            self.check_row(r)?;
            gone[r] = true;
        }
        let kept = gone.iter().filter(|&&g| !g).count();
        if kept == self.len {
            return Ok(());
        }
        let mut keep = try_vec(kept)?;
        keep.extend((0..self.len).filter(|&i| !gone[i]));
        self.columns = self.taken(keep.iter().copied())?;
        self.len = kept;
        self.moved_rows();
        Ok(())
    }

    /// Counts as a structural change without changing anything: row handles taken before go
    /// stale. Tables of frozen (hashable) records do this on every write, because a handle used
    /// as a dict key must never change its value.
    pub fn invalidate_handles(&mut self) {
        self.version += 1;
    }

    /// Removes every row.
    pub fn clear(&mut self) {
        for c in &mut self.columns {
            c.clear();
        }
        self.len = 0;
        self.moved_rows();
    }

    /// Reclaims the space of overwritten strings; returns the bytes reclaimed. A refused
    /// allocation is an error (the columns before it compacted, the values all unchanged).
    pub fn compact(&mut self) -> Result<usize, Error> {
        let before = self.nbytes();
        let (schema, len) = (&self.schema, self.len);
        for (field, c) in self.columns.iter_mut().enumerate() {
            c.compact().map_err(|p| copy_error(schema, field, len, p))?;
        }
        Ok(before.saturating_sub(self.nbytes()))
    }

    /// Bytes of overwritten strings not yet reclaimed.
    pub fn dead_bytes(&self) -> usize {
        self.columns.iter().map(Column::dead_bytes).sum()
    }

    /// A new table holding copies of rows `start, start + step, ...` (`count` of them); a
    /// refused allocation is an error.
    pub fn take_strided(&self, start: usize, step: isize, count: usize) -> Result<Table, Error> {
        let rows = (0..count).map(|k| (start as isize + k as isize * step) as usize);
        Ok(Table {
            schema: Arc::clone(&self.schema),
            columns: self.taken(rows)?,
            len: count,
            version: 0,
            indexes: Indexes::default(),
        })
    }

    /// Rows `start..start + len` as a new table that shares this one's memory (see
    /// [`Column::slice_of`]): nothing is copied a row but text offsets and validity bits.
    /// Copy-on-write both ways: a later write to either table copies the column it writes
    /// (this one's whole column, while the slice lives). Columns that cannot be shared are
    /// copied. An error if the rows are out of range or the allocator refuses.
    pub fn slice_shared(&mut self, start: usize, len: usize) -> Result<Table, Error> {
        if start.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(Error::RowOutOfRange {
                index: start.saturating_add(len),
                len: self.len,
            });
        }
        let mut columns = Vec::with_capacity(self.columns.len());
        for field in 0..self.columns.len() {
            let snapshot = self.snapshot(field)?;
            let f = &self.schema.fields()[field];
            match Column::slice_of(f, &snapshot, start, len) {
                Some(Ok(c)) => columns.push(c),
                Some(Err(_)) => {
                    return Err(Error::OutOfMemory {
                        field: Some(field),
                        rows: len,
                    })
                }
                None => return self.take_strided(start, 1, len),
            }
        }
        Ok(Table {
            schema: Arc::clone(&self.schema),
            columns,
            len,
            version: 0,
            indexes: Indexes::default(),
        })
    }

    /// Reorders rows so that new row `i` is old row `order[i]`; `order` must be a permutation.
    /// A refused allocation is an error, nothing changed.
    pub fn permute(&mut self, order: &[usize]) -> Result<(), Error> {
        assert_eq!(order.len(), self.len, "permutation of the wrong length");
        let oom = |field| Error::OutOfMemory {
            field,
            rows: order.len(),
        };
        let permutation = is_permutation(order).ok_or(oom(None))?;
        assert!(permutation, "not a permutation of the rows");
        // Everything that can fail first, nothing reordered yet (see `Column::prepare_permute`).
        let mut scratch = Scratch::try_new(order.len()).map_err(|_| oom(None))?;
        let mut prepared = Vec::new();
        for (field, c) in self.columns.iter_mut().enumerate() {
            let p = c.prepare_permute(order);
            prepared.push(p.map_err(|p| copy_error(&self.schema, field, order.len(), p))?);
        }
        // Nothing below allocates or fails: the table is reordered whole.
        for (c, p) in self.columns.iter_mut().zip(prepared) {
            c.finish_permute(p, order, &mut scratch);
        }
        self.moved_rows();
        Ok(())
    }

    /// Every column's copy of `rows`, or the first error (nothing kept). Copies of 256k rows or
    /// more gather the columns on up to four threads: each column's gather is independent, and
    /// a gather of rows in random order waits on memory, which more cores overlap (a mask
    /// keeping half of 1M rich rows: 36 → 29 ms; below that, starting threads cost more).
    fn taken(
        &self,
        rows: impl ExactSizeIterator<Item = usize> + Clone + Send + Sync,
    ) -> Result<Vec<Column>, Error> {
        const PARALLEL_ROWS: usize = 1 << 18;
        let n = rows.len();
        let take = |field: usize, c: &Column| {
            c.take(rows.clone())
                .map_err(|p| copy_error(&self.schema, field, n, p))
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(4)
            .min(self.columns.len());
        if n < PARALLEL_ROWS || threads < 2 {
            return self
                .columns
                .iter()
                .enumerate()
                .map(|(f, c)| take(f, c))
                .collect();
        }
        // Column `f` goes to thread `f % threads`; results are put back in field order.
        let mut out: Vec<Option<Result<Column, Error>>> =
            self.columns.iter().map(|_| None).collect();
        std::thread::scope(|scope| {
            let take = &take;
            let workers: Vec<_> = (1..threads)
                .map(|t| {
                    scope.spawn(move || {
                        (t..self.columns.len())
                            .step_by(threads)
                            .map(|f| (f, take(f, &self.columns[f])))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for f in (0..self.columns.len()).step_by(threads) {
                out[f] = Some(take(f, &self.columns[f]));
            }
            for w in workers {
                // A gather does not panic; if one did, its columns are reported as refused.
                for (f, r) in w.join().unwrap_or_default() {
                    out[f] = Some(r);
                }
            }
        });
        out.into_iter()
            .enumerate()
            .map(|(f, r)| {
                r.unwrap_or(Err(Error::OutOfMemory {
                    field: Some(f),
                    rows: n,
                }))
            })
            .collect()
    }

    /// Builds an index over `fields` (indices in range, at least one); its id and the token
    /// that keeps it alive (the table forgets the index once the token is dropped). A unique
    /// index refuses a repeated key: the error names the later row and the earlier one.
    pub fn add_index(
        &mut self,
        fields: &[usize],
        kind: IndexKind,
    ) -> Result<(u64, Arc<()>), Error> {
        assert!(!fields.is_empty(), "an index needs a field");
        self.indexes
            .add(fields, kind, &self.columns, self.len)
            .map_err(|(row, r)| refusal_error(fields[0], row, r))
    }

    /// Frees the indexes whose tokens were dropped (they are also forgotten at the next change).
    pub fn forget_dropped_indexes(&mut self) {
        self.indexes.prune();
    }

    /// The indexes' allocations (identity, bytes), for measuring the table.
    pub fn index_allocations(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.indexes.allocations()
    }

    /// Index `id` brought up to date, with the columns its rows point into; `None` if there
    /// is no such index (its token was dropped).
    pub fn index(&mut self, id: u64) -> Option<Result<(&Index, &[Column]), Error>> {
        let len = self.len;
        let found = self.indexes.get(id, &self.columns, len)?;
        Some(
            found
                .map(|i| (i, self.columns.as_slice()))
                .map_err(|c| conflict_error(c, len)),
        )
    }

    /// An immutable snapshot of field `field`'s column.
    /// A refused allocation (text is compacted first) is an error, the column unchanged.
    pub fn snapshot(&mut self, field: usize) -> Result<ColumnSnapshot, Error> {
        let len = self.len;
        self.columns[field]
            .snapshot()
            .map_err(|p| copy_error(&self.schema, field, len, p))
    }
}

/// The error for a refused key (a unique index holding it) or an index that did not fit.
fn refusal_error(field: usize, row: usize, refusal: crate::index::Refusal) -> Error {
    match refusal {
        crate::index::Refusal::OutOfMemory => Error::OutOfMemory {
            field: Some(field),
            rows: row,
        },
        r => Error::Datum {
            field,
            row,
            problem: r.into(),
        },
    }
}

fn conflict_error((field, refusal): Conflict, row: usize) -> Error {
    refusal_error(field, row, refusal)
}

/// The error for a copy of `rows` rows of `field` that failed with `problem`: text past the
/// 2 GiB limit (rows taken more than once) or a refused allocation.
fn copy_error(schema: &Schema, field: usize, rows: usize, problem: Problem) -> Error {
    match problem {
        Problem::TooMuchData => Error::TooMuchText {
            field: schema.fields()[field].name.clone(),
        },
        _ => Error::OutOfMemory {
            field: Some(field),
            rows,
        },
    }
}

/// An empty vector with room for `n` elements; a refused allocation is an error.
fn try_vec<T>(n: usize) -> Result<Vec<T>, Error> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        field: None,
        rows: n,
    })?;
    Ok(v)
}
