//! The list API: append, extend, insert, indexing, slices, deletion, pop, clear, sort.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PySlice, PyString, PyTuple};
use shoal_core::{Datum, Table};

use crate::column::{column_from_object, PyColumn};
use crate::errors::{RecordNames, Result, ShoalError};
use crate::record;
use crate::schema::PySchema;

use super::fast_append::{maybe_record_value, push_values};
use super::{row_objects, PyTable, TableState};

impl PyTable {
    /// Appends from call arguments (the general path: keywords, records, defaults).
    pub(crate) fn append_args(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let this = slf.get();
        let schema = this.schema.get();
        if let Some(made) = made_record(schema, args, kwargs)? {
            return Self::append_args(slf, &made, None);
        }
        let mut st = this.change()?;
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
            .map_err(|e| ShoalError::from_core(e, schema))?;
        Ok(())
    }

    /// Appends one item of an `extend` (a tuple, a dict or a record) to `st`, `slf`'s state;
    /// on error nothing is appended.
    pub(crate) fn push_item(
        slf: &Bound<'_, Self>,
        st: &mut TableState,
        item: &Bound<'_, PyAny>,
    ) -> Result<()> {
        let schema = slf.get().schema.get();
        if let Some(values) = exact_values(item, schema.len()) {
            return Ok(push_values(slf.py(), schema, &mut st.inner, values)?);
        }
        st.scratch.clear();
        let row = st.inner.len();
        let current = Some((slf.as_ptr(), &st.inner));
        schema.bind_item(item, row, current, &mut st.scratch)?;
        st.inner
            .push_cells(&st.scratch)
            .map_err(|e| ShoalError::from_core(e, schema))?;
        Ok(())
    }

    /// A new table of copies of the selected rows.
    pub(crate) fn slice(slf: &Bound<'_, Self>, slice: &Bound<'_, PySlice>) -> PyResult<PyTable> {
        let this = slf.get();
        let st = this.read()?;
        let ind = slice.indices(st.inner.len() as isize)?;
        let taken = st
            .inner
            .take_strided(ind.start as usize, ind.step, ind.slicelength)
            .map_err(|e| ShoalError::from_core(e, this.schema.get()))?;
        Ok(Self::with_inner(this.schema.clone_ref(slf.py()), taken))
    }

    /// The cached row handle re-pointed at `row` (a new reference), if nobody else holds it
    /// and no change is in progress; the caller has checked `row` is in range.
    #[inline]
    pub(crate) fn reuse_cached_row(&self, row: usize) -> Option<*mut pyo3::ffi::PyObject> {
        self.peek(|st| {
            let cached = st.cached_row.as_ref()?.as_ptr();
            // SAFETY: the cache's own live row handle, borrowed without a new reference.
            let free = unsafe { record::rebind_raw_if_unshared(cached, row, st.inner.version()) };
            // SAFETY: live; the caller receives the new reference.
            free.then(|| unsafe { pyo3::ffi::Py_NewRef(cached) })
        })
        .flatten()
    }

    /// The row handle for row `row`, reusing the cached one if nobody else holds it.
    pub(crate) fn row_handle<'py>(
        slf: &Bound<'py, Self>,
        row: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        if let Some(handle) = this.reuse_cached_row(row) {
            // SAFETY: a new reference to a live row handle.
            return Ok(unsafe { Bound::from_owned_ptr(py, handle) });
        }
        let version = this.read()?.inner.version();
        let handle = record::new_row(slf, this.schema.bind(py), row, version)?;
        this.write()?.cached_row = Some(handle.clone().unbind());
        Ok(handle)
    }
}

/// Binds `t.append(...)`/`t.insert(i, ...)` arguments: a lone record of the same fields is
/// copied; anything else binds like the record class's constructor.
pub(crate) fn bind_call(
    schema: &PySchema,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    row: usize,
    current: Option<(*mut ffi::PyObject, &Table)>,
    out: &mut Vec<Datum<'static>>,
) -> Result<()> {
    if args.len() == 1 && kwargs.is_none_or(|k| k.is_empty()) && maybe_record(args) {
        if let Some(values) = schema.record_item(&args.get_item(0)?, current)? {
            out.extend(values);
            return Ok(());
        }
    }
    schema.bind_init(args, kwargs, Some(row), out)?;
    Ok(())
}

/// For a class whose `__post_init__` or own `__init__` decides the values, the record that
/// `t.append(...)`/`t.insert(i, ...)` arguments make, as a lone argument; made before the
/// table is borrowed, so that the class's code may read it.
fn made_record<'py>(
    schema: &PySchema,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    if !schema.makes_records() {
        return Ok(None);
    }
    let lone = args.len() == 1 && kwargs.is_none_or(|k| k.is_empty());
    if lone && record::is_record(&args.get_item(0)?)? {
        return Ok(None); // a record made already: copied as it is
    }
    let made = schema.record_type.bind(args.py()).call(args, kwargs)?;
    Ok(Some(PyTuple::new(args.py(), [made])?))
}

