//! Save and open against the rows put in; corrupted files against "an error, never a crash".

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

mod common;

use common::{damage, damaged, load, rows};
use proptest::prelude::*;
use shoal_core::{Column, DType, Datum, Field, Scalar, Schema, Table};
use shoal_io::{save, Compression, IoError, MappedFile};

fn schema() -> Arc<Schema> {
    Arc::new(
        Schema::new(vec![
            Field::new("f", DType::F64),
            Field::new("k", DType::I64).optional(),
            Field::new("s", DType::Str),
            Field::new("b", DType::Bool),
        ])
        .unwrap(),
    )
}

fn table(rows: usize) -> Table {
    let mut t = Table::new(schema());
    for i in 0..rows {
        let text = format!("row {i} ü");
        let cells = [
            Datum::Num(Scalar::F64(i as f64 / 4.0)),
            if i % 3 == 0 {
                Datum::Null
            } else {
                Datum::Num(Scalar::I64(-(i as i64)))
            },
            Datum::bytes(text.as_bytes()),
            Datum::Num(Scalar::Bool(i % 2 == 0)),
        ];
        t.push_cells(&cells).unwrap();
    }
    t
}

fn save_table(t: &mut Table, path: &Path) -> Result<(), IoError> {
    save_as(t, path, Compression::None)
}

fn save_as(t: &mut Table, path: &Path, compression: Compression) -> Result<(), IoError> {
    let columns = (0..t.schema().len())
        .map(|f| t.snapshot(f).unwrap())
        .collect();
    let metadata = HashMap::from([("shoal.test".to_owned(), "yes".to_owned())]);
    save(
        path,
        &t.schema().clone(),
        columns,
        t.len(),
        metadata,
        compression,
    )
}

#[test]
fn a_saved_table_opens_with_the_same_rows_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.arrow");
    let mut t = table(1000);
    save_table(&mut t, &path).unwrap();
    let file = MappedFile::open(&path).unwrap();
    assert_eq!(file.batch_rows(), &[1000]);
    assert_eq!(
        file.metadata().get("shoal.test").map(String::as_str),
        Some("yes")
    );
    let back = load(&file, &schema()).unwrap();
    assert_eq!(rows(&back), rows(&t));
    // Nothing but the file is left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn columns_outlive_the_file_object_and_a_replacing_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.arrow");
    let mut t = table(300);
    save_table(&mut t, &path).unwrap();
    let back = load(&MappedFile::open(&path).unwrap(), &schema()).unwrap();
    save_table(&mut table(5), &path).unwrap();
    assert_eq!(rows(&back), rows(&t));
    assert_eq!(MappedFile::open(&path).unwrap().batch_rows(), &[5]);
}

#[test]
fn a_slice_of_a_batch_imports_just_those_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.arrow");
    let mut t = table(100);
    save_table(&mut t, &path).unwrap();
    let file = MappedFile::open(&path).unwrap();
    let mut columns: Vec<Column> = schema().fields().iter().map(Column::for_field).collect();
    file.import(&schema(), 0, 37, 20, &mut columns).unwrap();
    let part = Table::from_columns(schema(), columns).unwrap();
    assert_eq!(rows(&part), rows(&t)[37..57].to_vec());
    let mut columns: Vec<Column> = schema().fields().iter().map(Column::for_field).collect();
    assert!(file.import(&schema(), 0, 90, 11, &mut columns).is_err());
    assert!(file.import(&schema(), 1, 0, 1, &mut columns).is_err());
}

#[test]
fn a_missing_file_and_a_non_arrow_file_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.arrow");
    let e = MappedFile::open(&missing).unwrap_err();
    assert!(
        matches!(e, IoError::Os { .. }) && e.to_string().contains("nope.arrow"),
        "{e}"
    );
    let text = dir.path().join("text.arrow");
    std::fs::write(&text, b"just some words, not an Arrow file at all").unwrap();
    let e = MappedFile::open(&text).unwrap_err();
    assert!(
        matches!(e, IoError::Format { .. }) && e.to_string().contains("text.arrow"),
        "{e}"
    );
}

#[test]
fn saving_into_a_missing_directory_fails_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/t.arrow");
    assert!(matches!(
        save_table(&mut table(3), &path),
        Err(IoError::Os { .. })
    ));
}

#[test]
fn compressed_files_open_with_the_same_rows_decompressed_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = table(500);
    for compression in [Compression::Lz4, Compression::Zstd] {
        let path = dir.path().join(format!("{compression:?}.arrow"));
        save_as(&mut t, &path, compression).unwrap();
        let file = MappedFile::open(&path).unwrap();
        assert!(file.is_compressed());
        let loaded = load(&file, &schema()).unwrap();
        assert_eq!(rows(&loaded), rows(&t));
    }
}

proptest! {
    /// Bit flips, overwritten words (lengths, offsets) and truncations anywhere: opening and
    /// reading every batch gives rows or an error and never panics (arrow-rs's own panics on
    /// hostile schemas are caught inside), and the rows it gives read back.
    #[test]
    fn a_damaged_file_is_an_error_or_rows_never_a_panic(
        damages in damage(),
        compression in prop_oneof![
            Just(Compression::None), Just(Compression::Lz4), Just(Compression::Zstd)
        ],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.arrow");
        save_as(&mut table(40), &good, compression).unwrap();
        let bad = dir.path().join("bad.arrow");
        std::fs::write(&bad, damaged(std::fs::read(&good).unwrap(), &damages)).unwrap();
        if let Ok(file) = MappedFile::open(&bad) {
            if let Ok(t) = load(&file, &schema()) {
                // What a damaged file yields must be rows the store accepts and can read back.
                prop_assert_eq!(rows(&t).len(), t.len());
            }
        }
    }
}
