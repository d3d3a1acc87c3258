//! Indexes against a brute-force scan of a plain `Vec` of rows, through random appends,
//! writes, inserts, deletions, sorts and clears with the indexes alive.

use std::cmp::Ordering;
use std::sync::Arc;

use proptest::prelude::*;
use shoal_core::column::KeyPart;
use shoal_core::index::{Index, IndexKind, NOT_FOUND};
use shoal_core::{DType, Datum, Error, Field, Problem, Scalar, Schema, Table};

type Row = (Option<i64>, String, f64, i64);

// Under Miri (an interpreter, thousands of times slower) the same properties on smaller inputs.
const OPS: usize = if cfg!(miri) { 30 } else { 120 };
const BATCH: i64 = if cfg!(miri) { 16 } else { 200 };
const FINAL_CHECKS: usize = if cfg!(miri) { 2 } else { usize::MAX };

fn schema() -> Arc<Schema> {
    Arc::new(
        Schema::new(vec![
            Field::new("k", DType::I64).optional(),
            Field::new("s", DType::Str),
            Field::new("f", DType::F64),
            Field::new("u", DType::I64),
        ])
        .unwrap(),
    )
}

fn cells(r: &Row) -> Vec<Datum<'_>> {
    vec![
        r.0.map_or(Datum::Null, |k| Datum::Num(Scalar::I64(k))),
        Datum::bytes(r.1.as_bytes()),
        Datum::Num(Scalar::F64(r.2)),
        Datum::Num(Scalar::I64(r.3)),
    ]
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::of(-3i64..3),
        "[ab]{0,2}",
        prop::sample::select(vec![0.0, -0.0, 1.5, -2.0, f64::NAN]),
        0i64..12,
    )
}

#[derive(Clone, Debug)]
enum Op {
    Push(Row),
    Set(usize, usize, Row),
    Insert(usize, Row),
    Remove(usize),
    Sort(usize),
    Clear,
    Query(Row),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => row().prop_map(Op::Push),
        3 => (any::<usize>(), 0usize..4, row()).prop_map(|(i, f, r)| Op::Set(i, f, r)),
        1 => (any::<usize>(), row()).prop_map(|(i, r)| Op::Insert(i, r)),
        2 => any::<usize>().prop_map(Op::Remove),
        1 => (0usize..4).prop_map(Op::Sort),
        1 => Just(Op::Clear),
        4 => row().prop_map(Op::Query),
    ]
}

fn eq_f(a: f64, b: f64) -> bool {
    a == b
}

/// Brute force: rows whose (k, s) equal the query's, whose u equals, whose f equals.
fn check(t: &mut Table, model: &[Row], ids: &[u64; 3], q: &Row) -> Result<(), TestCaseError> {
    let by_ks: Vec<usize> = (0..model.len())
        .filter(|&i| model[i].0 == q.0 && model[i].1 == q.1)
        .collect();
    let by_u: Vec<usize> = (0..model.len()).filter(|&i| model[i].3 == q.3).collect();
    let by_f: Vec<usize> = (0..model.len())
        .filter(|&i| eq_f(model[i].2, q.2))
        .collect();
    let qc = cells(q);
    let parts: Vec<KeyPart<'_>> = qc.iter().map(KeyPart::of).collect();
    let (Index::Hash(h), columns) = t.index(ids[0]).unwrap().unwrap() else {
        panic!("hash")
    };
    let mut got: Vec<usize> = h.rows_of(columns, &[parts[0], parts[1]]).collect();
    got.sort_unstable();
    prop_assert_eq!(got, by_ks);
    let (Index::Hash(h), columns) = t.index(ids[1]).unwrap().unwrap() else {
        panic!("unique")
    };
    prop_assert_eq!(
        h.rows_of(columns, &[parts[3]]).collect::<Vec<_>>(),
        by_u.clone()
    );
    // Batches (pipelined) agree with one key at a time, hits and misses alike.
    let batch: Vec<i64> = (0..BATCH).map(|i| (i % 14) - 1).collect();
    let (mut generic, mut ints) = (Vec::new(), Vec::new());
    let batch_parts: Vec<KeyPart<'_>> = batch.iter().map(|&k| KeyPart::Int(k)).collect();
    h.first_rows(columns, &batch_parts, &mut generic);
    h.first_rows_i64(columns, batch.len(), |j| batch[j], |_, r| ints.push(r));
    let single: Vec<usize> = batch
        .iter()
        .map(|&k| {
            h.rows_of(columns, &[KeyPart::Int(k)])
                .next()
                .unwrap_or(NOT_FOUND)
        })
        .collect();
    prop_assert_eq!(&generic, &single);
    prop_assert_eq!(&ints, &single);
    let (Index::Sorted(s), columns) = t.index(ids[2]).unwrap().unwrap() else {
        panic!("sorted")
    };
    let got: Vec<usize> = s
        .rows_of(columns, &[parts[2]])
        .iter()
        .map(|&r| r as usize)
        .collect();
    prop_assert_eq!(got, by_f);
    // The whole order: by f (NaN last), ties by row.
    let mut expected: Vec<usize> = (0..model.len()).collect();
    expected.sort_by(|&a, &b| {
        let (x, y) = (model[a].2, model[b].2);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => x.partial_cmp(&y).unwrap(),
        }
        .then(a.cmp(&b))
    });
    let lows: Vec<usize> = expected
        .iter()
        .copied()
        .filter(|&i| model[i].2 >= q.2.min(0.0) && model[i].2 < 1.5)
        .collect();
    let low = [KeyPart::Float(q.2.min(0.0) + 0.0)];
    if !q.2.is_nan() {
        let got: Vec<usize> = s
            .range(columns, Some(&low), Some(&[KeyPart::Float(1.5)]), false)
            .iter()
            .map(|&r| r as usize)
            .collect();
        prop_assert_eq!(got, lows);
    }
    Ok(())
}

