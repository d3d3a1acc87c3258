//! Export and import round trips, lifetimes and malformed input.

// Tests read and corrupt the structs they exported in one block per check; the one-operation
// rule is for the library code.
#![allow(clippy::multiple_unsafe_ops_per_block)]

use super::export::ptr_of;
use super::*;
use crate::column::SnapshotData;
use crate::dtype::{DType, Datum, Field, Schema};
use crate::error::Error;
use crate::{Column, Scalar, Table};
use std::ffi::CStr;
use std::sync::Arc;

fn sample() -> Table {
    let schema = Schema::new(vec![
        Field::new("x", DType::F64),
        Field::new("ok", DType::Bool),
        Field::new("name", DType::Str).optional(),
        Field::new("tag", DType::Category),
    ])
    .unwrap();
    let mut t = Table::new(Arc::new(schema));
    for i in 0..10 {
        let name = format!("n{i}");
        t.push_cells(&[
            Datum::Num(Scalar::F64(i as f64)),
            Datum::Num(Scalar::Bool(i % 3 == 0)),
            if i == 4 {
                Datum::Null
            } else {
                Datum::bytes(name.as_bytes())
            },
            Datum::bytes(if i % 2 == 0 { b"even" } else { b"odd" }),
        ])
        .unwrap();
    }
    t
}

fn export(t: &mut Table) -> (ArrowSchema, ArrowArray) {
    let codes: Vec<_> = t.columns().iter().map(Column::code_type).collect();
    let mut s = ArrowSchema::empty();
    export_schema(t.schema(), &codes, &mut s);
    let snaps = (0..t.schema().len())
        .map(|f| t.snapshot(f).unwrap())
        .collect();
    let mut a = ArrowArray::empty();
    export_columns(snaps, t.len(), &mut a);
    (s, a)
}

#[test]
fn export_shares_buffers_and_releases_cleanly() {
    let mut t = sample();
    let (mut s, mut a) = export(&mut t);
    // SAFETY: reading the structs we just filled.
    unsafe {
        assert_eq!(CStr::from_ptr(s.format).to_str().unwrap(), "+s");
        let x = &**s.children;
        assert_eq!(CStr::from_ptr(x.name).to_str().unwrap(), "x");
        let xa = &**a.children;
        let data = *xa.buffers.add(1) as *const f64;
        let own = t.snapshot(0).unwrap();
        assert_eq!(data.cast(), own.fixed().unwrap().as_ptr(), "zero-copy");
        assert_eq!(*data.add(9), 9.0);
        let bools = &**a.children.add(1);
        assert_eq!(*(*bools.buffers.add(1) as *const u8), 0b0100_1001);
        let names = &**a.children.add(2);
        assert_eq!(names.null_count, 1);
        let SnapshotData::Var { data: text, .. } = t.snapshot(2).unwrap().data().clone() else {
            panic!("a str column has offsets and data")
        };
        assert_eq!(*names.buffers.add(2), ptr_of(&text), "zero-copy");
        let tag = &**s.children.add(3);
        assert_eq!(CStr::from_ptr(tag.format).to_str().unwrap(), "C");
        assert_eq!(
            CStr::from_ptr((*tag.dictionary).format).to_str().unwrap(),
            "u"
        );
        t.clear(); // the export keeps its own snapshots
        assert_eq!(*data.add(9), 9.0);
        (s.release.unwrap())(&mut s);
        (a.release.unwrap())(&mut a);
    }
    assert!(s.release.is_none() && a.release.is_none());
}

#[test]
fn adopted_children_outlive_their_parent_and_the_exporting_table() {
    let mut t = sample();
    let expected = t.clone();
    let (mut s, mut a) = export(&mut t);
    let mut cols: Vec<Column> = t.schema().fields().iter().map(Column::for_field).collect();
    // SAFETY: a schema and array we exported together, which we own and release right after.
    unsafe { import_struct(t.schema(), &s, &a, &mut cols, true) }.unwrap();
    // SAFETY: releasing our own export once; the adopted children were moved out of it.
    unsafe {
        (a.release.unwrap())(&mut a);
        (s.release.unwrap())(&mut s);
    }
    drop(t);
    let mut back = Table::from_columns(Arc::clone(expected.schema()), cols).unwrap();
    assert!(back.values_eq(&expected));
    back.set_cell(0, 0, Datum::Num(Scalar::F64(-1.0))).unwrap(); // copies first
    assert_eq!(back.columns()[0].f64_at(0), Some(-1.0));
    assert_eq!(back.columns()[0].f64_at(1), Some(1.0));
}

