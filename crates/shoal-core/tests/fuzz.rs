//! Fuzzing the two doors hostile bytes come in by: pickle loads (`Column::from_parts`) and
//! Arrow import (`import_struct`). Whatever the input, the result is a column or a refusal —
//! never a panic — and what is accepted reads back and round-trips.
//!
//! Proptest-driven, so `cargo test` runs a short pass (256 cases a property); a long run is
//! `PROPTEST_CASES=1000000 cargo test --release -p shoal-core --test fuzz` (see docs/status.md).

// The harness reads and re-points exported structs in one block per step; the one-operation
// rule is for the library code.
#![allow(clippy::multiple_unsafe_ops_per_block)]

use proptest::prelude::*;
use shoal_core::arrow::{export_columns, export_schema, import_struct, ArrowArray, ArrowSchema};
use shoal_core::{Column, DType, Datum, Field, Scalar, Schema, Table};
use std::sync::Arc;

fn field() -> impl Strategy<Value = Field> {
    (prop::sample::select(DType::ALL.to_vec()), any::<bool>()).prop_map(|(dtype, optional)| {
        let f = Field::new("f", dtype);
        if optional {
            f.optional()
        } else {
            f
        }
    })
}

/// Some value of `dtype` built from random numbers (valid by construction).
fn datum(dtype: DType, n: u64, text: &[u8]) -> Datum<'static> {
    match dtype {
        DType::Str | DType::Category => Datum::Bytes(
            String::from_utf8_lossy(text)
                .into_owned()
                .into_bytes()
                .into(),
        ),
        DType::Bytes => Datum::Bytes(text.to_vec().into()),
        DType::Bool => Datum::Num(Scalar::Bool(n % 2 == 0)),
        DType::Date => Datum::Num(Scalar::I32((n % 1_000_000) as i32)),
        DType::Datetime | DType::Timedelta => Datum::Num(Scalar::I64((n % (1 << 50)) as i64)),
        DType::F64 => Datum::Num(Scalar::F64(n as f64)),
        DType::F32 => Datum::Num(Scalar::F32(n as f32)),
        DType::I8 => Datum::Num(Scalar::I8(n as i8)),
        DType::I16 => Datum::Num(Scalar::I16(n as i16)),
        DType::I32 => Datum::Num(Scalar::I32(n as i32)),
        DType::I64 => Datum::Num(Scalar::I64(n as i64)),
        DType::U8 => Datum::Num(Scalar::U8(n as u8)),
        DType::U16 => Datum::Num(Scalar::U16(n as u16)),
        DType::U32 => Datum::Num(Scalar::U32(n as u32)),
        DType::U64 => Datum::Num(Scalar::U64(n)),
    }
}

fn column_of(field: &Field, rows: &[(u64, Vec<u8>, bool)]) -> Column {
    let mut c = Column::for_field(field);
    for (n, text, null) in rows {
        let d = if *null && field.nullable {
            Datum::Null
        } else {
            datum(field.dtype, *n, text)
        };
        c.push(d).expect("valid by construction");
    }
    c
}

fn rows() -> impl Strategy<Value = Vec<(u64, Vec<u8>, bool)>> {
    prop::collection::vec(
        (
            any::<u64>(),
            prop::collection::vec(any::<u8>(), 0..6),
            any::<bool>(),
        ),
        0..10,
    )
}

/// A flip of one byte, somewhere in one of the parts.
fn flips() -> impl Strategy<Value = Vec<(usize, usize, u8)>> {
    prop::collection::vec((any::<usize>(), any::<usize>(), any::<u8>()), 0..4)
}

fn check_accepted(field: &Field, c: &mut Column, len: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(c.len(), len);
    for i in 0..len {
        let d = c.get(i).expect("in range");
        if let (DType::Str | DType::Category, Datum::Bytes(b)) = (field.dtype, &d) {
            prop_assert!(std::str::from_utf8(b).is_ok(), "accepted invalid UTF-8");
        }
        if let (Some((lo, hi)), Datum::Num(s)) = (field.dtype.temporal_range(), &d) {
            let v = match *s {
                Scalar::I64(v) => v,
                Scalar::I32(v) => v.into(),
                _ => unreachable!(),
            };
            prop_assert!((lo..=hi).contains(&v), "accepted {} out of range", v);
        }
    }
    // Compared as bytes: a NaN read from random bits is not equal to itself.
    let snap = c.snapshot().unwrap();
    let again = Column::from_parts(field, &snap.parts(), snap.validity(), len);
    prop_assert!(again.is_some(), "does not load what it saved");
    let again = again.expect("checked").snapshot().unwrap();
    prop_assert_eq!(again.parts(), snap.parts());
    prop_assert_eq!(again.validity(), snap.validity());
    Ok(())
}