/// The items of an exact tuple holding one value per field (what `append(*values)` gets),
/// as borrowed references that live as long as `item`: the fast path of `extend`. `None` for
/// anything else, including a 1-tuple holding a record, which the general path reads as one.
fn exact_values<'a>(item: &'a Bound<'_, PyAny>, fields: usize) -> Option<&'a [*mut ffi::PyObject]> {
    let tuple = item.cast_exact::<PyTuple>().ok()?;
    if tuple.len() != fields || (fields == 1 && maybe_record_value(&tuple.get_item(0).ok()?)) {
        return None;
    }
    // SAFETY: an exact tuple's items are `len` live references in `ob_item`, owned by the
    // tuple, which `item` keeps alive (tuples never change their items once shared).
    let items = unsafe {
        (*tuple.as_ptr().cast::<ffi::PyTupleObject>())
            .ob_item
            .as_ptr()
    };
    // SAFETY: as above: `len` initialised pointers from `items`.
    Some(unsafe { std::slice::from_raw_parts(items, fields) })
}

#[pymethods]
impl PyTable {
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
        let mut st = this.change()?;
        let st = &mut *st;
        let start = st.inner.len();
        let result = (|| -> Result<()> {
            // A list's or tuple's length is known: room for all of it at once, not the
            // doubling growth that can leave a column with twice the room it needs.
            let known = (rows.cast::<PyList>().map(|l| l.len()))
                .or_else(|_| rows.cast::<PyTuple>().map(|t| t.len()));
            if let Ok(n) = known {
                st.inner
                    .try_reserve(n)
                    .map_err(|e| ShoalError::from_core(e, schema))?;
            }
            for item in rows.try_iter()? {
                Self::push_item(slf, st, &item?)?;
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
        if let Some(made) = made_record(this.schema.get(), args, kwargs)? {
            return Self::insert(slf, index, &made, None);
        }
        let mut st = this.change()?;
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
            .map_err(|e| ShoalError::from_core(e, this.schema.get()))?;
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
        // Row numbers first: `t[i]` in a loop is the common case. Anything unusual (past
        // isize, out of range, a change in progress) takes the general path below.
        if key.is_exact_instance_of::<PyInt>() {
            // SAFETY: `key` is an exact int.
            let index = unsafe { ffi::PyLong_AsSsize_t(key.as_ptr()) };
            // SAFETY: checks the thread's error indicator.
            if index == -1 && !unsafe { ffi::PyErr_Occurred() }.is_null() {
                // SAFETY: clears the overflow error (the general path explains it).
                unsafe { ffi::PyErr_Clear() };
            } else if let Some(len) = this.peek(|st| st.inner.len()) {
                let row = if index < 0 {
                    index + len as isize
                } else {
                    index
                };
                if (0..len as isize).contains(&row) {
                    return Self::row_handle(slf, row as usize);
                }
            }
        }
        if let Ok(name) = key.cast::<PyString>() {
            let field = this.field_index(name)?;
            let snap = this
                .write()?
                .inner
                .snapshot(field)
                .map_err(|e| ShoalError::from_core(e, this.schema.get()))?;
            return Ok(Bound::new(py, PyColumn::new(py, &this.schema, field, snap))?.into_any());
        }
        if let Ok(slice) = key.cast::<PySlice>() {
            return Ok(Bound::new(py, Self::slice(slf, slice)?)?.into_any());
        }
        if let Some(selected) = Self::select_key(slf, key) {
            return Ok(Bound::new(py, selected?)?.into_any());
        }
        let index: isize = key.extract().map_err(|_| match key.cast::<PyInt>() {
            // An int past isize (`t[2**63]`) is simply out of range.
            Ok(big) => ShoalError::RowIndex {
                index: big.to_string(),
                len: this.peek(|st| st.inner.len()).unwrap_or(0),
            },
            Err(_) => ShoalError::BadKey {
                got: key.get_type().name().map_or("?".into(), |n| n.to_string()),
            },
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
            let mut st = this.change()?;
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
            // Type and length are checked; a unique index may still refuse a repeated key.
            st.inner
                .replace_column(field, column)
                .map_err(|e| ShoalError::from_core(e, schema))?;
            st.forget_category_strs(field);
            if schema.frozen {
                st.inner.invalidate_handles();
            }
            return Ok(());
        }
        let mut st = this.change()?;
        let st = &mut *st;
        let row = st.row_index(key.extract()?)?;
        let mut values = Vec::new();
        schema.bind_item(value, row, Some((slf.as_ptr(), &st.inner)), &mut values)?;
        // All or nothing: a refused value restores the fields already written.
        let old = st.inner.row(row).expect("in range");
        for (field, cell) in values.into_iter().enumerate() {
            if let Err(e) = st.inner.set_cell(row, field, cell) {
                for (f, prev) in old.into_iter().enumerate().take(field) {
                    // Restoring text of another length can need room the allocator refuses:
                    // say so rather than claim the row is unchanged.
                    if st.inner.set_cell(row, f, prev).is_err() {
                        return Err(ShoalError::OutOfMemory {
                            detail: format!(
                                "{}: out of memory restoring row {row} after a refused value; \
                                 fields before '{}' may hold the new values",
                                schema.record_name,
                                schema.field_name(field)
                            ),
                        }
                        .into());
                    }
                }
                return Err(ShoalError::from_core(e, schema).into());
            }
        }
        if schema.frozen {
            // A frozen record is hashable: the handles of the old value must not now read the
            // new one (a dict keyed by them would break); they go stale instead.
            st.inner.invalidate_handles();
        }
        Ok(())
    }

    fn __delitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        let schema = self.schema.get();
        let mut st = self.change()?;
        if let Ok(slice) = key.cast::<PySlice>() {
            let ind = slice.indices(st.inner.len() as isize)?;
            let rows = (0..ind.slicelength).map(|k| (ind.start + k as isize * ind.step) as usize);
            // One pass, not a removal per row (each of which rebuilds a text column).
            // Slice indices are in range: the only error is a refused allocation.
            return st
                .inner
                .remove_rows(rows)
                .map_err(|e| ShoalError::from_core(e, schema).into());
        }
        let row = st.row_index(key.extract()?)?;
        st.inner
            .remove(row)
            .map_err(|e| ShoalError::from_core(e, schema))?;
        Ok(())
    }

    /// Removes and returns row `index` (the last by default) as a standalone record.
    #[pyo3(signature = (index = -1))]
    fn pop<'py>(slf: &Bound<'py, Self>, index: isize) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let values = {
            let mut st = this.change()?;
            if st.inner.is_empty() {
                return Err(ShoalError::Empty.into());
            }
            let row = st.row_index(index)?;
            st.inner
                .remove(row)
                .map_err(|e| ShoalError::from_core(e, this.schema.get()))?
        };
        record::new_standalone(this.schema.bind(slf.py()), values)
    }

