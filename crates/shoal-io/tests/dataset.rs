//! Parquet datasets against the rows put in: partitioned writes read back file by file with the
//! folders' values, replacement that never removes other files, and damaged files as errors.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{damage, damaged, rows};
use proptest::prelude::*;
use shoal_core::{Column, DType, Datum, Field, Scalar, Schema, Table};
use shoal_io::{
    read_parquet, save_dataset, unescape, DatasetOptions, IoError, ParquetCompression, Written,
    NULL_PARTITION,
};

fn schema() -> Arc<Schema> {
    Arc::new(
        Schema::new(vec![
            Field::new("year", DType::I32),
            Field::new("kind", DType::Category).optional(),
            Field::new("x", DType::F64),
            Field::new("name", DType::Str).optional(),
        ])
        .unwrap(),
    )
}

const KINDS: [Option<&str>; 4] = [Some("a/b"), Some("plain"), None, Some("x=y %")];

fn table(n: usize) -> Table {
    let mut t = Table::new(schema());
    for i in 0..n {
        let name = format!("n{i}");
        t.push_cells(&[
            Datum::Num(Scalar::I32(2000 + (i % 3) as i32)),
            KINDS[i % 4].map_or(Datum::Null, |k| Datum::bytes(k.as_bytes())),
            Datum::Num(Scalar::F64(i as f64)),
            if i % 7 == 0 {
                Datum::Null
            } else {
                Datum::bytes(name.as_bytes())
            },
        ])
        .unwrap();
    }
    t
}

fn save(t: &mut Table, path: &Path, by: &[&str], per_file: usize) -> Result<Written, IoError> {
    let columns = (0..4).map(|f| t.snapshot(f).unwrap()).collect();
    let options = DatasetOptions {
        partition_by: by.iter().map(|s| s.to_string()).collect(),
        compression: ParquetCompression::Snappy,
        rows_per_file: per_file,
        overwrite: false,
    };
    save_dataset(
        path,
        &schema(),
        columns,
        t.len(),
        HashMap::new(),
        &options,
        &mut |_| {},
    )
}

/// Every Parquet file under `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The `key=value` folders between `root` and `file`, decoded.
fn folder_values(root: &Path, file: &Path) -> Vec<(String, Option<String>)> {
    let relative = file.parent().unwrap().strip_prefix(root).unwrap();
    relative
        .components()
        .map(|c| {
            let c = c.as_os_str().to_str().unwrap();
            let (k, v) = c.split_once('=').unwrap();
            let v = (v != NULL_PARTITION).then(|| unescape(v).unwrap());
            (unescape(k).unwrap(), v)
        })
        .collect()
}

fn read_all(root: &Path) -> Result<Table, IoError> {
    let mut columns: Vec<Column> = schema().fields().iter().map(Column::for_field).collect();
    for file in files(root) {
        read_parquet(&file, &schema(), &folder_values(root, &file), &mut columns)?;
    }
    Ok(Table::from_columns(schema(), columns).unwrap())
}

fn sorted(mut rows: Vec<Vec<Datum<'static>>>) -> Vec<String> {
    let mut text: Vec<String> = rows.drain(..).map(|r| format!("{r:?}")).collect();
    text.sort();
    text
}

#[test]
fn a_partitioned_dataset_reads_back_every_row_with_its_folder_values() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds");
    let mut t = table(1_000);
    let written = save(&mut t, &root, &["year", "kind"], 100).unwrap();
    assert_eq!(written.rows, 1_000);
    // 3 years × 4 kinds, each of 83 or 84 rows in one file.
    assert_eq!(written.files, 12);
    assert!(root.join("year=2001/kind=a%2Fb").is_dir());
    assert!(root.join("year=2001/kind=x%3Dy %25").is_dir());
    assert!(root
        .join(format!("year=2002/kind={NULL_PARTITION}"))
        .is_dir());
    assert_eq!(sorted(rows(&read_all(&root).unwrap())), sorted(rows(&t)));
}

#[test]
fn a_partition_larger_than_rows_per_file_gets_several_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds");
    let mut t = table(1_000);
    let written = save(&mut t, &root, &[], 300).unwrap();
    assert_eq!(
        written,
        Written {
            files: 4,
            rows: 1_000
        }
    );
    // Without partitions the files keep the table's order.
    assert_eq!(rows(&read_all(&root).unwrap()), rows(&t));
}

#[test]
fn an_empty_table_writes_one_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds");
    let written = save(&mut table(0), &root, &[], 10).unwrap();
    assert_eq!(written, Written { files: 1, rows: 0 });
    assert_eq!(read_all(&root).unwrap().len(), 0);
}

#[test]
fn refused_partitions_name_the_field_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds");
    let mut t = table(10);
    let float = save(&mut t, &root, &["x"], 10).unwrap_err().to_string();
    assert!(float.contains("cannot partition by 'x' (float)"), "{float}");
    let missing = save(&mut t, &root, &["nope"], 10).unwrap_err().to_string();
    assert!(
        missing.contains("'nope', which is not a field"),
        "{missing}"
    );
    assert!(!root.exists());
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary folder is left"
    );
}

#[test]
fn an_existing_dataset_is_replaced_only_when_asked_and_other_folders_never() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds");
    save(&mut table(10), &root, &["year"], 10).unwrap();
    let again = save(&mut table(20), &root, &["year"], 10).unwrap_err();
    assert!(matches!(&again, IoError::Os { source, .. } if source.raw_os_error() == Some(17)));
    assert!(again.to_string().contains("overwrite=True"), "{again}");
    let columns = (0..4).map(|f| table(20).snapshot(f).unwrap()).collect();
    let options = DatasetOptions {
        partition_by: vec!["year".into()],
        compression: ParquetCompression::Zstd,
        rows_per_file: 10,
        overwrite: true,
    };
    save_dataset(
        &root,
        &schema(),
        columns,
        20,
        HashMap::new(),
        &options,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(read_all(&root).unwrap().len(), 20);
    // A folder with other files is never replaced.
    fs::write(root.join("notes.txt"), "mine").unwrap();
    let columns = (0..4).map(|f| table(5).snapshot(f).unwrap()).collect();
    let refused = save_dataset(
        &root,
        &schema(),
        columns,
        5,
        HashMap::new(),
        &options,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(refused.to_string().contains("notes.txt"), "{refused}");
    assert_eq!(fs::read_to_string(root.join("notes.txt")).unwrap(), "mine");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary folder is left"
    );
}

#[test]
fn a_folder_value_that_is_not_a_value_of_its_field_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds");
    save(&mut table(10), &root, &["year"], 10).unwrap();
    let file = files(&root)[0].clone();
    let mut columns: Vec<Column> = schema().fields().iter().map(Column::for_field).collect();
    let values = [("year".to_string(), Some("20x1".to_string()))];
    let err = read_parquet(&file, &schema(), &values, &mut columns)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("year=20x1 is not a value of the field 'year'"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn a_damaged_parquet_file_is_an_error_or_rows_never_a_panic(damages in damage()) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ds");
        save(&mut table(200), &root, &[], 1_000).unwrap();
        let file = files(&root)[0].clone();
        let bytes = damaged(fs::read(&file).unwrap(), &damages);
        fs::write(&file, bytes).unwrap();
        let mut columns: Vec<Column> = schema().fields().iter().map(Column::for_field).collect();
        if read_parquet(&file, &schema(), &[], &mut columns).is_ok() {
            let t = Table::from_columns(schema(), columns).unwrap();
            prop_assert!(t.len() <= 200 * 2);
        }
    }
}
