//! Helpers the file tests share.

use std::sync::Arc;

use shoal_core::{Column, Datum, Schema, Table};
use shoal_io::{IoError, MappedFile};

/// Every batch of `file` imported as one table of `schema`.
pub fn load(file: &MappedFile, schema: &Arc<Schema>) -> Result<Table, IoError> {
    let mut columns: Vec<Column> = schema.fields().iter().map(Column::for_field).collect();
    for (i, &rows) in file.batch_rows().iter().enumerate() {
        file.import(schema, i, 0, rows, &mut columns)?;
    }
    Ok(Table::from_columns(schema.clone(), columns).unwrap())
}

/// The rows of `t`, each as its cells.
pub fn rows(t: &Table) -> Vec<Vec<Datum<'static>>> {
    (0..t.len()).map(|r| t.row(r).unwrap()).collect()
}
