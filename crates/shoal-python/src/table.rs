//! `Table`: a growable column store of records of one `shoal.Record` class.
//!
//! The mutable state sits in a `RefCell` rather than behind PyO3's borrow checker: PyO3's
//! flag is atomic (for free-threaded builds) and a loop over rows paid six atomic operations per
//! row for it. Our module requires the GIL (PyO3's default `gil_used`), which serialises all
//! access, so a plain `RefCell` is enough to catch re-entrant use.

use std::cell::{Ref, RefCell, RefMut};

use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{
    PyBytes, PyCapsule, PyDict, PyFloat, PyInt, PyList, PySlice, PyString, PyTuple, PyType,
};
use pyo3::PyVisit;
use shoal_core::{Cell, Column, Table};

use crate::column::{column_from_object, PyColumn};
use crate::convert::{cell_to_py, fast_cell, refused, to_cell};
use crate::errors::{Result, ShoalError};
use crate::rawbuffer::PyRawBuffer;
use crate::record;
use crate::schema::PySchema;

#[pyclass(frozen, module = "shoal", name = "Table")]
pub struct PyTable {
    state: RefCell<TableState>,
    schema: Py<PySchema>,
}

// SAFETY: the module is declared GIL-using (PyO3's default), so on free-threaded builds CPython
// re-enables the GIL when importing it; every access to `state` happens from a thread holding
// the GIL, which serialises them and orders their memory effects. The `RefCell` catches
// re-entrant use on the same thread.
unsafe impl Sync for PyTable {}

pub struct TableState {
    pub inner: Table,
    /// Reused row buffer for appends.
    scratch: Vec<Cell<'static>>,
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
            return Err(ShoalError::RowIndex { index, len });
        }
        Ok(i as usize)
    }
}

pub fn busy() -> PyErr {
    PyRuntimeError::new_err(
        "the table is in the middle of another operation (e.g. extend() is iterating a \
         generator that uses the same table); finish that first",
    )
}

impl PyTable {
    pub fn read(&self) -> PyResult<Ref<'_, TableState>> {
        self.state.try_borrow().map_err(|_| busy())
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

    pub fn write(&self) -> PyResult<RefMut<'_, TableState>> {
        self.state.try_borrow_mut().map_err(|_| busy())
    }

    pub fn schema<'py>(&self, py: Python<'py>) -> &Bound<'py, PySchema> {
        self.schema.bind(py)
    }

    fn with_inner(schema: Py<PySchema>, inner: Table) -> PyTable {
        PyTable {
            state: RefCell::new(TableState {
                inner,
                scratch: Vec::new(),
                cached_row: None,
                category_strs: RefCell::default(),
            }),
            schema,
        }
    }

    /// Snapshots of every column, and the row count.
    fn snapshots(&self) -> PyResult<(Vec<shoal_core::ColumnSnapshot>, usize)> {
        let mut st = self.write()?;
        let len = st.inner.len();
        let columns = (0..self.schema.get().len())
            .map(|f| st.inner.snapshot(f))
            .collect();
        Ok((columns, len))
    }

    fn field_index(&self, name: &Bound<'_, PyString>) -> PyResult<usize> {
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

    /// Appends from call arguments (the general path: keywords, records, defaults).
    fn append_args(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let this = slf.get();
        let schema = this.schema.get();
        let mut st = this.write()?;
        let st = &mut *st;
        let row = st.inner.len();
        st.scratch.clear();
        bind_call(
            schema,
            args,
            kwargs,
            row,
            Some((slf.as_ptr(), &st.inner)),
            &mut st.scratch,
        )?;
        st.inner
            .push_cells(&st.scratch)
            .map_err(|e| schema.refusal(e))?;
        Ok(())
    }

    /// A new table of copies of the selected rows.
    fn slice(slf: &Bound<'_, Self>, slice: &Bound<'_, PySlice>) -> PyResult<PyTable> {
        let this = slf.get();
        let st = this.read()?;
        let ind = slice.indices(st.inner.len() as isize)?;
        let taken = st
            .inner
            .take_strided(ind.start as usize, ind.step, ind.slicelength);
        Ok(Self::with_inner(this.schema.clone_ref(slf.py()), taken))
    }

    /// The row handle for row `row`, reusing the cached one if nobody else holds it.
    fn row_handle<'py>(slf: &Bound<'py, Self>, row: usize) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let version = this.read()?.inner.version();
        if let Some(cached) = &this.read()?.cached_row {
            let cached = cached.bind(py);
            if record::rebind_if_unshared(cached, row, version) {
                return Ok(cached.clone());
            }
        }
        let handle = record::new_row(slf, this.schema.bind(py), row, version)?;
        this.write()?.cached_row = Some(handle.clone().unbind());
        Ok(handle)
    }
}

