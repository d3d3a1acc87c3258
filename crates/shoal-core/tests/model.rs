//! Model-based property tests: a `Buffer` and a `Table` against plain `Vec`s, with snapshots
//! taken along the way that must never change.

use proptest::prelude::*;
use shoal_core::{Buffer, DType, Datum, Error, Field, Scalar, Schema, Table, Value};
use std::sync::Arc;

// Under Miri (an interpreter, thousands of times slower) the same properties on shorter
// histories: the unsafe code they reach (buffers, snapshots, copy-on-write) is the same.
const OPS: usize = if cfg!(miri) { 60 } else { 200 };
const ROWS: usize = if cfg!(miri) { 20 } else { 60 };
const ROW_OPS: usize = if cfg!(miri) { 25 } else { 80 };

#[derive(Clone, Debug)]
enum Op {
    Push(i32),
    Set(usize, i32),
    Insert(usize, i32),
    Remove(usize),
    Truncate(usize),
    Clear,
    Snapshot,
    DropSnapshot(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<i32>().prop_map(Op::Push),
        2 => (any::<usize>(), any::<i32>()).prop_map(|(i, v)| Op::Set(i, v)),
        1 => (any::<usize>(), any::<i32>()).prop_map(|(i, v)| Op::Insert(i, v)),
        1 => any::<usize>().prop_map(Op::Remove),
        1 => any::<usize>().prop_map(Op::Truncate),
        1 => Just(Op::Clear),
        2 => Just(Op::Snapshot),
        1 => any::<usize>().prop_map(Op::DropSnapshot),
    ]
}

proptest! {
    #[test]
    fn buffer_matches_vec_and_snapshots_never_change(ops in prop::collection::vec(op(), 0..OPS)) {
        let mut buf = Buffer::<i32>::new();
        let mut model: Vec<i32> = Vec::new();
        let mut snaps = Vec::new();
        for op in ops {
            match op {
                Op::Push(v) => { buf.push(v); model.push(v); }
                Op::Set(i, v) if !model.is_empty() => {
                    let i = i % model.len(); buf.set(i, v); model[i] = v;
                }
                Op::Insert(i, v) => {
                    let i = i % (model.len() + 1); buf.insert(i, v); model.insert(i, v);
                }
                Op::Remove(i) if !model.is_empty() => {
                    let i = i % model.len();
                    prop_assert_eq!(buf.remove(i), model.remove(i));
                }
                Op::Truncate(n) => {
                    let n = n % (model.len() + 1); buf.truncate(n); model.truncate(n);
                }
                Op::Clear => { buf.clear(); model.clear(); }
                Op::Snapshot => snaps.push((buf.snapshot(), model.clone())),
                Op::DropSnapshot(i) if !snaps.is_empty() => { snaps.remove(i % snaps.len()); }
                _ => {}
            }
            prop_assert_eq!(buf.as_slice(), &model[..]);
            for (snap, expected) in &snaps {
                prop_assert_eq!(snap.as_slice(), &expected[..]);
            }
        }
    }

    #[test]
    fn failed_push_leaves_table_unchanged(
        rows in prop::collection::vec((any::<i64>(), -1000i64..1000, any::<bool>()), 0..ROWS)
    ) {
        let schema = Schema::new(vec![
            Field::new("x", DType::F64),
            Field::new("n", DType::U8),
            Field::new("b", DType::Bool),
        ]).unwrap();
        let mut table = Table::new(Arc::new(schema));
        let mut model: Vec<Vec<Datum<'static>>> = Vec::new();
        for (x, n, b) in rows {
            let values = [Value::Int(x), Value::Int(n), Value::Bool(b)];
            match table.push_row(&values) {
                Ok(()) => model.push(vec![
                    Datum::Num(Scalar::F64(x as f64)),
                    Datum::Num(Scalar::U8(n as u8)),
                    Datum::Num(Scalar::Bool(b)),
                ]),
                Err(Error::Value { field, row, .. }) => {
                    prop_assert_eq!(field, 1);
                    prop_assert_eq!(row, model.len());
                    prop_assert!(!(0..=255).contains(&n));
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
            prop_assert_eq!(table.len(), model.len());
            for f in 0..3 {
                prop_assert_eq!(table.column(f).len(), model.len());
            }
        }
        for (i, row) in model.iter().enumerate() {
            prop_assert_eq!(&table.row(i).unwrap(), row);
        }
    }
}

#[test]
fn structural_changes_bump_the_version_and_appends_do_not() {
    let schema = Schema::new(vec![Field::new("x", DType::I64)]).unwrap();
    let mut t = Table::new(Arc::new(schema));
    for i in 0..5 {
        t.push_row(&[Value::Int(i)]).unwrap();
    }
    assert_eq!(t.version(), 0);
    t.remove(0).unwrap();
    assert_eq!(t.version(), 1);
    t.insert(0, &[Value::Int(9)]).unwrap();
    t.clear();
    assert_eq!(t.version(), 3);
    assert_eq!(t.get(0, 0), Err(Error::RowOutOfRange { index: 0, len: 0 }));
}

fn mixed_schema() -> Arc<Schema> {
    Arc::new(
        Schema::new(vec![
            Field::new("name", DType::Str),
            Field::new("n", DType::I64).optional(),
            Field::new("tag", DType::Category),
            Field::new("blob", DType::Bytes).optional(),
        ])
        .unwrap(),
    )
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-c]{0,3}", "\\PC{0,30}"]
}

fn mixed_row() -> impl Strategy<Value = Vec<Datum<'static>>> {
    (
        text(),
        prop::option::of(any::<i64>()),
        "[a-e]",
        prop::option::of(prop::collection::vec(any::<u8>(), 0..50)),
    )
        .prop_map(|(name, n, tag, blob)| {
            vec![
                Datum::Bytes(name.into_bytes().into()),
                n.map_or(Datum::Null, |n| Datum::Num(Scalar::I64(n))),
                Datum::Bytes(tag.into_bytes().into()),
                blob.map_or(Datum::Null, |b| Datum::Bytes(b.into())),
            ]
        })
}