proptest! {
    #[test]
    fn indexes_match_a_scan_through_every_change(ops in prop::collection::vec(op(), 0..OPS)) {
        let mut t = Table::new(schema());
        let mut model: Vec<Row> = Vec::new();
        let (a, _ta) = t.add_index(&[0, 1], IndexKind::Hash { unique: false }).unwrap();
        let (b, _tb) = t.add_index(&[3], IndexKind::Hash { unique: true }).unwrap();
        let (c, _tc) = t.add_index(&[2], IndexKind::Sorted).unwrap();
        let ids = [a, b, c];
        for op in ops {
            let unique_ok = |model: &[Row], u: i64, except: Option<usize>| {
                model.iter().enumerate().all(|(i, r)| r.3 != u || Some(i) == except)
            };
            match op {
                Op::Push(r) => {
                    let ok = unique_ok(&model, r.3, None);
                    let res = t.push_cells(&cells(&r));
                    prop_assert_eq!(res.is_ok(), ok, "{:?}", res);
                    if let Err(Error::Datum { field, problem, .. }) = res {
                        prop_assert_eq!(field, 3);
                        let Problem::DuplicateKey { row } = problem else {
                            panic!("{problem:?}")
                        };
                        prop_assert_eq!(model[row].3, r.3);
                    }
                    if ok { model.push(r); }
                }
                Op::Set(i, f, r) if !model.is_empty() => {
                    let i = i % model.len();
                    let ok = f != 3 || unique_ok(&model, r.3, Some(i));
                    let res = t.set_cell(i, f, cells(&r)[f].reborrow());
                    prop_assert_eq!(res.is_ok(), ok);
                    if ok {
                        match f {
                            0 => model[i].0 = r.0,
                            1 => model[i].1 = r.1,
                            2 => model[i].2 = r.2,
                            _ => model[i].3 = r.3,
                        }
                    }
                }
                Op::Insert(i, r) => {
                    let i = i % (model.len() + 1);
                    let ok = unique_ok(&model, r.3, None);
                    prop_assert_eq!(t.insert_cells(i, &cells(&r)).is_ok(), ok);
                    if ok { model.insert(i, r); }
                }
                Op::Remove(i) if !model.is_empty() => {
                    let i = i % model.len();
                    t.remove(i).unwrap();
                    model.remove(i);
                }
                Op::Sort(f) => {
                    let order = t.order_by(&[f], false).unwrap();
                    t.permute(&order).unwrap();
                    model = order.iter().map(|&i| model[i].clone()).collect();
                }
                Op::Clear => { t.clear(); model.clear(); }
                Op::Query(q) => check(&mut t, &model, &ids, &q)?,
                _ => {}
            }
        }
        for r in model.clone().into_iter().take(FINAL_CHECKS) {
            check(&mut t, &model, &ids, &r)?;
        }
    }
}

#[test]
fn a_dropped_token_forgets_the_index() {
    let mut t = Table::new(schema());
    let (id, token) = t.add_index(&[3], IndexKind::Hash { unique: true }).unwrap();
    t.push_cells(&cells(&(None, "a".into(), 0.0, 1))).unwrap();
    assert!(t.push_cells(&cells(&(None, "b".into(), 0.0, 1))).is_err());
    drop(token);
    t.push_cells(&cells(&(None, "b".into(), 0.0, 1))).unwrap();
    assert!(t.index(id).is_none());
    assert_eq!(t.len(), 2);
}

#[test]
fn building_a_unique_index_over_a_repeat_names_both_rows() {
    let mut t = Table::new(schema());
    for u in [4, 5, 4] {
        t.push_cells(&cells(&(None, String::new(), 0.0, u)))
            .unwrap();
    }
    let err = t
        .add_index(&[3], IndexKind::Hash { unique: true })
        .unwrap_err();
    assert_eq!(
        err,
        Error::Datum {
            field: 3,
            row: 2,
            problem: Problem::DuplicateKey { row: 0 }
        }
    );
}