/// Binds `t.append(...)`/`t.insert(i, ...)` arguments: a lone record of the same fields is
/// copied; anything else binds like the record class's constructor.
fn bind_call(
    schema: &PySchema,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    row: usize,
    current: Option<(*mut ffi::PyObject, &Table)>,
    out: &mut Vec<Cell<'static>>,
) -> Result<()> {
    if args.len() == 1 && kwargs.is_none_or(|k| k.is_empty()) && maybe_record(args) {
        if let Some(values) = schema.record_item(&args.get_item(0)?, current)? {
            out.extend(values);
            return Ok(());
        }
    }
    schema.bind_args(args, kwargs, Some(row), out)
}

#[pymethods]
impl PyTable {
    #[new]
    fn new(record_type: &Bound<'_, PyType>) -> PyResult<Self> {
        let schema = PySchema::of_class(record_type)?;
        let inner = Table::new(schema.get().core.clone());
        Ok(Self::with_inner(schema.unbind(), inner))
    }

    #[classmethod]
    fn __class_getitem__(cls: &Bound<'_, PyType>, item: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = cls.py();
        let alias = py.import("types")?.getattr("GenericAlias")?;
        Ok(alias.call1((cls, item))?.unbind())
    }

    /// Builds a table from whole columns: `Table.from_columns(Point, x=array, y=[...])`.
    /// Buffers (NumPy arrays, `array.array`, memoryviews) of the field's exact type are copied
    /// once; anything else is checked element by element. Missing fields take their default.
    #[classmethod]
    #[pyo3(signature = (record_type, /, **columns))]
    fn from_columns(
        _cls: &Bound<'_, PyType>,
        record_type: &Bound<'_, PyType>,
        columns: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let py = record_type.py();
        let schema = PySchema::of_class(record_type)?;
        let s = schema.get();
        let empty = PyDict::new(py);
        let columns = columns.unwrap_or(&empty);
        for key in columns.keys() {
            let name = key.to_string();
            if s.core.index_of(&name).is_none() {
                return Err(ShoalError::NoSuchField {
                    record: s.record_name.clone(),
                    name,
                }
                .into());
            }
        }
        let mut built: Vec<Option<Column>> = Vec::new();
        for (i, name) in s.names.iter().enumerate() {
            built.push(match columns.get_item(name.bind(py))? {
                Some(obj) => Some(column_from_object(s, i, &obj)?),
                None => None,
            });
        }
        let len = built.iter().flatten().map(Column::len).next().unwrap_or(0);
        let mut filled = Vec::new();
        for (i, c) in built.into_iter().enumerate() {
            filled.push(match (c, &s.defaults[i]) {
                (Some(c), _) => c,
                (None, Some(d)) => Column::for_field(&s.core.fields()[i])
                    .filled_like(d.reborrow(), len)
                    .map_err(|p| {
                        refused(p, &s.specs[i], s.target(i, None), "the default".into())
                    })?,
                (None, None) => {
                    return Err(ShoalError::BadColumn {
                        detail: format!(
                            "{}.from_columns: no column for field '{}', which has no default",
                            s.record_name,
                            s.core.fields()[i].name
                        ),
                    }
                    .into())
                }
            });
        }
        let inner = Table::from_columns(s.core.clone(), filled).map_err(|e| {
            PyErr::from(ShoalError::BadColumn {
                detail: format!(
                    "{}.from_columns: {}",
                    s.record_name,
                    s.describe_core_error(&e)
                ),
            })
        })?;
        Ok(Self::with_inner(schema.clone().unbind(), inner))
    }