#[derive(Clone, Debug)]
enum RowOp {
    Push(Vec<Datum<'static>>),
    Set(usize, usize, Vec<Datum<'static>>),
    Insert(usize, Vec<Datum<'static>>),
    Remove(usize),
    /// `del t[start::step]`, as the slice delete does it: the rows in one pass.
    RemoveStrided(usize, usize),
    Rollback(usize),
    Snapshot,
    Compact,
    /// `sort()`'s reordering: row `i` becomes row `(i * k) % n` of the old order, for `k`
    /// coprime with `n` (a rotation when `k == 1`).
    Permute(usize, usize),
    /// `t = t[start::step]`: a copy of every `step`-th row.
    Slice(usize, usize),
}

fn row_op() -> impl Strategy<Value = RowOp> {
    prop_oneof![
        4 => mixed_row().prop_map(RowOp::Push),
        4 => (any::<usize>(), 0usize..4, mixed_row()).prop_map(|(i, f, r)| RowOp::Set(i, f, r)),
        1 => (any::<usize>(), mixed_row()).prop_map(|(i, r)| RowOp::Insert(i, r)),
        1 => any::<usize>().prop_map(RowOp::Remove),
        1 => (any::<usize>(), 1usize..4).prop_map(|(a, s)| RowOp::RemoveStrided(a, s)),
        1 => any::<usize>().prop_map(RowOp::Rollback),
        1 => Just(RowOp::Snapshot),
        1 => Just(RowOp::Compact),
        1 => (any::<usize>(), 1usize..5).prop_map(|(a, k)| RowOp::Permute(a, k)),
        1 => (any::<usize>(), 1usize..4).prop_map(|(a, s)| RowOp::Slice(a, s)),
    ]
}

proptest! {
    /// Strings, optional values, categories and bytes behave like a list of rows, and column
    /// snapshots keep what they saw.
    #[test]
    fn mixed_table_matches_a_list_of_rows(ops in prop::collection::vec(row_op(), 0..ROW_OPS)) {
        let mut table = Table::new(mixed_schema());
        let mut model: Vec<Vec<Datum<'static>>> = Vec::new();
        let mut snaps = Vec::new();
        for op in ops {
            match op {
                RowOp::Push(r) => { table.push_cells(&r).unwrap(); model.push(r); }
                RowOp::Set(i, f, r) if !model.is_empty() => {
                    let i = i % model.len();
                    // Field 0 is not optional: a null there must be refused, changing nothing.
                    table.set_cell(i, f, r[f].clone()).unwrap();
                    model[i][f] = r[f].clone();
                    prop_assert!(table.set_cell(i, 0, Datum::Null).is_err());
                }
                RowOp::Insert(i, r) => {
                    let i = i % (model.len() + 1);
                    table.insert_cells(i, &r).unwrap();
                    model.insert(i, r);
                }
                RowOp::Remove(i) if !model.is_empty() => {
                    let i = i % model.len();
                    prop_assert_eq!(table.remove(i).unwrap(), model.remove(i));
                }
                RowOp::RemoveStrided(start, step) if !model.is_empty() => {
                    let start = start % model.len();
                    let rows: Vec<usize> = (start..model.len()).step_by(step).collect();
                    table.remove_rows(rows.iter().copied()).unwrap();
                    for &r in rows.iter().rev() {
                        model.remove(r);
                    }
                }
                RowOp::Rollback(n) => {
                    let n = n % (model.len() + 1);
                    table.rollback_to(n);
                    model.truncate(n);
                }
                RowOp::Snapshot => {
                    let cols: Vec<_> = (0..4).map(|f| table.snapshot(f).unwrap()).collect();
                    snaps.push((cols, model.clone()));
                }
                RowOp::Compact => { table.compact().unwrap(); prop_assert_eq!(table.dead_bytes(), 0); }
                RowOp::Permute(shift, k) if !model.is_empty() => {
                    let n = model.len();
                    let k = if gcd(k, n) == 1 { k } else { 1 };
                    let order: Vec<usize> = (0..n).map(|i| (shift + i * k) % n).collect();
                    table.permute(&order).unwrap();
                    model = order.iter().map(|&i| model[i].clone()).collect();
                }
                RowOp::Slice(start, step) if !model.is_empty() => {
                    let start = start % model.len();
                    let rows: Vec<usize> = (start..model.len()).step_by(step).collect();
                    table = table.take_strided(start, step as isize, rows.len()).unwrap();
                    model = rows.iter().map(|&i| model[i].clone()).collect();
                }
                _ => {}
            }
            prop_assert_eq!(table.len(), model.len());
            for (i, row) in model.iter().enumerate() {
                prop_assert_eq!(&table.row(i).unwrap(), row);
            }
            for (cols, rows) in &snaps {
                for (i, row) in rows.iter().enumerate() {
                    for f in 0..4 {
                        prop_assert_eq!(&cols[f].get(i).unwrap(), &row[f]);
                    }
                }
            }
        }
    }
}

#[test]
fn refused_cells_leave_the_table_unchanged() {
    let schema = Arc::new(
        Schema::new(vec![
            Field::new("name", DType::Str),
            Field {
                categories: Some(vec!["red".to_owned(), "green".to_owned()].into()),
                ..Field::new("color", DType::Category)
            },
        ])
        .unwrap(),
    );
    let mut t = Table::new(schema);
    t.push_cells(&[Datum::bytes(b"a"), Datum::bytes(b"red")])
        .unwrap();
    let err = t
        .push_cells(&[Datum::bytes(b"b"), Datum::bytes(b"blue")])
        .unwrap_err();
    assert_eq!(
        err,
        Error::Datum {
            field: 1,
            row: 1,
            problem: shoal_core::Problem::UnknownCategory
        }
    );
    assert!(t.push_cells(&[Datum::Null, Datum::bytes(b"red")]).is_err());
    assert_eq!(t.len(), 1);
    assert_eq!(t.column(0).len(), 1);
    assert_eq!(t.row(0).unwrap()[0], Datum::bytes(b"a"));
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
