//! Model-based property tests: a `Buffer` and a `Table` against plain `Vec`s, with snapshots
//! taken along the way that must never change.

use proptest::prelude::*;
use shoal_core::{Buffer, DType, Error, Field, Scalar, Schema, Table, Value};
use std::sync::Arc;

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
    fn buffer_matches_vec_and_snapshots_never_change(ops in prop::collection::vec(op(), 0..200)) {
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
        rows in prop::collection::vec((any::<i64>(), -1000i64..1000, any::<bool>()), 0..60)
    ) {
        let schema = Schema::new(vec![
            Field { name: "x".into(), dtype: DType::F64 },
            Field { name: "n".into(), dtype: DType::U8 },
            Field { name: "b".into(), dtype: DType::Bool },
        ]).unwrap();
        let mut table = Table::new(Arc::new(schema));
        let mut model: Vec<Vec<Scalar>> = Vec::new();
        for (x, n, b) in rows {
            let values = [Value::Int(x), Value::Int(n), Value::Bool(b)];
            match table.push_row(&values) {
                Ok(()) => model.push(vec![Scalar::F64(x as f64), Scalar::U8(n as u8), Scalar::Bool(b)]),
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
    let schema = Schema::new(vec![Field {
        name: "x".into(),
        dtype: DType::I64,
    }])
    .unwrap();
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
