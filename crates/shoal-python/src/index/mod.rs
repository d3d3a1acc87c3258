//! `Index`: `t.index_by(fields, unique=, sorted=)` — finding rows by key through an index the
//! table keeps beside its columns (`shoal_core::index`), right as the table changes.
//!
//! Keys are converted (`keys`) before the table is borrowed; the borrow brings the index up
//! to date and reads row numbers; row handles are made after it is released.

mod keys;

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use shoal_core::column::{Column, KeyPart};
use shoal_core::index::{Index, IndexKind, NOT_FOUND};
use shoal_core::{DType, Datum, Problem};

use crate::errors::ShoalError;
use crate::table::PyTable;

use keys::{key_cells, push_key_cells, NotAKey};

/// An index over one or more fields of a table.
#[pyclass(frozen, module = "shoal", name = "Index")]
pub struct PyIndex {
    table: Py<PyTable>,
    id: u64,
    /// Keeps the table's index alive: the table forgets it once this is dropped (`None`
    /// only while dropping).
    token: Option<Arc<()>>,
    fields: Vec<usize>,
    kind: IndexKind,
}

impl Drop for PyIndex {
    /// Frees the index's memory now if the table is not busy (else at its next change).
    fn drop(&mut self) {
        drop(self.token.take());
        self.table
            .get()
            .poke(|st| st.inner.forget_dropped_indexes());
    }
}

/// The rows for each key looked up, in the order asked.
type Found = Vec<Vec<usize>>;

