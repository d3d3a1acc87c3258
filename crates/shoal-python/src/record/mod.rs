//! `RecordBase`: the C-level base of every `shoal.Record` class.
//!
//! Written against the C API rather than as a `#[pyclass]` because table rows must be created
//! as instances of the *user's* Python subclass (`Point`), and PyO3 offers no public way to
//! allocate a subclass instance from Rust. A record is one of two things:
//! - a **row**: `table` points at the `Table` and `row`/`version` say which row, as of which
//!   structural version; reads and writes go to the table's columns;
//! - **standalone**: `values` holds its own checked scalars (`Point(1.0, 2.0)`).
//!
//! Attribute access has a fast path (`tp_getattro`/`tp_setattro`): the attribute name is compared
//! by pointer with the schema's interned field names, which is what Python passes for `p.x`.
//! Anything else falls back to the generic lookup, where `Field` descriptors give the same
//! answer for non-interned names, and methods resolve as usual.
//!
//! `new` allocates records (rows and standalone), `access` reads and writes fields, `type_object`
//! is the `RecordBase` type and the C slots CPython calls, `class` builds a class's schema, `init` marks the record whose `__post_init__` or own `__init__` runs, `descriptor` is `Field`'s
//! descriptor protocol, `items` reads records given as input.

mod access;
mod class;
mod descriptor;
mod init;
mod items;
mod new;
mod type_object;

pub use access::{fast_value, get_field, record_cells, set_field};
pub use new::{new_row, new_standalone, rebind_if_unshared, rebind_raw_if_unshared, run_init};

pub use type_object::{is_record, is_record_type, record_base};

use pyo3::ffi;
use pyo3::prelude::*;
use shoal_core::Datum;

use crate::schema::PySchema;
use crate::table::PyTable;

#[repr(C)]
pub(super) struct RecordObject {
    ob_base: ffi::PyObject,
    /// Owned reference to the `Table` this row belongs to; null for a standalone record.
    table: *mut ffi::PyObject,
    /// Owned reference to the record class's `Schema`.
    schema: *mut ffi::PyObject,
    row: usize,
    version: u64,
    /// A leaked `Box<[Datum]>` of `nvalues` owned cells for a standalone record; null for a row.
    values: *mut Datum<'static>,
    nvalues: usize,
}

/// The record struct behind `obj`, which must be an instance of `RecordBase`.
///
/// # Safety
/// `obj` must point to a live instance of `RecordBase` or a subclass.
pub(super) unsafe fn record<'a>(obj: *mut ffi::PyObject) -> &'a mut RecordObject {
    // SAFETY: instances of RecordBase subclasses start with the RecordObject layout.
    unsafe { &mut *obj.cast::<RecordObject>() }
}

pub(super) fn schema_of<'py>(py: Python<'py>, rec: &RecordObject) -> Option<Bound<'py, PySchema>> {
    if rec.schema.is_null() {
        return None;
    }
    Some(schema_ref(py, rec).to_owned())
}

/// The record's schema, borrowed; `rec.schema` must be non-null.
pub(super) fn schema_ref<'a, 'py>(
    py: Python<'py>,
    rec: &'a RecordObject,
) -> pyo3::Borrowed<'a, 'py, PySchema> {
    debug_assert!(!rec.schema.is_null());
    // SAFETY: `schema` is an owned reference, alive as long as `rec` (set only by this module).
    let any = unsafe { pyo3::Borrowed::from_ptr(py, rec.schema) };
    // SAFETY: it is a `Schema` (set only by `alloc_record`, from a `PySchema`).
    unsafe { any.cast_unchecked::<PySchema>() }
}

/// The table a row handle belongs to; `rec.table` must be non-null (a row, not standalone).
pub(super) fn table_ref<'a, 'py>(
    py: Python<'py>,
    rec: &'a RecordObject,
) -> pyo3::Borrowed<'a, 'py, PyTable> {
    debug_assert!(!rec.table.is_null());
    // SAFETY: `table` is an owned reference, alive as long as `rec` (set only by `new_row`).
    let any = unsafe { pyo3::Borrowed::from_ptr(py, rec.table) };
    // SAFETY: it is a `Table` (set only by `new_row`, from a `PyTable`).
    unsafe { any.cast_unchecked::<PyTable>() }
}

/// The bytes a record holds in Rust: a standalone record's boxed values and the text or bytes
/// they own; nothing for a row (its table holds the data). Reads fields only.
///
/// # Safety
/// `obj` must be a live instance of `RecordBase` or a subclass.
pub unsafe fn held_bytes(obj: *mut ffi::PyObject) -> u64 {
    // SAFETY: guaranteed by the caller.
    let rec = unsafe { record(obj) };
    if rec.values.is_null() {
        return 0;
    }
    // SAFETY: a standalone record's `values` is its live boxed slice of `nvalues` cells.
    let values = unsafe { std::slice::from_raw_parts(rec.values, rec.nvalues) };
    let owned: usize = values
        .iter()
        .map(|v| match v {
            Datum::Bytes(std::borrow::Cow::Owned(b)) => b.capacity(),
            _ => 0,
        })
        .sum();
    (std::mem::size_of_val(values) + owned) as u64
}
