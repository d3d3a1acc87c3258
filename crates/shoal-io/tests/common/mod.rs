//! Helpers the file tests share.
// Each test binary uses some of these helpers.
#![allow(dead_code)]

use std::sync::Arc;

use proptest::prelude::*;

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

/// One way to damage a file's bytes.
#[derive(Clone, Debug)]
pub enum Damage {
    Flip(usize, u8),
    Truncate(usize),
    Overwrite(usize, u32),
}

pub fn damage() -> impl Strategy<Value = Vec<Damage>> {
    prop::collection::vec(
        prop_oneof![
            (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Damage::Flip(i, x)),
            any::<usize>().prop_map(Damage::Truncate),
            (any::<usize>(), any::<u32>()).prop_map(|(i, v)| Damage::Overwrite(i, v)),
        ],
        1..6,
    )
}

/// `bytes` with `damages` done to them in order.
pub fn damaged(mut bytes: Vec<u8>, damages: &[Damage]) -> Vec<u8> {
    for d in damages {
        if bytes.is_empty() {
            break;
        }
        match *d {
            Damage::Flip(i, x) => {
                let n = bytes.len();
                bytes[i % n] ^= x
            }
            Damage::Truncate(i) => bytes.truncate(i % (bytes.len() + 1)),
            Damage::Overwrite(i, v) if bytes.len() >= 4 => {
                let at = i % (bytes.len() - 3);
                bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            Damage::Overwrite(..) => {}
        }
    }
    bytes
}