impl PyIndex {
    fn bound_table<'py>(&self, py: Python<'py>) -> &Bound<'py, PyTable> {
        self.table.bind(py)
    }

    fn describe(&self, py: Python<'_>) -> String {
        let table = self.table.get();
        let schema = table.schema(py).get();
        let names: Vec<&str> = self
            .fields
            .iter()
            .map(|&f| schema.core.fields()[f].name.as_str())
            .collect();
        let fields = match names.as_slice() {
            [one] => format!("'{one}'"),
            many => format!("({})", many.join(", ")),
        };
        format!("{}.index_by({fields})", schema.record_name)
    }

    /// Runs `f` on the up-to-date index and the columns it points into.
    fn with_index<R>(&self, py: Python<'_>, f: impl FnOnce(&Index, &[Column]) -> R) -> PyResult<R> {
        let table = self.table.get();
        let mut st = table.write()?;
        let schema = table.schema(py).get();
        // The token keeps the index alive; only a table emptied by the garbage collector's
        // clearing of a cycle can have lost it.
        let (index, columns) = st
            .inner
            .index(self.id)
            .ok_or_else(|| ShoalError::Changed {
                detail: "the index's table was cleared by the garbage collector".into(),
            })?
            .map_err(|e| ShoalError::from_core(e, schema))?;
        Ok(f(index, columns))
    }

    /// The rows of each key (in row order), one list per key.
    fn lookup(&self, py: Python<'_>, keys: &[Vec<Datum<'_>>]) -> PyResult<Found> {
        self.with_index(py, |index, columns| {
            keys.iter()
                .map(|cells| {
                    let key: Vec<KeyPart<'_>> = cells.iter().map(KeyPart::of).collect();
                    key_rows(index, columns, &key)
                })
                .collect()
        })
    }

    /// The key's cells; a key of the wrong type or shape is a TypeError.
    fn cells<'a>(&self, py: Python<'_>, key: &'a Bound<'_, PyAny>) -> PyResult<Vec<Datum<'a>>> {
        let schema = self.table.get().schema(py).get();
        key_cells(schema, &self.fields, key, false).map_err(|NotAKey(e)| e)
    }

    /// The first row (in row order) holding `key`; `Err` if `key` cannot be one of the
    /// index's keys. One field's key is looked up without allocating.
    fn first_row(&self, key: &Bound<'_, PyAny>) -> PyResult<Result<Option<usize>, NotAKey>> {
        let py = key.py();
        let schema = self.table.get().schema(py).get();
        let first = |index: &Index, columns: &[Column], key: &[KeyPart<'_>]| match index {
            Index::Hash(h) if h.is_unique() => h.rows_of(columns, key).next(),
            Index::Hash(h) => h.rows_of(columns, key).min(),
            Index::Sorted(s) => s.rows_of(columns, key).first().map(|&r| r as usize),
        };
        if let [field] = self.fields[..] {
            let cell = match keys::key_cell(schema, field, key) {
                Ok(cell) => cell,
                Err(e) => return Ok(Err(e)),
            };
            let part = [KeyPart::of(&cell)];
            return self.with_index(py, |index, columns| Ok(first(index, columns, &part)));
        }
        let cells = match key_cells(schema, &self.fields, key, false) {
            Ok(cells) => cells,
            Err(e) => return Ok(Err(e)),
        };
        let parts: Vec<KeyPart<'_>> = cells.iter().map(KeyPart::of).collect();
        self.with_index(py, |index, columns| Ok(first(index, columns, &parts)))
    }

    /// [`PyIndex::first_row`] where a key of the wrong type is held by no row (for `in` and
    /// `get`, as for a dict).
    fn first_row_or_none(&self, key: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
        match self.first_row(key)? {
            Ok(row) => Ok(row),
            Err(NotAKey(e)) if is_conversion_error(key.py(), &e) => Ok(None),
            Err(NotAKey(e)) => Err(e),
        }
    }

    fn missing_int(&self, py: Python<'_>, key: i64) -> PyErr {
        match key.into_pyobject(py) {
            Ok(key) => self.missing(key.as_any()),
            Err(e) => e.into(),
        }
    }

    /// `positions` of a NumPy int64 array for a unique index on one int64 field: the rows are
    /// written straight into the result (`None`: another case).
    fn int64_positions<'py>(
        &self,
        keys: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = keys.py();
        let schema = self.table.get().schema(py).get();
        let unique_int64 = self.kind == (IndexKind::Hash { unique: true })
            && matches!(self.fields[..], [f] if schema.core.fields()[f].dtype == DType::I64);
        let Some(cells) = unique_int64.then(|| keys::int64_keys(keys)).flatten() else {
            return Ok(None);
        };
        let mut missing = None;
        let out = pyo3::types::PyByteArray::new_with(py, cells.len() * 8, |bytes| {
            self.with_index(py, |index, columns| {
                let Index::Hash(h) = index else { return };
                let key = |j: usize| cells[j];
                h.first_rows_i64(columns, cells.len(), key, |j, row| {
                    if row == NOT_FOUND {
                        missing.get_or_insert(j);
                    } else {
                        bytes[j * 8..j * 8 + 8].copy_from_slice(&(row as i64).to_ne_bytes());
                    }
                });
            })
        })?;
        if let Some(j) = missing {
            return Err(self.missing_int(py, cells[j]));
        }
        let array = py
            .import("numpy")?
            .getattr("frombuffer")?
            .call1((out, "int64"))?;
        Ok(Some(array))
    }

    fn missing(&self, key: &Bound<'_, PyAny>) -> PyErr {
        let shown = key.repr().map_or("?".into(), |r| r.to_string());
        pyo3::exceptions::PyKeyError::new_err(format!(
            "{}: no row has the key {shown}",
            self.describe(key.py())
        ))
    }

    /// The rows of each of `keys` (an iterable, or a NumPy int64 array for an index on one
    /// int64 field), every key present: the first missing one is a KeyError.
    fn rows_of_keys(&self, keys: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
        let py = keys.py();
        let schema = self.table.get().schema(py).get();
        let int64_field =
            matches!(self.fields[..], [f] if schema.core.fields()[f].dtype == DType::I64);
        if let Some(ints) = int64_field.then(|| keys::int64_keys(keys)).flatten() {
            let parts: Vec<KeyPart<'_>> = ints.iter().map(|&i| KeyPart::Int(i)).collect();
            return self
                .find_all(py, &parts)?
                .map_err(|k| self.missing_int(py, ints[k]));
        }
        let items: Vec<Bound<'_, PyAny>> = keys.try_iter()?.collect::<PyResult<_>>()?;
        let mut cells = Vec::with_capacity(items.len() * self.fields.len());
        for k in &items {
            push_key_cells(schema, &self.fields, k, false, &mut cells).map_err(|NotAKey(e)| e)?;
        }
        let parts: Vec<KeyPart<'_>> = cells.iter().map(KeyPart::of).collect();
        self.find_all(py, &parts)?
            .map_err(|k| self.missing(&items[k]))
    }

    /// The rows of each key in `parts` (one part per field each); `Err(k)`: no row holds key
    /// `k`.
    fn find_all(
        &self,
        py: Python<'_>,
        parts: &[KeyPart<'_>],
    ) -> PyResult<Result<Vec<usize>, usize>> {
        let width = self.fields.len();
        self.with_index(py, |index, columns| match index {
            Index::Hash(h) if h.is_unique() => {
                let mut rows = Vec::with_capacity(parts.len() / width);
                h.first_rows(columns, parts, &mut rows);
                match rows.iter().position(|&r| r == NOT_FOUND) {
                    Some(k) => Err(k),
                    None => Ok(rows),
                }
            }
            _ => {
                let mut rows = Vec::with_capacity(parts.len() / width);
                for (k, key) in parts.chunks_exact(width).enumerate() {
                    let before = rows.len();
                    rows.extend(key_rows(index, columns, key));
                    if rows.len() == before {
                        return Err(k);
                    }
                }
                Ok(rows)
            }
        })
    }

    fn sorted_only(&self, py: Python<'_>, what: &str) -> PyResult<()> {
        if self.kind == IndexKind::Sorted {
            return Ok(());
        }
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{}.{what}: a hash index finds keys, not ranges; index_by(..., sorted=True) keeps \
             the rows in key order",
            self.describe(py)
        )))
    }
}