    /// Builds a table from any Arrow object (`__arrow_c_stream__` or `__arrow_c_array__`: a
    /// pyarrow Table or RecordBatch, a polars DataFrame ...). Columns are matched by name and
    /// must have exactly the fields' types; the data is copied once. All or nothing.
    #[classmethod]
    fn from_arrow(
        _cls: &Bound<'_, PyType>,
        record_type: &Bound<'_, PyType>,
        obj: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let schema = PySchema::of_class(record_type)?;
        let s = schema.get();
        let columns = crate::arrow::import_columns(obj, &s.core, &s.record_name)?;
        let inner = Table::from_columns(s.core.clone(), columns).map_err(|e| {
            PyErr::from(ShoalError::BadColumn {
                detail: format!(
                    "{}.from_arrow: {}",
                    s.record_name,
                    s.describe_core_error(&e)
                ),
            })
        })?;
        Ok(Self::with_inner(schema.clone().unbind(), inner))
    }

    /// A pandas DataFrame of the table (through pyarrow; optional ints and bools become
    /// pandas' nullable dtypes rather than floats, so no value is rounded).
    fn to_pandas<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let interop = slf.py().import("shoal._interop")?;
        interop.call_method1("to_pandas", (slf,))
    }

    /// A polars DataFrame of the table (through the Arrow stream interface).
    fn to_polars<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("polars")?.call_method1("DataFrame", (slf,))
    }

    /// Appends one record: `t.append(1.0, 2.0)`, `t.append(x=1.0)` or `t.append(Point(...))`.
    /// (Replaced at import by the same logic as a fast-call method; see `install_fast_append`.)
    #[pyo3(signature = (*args, **kwargs))]
    fn append(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        Self::append_args(slf, args, kwargs)
    }

    /// Appends every item (tuples, dicts or records) — all of them, or none if any is invalid.
    fn extend(slf: &Bound<'_, Self>, rows: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let rows = if rows.is(slf) {
            Bound::new(py, Self::slice(slf, &PySlice::full(py))?)?.into_any()
        } else {
            rows.clone()
        };
        let this = slf.get();
        let schema = this.schema.get();
        let mut st = this.write()?;
        let st = &mut *st;
        let start = st.inner.len();
        let result = (|| -> Result<()> {
            for (k, item) in rows.try_iter()?.enumerate() {
                let item = item?;
                st.scratch.clear();
                let current = Some((slf.as_ptr(), &st.inner));
                schema.bind_item(&item, start + k, current, &mut st.scratch)?;
                st.inner
                    .push_cells(&st.scratch)
                    .map_err(|e| schema.refusal(e))?;
            }
            Ok(())
        })();
        if result.is_err() {
            st.inner.rollback_to(start);
        }
        Ok(result?)
    }

    /// Inserts a record before row `index` (clamped to the table, like `list.insert`).
    #[pyo3(signature = (index, *args, **kwargs))]
    fn insert(
        slf: &Bound<'_, Self>,
        index: isize,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let this = slf.get();
        let mut st = this.write()?;
        let st = &mut *st;
        let len = st.inner.len() as isize;
        let i = if index < 0 {
            (index + len).max(0)
        } else {
            index.min(len)
        } as usize;
        let mut values = Vec::new();
        let current = Some((slf.as_ptr(), &st.inner));
        bind_call(this.schema.get(), args, kwargs, i, current, &mut values)?;
        st.inner
            .insert_cells(i, &values)
            .map_err(|e| this.schema.get().refusal(e))?;
        Ok(())
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.read()?.inner.len())
    }

    /// `t[i]` is a row handle (an instance of the record class that reads and writes this
    /// table); `t[a:b]` is a new table holding a copy of those rows; `t["x"]` is a Column.
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        if let Ok(name) = key.cast::<PyString>() {
            let field = this.field_index(name)?;
            let snap = this.write()?.inner.snapshot(field);
            return Ok(Bound::new(py, PyColumn::new(py, &this.schema, field, snap))?.into_any());
        }
        if let Ok(slice) = key.cast::<PySlice>() {
            return Ok(Bound::new(py, Self::slice(slf, slice)?)?.into_any());
        }
        let index: isize = key.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "table indices must be integers, slices or field names, not {}",
                key.get_type().name().map_or("?".into(), |n| n.to_string())
            ))
        })?;
        let row = this.read()?.row_index(index)?;
        Self::row_handle(slf, row)
    }

    /// `t[i] = record` replaces a row's values; `t["x"] = values` replaces a whole column.
    /// Either all values are written or none.
    fn __setitem__(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let this = slf.get();
        let schema = this.schema.get();
        if let Ok(name) = key.cast::<PyString>() {
            let field = this.field_index(name)?;
            let column = column_from_object(schema, field, value)?;
            let mut st = this.write()?;
            let len = st.inner.len();
            if column.len() != len {
                return Err(ShoalError::BadColumn {
                    detail: format!(
                        "column has {} values for a table of {len} rows; nothing was written",
                        column.len()
                    ),
                }
                .into());
            }
            st.inner.replace_column(field, column).expect("checked");
            st.forget_category_strs(field);
            return Ok(());
        }
        let mut st = this.write()?;
        let st = &mut *st;
        let row = st.row_index(key.extract()?)?;
        let mut values = Vec::new();
        schema.bind_item(value, row, Some((slf.as_ptr(), &st.inner)), &mut values)?;
        // All or nothing: a refused value restores the fields already written.
        let old = st.inner.row(row).expect("in range");
        for (field, cell) in values.into_iter().enumerate() {
            if let Err(e) = st.inner.set_cell(row, field, cell) {
                for (f, prev) in old.into_iter().enumerate().take(field) {
                    st.inner
                        .set_cell(row, f, prev)
                        .expect("restoring a value it held");
                }
                return Err(schema.refusal(e).into());
            }
        }
        Ok(())
    }

    fn __delitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut st = self.write()?;
        if let Ok(slice) = key.cast::<PySlice>() {
            let ind = slice.indices(st.inner.len() as isize)?;
            let mut rows: Vec<usize> = (0..ind.slicelength)
                .map(|k| (ind.start + k as isize * ind.step) as usize)
                .collect();
            rows.sort_unstable_by(|a, b| b.cmp(a));
            for r in rows {
                st.inner.remove(r).expect("in range");
            }
            return Ok(());
        }
        let row = st.row_index(key.extract()?)?;
        st.inner.remove(row).expect("in range");
        Ok(())
    }

    /// Removes and returns row `index` (the last by default) as a standalone record.
    #[pyo3(signature = (index = -1))]
    fn pop<'py>(slf: &Bound<'py, Self>, index: isize) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let values = {
            let mut st = this.write()?;
            if st.inner.is_empty() {
                return Err(PyIndexError::new_err("pop from an empty table"));
            }
            let row = st.row_index(index)?;
            st.inner.remove(row).expect("in range")
        };
        record::new_standalone(this.schema.bind(slf.py()), values)
    }

    fn clear(&self) -> PyResult<()> {
        self.write()?.inner.clear();
        Ok(())
    }

    /// Sorts rows in place, stably, by `key(row)` (default: the row's values as a tuple), with
    /// Python's own `sorted`, so keys compare exactly as they would in a list.
    #[pyo3(signature = (*, key = None, reverse = false))]
    fn sort(slf: &Bound<'_, Self>, key: Option<&Bound<'_, PyAny>>, reverse: bool) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        let (n, version) = {
            let st = this.read()?;
            (st.inner.len(), st.inner.version())
        };
        let keys = PyList::empty(py);
        for i in 0..n {
            keys.append(match key {
                Some(k) => k.call1((Self::row_handle(slf, i)?,))?,
                None => PyTuple::new(py, row_values(slf, i)?)?.into_any(),
            })?;
        }
        let kwargs = PyDict::new(py);
        kwargs.set_item("key", keys.getattr("__getitem__")?)?;
        kwargs.set_item("reverse", reverse)?;
        let sorted = py.import("builtins")?.getattr("sorted")?.call(
            (pyo3::types::PyRange::new(py, 0, n as isize)?,),
            Some(&kwargs),
        )?;
        let order: Vec<usize> = sorted.extract()?;
        let mut st = this.write()?;
        if st.inner.version() != version || st.inner.len() != n {
            return Err(PyRuntimeError::new_err(
                "the table changed while its sort keys were computed",
            ));
        }
        st.inner.permute(&order);
        Ok(())
    }

    fn __iter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        crate::iter::new_iter(slf)
    }

    /// Reclaims the space that overwritten strings left behind (shoal also does this by itself
    /// once it passes half of a column's live text); returns the bytes freed.
    fn compact(&self) -> PyResult<usize> {
        Ok(self.write()?.inner.compact())
    }

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

    fn __copy__(&self, py: Python<'_>) -> PyResult<Self> {
        Ok(Self::with_inner(
            self.schema.clone_ref(py),
            self.read()?.inner.clone(),
        ))
    }

    fn __deepcopy__(&self, py: Python<'_>, _memo: &Bound<'_, PyAny>) -> PyResult<Self> {
        self.__copy__(py)
    }

    /// Pickles as the record class and, per column, its buffers (see
    /// `ColumnSnapshot::parts`), its validity bits or None, and its length. With protocol 5 the
    /// buffers are `PickleBuffer`s over the columns' own memory, so they can travel out of band
    /// without a copy; before that, bytes.
    fn __reduce_ex__<'py>(&self, py: Python<'py>, protocol: i32) -> PyResult<Bound<'py, PyTuple>> {
        let (snapshots, len) = self.snapshots()?;
        let pickle_buffer = if protocol >= 5 {
            Some(py.import("pickle")?.getattr("PickleBuffer")?)
        } else {
            None
        };
        let buffer =
            |snap: &shoal_core::ColumnSnapshot, part: usize| -> PyResult<Bound<'py, PyAny>> {
                match &pickle_buffer {
                    Some(pb) => pb.call1((Bound::new(py, PyRawBuffer::new(snap.clone(), part))?,)),
                    None if part == usize::MAX => {
                        Ok(PyBytes::new(py, snap.validity().unwrap_or(&[])).into_any())
                    }
                    None => Ok(PyBytes::new(py, snap.parts()[part]).into_any()),
                }
            };
        let mut columns = Vec::new();
        for snap in &snapshots {
            let parts = (0..snap.parts().len())
                .map(|p| buffer(snap, p))
                .collect::<PyResult<Vec<_>>>()?;
            let validity = match snap.validity() {
                Some(_) => buffer(snap, usize::MAX)?,
                None => py.None().into_bound(py),
            };
            columns.push((PyList::new(py, parts)?, validity, len).into_pyobject(py)?);
        }
        let ctor = py.import("shoal._shoal")?.getattr("_table_from_buffers")?;
        let args = (self.record_type(py), PyList::new(py, columns)?);
        (ctor, args).into_pyobject(py)
    }

    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.__reduce_ex__(py, 4)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let this = slf.get();
        let n = this.read()?.inner.len();
        let name = &this.schema.get().record_name;
        let mut out = format!("Table[{name}] with {n} rows");
        for part in preview_rows(n) {
            out.push_str("\n  ");
            match part {
                Some(i) => out.push_str(&Self::row_handle(slf, i)?.repr()?.to_string()),
                None => out.push_str("..."),
            }
        }
        Ok(out)
    }

    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let schema = this.schema.get();
        let n = this.read()?.inner.len();
        let mut html = String::from("<table class=\"shoal\"><thead><tr><th></th>");
        for f in schema.core.fields() {
            html += &format!("<th>{}<br><small>{}</small></th>", escape(&f.name), f.dtype);
        }
        html += "</tr></thead><tbody>";
        for part in preview_rows(n) {
            match part {
                Some(i) => {
                    html += &format!("<tr><th>{i}</th>");
                    for v in row_values(slf, i)? {
                        html += &format!("<td>{}</td>", escape(&v.repr()?.to_string()));
                    }
                    html += "</tr>";
                }
                None => html += &format!("<tr><td colspan=\"{}\">...</td></tr>", schema.len() + 1),
            }
        }
        let _ = py;
        html += &format!(
            "</tbody></table><p>Table[{}]: {n} rows, {} bytes in columns</p>",
            escape(&schema.record_name),
            this.read()?.inner.nbytes()
        );
        Ok(html)
    }

    /// Arrow PyCapsule interface: the table's schema (a struct of its fields).
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let codes: Vec<_> = self
            .read()?
            .inner
            .columns()
            .iter()
            .map(Column::code_type)
            .collect();
        crate::arrow::schema_capsule(py, &self.schema.get().core, &codes)
    }

    /// Arrow PyCapsule interface: the table as one struct array; numeric columns are shared,
    /// not copied. `requested_schema` is ignored (the producer's own schema is returned).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
        let _ = requested_schema;
        let (columns, len) = self.snapshots()?;
        Ok((
            crate::arrow::schema_capsule(
                py,
                &self.schema.get().core,
                &crate::arrow::code_types(&columns),
            )?,
            crate::arrow::array_capsule(py, columns, len)?,
        ))
    }

    /// Arrow PyCapsule interface: a stream of one batch (the table as exported now).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let (columns, len) = self.snapshots()?;
        crate::arrow::stream_capsule(py, self.schema.get().core.clone(), columns, len)
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

