//! The streaming writer against the rows put in; unfinished files against "every complete
//! batch, recoverable".

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use common::{damage, damaged, load, rows};
use proptest::prelude::*;
use shoal_core::{DType, Datum, Field, Scalar, Schema, Table};
use shoal_io::{partial_path, recover, Compression, IoError, MappedFile, Writer};

fn schema() -> Arc<Schema> {
    Arc::new(
        Schema::new(vec![
            Field::new("x", DType::F64),
            Field::new("name", DType::Str).optional(),
            Field::new("kind", DType::Category),
        ])
        .unwrap(),
    )
}

/// Row `i`: the category takes a new value every third row, so a few hundred rows outgrow
/// `u8` codes.
fn cells(i: usize) -> (f64, Option<String>, String) {
    let name = (i % 5 != 0).then(|| format!("name {i}"));
    (i as f64 * 0.5, name, format!("kind {}", i / 3))
}

fn push(t: &mut Table, i: usize) {
    let (x, name, kind) = cells(i);
    let name = name
        .as_ref()
        .map_or(Datum::Null, |n| Datum::bytes(n.as_bytes()));
    t.push_cells(&[
        Datum::Num(Scalar::F64(x)),
        name,
        Datum::bytes(kind.as_bytes()),
    ])
    .unwrap();
}

/// Writes `rows` rows in batches of `batch` through one buffer table cleared after each
/// batch (as `shoal.Writer` does), returning the buffer and the rows as one in-memory table.
fn write(target: &Path, rows: usize, batch: usize) -> Result<(Writer, Table, Table), IoError> {
    let mut w = Writer::create(target, &schema(), HashMap::new(), Compression::None)?;
    let mut buffer = Table::new(schema());
    let mut all = Table::new(schema());
    for i in 0..rows {
        push(&mut buffer, i);
        push(&mut all, i);
        if buffer.len() == batch || i + 1 == rows {
            let columns = (0..3).map(|f| buffer.snapshot(f).unwrap()).collect();
            w.write(&schema(), columns, buffer.len())?;
            buffer.clear();
        }
    }
    Ok((w, buffer, all))
}

fn finish(w: Writer, mut buffer: Table) {
    let columns = (0..3).map(|f| buffer.snapshot(f).unwrap()).collect();
    w.finish(&schema(), columns, buffer.len()).unwrap();
}

#[test]
fn a_finished_writer_leaves_a_file_of_its_batches_with_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("w.arrow");
    let (w, buffer, all) = write(&target, 1_000, 128).unwrap();
    assert_eq!((w.rows(), w.batches()), (1_000, 8));
    finish(w, buffer);
    assert!(!partial_path(&target).exists());
    let file = MappedFile::open(&target).unwrap();
    assert_eq!(file.batch_rows(), [128, 128, 128, 128, 128, 128, 128, 104]);
    // The category outgrew u8 codes after 768 rows: the file's codes are u32 throughout.
    let kind = file
        .columns()
        .into_iter()
        .find(|c| c.name == "kind")
        .unwrap();
    assert_eq!(kind.format, "I");
    assert_eq!(rows(&load(&file, &schema()).unwrap()), rows(&all));
}

#[test]
fn appending_copies_the_file_then_numbers_new_categories_after_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("w.arrow");
    let (w, buffer, _) = write(&target, 300, 64).unwrap();
    finish(w, buffer);
    let (mut w, columns) =
        Writer::append_to(&target, &schema(), HashMap::new(), Compression::None).unwrap();
    assert_eq!((w.rows(), w.batches()), (300, 5));
    let mut buffer = Table::from_columns(schema(), columns).unwrap();
    let mut all = Table::new(schema());
    for i in 0..500 {
        push(&mut all, i);
    }
    for i in 300..500 {
        push(&mut buffer, i);
    }
    // The target is untouched until the appending writer finishes.
    assert_eq!(MappedFile::open(&target).unwrap().batch_rows().len(), 5);
    let columns = (0..3).map(|f| buffer.snapshot(f).unwrap()).collect();
    w.write(&schema(), columns, buffer.len()).unwrap();
    buffer.clear();
    finish(w, buffer);
    let file = MappedFile::open(&target).unwrap();
    assert_eq!(file.batch_rows(), [64, 64, 64, 64, 44, 200]);
    assert_eq!(rows(&load(&file, &schema()).unwrap()), rows(&all));
}

