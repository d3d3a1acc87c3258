//! `shoal.Writer`: builds an Arrow IPC file larger than memory, row by row.
//!
//! Rows gather in a buffer table of at most `batch_rows` rows; each full buffer is written as
//! one record batch (`shoal_io::Writer`) and cleared, keeping its category dictionaries, so
//! each batch's dictionary extends the last (written as a delta). Memory: one buffer.
//!
//! `append` is a METH_FASTCALL method (`append.rs`), as `Table.append` is: the hot path of a
//! loop. The GIL is held while a batch is written (a few milliseconds for 65,536 rows), so
//! no other thread sees the buffer half flushed.

mod append;

use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;
use shoal_core::Table;

use crate::errors::ShoalError;
use crate::progress::Progress;
use crate::schema::PySchema;
use crate::table::{compression_of, file_error, file_metadata, PyTable, TableState};

pub use append::install_fast_writer_append;

/// Where the file stands.
enum Sink {
    Open(Box<shoal_io::Writer>),
    /// Finished: the file is at its path.
    Closed,
    /// Given up (`abort`, or an exception in its `with` block): the unfinished file removed.
    Aborted,
}

#[pyclass(frozen, module = "shoal", name = "Writer")]
pub struct PyWriter {
    buffer: Py<PyTable>,
    batch_rows: usize,
    path: PathBuf,
    sink: Mutex<Sink>,
    /// Rows written, shown on stderr once a Writer has run two seconds; ended at close.
    progress: Mutex<Option<Progress>>,
}

#[pymethods]
impl PyWriter {
    /// Starts writing `path`: rows go to `<path>.partial` in batches of `batch_rows`, and
    /// `close()` (or the end of a `with` block) moves the finished file over `path`. With
    /// `append=True`, `path` (a file a Writer of this class wrote) is copied first, so the
    /// new rows follow its own and `path` stays as it is until `close()`.
    #[new]
    #[allow(clippy::too_many_arguments)] // the Python signature's keywords
    #[pyo3(signature = (
        path, record, *, batch_rows = 65_536, compression = None, append = false, progress = None
    ))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        record: &Bound<'_, PyType>,
        batch_rows: usize,
        compression: Option<&str>,
        append: bool,
        progress: Option<bool>,
    ) -> PyResult<PyWriter> {
        let compression = compression_of(compression)?;
        if batch_rows == 0 {
            return Err(PyValueError::new_err(
                "Writer(batch_rows=...): batch_rows must be at least 1",
            ));
        }
        let schema = PySchema::of_class(record)?;
        let s = schema.get();
        let metadata = file_metadata(py, s)?;
        let core = s.core.clone();
        let (writer, table) = py
            .detach(|| {
                if append {
                    let (w, columns) =
                        shoal_io::Writer::append_to(&path, &core, metadata, compression)?;
                    let table = Table::from_columns(core.clone(), columns);
                    Ok((w, table))
                } else {
                    let w = shoal_io::Writer::create(&path, &core, metadata, compression)?;
                    Ok((w, Ok(Table::new(core.clone()))))
                }
            })
            .map_err(|e| file_error(s, e))?;
        let table = table.map_err(|e| ShoalError::from_core(e, s))?;
        let buffer = PyTable::with_inner(schema.clone().unbind(), table);
        Ok(PyWriter {
            buffer: Py::new(py, buffer)?,
            batch_rows,
            path,
            sink: Mutex::new(Sink::Open(Box::new(writer))),
            progress: Mutex::new(Some(Progress::new(
                "shoal.Writer",
                "rows written",
                None,
                progress,
            ))),
        })
    }

    /// Appends every item (tuples, dicts or records), one by one, as `append` would: on an
    /// error the items before it stay appended.
    fn extend(&self, py: Python<'_>, rows: &Bound<'_, PyAny>) -> PyResult<()> {
        self.check_open()?;
        let buffer = self.buffer.bind(py);
        for item in rows.try_iter()? {
            let item = item?;
            let full = {
                let mut st = buffer.get().write()?;
                PyTable::push_item(buffer, &mut st, &item).map_err(|e| self.noted(py, e.into()))?;
                st.inner.len() >= self.batch_rows
            };
            if full {
                self.flush(py)?;
            }
        }
        Ok(())
    }

    /// Appends every row of `table` (a Table of this Writer's record class).
    fn write(&self, py: Python<'_>, table: &Bound<'_, PyTable>) -> PyResult<()> {
        self.check_open()?;
        if !table.get().schema(py).is(self.buffer.get().schema(py)) {
            let ours = &self.buffer.get().schema(py).get().record_name;
            let theirs = &table.get().schema(py).get().record_name;
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "Writer.write: this Writer writes {ours} rows, the table holds {theirs}"
            )));
        }
        self.extend(py, table.as_any())
    }

    /// Writes the rows appended so far as a batch now (a batch of fewer than `batch_rows`).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let mut sink = self.lock_sink()?;
        let Sink::Open(writer) = &mut *sink else {
            return Err(self.not_open(&sink));
        };
        let buffer = self.buffer.get();
        let mut st = buffer.write()?;
        write_batch(buffer.schema(py).get(), writer, &mut st)?;
        if let Some(p) = self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            p.set(writer.rows());
        }
        Ok(())
    }

    /// Writes the last rows and the footer, flushes the file to disk and moves it over
    /// `path`. Closing a closed Writer does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let _ended = self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let mut sink = self.lock_sink()?;
        let writer = match std::mem::replace(&mut *sink, Sink::Closed) {
            Sink::Open(w) => w,
            Sink::Closed => return Ok(()),
            Sink::Aborted => {
                *sink = Sink::Aborted;
                return Err(self.not_open(&sink));
            }
        };
        let buffer = self.buffer.get();
        let schema = buffer.schema(py).get();
        let mut writer = writer;
        let written = {
            let mut st = buffer.write()?;
            write_batch(schema, &mut writer, &mut st)
        };
        match written {
            Ok(()) => {
                // The emptied buffer still holds every category value: the full dictionaries.
                let (columns, len) = buffer.snapshots()?;
                py.detach(|| writer.finish(&schema.core, columns, len))
                    .map_err(|e| file_error(schema, e))
            }
            Err(e) => {
                // The unfinished file stays, its complete batches recoverable.
                drop(writer);
                Err(e)
            }
        }
    }

    /// Gives up: removes the unfinished file (the rows written so far with it); `path` is
    /// left as it was.
    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        let _ended = self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let mut sink = self.lock_sink()?;
        if let Sink::Open(w) = std::mem::replace(&mut *sink, Sink::Aborted) {
            let schema = self.buffer.get().schema(py).get();
            py.detach(|| w.abort()).map_err(|e| file_error(schema, e))?;
        }
        Ok(())
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Closes the Writer — or, when the block raised, aborts it, so a file never holds the
    /// rows of a failed run.
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        match exc_type {
            None => self.close(py)?,
            Some(_) => self.abort(py)?,
        }
        Ok(false)
    }

    /// Rows appended so far (written and buffered).
    fn __len__(&self) -> PyResult<usize> {
        let buffered = self.buffer.get().read()?.inner.len();
        let sink = self.lock_sink()?;
        let written = match &*sink {
            Sink::Open(w) => w.rows(),
            _ => 0,
        };
        Ok(written + buffered)
    }

    /// The file's final path.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The file being written until `close()`: `<path>.partial`.
    #[getter]
    fn partial_path(&self) -> PathBuf {
        shoal_io::partial_path(&self.path)
    }

    /// Rows per batch.
    #[getter]
    fn batch_rows(&self) -> usize {
        self.batch_rows
    }

    /// Whether rows can still be appended (not closed, not aborted).
    #[getter]
    fn closed(&self) -> PyResult<bool> {
        Ok(!matches!(*self.lock_sink()?, Sink::Open(_)))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let record = &self.buffer.get().schema(py).get().record_name;
        let state = match &*self.lock_sink()? {
            Sink::Open(w) => format!("open, {} rows written", w.rows()),
            Sink::Closed => "closed".into(),
            Sink::Aborted => "aborted".into(),
        };
        Ok(format!(
            "shoal.Writer({:?}, {record}, batch_rows={}; {state})",
            self.path.display().to_string(),
            self.batch_rows
        ))
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.buffer)
    }
}