/// Which rows a preview shows: all of up to 10, else the first 5, a gap, and the last 5.
fn preview_rows(n: usize) -> Vec<Option<usize>> {
    if n <= 10 {
        (0..n).map(Some).collect()
    } else {
        (0..5)
            .map(Some)
            .chain([None])
            .chain((n - 5..n).map(Some))
            .collect()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether a lone argument could be a record rather than a plain value.
fn maybe_record(args: &Bound<'_, PyTuple>) -> bool {
    // SAFETY: called only when `args` has exactly one item.
    maybe_record_value(&unsafe { args.get_borrowed_item_unchecked(0) }.to_owned())
}

fn maybe_record_value(arg: &Bound<'_, PyAny>) -> bool {
    !(arg.is_exact_instance_of::<PyFloat>() || arg.is_exact_instance_of::<PyInt>())
}

/// The values of row `i` as Python objects.
fn row_values<'py>(slf: &Bound<'py, PyTable>, i: usize) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let py = slf.py();
    let this = slf.get();
    let specs = &this.schema.get().specs;
    let st = this.read()?;
    st.inner
        .row(i)
        .expect("in range")
        .into_iter()
        .zip(specs)
        .map(|(cell, spec)| cell_to_py(py, cell, spec))
        .collect()
}

/// The bytes of a buffer object (held by `buf` while they are used).
fn contiguous_bytes(buf: &pyo3::buffer::PyUntypedBuffer) -> Option<&[u8]> {
    // SAFETY: a C-contiguous buffer of `len_bytes` bytes stays valid while `buf` holds it.
    buf.is_c_contiguous()
        .then(|| unsafe { std::slice::from_raw_parts(buf.buf_ptr() as *const u8, buf.len_bytes()) })
}