proptest! {
    /// Random bytes as parts: refused or a consistent column, never a panic.
    #[test]
    fn from_parts_takes_any_bytes(
        field in field(),
        parts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..48), 0..4),
        validity in prop::option::of(prop::collection::vec(any::<u8>(), 0..3)),
        len in 0usize..12,
    ) {
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        if let Some(mut c) = Column::from_parts(&field, &parts, validity.as_deref(), len) {
            check_accepted(&field, &mut c, len)?;
        }
    }

    /// The parts of a real column with a few bytes flipped (offsets, codes, text, validity):
    /// the near-misses random bytes rarely reach.
    #[test]
    fn from_parts_takes_corrupted_columns(field in field(), rows in rows(), flips in flips()) {
        let mut c = column_of(&field, &rows);
        let snap = c.snapshot().unwrap();
        let mut parts: Vec<Vec<u8>> = snap.parts().iter().map(|p| p.to_vec()).collect();
        let mut validity = snap.validity().map(<[u8]>::to_vec);
        for (which, at, byte) in flips {
            let n = parts.len() + usize::from(validity.is_some());
            let target = match which % n.max(1) {
                i if i < parts.len() => &mut parts[i],
                _ => match validity.as_mut() {
                    Some(v) => v,
                    None => continue,
                },
            };
            if !target.is_empty() {
                let i = at % target.len();
                target[i] ^= byte;
            }
        }
        let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        if let Some(mut c) = Column::from_parts(&field, &parts, validity.as_deref(), rows.len()) {
            check_accepted(&field, &mut c, rows.len())?;
        }
    }

    /// Arrow input whose text and bytes, dictionary indices and validity bits are corrupted
    /// (within the buffers' sizes, which the C interface cannot check): imported exactly when
    /// valid, never a panic.
    #[test]
    fn arrow_import_takes_corrupted_buffers(field in field(), rows in rows(), flips in flips()) {
        let schema = Arc::new(Schema::new(vec![field.clone()]).expect("one field"));
        let mut t = Table::from_columns(Arc::clone(&schema), vec![column_of(&field, &rows)])
            .expect("one column");
        let codes = vec![t.column(0).code_type()];
        let mut s = ArrowSchema::empty();
        export_schema(&schema, &codes, &mut s);
        let mut a = ArrowArray::empty();
        export_columns(vec![t.snapshot(0).unwrap()], t.len(), &mut a);
        // Corrupt copies of the child's buffers, keeping their sizes.
        // Backed by u64s, so the copies keep Arrow's alignment (the importer refuses less).
        let mut storage: Vec<Vec<u64>> = Vec::new();
        let mut copies: Vec<Vec<u8>> = Vec::new();
        // SAFETY: reading and re-pointing the structs we just exported; the copies live until
        // the end of the test, longer than the import.
        unsafe {
            let child = &mut **a.children;
            let targets = corruptible(field.dtype, child, rows.len());
            for (i, size) in &targets {
                let p = *child.buffers.add(*i) as *const u8;
                copies.push(if p.is_null() { Vec::new() } else { std::slice::from_raw_parts(p, *size).to_vec() });
            }
            for (which, at, byte) in &flips {
                if let Some(buf) = copies.get_mut(which % targets.len().max(1)) {
                    if !buf.is_empty() {
                        let k = at % buf.len();
                        buf[k] ^= byte;
                    }
                }
            }
            for ((i, _), copy) in targets.iter().zip(&copies) {
                if !copy.is_empty() {
                    let mut aligned = vec![0u64; copy.len().div_ceil(8)];
                    std::slice::from_raw_parts_mut(aligned.as_mut_ptr().cast::<u8>(), copy.len())
                        .copy_from_slice(copy);
                    *child.buffers.add(*i) = aligned.as_ptr().cast();
                    storage.push(aligned);
                }
            }
        }
        let mut cols = vec![Column::for_field(&schema.fields()[0])];
        // SAFETY: the structs are valid as far as the C interface can say: every buffer has the
        // size its format and length promise; only contents were corrupted.
        if unsafe { import_struct(&schema, &s, &a, &mut cols, false) }.is_ok() {
            let mut c = cols.pop().expect("one column");
            check_accepted(&field, &mut c, rows.len())?;
        }
        // SAFETY: releasing what we exported, once (the copies outlive this).
        unsafe {
            if let Some(release) = a.release { release(&mut a) }
            if let Some(release) = s.release { release(&mut s) }
        }
    }
}

/// The buffers of an exported child whose contents (not sizes) a hostile producer controls
/// without breaking the C interface's promises: (buffer index, its size in bytes).
///
/// # Safety
/// `child` is an array this process exported for a column of `dtype` with `len` rows.
unsafe fn corruptible(dtype: DType, child: &ArrowArray, len: usize) -> Vec<(usize, usize)> {
    let validity = (
        0,
        if child.null_count > 0 {
            len.div_ceil(8)
        } else {
            0
        },
    );
    match dtype {
        // Text: the data bytes (offsets stay valid so reads stay inside the data buffer).
        DType::Str | DType::Bytes => {
            // SAFETY: buffer 1 of an exported utf8/binary array holds `len + 1` i32 offsets.
            let end = unsafe { *(*child.buffers.add(1) as *const i32).add(len) } as usize;
            vec![validity, (2, end)]
        }
        // Categories: the codes (any value: indices are checked against the dictionary).
        DType::Category => vec![validity, (1, len * dtype_code_width(child))],
        DType::Bool => vec![validity, (1, len.div_ceil(8))],
        fixed => vec![validity, (1, len * fixed.itemsize())],
    }
}

/// Bytes per code of an exported dictionary-encoded array, from its format's width.
fn dtype_code_width(child: &ArrowArray) -> usize {
    // The exporter writes codes of the column's current width; our columns here stay below
    // 256 distinct values, so u8 codes.
    let _ = child;
    1
}
