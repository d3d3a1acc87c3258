//! `shoal.sizeof`: everything an object reaches, each object sized from its type's layout on
//! the running CPython version, without running Python code or allocating Python objects.
//!
//! Sizes are the bytes requested from the allocator, as tracemalloc counts them: the GC
//! pre-header (and, from 3.11, the managed-dict pre-header), the object, and the separate
//! allocations an object owns (list item arrays, dict key tables and value arrays, set
//! tables, NumPy data, shoal column buffers). See docs/measure.md for the per-version rules.
//!
//! `classify` decides what each type makes, `layout` knows the per-version object layouts,
//! `heap` implements the walk's `Heap` trait for CPython, `roots` lists the census's roots and
//! `report` turns the walk's totals into a dict.

mod classify;
mod csizeof;
mod frames;
mod heap;
mod known;
mod layout;
mod payload;
mod report;
mod roots;

use pyo3::prelude::*;

use crate::progress::Progress;
use pyo3::types::PyDict;
use shoal_heap::{self as walk, Heap};

pub use known::{HeldBuffers, KnownTypes};

use heap::CPython;
use report::report_dict;
use roots::gc_roots;

/// `shoal._shoal._sizeof(obj, include_shared)`: the raw report as a dict (see `shoal.sizeof`).
#[pyfunction]
#[pyo3(signature = (obj, include_shared = false, registered = Vec::new()))]
pub fn _sizeof<'py>(
    obj: &Bound<'py, PyAny>,
    include_shared: bool,
    registered: Vec<Bound<'py, pyo3::types::PyType>>,
) -> PyResult<Bound<'py, PyDict>> {
    let py = obj.py();
    let mut heap = CPython::new(py);
    heap.registered = registered.iter().map(|t| t.as_type_ptr()).collect();
    let report = walk::walk(&mut heap, &[obj.as_ptr() as usize]);
    report_dict(py, &mut heap, &report, include_shared)
}

/// `shoal._shoal._census(progress)`: the whole heap, walked from every GC-tracked object.
/// With `progress`, walks longer than 2 s report their count on stderr (`Progress`).
#[pyfunction]
#[pyo3(signature = (progress = false, registered = Vec::new()))]
pub fn _census<'py>(
    py: Python<'py>,
    progress: bool,
    registered: Vec<Bound<'py, pyo3::types::PyType>>,
) -> PyResult<Bound<'py, PyDict>> {
    // Everything that runs Python code comes before the roots are listed: from 3.12 they are
    // borrowed pointers, and Python code lets other threads run and free them.
    let mut heap = CPython::new(py);
    heap.walk_shared = true;
    let (roots, keepalive) = gc_roots(py)?;
    heap.registered = registered.iter().map(|t| t.as_type_ptr()).collect();
    let mut walker = walk::Walker::new(<CPython<'_> as Heap>::ADDRESS_SHIFT);
    if let Some(list) = &keepalive {
        walker.exclude(list.as_ptr() as usize);
    }
    walker.push_roots(roots.into_iter());
    let start = std::time::Instant::now();
    let mut shown = Progress::new("shoal census", "objects walked", None, Some(progress));
    while walker.run_for(&mut heap, 1_000_000) {
        shown.set(usize::try_from(walker.objects()).unwrap_or(usize::MAX));
    }
    drop(shown);
    let report = walker.finish();
    let out = report_dict(py, &mut heap, &report, true)?;
    out.set_item("seconds", start.elapsed().as_secs_f64())?;
    drop(keepalive);
    Ok(out)
}