/// One pickled column: its buffers, its validity bits (or None) and its length.
type PickledColumn<'py> = (Vec<Bound<'py, PyAny>>, Bound<'py, PyAny>, usize);

/// Rebuilds a pickled table, checking every buffer (pickles can come from anywhere).
#[pyfunction]
pub fn _table_from_buffers(
    record_type: &Bound<'_, PyType>,
    columns: Vec<PickledColumn<'_>>,
) -> PyResult<PyTable> {
    let schema = PySchema::of_class(record_type)?;
    let s = schema.get();
    let corrupt = |detail: String| -> PyErr {
        ShoalError::BadColumn {
            detail: format!("pickled {} table: {detail}", s.record_name),
        }
        .into()
    };
    if columns.len() != s.len() {
        return Err(corrupt(format!(
            "{} columns, expected {}",
            columns.len(),
            s.len()
        )));
    }
    let mut built = Vec::new();
    for (field, (parts, validity, len)) in s.core.fields().iter().zip(&columns) {
        let held = parts
            .iter()
            .map(pyo3::buffer::PyUntypedBuffer::get)
            .collect::<PyResult<Vec<_>>>()?;
        let bytes: Option<Vec<&[u8]>> = held.iter().map(contiguous_bytes).collect();
        let validity_buf = if validity.is_none() {
            None
        } else {
            Some(pyo3::buffer::PyUntypedBuffer::get(validity)?)
        };
        let bits = match &validity_buf {
            Some(b) => Some(contiguous_bytes(b).ok_or_else(|| corrupt("validity".into()))?),
            None => None,
        };
        let column = bytes
            .and_then(|b| Column::from_parts(field, &b, bits, *len))
            .ok_or_else(|| corrupt(format!("column '{}' is corrupt", field.name)))?;
        built.push(column);
    }
    let inner = Table::from_columns(s.core.clone(), built)
        .map_err(|e| corrupt(s.describe_core_error(&e)))?;
    Ok(PyTable::with_inner(schema.clone().unbind(), inner))
}