impl PyWriter {
    fn lock_sink(&self) -> PyResult<std::sync::MutexGuard<'_, Sink>> {
        // Every use holds the GIL, so the lock is never contended; a poisoned one means a
        // panic inside (caught at the boundary), after which the state is still consistent.
        Ok(self.sink.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn check_open(&self) -> PyResult<()> {
        let sink = self.lock_sink()?;
        match *sink {
            Sink::Open(_) => Ok(()),
            _ => Err(self.not_open(&sink)),
        }
    }

    fn not_open(&self, sink: &Sink) -> PyErr {
        let what = match sink {
            Sink::Aborted => "aborted",
            _ => "closed",
        };
        PyValueError::new_err(format!(
            "this Writer of '{}' is {what}; open a new one to write more",
            self.path.display()
        ))
    }

    /// `error` (from a row refused by the buffer, whose row numbers count from the start of
    /// the batch) with a note naming the row of the file.
    fn noted(&self, py: Python<'_>, error: PyErr) -> PyErr {
        let batch_row = self
            .buffer
            .get()
            .read()
            .map(|st| st.inner.len())
            .unwrap_or(0);
        let written = match self.lock_sink().as_deref() {
            Ok(Sink::Open(w)) => w.rows(),
            _ => 0,
        };
        let note = format!(
            "in shoal.Writer of '{}': row {} of the file (row {batch_row} of its current batch)",
            self.path.display(),
            written + batch_row
        );
        let value = error.value(py);
        if value.hasattr("add_note").unwrap_or(false) {
            let _ = value.call_method1("add_note", (note,));
        }
        error
    }

    /// After an append: writes the buffer as a batch once it holds `batch_rows` rows.
    fn flush_if_full(&self, py: Python<'_>) -> PyResult<()> {
        let full = self.buffer.get().read()?.inner.len() >= self.batch_rows;
        if full {
            self.flush(py)?;
        }
        Ok(())
    }
}

/// Writes the buffer's rows as one batch and clears it (its category dictionaries stay).
fn write_batch(
    schema: &PySchema,
    writer: &mut shoal_io::Writer,
    st: &mut TableState,
) -> PyResult<()> {
    let len = st.inner.len();
    if len == 0 {
        return Ok(());
    }
    let columns = (0..schema.len())
        .map(|f| st.inner.snapshot(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ShoalError::from_core(e, schema))?;
    writer
        .write(&schema.core, columns, len)
        .map_err(|e| file_error(schema, e))?;
    st.inner.clear();
    Ok(())
}

/// Writes the complete batches of the unfinished file at `partial` as a complete file at
/// `target` (atomically), removes `partial`, and returns (batches, rows) recovered.
#[pyfunction]
pub fn _recover(py: Python<'_>, partial: PathBuf, target: PathBuf) -> PyResult<(usize, usize)> {
    let done = py
        .detach(|| shoal_io::recover(&partial, &target))
        .map_err(|error| {
            PyErr::from(ShoalError::File {
                record: "shoal.recover".into(),
                error: Box::new(error),
            })
        })?;
    Ok((done.batches, done.rows))
}