/// Whether `e` says a value cannot be converted to the field's type (not a failure of Python
/// code run on the way).
fn is_conversion_error(py: Python<'_>, e: &PyErr) -> bool {
    e.is_instance_of::<pyo3::exceptions::PyTypeError>(py)
        || e.is_instance_of::<pyo3::exceptions::PyValueError>(py)
        || e.is_instance_of::<pyo3::exceptions::PyOverflowError>(py)
}

/// A range bound's cells (`None`: unbounded).
fn bound_cells<'a>(
    schema: &crate::schema::PySchema,
    fields: &[usize],
    bound: Option<&'a Bound<'_, PyAny>>,
) -> PyResult<Option<Vec<Datum<'a>>>> {
    bound
        .map(|k| key_cells(schema, fields, k, true).map_err(|NotAKey(e)| e))
        .transpose()
}

fn parts_of<'a>(cells: Option<&'a [Datum<'_>]>) -> Option<Vec<KeyPart<'a>>> {
    cells.map(|c| c.iter().map(KeyPart::of).collect())
}

/// The rows holding `cells`, in row order.
fn key_rows(index: &Index, columns: &[Column], key: &[KeyPart<'_>]) -> Vec<usize> {
    let mut rows: Vec<usize> = match index {
        Index::Hash(h) => h.rows_of(columns, key).collect(),
        Index::Sorted(s) => {
            return s
                .rows_of(columns, key)
                .iter()
                .map(|&r| r as usize)
                .collect()
        }
    };
    rows.sort_unstable();
    rows
}

#[pymethods]
impl PyIndex {
    /// `Index[Event]` in annotations.
    #[classmethod]
    fn __class_getitem__(
        cls: &Bound<'_, pyo3::types::PyType>,
        item: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let alias = cls.py().import("types")?.getattr("GenericAlias")?;
        Ok(alias.call1((cls, item))?.unbind())
    }

    /// The row holding `key` (the first, in row order, if several do); a KeyError if none.
    fn __getitem__<'py>(&self, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        match self.first_row(key)?.map_err(|NotAKey(e)| e)? {
            Some(row) => PyTable::row_handle(self.bound_table(key.py()), row),
            None => Err(self.missing(key)),
        }
    }

    /// The row holding `key`, or `default`.
    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = key.py();
        match self.first_row_or_none(key)? {
            Some(row) => PyTable::row_handle(self.bound_table(py), row),
            None => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
        }
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.first_row_or_none(key)?.is_some())
    }

    /// Every row holding `key`, in row order, as record handles (empty if none).
    fn rows<'py>(&self, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let py = key.py();
        let cells = self.cells(py, key)?;
        let rows = self.lookup(py, &[cells])?.pop().unwrap_or_default();
        let table = self.bound_table(py);
        let handles = rows
            .into_iter()
            .map(|r| PyTable::row_handle(table, r))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, handles)
    }

    /// The row numbers of `keys` (every row of each key, in the keys' order): a list, or a
    /// NumPy int64 array for a NumPy array of keys; a KeyError names the first key no row
    /// holds.
    fn positions<'py>(&self, keys: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = keys.py();
        if let Some(array) = self.int64_positions(keys)? {
            return Ok(array);
        }
        let rows = self.rows_of_keys(keys)?;
        if !keys.hasattr("__array_interface__")? {
            return Ok(PyList::new(py, rows)?.into_any());
        }
        let bytes: Vec<u8> = rows
            .iter()
            .flat_map(|&r| (r as i64).to_ne_bytes())
            .collect();
        let buffer = pyo3::types::PyByteArray::new(py, &bytes);
        py.import("numpy")?
            .getattr("frombuffer")?
            .call1((buffer, "int64"))
    }

    /// The rows of `keys` as a new table (copies, as `t.take` makes).
    fn take(&self, keys: &Bound<'_, PyAny>) -> PyResult<PyTable> {
        let rows = self.rows_of_keys(keys)?;
        PyTable::taken(self.bound_table(keys.py()), &rows)
    }

    /// The rows whose key is at least `start` and below `stop` (`None`: unbounded), in key
    /// order, as a new table. Rows whose key is null or NaN are in no range.
    #[pyo3(signature = (start = None, stop = None))]
    fn range(
        &self,
        py: Python<'_>,
        start: Option<Bound<'_, PyAny>>,
        stop: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyTable> {
        self.sorted_only(py, "range")?;
        let schema = self.table.get().schema(py).get();
        let low = bound_cells(schema, &self.fields, start.as_ref())?;
        let high = bound_cells(schema, &self.fields, stop.as_ref())?;
        let rows = self.with_index(py, |index, columns| {
            let Index::Sorted(s) = index else {
                return Vec::new();
            };
            let (low, high) = (parts_of(low.as_deref()), parts_of(high.as_deref()));
            s.range(columns, low.as_deref(), high.as_deref(), false)
                .iter()
                .map(|&r| r as usize)
                .collect::<Vec<_>>()
        })?;
        PyTable::taken(self.bound_table(py), &rows)
    }

    /// The indexed fields' names.
    #[getter]
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let schema = self.table.get().schema(py).get();
        let names = self
            .fields
            .iter()
            .map(|&f| PyString::new(py, &schema.core.fields()[f].name));
        PyTuple::new(py, names)
    }

    /// Whether a key may be held by one row only.
    #[getter]
    fn unique(&self) -> bool {
        self.kind == (IndexKind::Hash { unique: true })
    }

    /// Whether the index keeps the rows in key order (and answers `range`).
    #[getter]
    fn sorted(&self) -> bool {
        self.kind == IndexKind::Sorted
    }

    /// The table indexed.
    #[getter(table)]
    fn get_table(&self, py: Python<'_>) -> Py<PyTable> {
        self.table.clone_ref(py)
    }

    /// Bytes the index allocates (the keys stay in the table's columns).
    #[getter]
    fn nbytes(&self, py: Python<'_>) -> PyResult<usize> {
        self.with_index(py, |index, _| index.nbytes())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let kind = match self.kind {
            IndexKind::Hash { unique: true } => "unique",
            IndexKind::Hash { unique: false } => "hash",
            IndexKind::Sorted => "sorted",
        };
        format!("<{} ({kind})>", self.describe(py))
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.table)
    }
}

