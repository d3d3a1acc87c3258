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
mod heap;
mod layout;
mod report;
mod roots;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use shoal_heap::{self as walk, Heap};

use pyo3::pyclass::boolean_struct::True;
use pyo3::sync::PyOnceLock;
use pyo3::{PyClass, PyTypeInfo};

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
    let mut heap = CPython::new(py, include_shared);
    heap.registered = registered.iter().map(|t| t.as_type_ptr()).collect();
    let report = walk::walk(&mut heap, &[obj.as_ptr() as usize]);
    report_dict(py, &mut heap, &report, include_shared)
}

/// `shoal._shoal._census(progress)`: the whole heap, walked from every GC-tracked object.
/// With `progress`, walks longer than 2 s report their count on stderr.
#[pyfunction]
#[pyo3(signature = (progress = false, registered = Vec::new()))]
pub fn _census<'py>(
    py: Python<'py>,
    progress: bool,
    registered: Vec<Bound<'py, pyo3::types::PyType>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (roots, keepalive) = gc_roots(py)?;
    let mut heap = CPython::new(py, true);
    heap.registered = registered.iter().map(|t| t.as_type_ptr()).collect();
    let mut walker = walk::Walker::new(<CPython<'_> as Heap>::ADDRESS_SHIFT);
    if let Some(list) = &keepalive {
        walker.exclude(list.as_ptr() as usize);
    }
    walker.push_roots(roots.into_iter());
    let start = std::time::Instant::now();
    let mut last_note = start;
    while walker.run_for(&mut heap, 1_000_000) {
        if progress
            && start.elapsed().as_secs_f64() > 2.0
            && last_note.elapsed().as_secs_f64() > 1.0
        {
            eprint!("\rshoal census: {} objects walked...", walker.objects());
            last_note = std::time::Instant::now();
        }
    }
    if progress && start.elapsed().as_secs_f64() > 2.0 {
        eprintln!();
    }
    let report = walker.finish();
    let out = report_dict(py, &mut heap, &report, true)?;
    out.set_item("seconds", start.elapsed().as_secs_f64())?;
    drop(keepalive);
    Ok(out)
}

/// What a store object tells the walk: the allocations behind it, as (allocation id, bytes).
/// A column and its snapshots share allocations; the walk counts each id once.
pub trait HeldBuffers {
    /// The allocations this object keeps alive now.
    fn held_buffers(&self) -> Vec<(usize, u64)>;
}

/// Reads the held buffers of an object of one store type.
///
/// # Safety
/// `o` must be a live instance of exactly the type the function was registered for.
type BuffersOf = unsafe fn(Python<'_>, *mut ffi::PyObject) -> Vec<(usize, u64)>;

/// The extension's own types that the walk treats specially, registered once at import by
/// `lib.rs`, so measuring depends on no other module of the crate.
#[derive(Default)]
pub struct KnownTypes {
    /// Types whose objects are shared by identity, never owned by a data structure.
    shared: Vec<usize>,
    /// Store types, by exact type, with the function that reads their buffers.
    stores: Vec<(usize, BuffersOf)>,
}

static KNOWN: PyOnceLock<KnownTypes> = PyOnceLock::new();

/// # Safety
/// `o` must be a live instance of exactly `T`'s type.
unsafe fn buffers_of<T>(py: Python<'_>, o: *mut ffi::PyObject) -> Vec<(usize, u64)>
where
    T: PyClass<Frozen = True> + HeldBuffers + Sync,
{
    // SAFETY: `o` is live (guaranteed by the caller) and the GIL is held.
    let obj = unsafe { pyo3::Borrowed::from_ptr(py, o) };
    // SAFETY: `o`'s type is exactly `T`'s (guaranteed by the caller; the walk compares type
    // pointers for identity).
    let this = unsafe { obj.cast_unchecked::<T>() };
    this.get().held_buffers()
}

impl KnownTypes {
    /// Objects of `T` are shared (like types and modules), never owned by a data structure.
    pub fn shared<T: PyTypeInfo>(mut self, py: Python<'_>) -> Self {
        self.shared.push(py.get_type::<T>().as_type_ptr() as usize);
        self
    }

    /// Objects of exactly `T` hold store buffers, which the walk counts once.
    pub fn store<T>(mut self, py: Python<'_>) -> Self
    where
        T: PyClass<Frozen = True> + HeldBuffers + Sync,
    {
        let tp = py.get_type::<T>().as_type_ptr() as usize;
        self.stores.push((tp, buffers_of::<T> as BuffersOf));
        self
    }

    /// Makes these the types every later walk uses.
    pub fn install(self, py: Python<'_>) {
        let _ = KNOWN.set(py, self);
    }

    fn get(py: Python<'_>) -> &'static KnownTypes {
        KNOWN.get_or_init(py, KnownTypes::default)
    }

    fn is_shared(&self, tp: *mut ffi::PyTypeObject) -> bool {
        self.shared.contains(&(tp as usize))
    }

    fn store_index(&self, tp: *mut ffi::PyTypeObject) -> Option<usize> {
        self.stores.iter().position(|&(t, _)| t == tp as usize)
    }

    /// The buffers held by `o`, whose exact type is store `index`.
    ///
    /// # Safety
    /// `o` must be a live object whose type is exactly the store type at `index`.
    unsafe fn buffers(
        &self,
        py: Python<'_>,
        index: usize,
        o: *mut ffi::PyObject,
    ) -> Vec<(usize, u64)> {
        // SAFETY: the type of `o` is the one `stores[index]` was registered for.
        unsafe { (self.stores[index].1)(py, o) }
    }
}
