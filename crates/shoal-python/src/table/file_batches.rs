//! `shoal.open_batches(path, Record)`: a file's record batches, each a table of its own read
//! from the map — for files of many batches (what a `Writer` writes), whose rows `shoal.open`
//! would join in memory.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::PyType;
use shoal_core::{Column, Table};
use shoal_io::MappedFile;

use crate::progress::Progress;
use crate::schema::PySchema;

use super::files::{fields_in, file_error, has_column, open_mode, table_of, with_defaults};
use super::{PyTable, Source};

/// The record batches of a memory-mapped file as a sequence of tables, each imported (and
/// checked) when first asked for. Iterating hands each finished batch's pages back to the
/// system, so a scan's resident size stays about one batch.
#[pyclass(frozen, module = "shoal", name = "FileBatches", sequence)]
pub struct FileBatches {
    schema: Py<PySchema>,
    /// The fields the file has columns for (the others are made from their defaults).
    read: shoal_core::Schema,
    path: PathBuf,
    read_only: bool,
    file: Arc<MappedFile>,
    /// Whether iterating shows progress on stderr (`None`: when it is a terminal).
    progress: Option<bool>,
}

/// Opens an Arrow IPC file as its record batches, each a table of `record` rows (`mode` as
/// for `shoal.open`; `progress` as for `Table.batches`).
#[pyfunction]
#[pyo3(signature = (path, record, *, mode = "r", progress = None))]
pub fn _open_batches(
    py: Python<'_>,
    path: PathBuf,
    record: &Bound<'_, PyType>,
    mode: &str,
    progress: Option<bool>,
) -> PyResult<FileBatches> {
    let read_only = open_mode(mode)?;
    let schema = PySchema::of_class(record)?;
    let file = py
        .detach(|| MappedFile::open(&path))
        .map_err(|e| file_error(schema.get(), e))?;
    let read = fields_in(schema.get(), has_column(&file));
    Ok(FileBatches {
        read,
        schema: schema.unbind(),
        path,
        read_only,
        file: Arc::new(file),
        progress,
    })
}

impl FileBatches {
    /// Batch `i` as a table whose columns of shoal's own layout read the map in place.
    fn table(&self, py: Python<'_>, i: usize) -> PyResult<PyTable> {
        let schema = self.schema.get();
        let rows = self.file.batch_rows()[i];
        let read = &self.read;
        let columns = py
            .detach(|| {
                let mut columns: Vec<Column> =
                    read.fields().iter().map(Column::for_field).collect();
                self.file
                    .import(read, i, 0, rows, &mut columns)
                    .map(|()| columns)
            })
            .map_err(|e| file_error(schema, e))?;
        let columns = with_defaults(py, schema, read, columns, rows)?;
        let table: Table = table_of(schema, columns)?;
        let source = Source {
            path: self.path.clone(),
            read_only: self.read_only,
            mapped: !self.file.is_compressed(),
            file: self.file.clone(),
        };
        Ok(PyTable::with_source(
            self.schema.clone_ref(py),
            table,
            Some(source),
        ))
    }
}

#[pymethods]
impl FileBatches {
    fn __len__(&self) -> usize {
        self.file.batch_rows().len()
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<PyTable> {
        let n = self.__len__() as isize;
        let i = if index < 0 { index + n } else { index };
        if !(0..n).contains(&i) {
            return Err(PyIndexError::new_err(format!(
                "batch {index} of a file of {n} batches"
            )));
        }
        self.table(py, i as usize)
    }

    fn __iter__(slf: &Bound<'_, Self>) -> FileBatchesIter {
        let this = slf.get();
        FileBatchesIter {
            batches: slf.clone().unbind(),
            next: 0,
            progress: Some(Progress::new(
                "shoal batches",
                "rows",
                Some(this.rows()),
                this.progress,
            )),
            rows_done: 0,
        }
    }

    /// Rows in each batch, from the batches' headers (no batch is read).
    #[getter]
    fn batch_rows(&self) -> Vec<usize> {
        self.file.batch_rows().to_vec()
    }

    /// Rows in all the batches.
    #[getter]
    fn rows(&self) -> usize {
        self.file.batch_rows().iter().sum()
    }

    fn __repr__(&self) -> String {
        format!(
            "<shoal.FileBatches of '{}': {} batches of {} rows, {} rows>",
            self.path.display(),
            self.__len__(),
            self.schema.get().record_name,
            self.rows()
        )
    }
}

/// The iterator of `FileBatches`: each batch in order; moving on hands the pages of the batch
/// before back to the system (the table stays readable: its pages fault back in on use).
#[pyclass(module = "shoal", name = "FileBatchesIter")]
pub struct FileBatchesIter {
    batches: Py<FileBatches>,
    next: usize,
    /// Shown on stderr for long scans; dropped (its line ended) when the batches end.
    progress: Option<Progress>,
    rows_done: usize,
}

#[pymethods]
impl FileBatchesIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<PyTable>> {
        let batches = self.batches.get();
        if let Some(done) = self.next.checked_sub(1) {
            let rows = batches.file.batch_rows()[done];
            batches.file.release_rows(done, 0, rows);
        }
        if self.next >= batches.__len__() {
            self.progress = None;
            return Ok(None);
        }
        let table = batches.table(py, self.next)?;
        self.rows_done += batches.file.batch_rows()[self.next];
        self.next += 1;
        if let Some(p) = &mut self.progress {
            p.set(self.rows_done);
        }
        Ok(Some(table))
    }

    fn __len__(&self) -> usize {
        self.batches.get().__len__().saturating_sub(self.next)
    }
}