#[pymethods]
impl PyTable {
    /// An index over `fields` (a field name, or a tuple of names for composite keys) that the
    /// table keeps right as it changes: a hash index (`unique=True` refuses a repeated key,
    /// then and on every later append or write) or, with `sorted=True`, the rows in key order
    /// for `range`.
    #[pyo3(signature = (fields, *, unique = false, sorted = false))]
    fn index_by(
        slf: &Bound<'_, Self>,
        fields: &Bound<'_, PyAny>,
        unique: bool,
        sorted: bool,
    ) -> PyResult<PyIndex> {
        let this = slf.get();
        let fields = this.fields_named(fields)?;
        if fields.is_empty() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "index_by needs at least one field",
            ));
        }
        let kind = match (unique, sorted) {
            (_, false) => IndexKind::Hash { unique },
            (false, true) => IndexKind::Sorted,
            (true, true) => {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "index_by: a sorted index is not unique; make two indexes for both",
                ))
            }
        };
        let built = this.write()?.inner.add_index(&fields, kind);
        let (id, token) = built.map_err(|e| duplicate_error(slf, e))?;
        Ok(PyIndex {
            table: slf.clone().unbind(),
            id,
            token: Some(token),
            fields,
            kind,
        })
    }
}

/// The error for an index that could not be built, naming the repeated key's value.
fn duplicate_error(slf: &Bound<'_, PyTable>, e: shoal_core::Error) -> PyErr {
    let this = slf.get();
    let schema = this.schema(slf.py()).get();
    if let shoal_core::Error::Datum {
        field,
        row,
        problem: Problem::DuplicateKey { row: existing },
    } = e
    {
        let value = PyTable::row_handle(slf, row)
            .and_then(|r| r.getattr(schema.core.fields()[field].name.as_str()))
            .and_then(|v| v.repr().map(|r| r.to_string()))
            .unwrap_or_else(|_| "the value".into());
        return ShoalError::DuplicateKey {
            at: schema.target(field, Some(row)),
            value,
            existing,
        }
        .into();
    }
    ShoalError::from_core(e, schema).into()
}
