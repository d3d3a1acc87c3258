//! Orders and selections computed on the columns, without a row object: the stable order of
//! a sort by fields, the rows matching equality filters, and copies of chosen rows.

use std::sync::Arc;

use super::Table;
use crate::column::order_of;
use crate::dtype::Datum;
use crate::error::Error;

impl Table {
    /// The stable order of the rows sorted by `fields` (the first decides, each next one breaks
    /// the ties left), descending with `reverse`; nulls last either way (see
    /// [`crate::column::SortKey`]). `order[k]` is the row that goes to position `k`.
    pub fn order_by(&self, fields: &[usize], reverse: bool) -> Result<Vec<usize>, Error> {
        order_of(&self.columns, fields, self.len, reverse).map_err(|field| Error::OutOfMemory {
            field,
            rows: self.len,
        })
    }

    /// The rows where every `(field, value)` holds (`Datum::Null`: the field is null), in
    /// table order. Values must be of their fields' storage types (a value of another type
    /// matches no row).
    pub fn rows_where(&self, conditions: &[(usize, Datum<'_>)]) -> Vec<usize> {
        let mut rows: Option<Vec<usize>> = None;
        for (field, value) in conditions {
            let column = &self.columns[*field];
            rows = Some(match rows {
                None => column.rows_equal(value, 0..self.len),
                Some(r) => column.rows_equal(value, r.into_iter()),
            });
        }
        rows.unwrap_or_else(|| (0..self.len).collect())
    }

    /// A new table holding copies of `rows` in order (rows may repeat); an error names the
    /// first row out of range. A refused allocation is an error.
    pub fn take_rows(&self, rows: &[usize]) -> Result<Table, Error> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.len) {
            return Err(Error::RowOutOfRange {
                index: bad,
                len: self.len,
            });
        }
        Ok(Table {
            schema: Arc::clone(&self.schema),
            columns: self.taken(rows.iter().copied())?,
            len: rows.len(),
            version: 0,
            indexes: Default::default(),
        })
    }
}

impl Table {
    /// A new table holding the rows of `tables` one after another; all must have `tables[0]`'s
    /// schema (the caller checks), and there must be one. A refused allocation, or text past
    /// what a column holds, is an error.
    pub fn concat(tables: &[&Table]) -> Result<Table, Error> {
        let first = tables[0];
        let total: usize = tables.iter().map(|t| t.len).sum();
        let mut out = Table::new(Arc::clone(&first.schema));
        out.try_reserve(total)?;
        for t in tables {
            for (field, (into, from)) in out.columns.iter_mut().zip(&t.columns).enumerate() {
                for row in 0..t.len {
                    let cell = from.get(row).expect("row in range");
                    into.push(cell)
                        .map_err(|p| super::copy_error(&first.schema, field, total, p))?;
                }
            }
        }
        out.len = total;
        Ok(out)
    }
}
