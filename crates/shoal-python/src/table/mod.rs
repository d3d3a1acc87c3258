//! `Table`: a growable column store of records of one `shoal.Record` class.
//!
//! The mutable state sits in a `RefCell` rather than behind PyO3's borrow checker: PyO3's
//! flag is atomic (for free-threaded builds) and a loop over rows paid six atomic operations per
//! row for it. Our module requires the GIL (PyO3's default `gil_used`), which serialises all
//! access, so a plain `RefCell` is enough to catch re-entrant use. A borrow can be held while
//! Python code runs (`extend` iterating a generator, a tz's `fromutc`), and Python code can
//! hand the GIL to another thread: that thread's conflicting borrow waits, with the GIL
//! released, instead of failing; only the holder's own conflicting borrow is an error.
//!
//! One file per job: `construction` (new, from_columns, from_arrow), `sequence` (the list
//! API), `iter` (the row iterator), `export` (Arrow, pandas, polars), `pickle` (pickle and
//! copies), `repr` (repr and HTML), `fast_append` (the METH_FASTCALL append).

mod construction;
mod dataset;
mod export;
mod fast_append;
mod file_batches;
mod files;
mod iter;
mod pickle;
mod repr;
mod select;
mod sequence;
mod sort;
mod subscript;

pub use dataset::{_parquet_info, _read_parquet};
pub use fast_append::{append_into, install_fast_append, install_fastcall, new_none};
pub use file_batches::{_open_batches, FileBatches, FileBatchesIter};
pub use files::{_file_schema, _open, compression_of, file_error, file_metadata, Batches};
pub use pickle::_table_from_buffers;
pub use select::concat;
pub use subscript::install_fast_subscript;

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::ops::{Deref, DerefMut};

use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use pyo3::PyVisit;
use shoal_core::{Datum, Table};

use crate::convert::cell_to_py;
use crate::errors::{Result, ShoalError};
use crate::schema::PySchema;

#[pyclass(frozen, module = "shoal", name = "Table")]
pub struct PyTable {
    state: RefCell<TableState>,
    /// The thread holding the mutable borrow of `state` (`thread_token`), or 0.
    writer: Cell<usize>,
    /// How many shared borrows of `state` are held, and the XOR of their threads' tokens (the
    /// one reader's token when there is one).
    readers: Cell<(u32, usize)>,
    schema: Py<PySchema>,
    /// The file the table was opened from (`shoal.open`), or None.
    source: Option<Source>,
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
thread_local! {
    static THREAD_MARK: u8 = const { 0 };
}

/// This thread's identity, never 0. On x86_64 Linux it is the thread pointer (`%fs:0`, the
/// thread control block's pointer to itself, what glibc's `pthread_self` returns): a
/// thread-local's address would cost a `__tls_get_addr` call in a shared library, 11
/// instructions an append.
#[inline(always)]
fn thread_token() -> usize {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        let tp: usize;
        // SAFETY: on x86_64 Linux the C library sets up %fs for every thread, with the thread
        // control block's address at %fs:0; reading it has no other effect.
        unsafe {
            std::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly, preserves_flags))
        };
        tp
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    THREAD_MARK.with(|m| m as *const u8 as usize)
}

/// Where a table opened from a file reads its rows.
pub struct Source {
    pub path: std::path::PathBuf,
    /// Opened with `mode="r"`: every change is refused.
    pub read_only: bool,
    /// The columns were imported from one record batch, so they read the map in place.
    pub mapped: bool,
    pub file: std::sync::Arc<shoal_io::MappedFile>,
}

/// A shared borrow of a table's state.
pub struct ReadGuard<'a> {
    state: Ref<'a, TableState>,
    readers: &'a Cell<(u32, usize)>,
}

impl Deref for ReadGuard<'_> {
    type Target = TableState;
    fn deref(&self) -> &TableState {
        &self.state
    }
}

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        let (n, tokens) = self.readers.get();
        self.readers.set((n - 1, tokens ^ thread_token()));
    }
}

