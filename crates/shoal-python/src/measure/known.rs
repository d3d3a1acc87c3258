//! The extension's own types that the walk treats specially: shared ones (schemas, fields)
//! and stores (tables, columns), whose buffers they report through `HeldBuffers`.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pyclass::boolean_struct::True;
use pyo3::sync::PyOnceLock;
use pyo3::{PyClass, PyTypeInfo};

/// What a store object tells the walk: the allocations behind it, as (allocation id, bytes).
/// A column and its snapshots share allocations; the walk counts each id once.
pub trait HeldBuffers {
    /// The allocations this object keeps alive now.
    fn held_buffers(&self) -> Vec<(usize, u64)>;

    /// Memory-mapped file pages this object reads in place, as (allocation id, bytes): not
    /// heap, reported apart (`SizeReport.mapped`).
    fn mapped_buffers(&self) -> Vec<(usize, u64)> {
        Vec::new()
    }
}

/// A store object's buffers: its heap allocations and the mapped file pages it reads.
#[derive(Default)]
pub struct Held {
    pub heap: Vec<(usize, u64)>,
    pub mapped: Vec<(usize, u64)>,
}

/// Reads the held buffers of an object of one store type.
///
/// # Safety
/// `o` must be a live instance of exactly the type the function was registered for.
type BuffersOf = unsafe fn(Python<'_>, *mut ffi::PyObject) -> Held;

/// The bytes a record holds outside its object (its values, in Rust).
///
/// # Safety
/// `o` must be a live instance of the record base type (or a subclass).
pub type RecordBytes = unsafe fn(*mut ffi::PyObject) -> u64;

/// The extension's own types that the walk treats specially, registered once at import by
/// `lib.rs`, so measuring depends on no other module of the crate.
#[derive(Default)]
pub struct KnownTypes {
    /// Types whose objects are shared by identity, never owned by a data structure.
    shared: Vec<usize>,
    /// Store types, by exact type, with the function that reads their buffers.
    stores: Vec<(usize, BuffersOf)>,
    /// The base type of record classes, and what a record holds in Rust.
    record: Option<(usize, RecordBytes)>,
}

static KNOWN: PyOnceLock<KnownTypes> = PyOnceLock::new();

/// # Safety
/// `o` must be a live instance of exactly `T`'s type.
unsafe fn buffers_of<T>(py: Python<'_>, o: *mut ffi::PyObject) -> Held
where
    T: PyClass<Frozen = True> + HeldBuffers + Sync,
{
    // SAFETY: `o` is live (guaranteed by the caller) and the GIL is held.
    let obj = unsafe { pyo3::Borrowed::from_ptr(py, o) };
    // SAFETY: `o`'s type is exactly `T`'s (guaranteed by the caller; the walk compares type
    // pointers for identity).
    let this = unsafe { obj.cast_unchecked::<T>() }.get();
    Held {
        heap: this.held_buffers(),
        mapped: this.mapped_buffers(),
    }
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

    /// Instances of `base` and its subclasses are records holding `bytes(o)` in Rust.
    pub fn record(mut self, base: *mut ffi::PyTypeObject, bytes: RecordBytes) -> Self {
        self.record = Some((base as usize, bytes));
        self
    }

    /// Makes these the types every later walk uses.
    pub fn install(self, py: Python<'_>) {
        let _ = KNOWN.set(py, self);
    }

    pub(super) fn get(py: Python<'_>) -> &'static KnownTypes {
        KNOWN.get_or_init(py, KnownTypes::default)
    }

    pub(super) fn is_shared(&self, tp: *mut ffi::PyTypeObject) -> bool {
        self.shared.contains(&(tp as usize))
    }

    pub(super) fn store_index(&self, tp: *mut ffi::PyTypeObject) -> Option<usize> {
        self.stores.iter().position(|&(t, _)| t == tp as usize)
    }

    pub(super) fn is_record(&self, tp: *mut ffi::PyTypeObject) -> bool {
        self.record.is_some_and(|(base, _)| {
            // SAFETY: both are live types (the base is kept alive by the extension module).
            unsafe { ffi::PyType_IsSubtype(tp, base as *mut ffi::PyTypeObject) != 0 }
        })
    }

    /// The bytes the record `o` holds in Rust.
    ///
    /// # Safety
    /// `o` must be a live object whose type `is_record`.
    pub(super) unsafe fn record_bytes(&self, o: *mut ffi::PyObject) -> u64 {
        // SAFETY: `o` is a record (guaranteed by the caller).
        self.record.map_or(0, |(_, bytes)| unsafe { bytes(o) })
    }

    /// The buffers held by `o`, whose exact type is store `index`.
    ///
    /// # Safety
    /// `o` must be a live object whose type is exactly the store type at `index`.
    pub(super) unsafe fn buffers(
        &self,
        py: Python<'_>,
        index: usize,
        o: *mut ffi::PyObject,
    ) -> Held {
        // SAFETY: the type of `o` is the one `stores[index]` was registered for.
        unsafe { (self.stores[index].1)(py, o) }
    }
}
