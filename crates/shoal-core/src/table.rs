//! A table: one column per schema field, all the same length, changed a whole row at a time.

use std::sync::Arc;

use crate::column::{Column, ColumnSnapshot};
use crate::dtype::{DType, Scalar, Value};
use crate::error::Error;
use crate::schema::Schema;

#[derive(Clone, Debug)]
pub struct Table {
    schema: Arc<Schema>,
    columns: Vec<Column>,
    len: usize,
    /// Bumped by every change that moves or removes rows (not by appends), so a row handle
    /// taken earlier can tell that its index may now name another record.
    version: u64,
}

impl Table {
    pub fn new(schema: Arc<Schema>) -> Table {
        let columns = schema
            .fields()
            .iter()
            .map(|f| Column::new(f.dtype))
            .collect();
        Table {
            schema,
            columns,
            len: 0,
            version: 0,
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
        for (i, (c, f)) in columns.iter().zip(schema.fields()).enumerate() {
            if c.dtype() != f.dtype {
                return Err(Error::ColumnType {
                    field: i,
                    expected: f.dtype,
                    got: c.dtype(),
                });
            }
            if c.len() != len {
                return Err(Error::ColumnLength {
                    field: i,
                    expected: len,
                    got: c.len(),
                });
            }
        }
        Ok(Table {
            schema,
            columns,
            len,
            version: 0,
        })
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn column(&self, field: usize) -> &Column {
        &self.columns[field]
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Bytes allocated by all column buffers.
    pub fn nbytes(&self) -> usize {
        self.columns.iter().map(Column::nbytes).sum()
    }

    pub fn reserve(&mut self, additional: usize) {
        for c in &mut self.columns {
            c.reserve(additional);
        }
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

    fn coerce(&self, field: usize, row: usize, value: Value) -> Result<Scalar, Error> {
        self.schema.fields()[field]
            .dtype
            .coerce(value)
            .map_err(|problem| Error::Value {
                field,
                row,
                value,
                problem,
            })
    }

    fn coerce_row(&self, row: usize, values: &[Value]) -> Result<Vec<Scalar>, Error> {
        self.check_arity(values.len())?;
        (0..values.len())
            .map(|f| self.coerce(f, row, values[f]))
            .collect()
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

    /// Appends one row. On error nothing is appended.
    pub fn push_row(&mut self, values: &[Value]) -> Result<(), Error> {
        self.check_arity(values.len())?;
        let row = self.len;
        self.push_with(|field, dtype| {
            dtype.coerce(values[field]).map_err(|problem| Error::Value {
                field,
                row,
                value: values[field],
                problem,
            })
        })
    }

    /// Appends a row of already-checked scalars (see [`crate::DType::coerce`]).
    pub fn push_scalars(&mut self, row: &[Scalar]) -> Result<(), Error> {
        self.check_scalars(row)?;
        for (c, &s) in self.columns.iter_mut().zip(row) {
            c.push(s);
        }
        self.len += 1;
        Ok(())
    }

    /// Appends one row whose values come from `value_of(field, dtype)`, which must return scalars
    /// of `dtype`. If it fails for some field, the fields already pushed are rolled back and its
    /// error is returned: the table is unchanged.
    #[inline]
    pub fn push_with<E>(
        &mut self,
        mut value_of: impl FnMut(usize, DType) -> Result<Scalar, E>,
    ) -> Result<(), E> {
        for field in 0..self.columns.len() {
            match value_of(field, self.schema.fields()[field].dtype) {
                Ok(s) => self.columns[field].push(s),
                Err(e) => {
                    for c in &mut self.columns[..field] {
                        c.truncate(self.len);
                    }
                    return Err(e);
                }
            }
        }
        self.len += 1;
        Ok(())
    }

    /// Inserts a row of already-checked scalars before `row` (at most `len`).
    pub fn insert_scalars(&mut self, row: usize, values: &[Scalar]) -> Result<(), Error> {
        self.check_scalars(values)?;
        if row > self.len {
            return Err(Error::RowOutOfRange {
                index: row,
                len: self.len,
            });
        }
        for (c, &s) in self.columns.iter_mut().zip(values) {
            c.insert(row, s);
        }
        self.len += 1;
        self.version += 1;
        Ok(())
    }

    fn check_scalars(&self, row: &[Scalar]) -> Result<(), Error> {
        self.check_arity(row.len())?;
        for (field, (s, f)) in row.iter().zip(self.schema.fields()).enumerate() {
            if s.dtype() != f.dtype {
                return Err(Error::ColumnType {
                    field,
                    expected: f.dtype,
                    got: s.dtype(),
                });
            }
        }
        Ok(())
    }

    /// Overwrites one cell with an already-checked scalar.
    pub fn set_scalar(&mut self, row: usize, field: usize, s: Scalar) -> Result<(), Error> {
        self.check_row(row)?;
        let expected = self.schema.fields()[field].dtype;
        if s.dtype() != expected {
            return Err(Error::ColumnType {
                field,
                expected,
                got: s.dtype(),
            });
        }
        self.columns[field].set(row, s);
        Ok(())
    }

    /// Replaces a whole column with one of the same type and length.
    pub fn replace_column(&mut self, field: usize, column: Column) -> Result<(), Error> {
        let expected = self.schema.fields()[field].dtype;
        if column.dtype() != expected {
            return Err(Error::ColumnType {
                field,
                expected,
                got: column.dtype(),
            });
        }
        if column.len() != self.len {
            return Err(Error::ColumnLength {
                field,
                expected: self.len,
                got: column.len(),
            });
        }
        self.columns[field] = column;
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
        }
    }

    pub fn get(&self, row: usize, field: usize) -> Result<Scalar, Error> {
        self.check_row(row)?;
        Ok(self.columns[field].get(row).expect("row checked"))
    }

    pub fn row(&self, row: usize) -> Result<Vec<Scalar>, Error> {
        self.check_row(row)?;
        Ok(self
            .columns
            .iter()
            .map(|c| c.get(row).expect("row checked"))
            .collect())
    }

    pub fn set(&mut self, row: usize, field: usize, value: Value) -> Result<(), Error> {
        self.check_row(row)?;
        let s = self.coerce(field, row, value)?;
        self.columns[field].set(row, s);
        Ok(())
    }

    /// Replaces a whole column's values (same length); on error nothing changes.
    pub fn set_column(&mut self, field: usize, values: &[Value]) -> Result<(), Error> {
        if values.len() != self.len {
            return Err(Error::ColumnLength {
                field,
                expected: self.len,
                got: values.len(),
            });
        }
        let scalars = values
            .iter()
            .enumerate()
            .map(|(row, &v)| self.coerce(field, row, v))
            .collect::<Result<Vec<_>, _>>()?;
        for (row, s) in scalars.into_iter().enumerate() {
            self.columns[field].set(row, s);
        }
        Ok(())
    }

    pub fn insert(&mut self, row: usize, values: &[Value]) -> Result<(), Error> {
        let row = row.min(self.len);
        let scalars = self.coerce_row(row, values)?;
        for (c, s) in self.columns.iter_mut().zip(scalars) {
            c.insert(row, s);
        }
        self.len += 1;
        self.version += 1;
        Ok(())
    }

    /// Removes a row and returns its values.
    pub fn remove(&mut self, row: usize) -> Result<Vec<Scalar>, Error> {
        let values = self.row(row)?;
        for c in &mut self.columns {
            c.remove(row);
        }
        self.len -= 1;
        self.version += 1;
        Ok(values)
    }

    pub fn clear(&mut self) {
        for c in &mut self.columns {
            c.clear();
        }
        self.len = 0;
        self.version += 1;
    }

    /// A new table holding copies of rows `start, start + step, ...` (`count` of them).
    pub fn take_strided(&self, start: usize, step: isize, count: usize) -> Table {
        let columns = self
            .columns
            .iter()
            .map(|c| c.take((0..count).map(|k| (start as isize + k as isize * step) as usize)))
            .collect();
        Table {
            schema: Arc::clone(&self.schema),
            columns,
            len: count,
            version: 0,
        }
    }

    /// Reorders rows so that new row `i` is old row `order[i]`; `order` must be a permutation.
    pub fn permute(&mut self, order: &[usize]) {
        assert_eq!(order.len(), self.len, "permutation of the wrong length");
        for c in &mut self.columns {
            *c = c.take(order.iter().copied());
        }
        self.version += 1;
    }

    pub fn snapshot(&mut self, field: usize) -> ColumnSnapshot {
        self.columns[field].snapshot()
    }
}