/// The mutable borrow of a table's state.
pub struct WriteGuard<'a> {
    state: RefMut<'a, TableState>,
    writer: &'a Cell<usize>,
}

impl Deref for WriteGuard<'_> {
    type Target = TableState;
    fn deref(&self) -> &TableState {
        &self.state
    }
}

impl DerefMut for WriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut TableState {
        &mut self.state
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.writer.set(0);
    }
}

// SAFETY: the module is declared GIL-using (PyO3's default), so on free-threaded builds CPython
// re-enables the GIL when importing it; every access to `state` happens from a thread holding
// the GIL, which serialises them and orders their memory effects (of `writer` too). The
// `RefCell` catches re-entrant use on the same thread.
unsafe impl Sync for PyTable {}

pub struct TableState {
    pub inner: Table,
    /// Reused row buffer for appends.
    scratch: Vec<Datum<'static>>,
    /// The last row handle `t[i]` returned; reused when nothing else holds it.
    cached_row: Option<Py<PyAny>>,
    /// Per field: the `str` of each category code read so far (the first `CACHED_CODES`), so
    /// reading a category returns one shared object instead of making a new one. Codes keep
    /// their meaning while the column lives (its dictionary only grows); replacing the column
    /// forgets them.
    category_strs: RefCell<Vec<Vec<Option<Py<PyAny>>>>>,
}

/// How many codes per category column keep a `str` (bounding the cache for columns with many
/// distinct values).
const CACHED_CODES: u32 = 4096;

impl TableState {
    /// The `str` for category `code` of `field`, made by `make` the first time.
    pub fn category_str<'py>(
        &self,
        py: Python<'py>,
        field: usize,
        code: u32,
        make: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if code >= CACHED_CODES {
            return make();
        }
        let mut cache = self.category_strs.borrow_mut();
        if cache.len() <= field {
            cache.resize_with(field + 1, Vec::new);
        }
        let slots = &mut cache[field];
        if slots.len() <= code as usize {
            slots.resize_with(code as usize + 1, || None);
        }
        if let Some(s) = &slots[code as usize] {
            return Ok(s.bind(py).clone());
        }
        let s = make()?;
        slots[code as usize] = Some(s.clone().unbind());
        Ok(s)
    }

    /// The cached str of category `code` of `field` as a new reference, if one is cached.
    #[inline]
    pub fn cached_category_str(&self, field: usize, code: u32) -> Option<*mut pyo3::ffi::PyObject> {
        // SAFETY: fails if the cache is mutably borrowed; while the reference lives only an
        // incref runs (no Python code, so no mutable borrow can start).
        let cache = unsafe { self.category_strs.try_borrow_unguarded() }.ok()?;
        let s = cache.get(field)?.get(code as usize)?.as_ref()?;
        // SAFETY: the cache holds a live str; the caller receives a new reference.
        unsafe { pyo3::ffi::Py_INCREF(s.as_ptr()) };
        Some(s.as_ptr())
    }

    fn forget_category_strs(&self, field: usize) {
        if let Some(slots) = self.category_strs.borrow_mut().get_mut(field) {
            slots.clear();
        }
    }

    /// A Python index (negative counts from the end) as a row number.
    fn row_index(&self, index: isize) -> Result<usize> {
        let len = self.inner.len();
        let i = if index < 0 {
            index + len as isize
        } else {
            index
        };
        if i < 0 || i as usize >= len {
            return Err(ShoalError::RowIndex {
                index: index.to_string(),
                len,
            });
        }
        Ok(i as usize)
    }
}

/// The error for re-entrant use of a table.
pub fn busy() -> PyErr {
    ShoalError::Busy.into()
}