#[test]
fn appending_to_a_file_of_another_schema_is_an_error_that_leaves_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("w.arrow");
    let (w, buffer, _) = write(&target, 10, 4).unwrap();
    finish(w, buffer);
    let other = Arc::new(Schema::new(vec![Field::new("x", DType::I64)]).unwrap());
    let err = Writer::append_to(&target, &other, HashMap::new(), Compression::None).unwrap_err();
    assert!(err.to_string().contains("column 'x' is Float64"), "{err}");
    assert!(!partial_path(&target).exists());
    assert_eq!(MappedFile::open(&target).unwrap().batch_rows(), [4, 4, 2]);
}

#[test]
fn a_writer_never_overwrites_an_unfinished_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("w.arrow");
    let (first, ..) = write(&target, 10, 4).unwrap();
    let again = Writer::create(&target, &schema(), HashMap::new(), Compression::None);
    assert!(matches!(again, Err(IoError::Os { .. })), "{again:?}");
    drop(first);
    assert!(partial_path(&target).exists());
}

#[test]
fn an_aborted_writer_removes_its_file_and_leaves_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("w.arrow");
    std::fs::write(&target, b"the old file").unwrap();
    let (w, ..) = write(&target, 10, 4).unwrap();
    w.abort().unwrap();
    assert!(!partial_path(&target).exists());
    assert_eq!(std::fs::read(&target).unwrap(), b"the old file");
}

/// The file a writer stopped after writing a fraction `cut` of its bytes would leave, and
/// the rows written before.
fn unfinished(dir: &Path, cut: f64) -> (std::path::PathBuf, Vec<Vec<Datum<'static>>>) {
    let target = dir.join("w.arrow");
    let (w, _, all) = write(&target, 300, 64).unwrap();
    drop(w);
    let partial = partial_path(&target);
    let mut bytes = std::fs::read(&partial).unwrap();
    bytes.truncate((cut * bytes.len() as f64) as usize);
    std::fs::write(&partial, &bytes).unwrap();
    (partial, rows(&all))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        if cfg!(miri) { 2 } else { ProptestConfig::default().cases }
    ))]

    /// Cut anywhere, an unfinished file is an error saying how many rows are recoverable,
    /// and `recover` gives exactly those rows: the first batches', in order.
    #[test]
    fn an_unfinished_file_recovers_every_complete_batch(cut in 0.0f64..=1.0) {
        let dir = tempfile::tempdir().unwrap();
        let (partial, written) = unfinished(dir.path(), cut);
        let said = match MappedFile::open(&partial) {
            Err(IoError::Unfinished { rows, batches, .. }) => Some((rows, batches)),
            Err(_) => None, // too short to hold the magic, or cut inside the trailer
            Ok(_) => { prop_assert!(false, "an unfinished file opened"); None }
        };
        let target = dir.path().join("recovered.arrow");
        match recover(&partial, &target) {
            Ok(done) => {
                if let Some((rows, batches)) = said {
                    prop_assert_eq!((done.rows, done.batches), (rows, batches));
                }
                prop_assert!(!partial.exists());
                let file = MappedFile::open(&target).unwrap();
                let got = rows(&load(&file, &schema()).unwrap());
                prop_assert_eq!(got.len(), done.rows);
                prop_assert_eq!(&got[..], &written[..done.rows]);
            }
            Err(e) => {
                prop_assert!(matches!(e, IoError::Format { .. }), "{e:?}");
                prop_assert!(said.is_none_or(|(rows, _)| rows == 0));
            }
        }
    }

    /// A finished Writer's file (many batches, delta dictionaries, the full ones the footer
    /// lists) damaged anywhere: opening and reading it gives rows or an error, never a panic.
    #[test]
    fn a_damaged_writer_file_is_an_error_or_rows_never_a_panic(damages in damage()) {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.arrow");
        let (w, buffer, _) = write(&good, 120, 25).unwrap();
        finish(w, buffer);
        let bad = dir.path().join("bad.arrow");
        std::fs::write(&bad, damaged(std::fs::read(&good).unwrap(), &damages)).unwrap();
        if let Ok(file) = MappedFile::open(&bad) {
            if let Ok(t) = load(&file, &schema()) {
                prop_assert_eq!(rows(&t).len(), t.len());
            }
        }
        let _ = recover(&bad, &dir.path().join("recovered.arrow"));
    }
}