/// Installs `Table.append` as a METH_FASTCALL method: appends are the hot path of building a
/// table from a Python loop, and PyO3's `*args` methods pay for a tuple per call.
pub fn install_fast_append(py: Python<'_>) -> PyResult<()> {
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: c"append".as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: append_fast,
        },
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: c"append(*values, **fields)\n--\n\nAppends one record: t.append(1.0, 2.0), \
t.append(x=1.0) or t.append(Point(1.0, 2.0)). On error nothing is appended."
            .as_ptr(),
    }));
    let ty = py.get_type::<PyTable>();
    // SAFETY: `def` is 'static and describes a function with the METH_FASTCALL|METH_KEYWORDS
    // signature; the type pointer is live.
    let descr = unsafe { ffi::PyDescr_NewMethod(ty.as_type_ptr(), def) };
    // SAFETY: a new reference or null with an exception set.
    let descr = unsafe { Bound::from_owned_ptr_or_err(py, descr)? };
    ty.setattr("append", descr)
}

unsafe extern "C" fn append_fast(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    crate::capi::trampoline(std::ptr::null_mut(), |py| {
        // SAFETY: the method descriptor has checked that `slf` is a Table.
        let table = unsafe { Bound::from_borrowed_ptr(py, slf).cast_into_unchecked::<PyTable>() };
        let this = table.get();
        // SAFETY: CPython passes `nargs` positional arguments followed by one per keyword name.
        let nargs = unsafe { ffi::PyVectorcall_NARGS(nargsf as usize) } as usize;
        let nkw = if kwnames.is_null() {
            0
        } else {
            // SAFETY: `kwnames` is a tuple of strings when not null.
            unsafe { ffi::PyTuple_GET_SIZE(kwnames) as usize }
        };
        // SAFETY: as above, `args` holds `nargs + nkw` borrowed references.
        let argv = unsafe { std::slice::from_raw_parts(args, nargs + nkw) };
        let schema = this.schema.get();
        if nkw == 0 && nargs == schema.len() {
            // SAFETY: the pointers are live borrowed references for the duration of the call.
            let first = (nargs == 1).then(|| unsafe { Bound::from_borrowed_ptr(py, argv[0]) });
            if !first.as_ref().is_some_and(|a| maybe_record_value(a)) {
                push_positional(py, this, argv)?;
                // SAFETY: returning a new reference to None.
                return Ok(unsafe { ffi::Py_NewRef(ffi::Py_None()) });
            }
        }
        append_slow(&table, argv, nargs, kwnames)?;
        // SAFETY: returning a new reference to None.
        Ok(unsafe { ffi::Py_NewRef(ffi::Py_None()) })
    })
}