impl PyTable {
    /// A shared borrow; waits for another thread's change to finish.
    pub fn read(&self) -> PyResult<ReadGuard<'_>> {
        loop {
            if let Ok(state) = self.state.try_borrow() {
                let (n, tokens) = self.readers.get();
                self.readers.set((n + 1, tokens ^ thread_token()));
                return Ok(ReadGuard {
                    state,
                    readers: &self.readers,
                });
            }
            self.wait_for_other_thread()?;
        }
    }

    /// After a borrow conflict: an error if this thread is the one changing the table
    /// (re-entrant use, which waiting would deadlock), else the GIL is released for a moment,
    /// so the other thread can finish, and the caller tries again.
    pub fn wait_for_other_thread(&self) -> PyResult<()> {
        let me = thread_token();
        let writer = self.writer.get();
        // A conflict without a writer is with shared borrows: another thread's only if there is
        // one and it is not ours; with several, assume one is ours (re-entrant use, an error,
        // as before threads were told apart) rather than risk waiting on ourselves.
        let (readers, tokens) = self.readers.get();
        let mine = writer == me || (writer == 0 && (readers != 1 || tokens == me));
        if mine {
            return Err(busy());
        }
        Python::attach(|py| py.detach(std::thread::yield_now));
        Ok(())
    }

    /// Runs `f` on the state without taking a borrow guard: for short reads that call no
    /// Python code (the hot path of `row.x`), where the guard's bookkeeping is measurable.
    /// `None` if the table is in the middle of a change (the caller reports `busy`).
    #[inline]
    pub fn peek<R>(&self, f: impl FnOnce(&TableState) -> R) -> Option<R> {
        // SAFETY: `try_borrow_unguarded` fails if the state is mutably borrowed; `f` runs no
        // Python code and cannot reach this table, so no mutable borrow can start while the
        // reference lives (all access is serialised by the GIL, see `unsafe impl Sync`).
        let st = unsafe { self.state.try_borrow_unguarded() }.ok()?;
        Some(f(st))
    }

    /// Runs `f` on the state mutably borrowed, if no borrow is in progress, for writes that
    /// run no Python code (so no other thread can see the borrow and none needs to wait for
    /// it); `None` (nothing run) otherwise, for the general path.
    #[inline]
    pub fn poke<R>(&self, f: impl FnOnce(&mut TableState) -> R) -> Option<R> {
        let mut st = self.state.try_borrow_mut().ok()?;
        Some(f(&mut st))
    }

    /// The mutable borrow for a change to the rows: refused for a table opened read-only from
    /// a file (every change goes through here or `is_read_only`).
    pub fn change(&self) -> PyResult<WriteGuard<'_>> {
        if let Some(path) = self.read_only_path() {
            return Err(ShoalError::ReadOnly { path }.into());
        }
        self.write()
    }

    /// Whether changes are refused (a table opened read-only from a file).
    #[inline]
    pub fn is_read_only(&self) -> bool {
        self.source.as_ref().is_some_and(|s| s.read_only)
    }

    /// The mutable borrow; waits for other threads' borrows to end. For changes to the rows,
    /// `change`.
    pub fn write(&self) -> PyResult<WriteGuard<'_>> {
        loop {
            if let Ok(state) = self.state.try_borrow_mut() {
                self.writer.set(thread_token());
                return Ok(WriteGuard {
                    state,
                    writer: &self.writer,
                });
            }
            self.wait_for_other_thread()?;
        }
    }

    pub fn schema<'py>(&self, py: Python<'py>) -> &Bound<'py, PySchema> {
        self.schema.bind(py)
    }

    pub(crate) fn with_inner(schema: Py<PySchema>, inner: Table) -> PyTable {
        Self::with_source(schema, inner, None)
    }

    fn with_source(schema: Py<PySchema>, inner: Table, source: Option<Source>) -> PyTable {
        PyTable {
            state: RefCell::new(TableState {
                inner,
                scratch: Vec::new(),
                cached_row: None,
                category_strs: RefCell::default(),
            }),
            writer: Cell::new(0),
            readers: Cell::new((0, 0)),
            schema,
            source,
        }
    }

    /// Snapshots of every column, and the row count.
    pub(crate) fn snapshots(&self) -> PyResult<(Vec<shoal_core::ColumnSnapshot>, usize)> {
        let mut st = self.write()?;
        let len = st.inner.len();
        let columns = (0..self.schema.get().len())
            .map(|f| {
                st.inner
                    .snapshot(f)
                    .map_err(|e| ShoalError::from_core(e, self.schema.get()))
            })
            .collect::<Result<_>>()?;
        Ok((columns, len))
    }

    pub(crate) fn field_index(&self, name: &Bound<'_, PyString>) -> PyResult<usize> {
        let s = self.schema.get();
        let n = name.to_str()?;
        s.core.index_of(n).ok_or_else(|| {
            ShoalError::NoSuchField {
                record: s.record_name.clone(),
                name: n.to_owned(),
            }
            .into()
        })
    }
}