#[test]
fn import_round_trips_and_refuses_bad_input() {
    let mut t = sample();
    let (mut s, mut a) = export(&mut t);
    let mut cols: Vec<Column> = t.schema().fields().iter().map(Column::for_field).collect();
    // SAFETY: a schema and array we exported together.
    unsafe { import_struct(t.schema(), &s, &a, &mut cols, false) }.unwrap();
    let back = Table::from_columns(Arc::clone(t.schema()), cols).unwrap();
    assert!(back.values_eq(&t));
    // A non-optional field refuses the nulls of the name column.
    let strict = Schema::new(vec![Field::new("name", DType::Str)]).unwrap();
    let mut cols = vec![Column::for_field(&strict.fields()[0])];
    // SAFETY: as above.
    let err = unsafe { import_struct(&strict, &s, &a, &mut cols, false) }.unwrap_err();
    assert_eq!(
        err,
        Error::Nulls {
            field: "name".into(),
            count: 1
        }
    );
    // Corrupt offsets are caught, not trusted. The export's buffers are the table's (shared,
    // immutable) memory: the corruption goes into a copy that the child is re-pointed at.
    // SAFETY: reading and re-pointing the structs of our own export, which we still own; the
    // copy outlives the import.
    unsafe {
        let names = &mut **a.children.add(2);
        let slot = names.buffers.add(1);
        let mut offsets = std::slice::from_raw_parts(*slot as *const i32, 11).to_vec();
        offsets[3] = 1_000_000;
        let original = *slot;
        *slot = offsets.as_ptr().cast();
        let schema = Schema::new(vec![Field::new("name", DType::Str).optional()]).unwrap();
        let mut cols = vec![Column::for_field(&schema.fields()[0])];
        let err = import_struct(&schema, &s, &a, &mut cols, false).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
        *slot = original;
        (s.release.unwrap())(&mut s);
        (a.release.unwrap())(&mut a);
    }
}

/// A hand-built struct array of one column `name`, as a hostile producer might make it: the
/// child's format and buffers as given (leaked: the test owns them for its whole run).
fn handmade(
    format: &[u8],
    name: &str,
    len: i64,
    buffers: Vec<*const u8>,
) -> (ArrowSchema, ArrowArray) {
    let leak_cstr = |b: &[u8]| {
        let mut v = b.to_vec();
        v.push(0);
        Box::leak(v.into_boxed_slice())
            .as_ptr()
            .cast::<std::ffi::c_char>()
    };
    let mut child_s = ArrowSchema::empty();
    child_s.format = leak_cstr(format);
    child_s.name = leak_cstr(name.as_bytes());
    let mut child_a = ArrowArray::empty();
    child_a.length = len;
    child_a.n_buffers = buffers.len() as i64;
    child_a.buffers = Box::leak(
        buffers
            .into_iter()
            .map(|p| p.cast::<std::ffi::c_void>())
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
    .as_mut_ptr();
    let mut top_s = ArrowSchema::empty();
    top_s.format = leak_cstr(b"+s");
    top_s.n_children = 1;
    top_s.children =
        Box::leak(vec![Box::into_raw(Box::new(child_s))].into_boxed_slice()).as_mut_ptr();
    let mut top_a = ArrowArray::empty();
    top_a.length = len;
    top_a.n_buffers = 1;
    top_a.buffers =
        Box::leak(vec![std::ptr::null::<std::ffi::c_void>()].into_boxed_slice()).as_mut_ptr();
    top_a.n_children = 1;
    top_a.children =
        Box::leak(vec![Box::into_raw(Box::new(child_a))].into_boxed_slice()).as_mut_ptr();
    (top_s, top_a)
}

fn import_one(field: Field, s: &ArrowSchema, a: &ArrowArray) -> Result<Column, Error> {
    let schema = Schema::new(vec![field]).unwrap();
    let mut cols = vec![Column::for_field(&schema.fields()[0])];
    // SAFETY: the structs are well-formed as far as the C interface can tell; the importer
    // must find what is wrong with their contents.
    unsafe { import_struct(&schema, s, a, &mut cols, false) }?;
    Ok(cols.pop().unwrap())
}

#[test]
fn a_multibyte_character_in_a_timestamp_format_is_a_type_mismatch() {
    // ../shared/repros/reliability/13: `ts\xc3\xa9` once sliced a str off a char boundary.
    let data = Box::leak(Box::new(0i64));
    let (s, a) = handmade(
        b"ts\xc3\xa9",
        "d",
        1,
        vec![std::ptr::null(), (data as *const i64).cast()],
    );
    let err = import_one(Field::new("d", DType::Datetime), &s, &a).unwrap_err();
    assert!(matches!(err, Error::TypeMismatch { .. }), "{err:?}");
}

#[test]
fn a_view_array_without_its_sizes_buffer_is_refused() {
    // ../shared/repros/reliability/12: a null variadic-sizes buffer was read.
    let mut view = [0u8; 16];
    view[0..4].copy_from_slice(&20i32.to_le_bytes()); // long value: in variadic buffer 0
    let view = Box::leak(Box::new(view));
    let text = Box::leak(Box::new([b'a'; 32]));
    let (s, a) = handmade(
        b"vu",
        "s",
        1,
        vec![
            std::ptr::null(),
            view.as_ptr(),
            text.as_ptr(),
            std::ptr::null(),
        ],
    );
    let err = import_one(Field::new("s", DType::Str), &s, &a).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
}

#[test]
fn a_negative_top_level_offset_is_refused() {
    let data = Box::leak(Box::new(0f64));
    let (s, mut a) = handmade(
        b"g",
        "x",
        1,
        vec![std::ptr::null(), (data as *const f64).cast()],
    );
    a.offset = -1;
    let err = import_one(Field::new("x", DType::F64), &s, &a).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
}

#[test]
fn an_unaligned_buffer_is_refused() {
    // Found by Miri on the fuzz harness: offsets (i32s) read from an odd address. Fixed-width
    // values are read as bytes and need no alignment.
    let bytes = Box::leak(Box::new([0u64; 3]));
    let odd = bytes.as_ptr().cast::<u8>().wrapping_add(1);
    let (s, a) = handmade(
        b"u",
        "s",
        1,
        vec![std::ptr::null(), odd, bytes.as_ptr().cast()],
    );
    let err = import_one(Field::new("s", DType::Str), &s, &a).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
}
