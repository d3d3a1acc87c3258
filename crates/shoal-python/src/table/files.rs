//! Files: `t.save(path)`, `shoal.open(path, Record)`, `t.batches(n)`, `t.is_mapped`.
//!
//! The file layer (`shoal-io`) does the work with the GIL released; this module turns Python
//! arguments into its calls and its errors into Python's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};
use shoal_core::{Column, Schema, Table};
use shoal_io::MappedFile;

use crate::errors::ShoalError;
use crate::progress::Progress;
use crate::schema::PySchema;

use super::{PyTable, Source};

impl PyTable {
    pub(super) fn read_only_path(&self) -> Option<String> {
        self.source
            .as_ref()
            .filter(|s| s.read_only)
            .map(|s| s.path.display().to_string())
    }
}

pub fn file_error(schema: &PySchema, error: shoal_io::IoError) -> PyErr {
    ShoalError::File {
        record: schema.record_name.clone(),
        error: Box::new(error),
    }
    .into()
}

/// The record's declaration, kept in the file's schema metadata: `shoal.record` (module and
/// qualified name) and `shoal.fields` (JSON: each field's name, type and optionality).
pub fn file_metadata(py: Python<'_>, schema: &PySchema) -> PyResult<HashMap<String, String>> {
    let record = schema.record_type.bind(py);
    let name = format!(
        "{}.{}",
        record.getattr(pyo3::intern!(py, "__module__"))?,
        record.getattr(pyo3::intern!(py, "__qualname__"))?
    );
    let fields = PyList::empty(py);
    for f in schema.core.fields() {
        let d = PyDict::new(py);
        d.set_item("name", &f.name)?;
        d.set_item("type", f.dtype.name())?;
        d.set_item("optional", f.nullable)?;
        fields.append(d)?;
    }
    let json: String = py
        .import("json")?
        .call_method1("dumps", (fields,))?
        .extract()?;
    Ok(HashMap::from([
        ("shoal.record".to_owned(), name),
        ("shoal.fields".to_owned(), json),
    ]))
}

/// The fields of `s` to read from a file whose columns are `has`: all but those it has no
/// column for that have a default (the class gained them after the file was written), which
/// `with_defaults` adds.
pub(super) fn fields_in(s: &PySchema, has: impl Fn(&str) -> bool) -> Schema {
    let read =
        s.core.fields().iter().enumerate().filter(|(i, f)| {
            has(&f.name) || (s.defaults[*i].is_none() && s.factories[*i].is_none())
        });
    Schema::new(read.map(|(_, f)| f.clone()).collect()).unwrap_or_else(|| (*s.core).clone())
}

/// Whether `file` has a column named `name`.
pub(super) fn has_column(file: &MappedFile) -> impl Fn(&str) -> bool + '_ {
    let columns = file.columns();
    move |name| columns.iter().any(|c| c.name == name)
}

/// The class's columns: those read (the fields of `read`, in order), and the others made
/// from their defaults, `len` rows each.
pub(super) fn with_defaults(
    py: Python<'_>,
    s: &PySchema,
    read: &Schema,
    columns: Vec<Column>,
    len: usize,
) -> PyResult<Vec<Column>> {
    if read.len() == s.len() {
        return Ok(columns);
    }
    let mut columns = columns.into_iter();
    let mut all = Vec::with_capacity(s.len());
    for (i, f) in s.core.fields().iter().enumerate() {
        let column = match read.index_of(&f.name) {
            Some(_) => columns.next(),
            None => s.default_column(py, i, len)?,
        };
        all.push(column.ok_or_else(|| ShoalError::BadColumn {
            detail: format!("{}: no column for field '{}'", s.record_name, f.name),
        })?);
    }
    Ok(all)
}

