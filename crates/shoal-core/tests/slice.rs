//! `Table::slice_shared` against the rows of the table it slices: equal rows, and writes on
//! either side never seen by the other.

use std::sync::Arc;

use proptest::prelude::*;
use shoal_core::{DType, Datum, Field, Scalar, Schema, Table};

type Row = (f64, Option<i64>, String, bool, usize);

const WORDS: [&str; 4] = ["api", "db", "auth", "queue"];
// Under Miri (an interpreter, thousands of times slower) the same property on shorter tables.
const ROWS: usize = if cfg!(miri) { 8 } else { 60 };

fn schema() -> Arc<Schema> {
    Arc::new(
        Schema::new(vec![
            Field::new("f", DType::F64),
            Field::new("k", DType::I64).optional(),
            Field::new("s", DType::Str),
            Field::new("b", DType::Bool),
            Field::new("c", DType::Category),
            Field::new("u", DType::U8),
        ])
        .unwrap(),
    )
}

fn cells(r: &Row) -> Vec<Datum<'_>> {
    vec![
        Datum::Num(Scalar::F64(r.0)),
        r.1.map_or(Datum::Null, |k| Datum::Num(Scalar::I64(k))),
        Datum::bytes(r.2.as_bytes()),
        Datum::Num(Scalar::Bool(r.3)),
        Datum::bytes(WORDS[r.4].as_bytes()),
        Datum::Num(Scalar::U8(r.4 as u8)),
    ]
}

fn row() -> impl Strategy<Value = Row> {
    (
        any::<f64>(),
        prop::option::of(any::<i64>()),
        "[a-zé🐟]{0,6}",
        any::<bool>(),
        0usize..4,
    )
}

fn rows_of(t: &Table) -> Vec<Vec<Datum<'static>>> {
    (0..t.len()).map(|r| t.row(r).unwrap()).collect()
}

fn same(a: &[Vec<Datum<'static>>], b: &[Vec<Datum<'static>>]) -> bool {
    // Compared by debug text: NaN equals itself there, as it does bit for bit in a column.
    format!("{a:?}") == format!("{b:?}")
}

proptest! {
    #[test]
    fn a_shared_slice_has_the_rows_and_writes_stay_apart(
        rows in prop::collection::vec(row(), 0..ROWS),
        start in 0usize..ROWS + 10,
        len in 0usize..ROWS + 10,
        overwrite in row(),
    ) {
        let mut t = Table::new(schema());
        for r in &rows {
            t.push_cells(&cells(r)).unwrap();
        }
        let before = rows_of(&t);
        let Ok(mut part) = t.slice_shared(start, len) else {
            prop_assert!(start + len > rows.len());
            return Ok(());
        };
        prop_assert!(same(&rows_of(&part), &before[start..start + len]));
        if len > 0 {
            // Shared, not copied: the numbers, bools and category codes read the table's
            // memory (text too, where the rows hold any bytes).
            for f in [0, 3, 4, 5] {
                prop_assert!(part.columns()[f].foreign_bytes() > 0);
            }
            // A write to the slice leaves the table as it was ...
            for (f, cell) in cells(&overwrite).into_iter().enumerate() {
                part.set_cell(0, f, cell).unwrap();
            }
            prop_assert!(same(&rows_of(&t), &before));
            let written = part.row(0).unwrap();
            // ... and a write to the table leaves the slice as it was.
            for (f, cell) in cells(&overwrite).into_iter().enumerate() {
                t.set_cell(start + len - 1, f, cell).unwrap();
            }
            let mut expected = before[start..start + len].to_vec();
            expected[0] = written;
            prop_assert!(same(&rows_of(&part), &expected));
            part.push_cells(&cells(&overwrite)).unwrap();
            prop_assert_eq!(part.len(), len + 1);
        }
    }
}