    fn clear(&self) -> PyResult<()> {
        self.change()?.inner.clear();
        Ok(())
    }

    /// Sorts rows in place, stably: `by` a field name or a list of them (compared in Rust on
    /// the columns; nulls last), or `key(row)` (default: the row's values as a tuple), whose
    /// keys compare exactly as they would in a list. `reverse` keeps ties in their order.
    #[pyo3(signature = (*, key = None, reverse = false, by = None))]
    fn sort(
        slf: &Bound<'_, Self>,
        key: Option<&Bound<'_, PyAny>>,
        reverse: bool,
        by: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let this = slf.get();
        if let Some(by) = by {
            if key.is_some() {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "Table.sort: give by= (fields) or key= (a function), not both",
                ));
            }
            return this.sort_by_fields(by, reverse);
        }
        let (n, version) = {
            let st = this.read()?;
            (st.inner.len(), st.inner.version())
        };
        let keys = PyList::empty(py);
        for i in 0..n {
            keys.append(match key {
                Some(k) => k.call1((Self::row_handle(slf, i)?,))?,
                None => PyTuple::new(py, row_objects(slf, i)?)?.into_any(),
            })?;
        }
        let order = match key {
            Some(_) => super::sort::stable_order(&keys, reverse)?,
            None => super::sort::python_order(&keys, reverse)?,
        };
        let mut st = this.change()?;
        if st.inner.version() != version || st.inner.len() != n {
            return Err(ShoalError::Changed {
                detail: "the table changed while its sort keys were computed".into(),
            }
            .into());
        }
        st.inner
            .permute(&order)
            .map_err(|e| ShoalError::from_core(e, this.schema.get()).into())
    }

    fn __iter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        super::iter::new_iter(slf)
    }

    /// Iterates over fields' values without row handles: `t.iter("x")` yields the values of
    /// `x`, `t.iter("x", "name")` tuples of both, `t.iter()` tuples of every field.
    #[pyo3(signature = (*fields))]
    fn iter<'py>(
        slf: &Bound<'py, Self>,
        fields: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let indices = if fields.is_empty() {
            (0..this.schema.get().len()).collect()
        } else {
            fields
                .iter()
                .map(|f| this.field_index(f.cast::<PyString>()?))
                .collect::<PyResult<Vec<usize>>>()?
        };
        super::iter::new_values_iter(slf, indices, fields.len() != 1)
    }

    /// Reclaims the space that overwritten strings left behind (shoal also does this by itself
    /// once it passes half of a column's live text); returns the bytes freed.
    fn compact(&self) -> PyResult<usize> {
        self.change()?
            .inner
            .compact()
            .map_err(|e| ShoalError::from_core(e, self.schema.get()).into())
    }
}

/// Whether a lone argument could be a record rather than a plain value.
pub(crate) fn maybe_record(args: &Bound<'_, PyTuple>) -> bool {
    // SAFETY: called only when `args` has exactly one item.
    maybe_record_value(&unsafe { args.get_borrowed_item_unchecked(0) }.to_owned())
}