/// Every batch of `file` imported into fresh columns: those of the first batch adopt the
/// map's buffers.
fn import_all(file: &MappedFile, schema: &Schema) -> Result<Vec<Column>, shoal_io::IoError> {
    let mut columns: Vec<Column> = schema.fields().iter().map(Column::for_field).collect();
    for (batch, &rows) in file.batch_rows().iter().enumerate() {
        file.import(schema, batch, 0, rows, &mut columns)?;
    }
    Ok(columns)
}

/// The `compression=` of `save` and `Writer`: None or "uncompressed" (memory-mapped when
/// opened), "lz4" or "zstd" (decompressed into memory when opened).
pub fn compression_of(name: Option<&str>) -> PyResult<shoal_io::Compression> {
    match name {
        None | Some("uncompressed") => Ok(shoal_io::Compression::None),
        Some("lz4") => Ok(shoal_io::Compression::Lz4),
        Some("zstd") => Ok(shoal_io::Compression::Zstd),
        Some(other) => Err(PyValueError::new_err(format!(
            "compression must be None (or \"uncompressed\"), \"lz4\" or \"zstd\", not {other:?}"
        ))),
    }
}

/// Whether `mode` ("r" or "c") opens read-only.
pub(super) fn open_mode(mode: &str) -> PyResult<bool> {
    match mode {
        "r" => Ok(true),
        "c" => Ok(false),
        other => Err(PyValueError::new_err(format!(
            "mode must be \"r\" (read-only) or \"c\" (changes in memory, the file never \
             changes), not {other:?}"
        ))),
    }
}

pub(super) fn table_of(schema: &PySchema, columns: Vec<Column>) -> PyResult<Table> {
    Table::from_columns(schema.core.clone(), columns)
        .map_err(|e| ShoalError::from_core(e, schema).into())
}

/// Opens an Arrow IPC file as a table of `record` rows, memory-mapped: columns whose layout is
/// shoal's own (numbers, text, category codes, without nulls) read the file in place.
/// `mode="r"` (the default) refuses changes; `mode="c"` allows them, in memory only (the
/// first change to a column copies that column; the file never changes).
#[pyfunction]
#[pyo3(signature = (path, record, *, mode = "r"))]
pub fn _open(
    py: Python<'_>,
    path: PathBuf,
    record: &Bound<'_, PyType>,
    mode: &str,
) -> PyResult<PyTable> {
    let read_only = open_mode(mode)?;
    let schema = PySchema::of_class(record)?;
    let s = schema.get();
    let (file, read, columns) = py
        .detach(|| {
            let file = MappedFile::open(&path)?;
            let read = fields_in(s, has_column(&file));
            let columns = import_all(&file, &read)?;
            Ok((file, read, columns))
        })
        .map_err(|e| file_error(s, e))?;
    let rows = file.batch_rows().iter().sum();
    let columns = with_defaults(py, s, &read, columns, rows)?;
    let source = Source {
        path,
        read_only,
        mapped: file.batch_rows().len() == 1 && !file.is_compressed(),
        file: Arc::new(file),
    };
    Ok(PyTable::with_source(
        schema.clone().unbind(),
        table_of(s, columns)?,
        Some(source),
    ))
}

/// The columns of an Arrow IPC file — (name, C Data Interface format, dictionary value
/// format or None, nullable) each — and its schema metadata, for `shoal.open` to build a
/// record class when none is given.
#[pyfunction]
pub fn _file_schema(
    py: Python<'_>,
    path: PathBuf,
) -> PyResult<(FileColumns, HashMap<String, String>)> {
    let file = py.detach(|| MappedFile::open(&path)).map_err(|error| {
        PyErr::from(ShoalError::File {
            record: "shoal.open".into(),
            error: Box::new(error),
        })
    })?;
    let columns = file
        .columns()
        .into_iter()
        .map(|c| (c.name, c.format, c.dictionary, c.nullable))
        .collect();
    Ok((columns, file.metadata().clone()))
}

pub(super) type FileColumns = Vec<(String, String, Option<String>, bool)>;