/// `t.append(v0, v1, ...)` with one value per field: each checked straight into its column.
#[inline(never)]
fn push_positional(py: Python<'_>, this: &PyTable, argv: &[*mut ffi::PyObject]) -> PyResult<()> {
    let schema = this.schema.get();
    let mut st = this.write()?;
    // First with values that need no conversion, keeping (large) error values off the hot
    // path; any miss or refusal undoes the row and takes the general path below.
    let fast = st.inner.push_with(
        |f, _| {
            // SAFETY: `f < argv.len()` (one value per field); the reference is live for the
            // whole call, which is as long as any text borrowed from it is used.
            let obj = unsafe { pyo3::Borrowed::from_ptr(py, argv[f]) };
            fast_cell(obj, &schema.specs[f]).ok_or(())
        },
        |_, _| (),
    );
    if fast.is_ok() {
        return Ok(());
    }
    push_converted(py, schema, &mut st.inner, argv)
}

#[cold]
#[inline(never)]
fn push_converted(
    py: Python<'_>,
    schema: &PySchema,
    table: &mut Table,
    argv: &[*mut ffi::PyObject],
) -> PyResult<()> {
    let row = table.len();
    table.push_with(
        |f, _| {
            // SAFETY: `f < argv.len()` (one value per field); the reference is live for the
            // whole call, which is as long as any text borrowed from it is used.
            let obj = unsafe { pyo3::Borrowed::from_ptr(py, argv[f]) };
            to_cell(obj, &schema.specs[f], || schema.target(f, Some(row)))
        },
        |f, problem| {
            // SAFETY: as above.
            let obj = unsafe { Bound::from_borrowed_ptr(py, argv[f]) };
            refused(
                problem,
                &schema.specs[f],
                schema.target(f, Some(row)),
                crate::convert::describe(&obj),
            )
        },
    )?;
    Ok(())
}

/// The general path of `append_fast`: rebuild `*args`/`**kwargs` and bind like a constructor.
#[cold]
#[inline(never)]
fn append_slow(
    table: &Bound<'_, PyTable>,
    argv: &[*mut ffi::PyObject],
    nargs: usize,
    kwnames: *mut ffi::PyObject,
) -> PyResult<()> {
    let py = table.py();
    let nkw = argv.len() - nargs;
    // SAFETY: the pointers are live borrowed references for the duration of the call.
    let positional = argv[..nargs]
        .iter()
        .map(|&p| unsafe { Bound::from_borrowed_ptr(py, p) });
    let tuple = PyTuple::new(py, positional)?;
    let kwargs = PyDict::new(py);
    for k in 0..nkw {
        // SAFETY: `kwnames` has `nkw` items; the values follow the positional arguments.
        let (name, value) = unsafe {
            (
                Bound::from_borrowed_ptr(py, ffi::PyTuple_GET_ITEM(kwnames, k as ffi::Py_ssize_t)),
                Bound::from_borrowed_ptr(py, argv[nargs + k]),
            )
        };
        kwargs.set_item(name, value)?;
    }
    PyTable::append_args(table, &tuple, Some(&kwargs))
}
