//! The walk's report as the dict `shoal._measure` and `shoal._census` read.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use shoal_heap::{self as walk, AddrSet, Bucket};

use super::heap::CPython;

pub(super) fn report_dict<'py>(
    py: Python<'py>,
    heap: &mut CPython<'py>,
    report: &walk::WalkReport,
    include_shared: bool,
) -> PyResult<Bound<'py, PyDict>> {
    if let Some((tp, bytes)) = report.impossible {
        let type_name = heap.type_name(tp as *mut ffi::PyTypeObject);
        return Err(crate::errors::ShoalError::ImpossibleSize { type_name, bytes }.into());
    }
    // Strong references first, before anything below can run Python code (any allocation of a
    // Python object can start a collection, whose finalisers, or a metaclass's `__module__`
    // property, can free what the walk saw): the deferred objects, and every type the report
    // names, which were alive when the walk ended (it runs no Python code). Taking a reference
    // allocates nothing Python can see.
    let deferred: Vec<Bound<'py, PyAny>> = heap
        .deferred
        .iter()
        .map(|&o| {
            // SAFETY: `o` was reached from live roots with the GIL held and nothing has run
            // since; this takes a new reference to it.
            unsafe { Bound::from_borrowed_ptr(py, o) }
        })
        .collect();
    let types: AddrSet<usize> = report
        .by_type
        .keys()
        .chain(report.by_owner.keys())
        .chain(report.by_bucket_type.keys().map(|(_, t)| t))
        .copied()
        .collect();
    let _types_alive: Vec<Bound<'py, PyAny>> = types
        .iter()
        .map(|&t| {
            // SAFETY: as above: `t` is the address of a type the walk saw alive.
            unsafe { Bound::from_borrowed_ptr(py, t as *mut ffi::PyObject) }
        })
        .collect();
    let deferred = pyo3::types::PyList::new(py, deferred)?;
    let out = PyDict::new(py);
    out.set_item(
        "total",
        report.total
            + if include_shared {
                report.shared_bytes
            } else {
                0
            },
    )?;
    out.set_item("allocated", report.allocated)?;
    out.set_item("objects", report.objects)?;
    out.set_item("shared_bytes", report.shared_bytes)?;
    out.set_item("mapped_bytes", report.mapped_bytes)?;
    out.set_item("shared_objects", report.shared_objects)?;
    out.set_item("bookkeeping", report.bookkeeping)?;
    let cats = PyDict::new(py);
    for (c, b) in &report.buckets {
        cats.set_item(bucket_name(*c), *b)?;
    }
    out.set_item("categories", cats)?;
    let split = PyDict::new(py);
    for (&(c, t), b) in &report.by_bucket_type {
        let key = (bucket_name(c), heap.type_name(t as *mut ffi::PyTypeObject));
        split.set_item(key, *b)?;
    }
    out.set_item("by_category_type", split)?;
    let mut rows: Vec<(String, u64, u64)> = report
        .by_type
        .iter()
        .map(|(&t, tt)| {
            (
                heap.type_name(t as *mut ffi::PyTypeObject),
                tt.count,
                tt.bytes,
            )
        })
        .collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    out.set_item("by_type", rows)?;
    let classes = pyo3::types::PyList::empty(py);
    for (&t, owned) in &report.by_owner {
        let tp = t as *mut ffi::PyTypeObject;
        let own = report.by_type.get(&t).copied().unwrap_or_default();
        let row = PyDict::new(py);
        row.set_item("type", heap.type_name(tp))?;
        // SAFETY: `tp` is a type kept alive by `_types_alive`, whatever Python code has run.
        let module = unsafe { Bound::from_borrowed_ptr(py, tp.cast()) }
            .getattr("__module__")
            .ok();
        row.set_item("module", module)?;
        row.set_item("count", own.count)?;
        row.set_item("instance_bytes", own.bytes)?;
        row.set_item("value_bytes", owned.bytes)?;
        row.set_item("dict_bytes", owned.dicts)?;
        row.set_item("payload", owned.payload)?;
        row.set_item("attributes", owned.attributes)?;
        row.set_item("storable_attributes", owned.storable)?;
        row.set_item("text_refs", owned.text_refs)?;
        row.set_item("text_ref_payload", owned.text_ref_payload)?;
        row.set_item("distinct_texts", owned.distinct_texts)?;
        row.set_item("distinct_text_payload", owned.distinct_text_payload)?;
        classes.append(row)?;
    }
    out.set_item("classes", classes)?;
    out.set_item("deferred", deferred)?;
    Ok(out)
}

pub fn bucket_name(c: Bucket) -> &'static str {
    match c {
        Bucket::ObjectHeaders => "object headers",
        Bucket::InstanceDicts => "instance dicts",
        Bucket::InlineValues => "inline values",
        Bucket::AttributeValues => "attribute values",
        Bucket::Containers => "containers",
        Bucket::Buffers => "buffers",
    }
}
