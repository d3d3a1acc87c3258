//! `Table`: a growable column store of records of one `shoal.Record` class.

use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyList, PySlice, PyString, PyTuple, PyType};
use pyo3::PyVisit;
use shoal_core::{Column, Scalar, Table};

use crate::column::{column_from_object, PyColumn};
use crate::convert::to_scalar;
use crate::errors::{Result, ShoalError};
use crate::iter::PyTableIter;
use crate::record;
use crate::schema::PySchema;

#[pyclass(module = "shoal", name = "Table")]
pub struct PyTable {
    inner: Table,
    schema: Py<PySchema>,
    /// Reused row buffer for appends, so a row costs no allocation.
    scratch: Vec<Scalar>,
    /// The last row handle `t[i]` returned; reused when nothing else holds it.
    cached_row: Option<Py<PyAny>>,
}

impl PyTable {
    pub fn core(&self) -> &Table {
        &self.inner
    }

    pub fn core_mut(&mut self) -> &mut Table {
        &mut self.inner
    }

    pub fn schema<'py>(&self, py: Python<'py>) -> &Bound<'py, PySchema> {
        self.schema.bind(py)
    }

    fn with_inner(schema: Py<PySchema>, inner: Table) -> PyTable {
        PyTable {
            inner,
            schema,
            scratch: Vec::new(),
            cached_row: None,
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

    fn push_scratch(&mut self) {
        self.inner
            .push_scalars(&self.scratch)
            .expect("scalars were checked against this schema");
    }
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
        let schema = PySchema::of_class(record_type)?;
        let s = schema.get();
        let empty = PyDict::new(record_type.py());
        let columns = columns.unwrap_or(&empty);
        for key in columns.keys() {
            if !s
                .names
                .iter()
                .any(|n| n.bind(key.py()).as_any().eq(&key).unwrap_or(false))
            {
                return Err(ShoalError::NoSuchField {
                    record: s.record_name.clone(),
                    name: key.to_string(),
                }
                .into());
            }
        }
        let mut built: Vec<Option<Column>> = Vec::new();
        for (i, name) in s.names.iter().enumerate() {
            built.push(match columns.get_item(name.bind(record_type.py()))? {
                Some(obj) => Some(column_from_object(s, i, &obj)?),
                None => None,
            });
        }
        let len = built.iter().flatten().map(Column::len).next().unwrap_or(0);
        let mut filled = Vec::new();
        for (i, c) in built.into_iter().enumerate() {
            filled.push(match c {
                Some(c) => c,
                None => match s.defaults[i] {
                    Some(d) => Column::filled(d, len),
                    None => {
                        return Err(ShoalError::BadColumn {
                            detail: format!(
                                "{}.from_columns: no column for field '{}', which has no default",
                                s.record_name,
                                s.core.fields()[i].name
                            ),
                        }
                        .into())
                    }
                },
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

    /// Appends one record: `t.append(1.0, 2.0)`, `t.append(x=1.0)` or `t.append(Point(...))`.
    /// (Replaced at import by the same logic as a fast-call method; see `install_fast_append`.)
    #[pyo3(signature = (*args, **kwargs))]
    pub fn append(
        &mut self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let row = self.inner.len();
        let schema = self.schema.get();
        let no_kwargs = kwargs.is_none_or(|k| k.is_empty());
        if no_kwargs && args.len() == schema.len() && !(args.len() == 1 && maybe_record(args)) {
            // The common case, `t.append(x, y)`: check each value straight into its column.
            return Ok(self.inner.push_with(|f, dtype| {
                // SAFETY: `f < schema.len() == args.len()`.
                let obj = unsafe { args.get_borrowed_item_unchecked(f) };
                to_scalar(&obj, dtype, || schema.target(f, Some(row)))
            })?);
        }
        self.scratch.clear();
        let current = Some((std::ptr::null_mut(), &self.inner));
        match (no_kwargs && args.len() == 1, args.get_item(0)) {
            (true, Ok(arg)) => match schema.record_item(&arg, current)? {
                Some(values) => self.scratch.extend(values),
                None => schema.bind_args(args, kwargs, Some(row), &mut self.scratch)?,
            },
            _ => schema.bind_args(args, kwargs, Some(row), &mut self.scratch)?,
        }
        self.push_scratch();
        Ok(())
    }

    /// Appends every item (tuples, dicts or records) — all of them, or none if any is invalid.
    fn extend(slf: &Bound<'_, Self>, rows: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        let rows = if rows.is(slf) {
            Self::__getitem__(slf, &PySlice::full(py))?
        } else {
            rows.clone()
        };
        let me = slf.as_ptr();
        let mut this = slf.borrow_mut();
        let start = this.inner.len();
        let schema = this.schema.clone_ref(py);
        let mut scratch = std::mem::take(&mut this.scratch);
        let result = (|| -> Result<()> {
            for (k, item) in rows.try_iter()?.enumerate() {
                let item = item?;
                scratch.clear();
                schema
                    .get()
                    .bind_item(&item, start + k, Some((me, &this.inner)), &mut scratch)?;
                this.inner
                    .push_scalars(&scratch)
                    .expect("scalars were checked against this schema");
            }
            Ok(())
        })();
        this.scratch = scratch;
        if result.is_err() {
            this.inner.rollback_to(start);
        }
        Ok(result?)
    }

    /// Inserts a record before row `index` (clamped to the table, like `list.insert`).
    #[pyo3(signature = (index, *args, **kwargs))]
    fn insert(
        &mut self,
        index: isize,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let len = self.inner.len() as isize;
        let i = if index < 0 {
            (index + len).max(0)
        } else {
            index.min(len)
        } as usize;
        self.scratch.clear();
        let schema = self.schema.get();
        if args.len() == 1 && kwargs.is_none_or(|k| k.is_empty()) {
            if let Some(v) = schema.record_item(
                &args.get_item(0)?,
                Some((std::ptr::null_mut(), &self.inner)),
            )? {
                self.scratch.extend(v);
            }
        }
        if self.scratch.is_empty() {
            schema.bind_args(args, kwargs, Some(i), &mut self.scratch)?;
        }
        let scratch = std::mem::take(&mut self.scratch);
        self.inner.insert_scalars(i, &scratch).expect("checked");
        self.scratch = scratch;
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// `t[i]` is a row handle (an instance of the record class that reads and writes this
    /// table); `t[a:b]` is a new table holding a copy of those rows; `t["x"]` is a Column.
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if let Ok(name) = key.cast::<PyString>() {
            let mut this = slf.borrow_mut();
            let field = this.field_index(name)?;
            let snap = this.inner.snapshot(field);
            let name = this.schema.get().names[field].clone_ref(py);
            return Ok(Bound::new(py, PyColumn::new(name, snap))?.into_any());
        }
        if let Ok(slice) = key.cast::<PySlice>() {
            let this = slf.borrow();
            let ind = slice.indices(this.inner.len() as isize)?;
            let taken = this
                .inner
                .take_strided(ind.start as usize, ind.step, ind.slicelength);
            let out = Self::with_inner(this.schema.clone_ref(py), taken);
            return Ok(Bound::new(py, out)?.into_any());
        }
        let index: isize = key.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "table indices must be integers, slices or field names, not {}",
                key.get_type().name().map_or("?".into(), |n| n.to_string())
            ))
        })?;
        let this = slf.borrow();
        let row = this.row_index(index)?;
        let version = this.inner.version();
        if let Some(cached) = &this.cached_row {
            let cached = cached.bind(py);
            if record::rebind_if_unshared(cached, row, version) {
                return Ok(cached.clone());
            }
        }
        let schema = this.schema.clone_ref(py);
        drop(this);
        let handle = record::new_row(slf, schema.bind(py), row, version)?;
        slf.borrow_mut().cached_row = Some(handle.clone().unbind());
        Ok(handle)
    }

    /// `t[i] = record` replaces a row's values; `t["x"] = values` replaces a whole column.
    /// Either all values are written or none.
    fn __setitem__(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let me = slf.as_ptr();
        let mut this = slf.borrow_mut();
        if let Ok(name) = key.cast::<PyString>() {
            let field = this.field_index(name)?;
            let column = column_from_object(this.schema.get(), field, value)?;
            let len = this.inner.len();
            if column.len() != len {
                return Err(ShoalError::BadColumn {
                    detail: format!(
                        "column has {} values for a table of {len} rows; nothing was written",
                        column.len()
                    ),
                }
                .into());
            }
            this.inner.replace_column(field, column).expect("checked");
            return Ok(());
        }
        let index: isize = key.extract()?;
        let row = this.row_index(index)?;
        let mut scratch = Vec::new();
        this.schema
            .get()
            .bind_item(value, row, Some((me, &this.inner)), &mut scratch)?;
        for (field, s) in scratch.into_iter().enumerate() {
            this.inner.set_scalar(row, field, s).expect("checked");
        }
        Ok(())
    }

    fn __delitem__(&mut self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(slice) = key.cast::<PySlice>() {
            let ind = slice.indices(self.inner.len() as isize)?;
            let mut rows: Vec<usize> = (0..ind.slicelength)
                .map(|k| (ind.start + k as isize * ind.step) as usize)
                .collect();
            rows.sort_unstable_by(|a, b| b.cmp(a));
            for r in rows {
                self.inner.remove(r).expect("in range");
            }
            return Ok(());
        }
        let row = self.row_index(key.extract()?)?;
        self.inner.remove(row).expect("in range");
        Ok(())
    }

    /// Removes and returns row `index` (the last by default) as a standalone record.
    #[pyo3(signature = (index = -1))]
    fn pop<'py>(slf: &Bound<'py, Self>, index: isize) -> PyResult<Bound<'py, PyAny>> {
        let mut this = slf.borrow_mut();
        if this.inner.is_empty() {
            return Err(PyIndexError::new_err("pop from an empty table"));
        }
        let row = this.row_index(index)?;
        let values = this.inner.remove(row).expect("in range");
        record::new_standalone(this.schema.bind(slf.py()), values)
    }

    fn clear(&mut self) {
        self.inner.clear();
    }

    /// Sorts rows in place by `key(row)` (default: the row's values as a tuple), stably.
    #[pyo3(signature = (*, key = None, reverse = false))]
    fn sort(slf: &Bound<'_, Self>, key: Option<&Bound<'_, PyAny>>, reverse: bool) -> PyResult<()> {
        let py = slf.py();
        let n = slf.borrow().inner.len();
        let mut keys = Vec::with_capacity(n);
        for i in 0..n {
            let row = Self::__getitem__(slf, &i.into_pyobject(py)?.into_any())?;
            keys.push(match key {
                Some(k) => k.call1((row,))?,
                None => PyTuple::new(py, record_tuple(slf, i)?)?.into_any(),
            });
        }
        let mut order: Vec<usize> = (0..n).collect();
        let mut error = None;
        order.sort_by(|&a, &b| {
            let (a, b) = if reverse { (b, a) } else { (a, b) };
            match keys[a].lt(&keys[b]) {
                Ok(true) => std::cmp::Ordering::Less,
                Ok(false) => match keys[b].lt(&keys[a]) {
                    Ok(true) => std::cmp::Ordering::Greater,
                    Ok(false) => std::cmp::Ordering::Equal,
                    Err(e) => {
                        error.get_or_insert(e);
                        std::cmp::Ordering::Equal
                    }
                },
                Err(e) => {
                    error.get_or_insert(e);
                    std::cmp::Ordering::Equal
                }
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        slf.borrow_mut().inner.permute(&order);
        Ok(())
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PyTableIter {
        PyTableIter::new(slf)
    }

    /// Bytes allocated by the column buffers (capacity included).
    #[getter]
    fn nbytes(&self) -> usize {
        self.inner.nbytes()
    }

    #[getter]
    fn record_type(&self, py: Python<'_>) -> Py<PyType> {
        self.schema.get().record_type.clone_ref(py)
    }

    #[getter]
    fn schema_object(&self, py: Python<'_>) -> Py<PySchema> {
        self.schema.clone_ref(py)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyTable>() {
            Ok(o) => o.try_borrow().is_ok_and(|o| {
                self.schema.as_ptr() == o.schema.as_ptr() && self.inner.values_eq(&o.inner)
            }),
            Err(_) => false,
        }
    }

    fn __copy__(&self, py: Python<'_>) -> Self {
        Self::with_inner(self.schema.clone_ref(py), self.inner.clone())
    }

    fn __deepcopy__(&self, py: Python<'_>, _memo: &Bound<'_, PyAny>) -> Self {
        self.__copy__(py)
    }

    /// Pickles as the record class and one bytes object per column (native byte order).
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let mut this = slf.borrow_mut();
        let mut buffers = Vec::new();
        for f in 0..this.schema.get().len() {
            let snap = this.inner.snapshot(f);
            buffers.push(PyBytes::new(py, snap.as_bytes()));
        }
        let ctor = py.import("shoal._shoal")?.getattr("_table_from_buffers")?;
        PyTuple::new(
            py,
            [
                ctor,
                PyTuple::new(
                    py,
                    [
                        this.record_type(py).into_bound(py).into_any(),
                        PyList::new(py, buffers)?.into_any(),
                    ],
                )?
                .into_any(),
            ],
        )
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> std::result::Result<(), pyo3::PyTraverseError> {
        visit.call(&self.schema)?;
        if let Some(r) = &self.cached_row {
            visit.call(r)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.cached_row = None;
    }
}

impl PyTable {
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
fn record_tuple<'py>(slf: &Bound<'py, PyTable>, i: usize) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let py = slf.py();
    let this = slf.borrow();
    Ok(this
        .inner
        .row(i)
        .expect("in range")
        .into_iter()
        .map(|s| crate::convert::scalar_to_py(py, s))
        .collect())
}

/// Rebuilds a pickled table.
#[pyfunction]
pub fn _table_from_buffers(
    record_type: &Bound<'_, PyType>,
    buffers: Vec<Vec<u8>>,
) -> PyResult<PyTable> {
    let schema = PySchema::of_class(record_type)?;
    let s = schema.get();
    if buffers.len() != s.len() {
        return Err(ShoalError::BadColumn {
            detail: format!(
                "pickled {} table has {} columns, expected {}",
                s.record_name,
                buffers.len(),
                s.len()
            ),
        }
        .into());
    }
    let mut columns = Vec::new();
    for (f, bytes) in buffers.iter().enumerate() {
        let mut c = Column::new(s.core.fields()[f].dtype);
        if !c.extend_from_bytes(bytes) {
            return Err(ShoalError::BadColumn {
                detail: format!(
                    "pickled column '{}' of {} is corrupt",
                    s.core.fields()[f].name,
                    s.record_name
                ),
            }
            .into());
        }
        columns.push(c);
    }
    let inner = Table::from_columns(s.core.clone(), columns).map_err(|e| {
        PyErr::from(ShoalError::BadColumn {
            detail: format!(
                "pickled {} table: {}",
                s.record_name,
                s.describe_core_error(&e)
            ),
        })
    })?;
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
        let mut this = table.try_borrow_mut()?;
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
        if nkw == 0 && nargs == this.schema.get().len() {
            // SAFETY: the pointers are live borrowed references for the duration of the call.
            let first = (nargs == 1).then(|| unsafe { Bound::from_borrowed_ptr(py, argv[0]) });
            if !first.as_ref().is_some_and(|a| maybe_record_value(a)) {
                let row = this.inner.len();
                let this = &mut *this;
                let schema = this.schema.get();
                this.inner.push_with(|f, dtype| {
                    // SAFETY: `f < nargs`, and the reference is live for the call.
                    let obj = unsafe { Bound::from_borrowed_ptr(py, argv[f]) };
                    to_scalar(&obj, dtype, || schema.target(f, Some(row)))
                })?;
                // SAFETY: returning a new reference to None.
                return Ok(unsafe { ffi::Py_NewRef(ffi::Py_None()) });
            }
        }
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
                    Bound::from_borrowed_ptr(
                        py,
                        ffi::PyTuple_GET_ITEM(kwnames, k as ffi::Py_ssize_t),
                    ),
                    Bound::from_borrowed_ptr(py, argv[nargs + k]),
                )
            };
            kwargs.set_item(name, value)?;
        }
        this.append(&tuple, Some(&kwargs))?;
        // SAFETY: returning a new reference to None.
        Ok(unsafe { ffi::Py_NewRef(ffi::Py_None()) })
    })
}