#[pymethods]
impl PyTable {
    /// Bytes allocated by the column buffers (capacity included).
    #[getter]
    fn nbytes(&self) -> PyResult<usize> {
        Ok(self.read()?.inner.nbytes())
    }

    #[getter]
    fn record_type(&self, py: Python<'_>) -> Py<PyType> {
        self.schema.get().record_type.clone_ref(py)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<PyTable>() else {
            return Ok(false);
        };
        let o = other.get();
        if self.schema.as_ptr() != o.schema.as_ptr() {
            return Ok(false);
        }
        if std::ptr::eq(self, o) {
            return Ok(true);
        }
        Ok(self.read()?.inner.values_eq(&o.read()?.inner))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> std::result::Result<(), pyo3::PyTraverseError> {
        visit.call(&self.schema)?;
        // A table busy in an operation keeps its cached row: not visiting it only makes the
        // collector more conservative.
        if let Ok(st) = self.state.try_borrow() {
            if let Some(r) = &st.cached_row {
                visit.call(r)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        if let Ok(mut st) = self.state.try_borrow_mut() {
            st.cached_row = None;
        }
    }
}

/// The values of row `i` as Python objects.
pub(crate) fn row_objects<'py>(
    slf: &Bound<'py, PyTable>,
    i: usize,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let py = slf.py();
    let this = slf.get();
    let specs = &this.schema.get().specs;
    let st = this.read()?;
    // Callers loop over rows while Python code runs (sort keys, a gc callback, repr), which may
    // shrink the table under them.
    let row = st.inner.row(i).map_err(|_| ShoalError::Changed {
        detail: format!(
            "row {i} of the {} table was removed while the table was being read",
            this.schema.get().record_name
        ),
    })?;
    row.into_iter()
        .zip(specs)
        .map(|(cell, spec)| cell_to_py(py, cell, spec))
        .collect()
}

impl crate::measure::HeldBuffers for PyTable {
    /// Each column's current allocation and each index's (none while the table is being
    /// changed).
    fn held_buffers(&self) -> Vec<(usize, u64)> {
        let mapped = self.source.as_ref().is_some_and(|s| s.mapped);
        self.peek(|st| {
            let columns = st.inner.columns().iter();
            let own =
                |c: &shoal_core::Column| c.nbytes() - if mapped { c.foreign_bytes() } else { 0 };
            let columns = columns.map(|c| (c.allocation_id(), own(c) as u64));
            let indexes = st.inner.index_allocations().map(|(id, n)| (id, n as u64));
            columns.chain(indexes).collect()
        })
        .unwrap_or_default()
    }

    /// For a table opened from a file, the bytes its columns read from the map (the adopted
    /// buffers: a table built from a file adopts nothing else, and a change copies a column
    /// into its own memory).
    fn mapped_buffers(&self) -> Vec<(usize, u64)> {
        if !self.source.as_ref().is_some_and(|s| s.mapped) {
            return Vec::new();
        }
        self.peek(|st| {
            let columns = st.inner.columns().iter();
            // Ids of their own: a column's heap part already counts under its allocation id.
            columns
                .map(|c| (c.allocation_id() ^ 1, c.foreign_bytes() as u64))
                .filter(|&(_, n)| n > 0)
                .collect()
        })
        .unwrap_or_default()
    }
}