#[pymethods]
impl PyTable {
    /// Saves the rows as an Arrow IPC file (buffers 64-byte aligned), read in place by
    /// `shoal.open`, pyarrow and polars — or, with `compression="lz4"` / `"zstd"`, smaller
    /// and decompressed into memory when opened. Atomic: the new file replaces `path` only
    /// once it is complete and on disk.
    #[pyo3(signature = (path, *, compression = None))]
    fn save(&self, py: Python<'_>, path: PathBuf, compression: Option<&str>) -> PyResult<()> {
        let compression = compression_of(compression)?;
        let schema = self.schema.get();
        let metadata = file_metadata(py, schema)?;
        let (columns, len) = self.snapshots()?;
        let core = schema.core.clone();
        py.detach(|| shoal_io::save(&path, &core, columns, len, metadata, compression))
            .map_err(|e| file_error(schema, e))
    }

    /// Whether the rows are read from a memory-mapped file (`shoal.open` of a file of one
    /// record batch, as `save` writes): columns of shoal's own layout then cost no memory.
    #[getter]
    fn is_mapped(&self) -> bool {
        self.source.as_ref().is_some_and(|s| s.mapped)
    }

    /// The rows in consecutive tables of at most `rows` rows, each sharing this table's
    /// memory (no copy a row but text offsets; for a table opened from a file, they read the
    /// map) and, for a read-only table, read-only too.
    ///
    /// `progress`: a line on stderr for scans that take over two seconds — `None` (the
    /// default) when stderr is a terminal.
    #[pyo3(signature = (rows, *, progress = None))]
    fn batches(slf: &Bound<'_, Self>, rows: usize, progress: Option<bool>) -> PyResult<Batches> {
        if rows == 0 {
            return Err(PyValueError::new_err(
                "batches(rows): rows must be at least 1",
            ));
        }
        let len = slf.get().read()?.inner.len();
        Ok(Batches {
            table: slf.clone().unbind(),
            rows,
            next: 0,
            last: None,
            progress: Some(Progress::new("shoal batches", "rows", Some(len), progress)),
        })
    }
}

/// The iterator `Table.batches` returns. Like a list's iterator it reads the table's length
/// as it goes: rows appended meanwhile are included, a table cut short ends the batches.
#[pyclass(module = "shoal", name = "Batches")]
pub struct Batches {
    table: Py<PyTable>,
    rows: usize,
    /// The first row of the next batch.
    next: usize,
    /// The rows of the batch handed out last, whose pages of a mapped file are handed back
    /// to the system when the next is asked for.
    last: Option<(usize, usize)>,
    /// Shown on stderr for long scans; dropped (its line ended) when the batches end.
    progress: Option<Progress>,
}

#[pymethods]
impl Batches {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __len__(&self) -> PyResult<usize> {
        let len = self.table.get().read()?.inner.len();
        Ok(len.saturating_sub(self.next).div_ceil(self.rows))
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<PyTable>> {
        let table = self.table.get();
        let schema = table.schema(py).get();
        if let (Some((start, len)), Some(s)) = (self.last.take(), &table.source) {
            if s.mapped {
                s.file.release_rows(0, start, len);
            }
        }
        let part = {
            let mut st = table.write()?;
            let len = st.inner.len();
            if self.next >= len {
                self.progress = None;
                return Ok(None);
            }
            let rows = self.rows.min(len - self.next);
            let part = st.inner.slice_shared(self.next, rows);
            self.last = Some((self.next, rows));
            self.next += rows;
            if let Some(p) = &mut self.progress {
                p.set(self.next);
            }
            part.map_err(|e| ShoalError::from_core(e, schema))?
        };
        let source = table.source.as_ref().map(|s| Source {
            path: s.path.clone(),
            read_only: s.read_only,
            mapped: s.mapped,
            file: s.file.clone(),
        });
        Ok(Some(PyTable::with_source(
            table.schema.clone_ref(py),
            part,
            source,
        )))
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.table)
    }
}
