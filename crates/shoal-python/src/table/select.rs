//! Finding rows without a loop: `sort(by=...)`'s order, `where(**values)`, `take`, `t[rows]`
//! and `t[mask]`, `head`/`tail`, `filter`, and the `Sequence` methods `index` and `count`. Each
//! selection is a new table holding copies of the rows, as a slice is.

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};

use crate::convert::to_cell;
use crate::errors::{Result, ShoalError};

use super::PyTable;

impl PyTable {
    /// A new table of `rows` (in range: checked by the core, which names the first that is not).
    pub(crate) fn taken(slf: &Bound<'_, Self>, rows: &[usize]) -> PyResult<PyTable> {
        let this = slf.get();
        let taken = this
            .read()?
            .inner
            .take_rows(rows)
            .map_err(|e| ShoalError::from_core(e, this.schema.get()))?;
        Ok(Self::with_inner(this.schema.clone_ref(slf.py()), taken))
    }

    /// The fields `by` names (a field name or a sequence of them).
    pub(crate) fn fields_named(&self, by: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
        if let Ok(name) = by.cast::<PyString>() {
            return Ok(vec![self.field_index(name)?]);
        }
        by.try_iter()?
            .map(|name| self.field_index(name?.cast::<PyString>()?))
            .collect()
    }

    /// Sorts by fields, in Rust: see `Table::order_by`.
    pub(crate) fn sort_by_fields(&self, by: &Bound<'_, PyAny>, reverse: bool) -> PyResult<()> {
        let fields = self.fields_named(by)?;
        let mut st = self.change()?;
        let schema = self.schema.get();
        let order = st
            .inner
            .order_by(&fields, reverse)
            .map_err(|e| ShoalError::from_core(e, schema))?;
        st.inner
            .permute(&order)
            .map_err(|e| ShoalError::from_core(e, schema).into())
    }

    /// Row numbers from Python positions (negative ones count from the end, as for a list).
    fn positions(&self, items: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
        let len = self.read()?.inner.len();
        let resolve = |i: isize| -> Result<usize> {
            let row = if i < 0 { i + len as isize } else { i };
            usize::try_from(row)
                .ok()
                .filter(|&r| r < len)
                .ok_or_else(|| ShoalError::RowIndex {
                    index: i.to_string(),
                    len,
                })
        };
        if let Ok(buf) = PyBuffer::<i64>::get(items) {
            return Ok(buf
                .to_vec(items.py())?
                .into_iter()
                .map(|i| resolve(i as isize))
                .collect::<Result<_>>()?);
        }
        let mut rows = Vec::new();
        for item in items.try_iter()? {
            rows.push(resolve(item?.extract::<isize>()?)?);
        }
        Ok(rows)
    }

    /// The rows a boolean mask of the table's length selects.
    fn masked(&self, mask: &[bool]) -> PyResult<Vec<usize>> {
        let len = self.read()?.inner.len();
        if mask.len() != len {
            return Err(ShoalError::BadColumn {
                detail: format!(
                    "a mask of {} values for a table of {len} rows; a mask needs one bool per row",
                    mask.len()
                ),
            }
            .into());
        }
        // Branch-free: every row is written, and the end moves past those the mask keeps.
        let mut rows = vec![0; len];
        let mut kept = 0;
        for (i, &keep) in mask.iter().enumerate() {
            rows[kept] = i;
            kept += usize::from(keep);
        }
        rows.truncate(kept);
        Ok(rows)
    }

    /// `t[rows]` and `t[mask]`: a list (or NumPy array) of ints selects those rows, in order; a
    /// list (or array) of bools as long as the table selects the rows marked True. `None` if `key`
    /// is neither (the caller explains).
    pub(crate) fn select_key(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
    ) -> Option<PyResult<PyTable>> {
        let this = slf.get();
        if let Some(mask) = bool_array(key) {
            return Some(this.masked(&mask).and_then(|r| Self::taken(slf, &r)));
        }
        // Lists, not tuples: as in NumPy, a tuple would index several dimensions.
        let listed = key.is_instance_of::<PyList>();
        if !listed && !int_array(key) {
            return None;
        }
        let all_bools = listed
            && key.len().is_ok_and(|n| n > 0)
            && key
                .try_iter()
                .ok()?
                .all(|k| k.is_ok_and(|k| k.is_exact_instance_of::<PyBool>()));
        let rows = if all_bools {
            key.extract::<Vec<bool>>().and_then(|m| this.masked(&m))
        } else {
            this.positions(key)
        };
        Some(rows.and_then(|r| Self::taken(slf, &r)))
    }
}

/// The values of a one-dimensional, contiguous buffer of bools (a NumPy bool array), if `key`
/// is one.
fn bool_array(key: &Bound<'_, PyAny>) -> Option<Vec<bool>> {
    let buf = pyo3::buffer::PyUntypedBuffer::get(key).ok()?;
    if buf.format().to_bytes() != b"?" || buf.dimensions() != 1 || buf.item_size() != 1 {
        return None;
    }
    Some(
        super::pickle::contiguous_bytes(&buf)?
            .iter()
            .map(|&b| b != 0)
            .collect(),
    )
}

/// Whether `key` is a one-dimensional buffer of integers (a NumPy int array of any width).
fn int_array(key: &Bound<'_, PyAny>) -> bool {
    pyo3::buffer::PyUntypedBuffer::get(key).is_ok_and(|buf| {
        let format = buf.format().to_bytes();
        let code = format.last().copied().unwrap_or(0);
        buf.dimensions() == 1 && format.len() <= 2 && b"bBhHiIlLqQnN".contains(&code)
    })
}

#[pymethods]
impl PyTable {
    /// The rows at `positions` (ints, negative from the end, repeats allowed), in that order,
    /// as a new table. An out-of-range position is an IndexError and nothing is made.
    fn take(slf: &Bound<'_, Self>, positions: &Bound<'_, PyAny>) -> PyResult<PyTable> {
        let rows = slf.get().positions(positions)?;
        Self::taken(slf, &rows)
    }

    /// The first `n` rows (all of them if fewer), as a new table.
    #[pyo3(signature = (n = 5))]
    fn head(slf: &Bound<'_, Self>, n: usize) -> PyResult<PyTable> {
        let len = slf.get().read()?.inner.len();
        Self::taken(slf, &(0..n.min(len)).collect::<Vec<_>>())
    }

    /// The last `n` rows (all of them if fewer), as a new table.
    #[pyo3(signature = (n = 5))]
    fn tail(slf: &Bound<'_, Self>, n: usize) -> PyResult<PyTable> {
        let len = slf.get().read()?.inner.len();
        Self::taken(slf, &(len - n.min(len)..len).collect::<Vec<_>>())
    }

    /// The rows whose fields equal the given values (`None`: the field is null), compared in
    /// Rust on the columns, as a new table: `t.where(status=Status.ERROR, region="eu")`.
    #[pyo3(signature = (**conditions))]
    fn r#where(slf: &Bound<'_, Self>, conditions: Option<&Bound<'_, PyDict>>) -> PyResult<PyTable> {
        let this = slf.get();
        let schema = this.schema.get();
        let mut cells = Vec::new();
        let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> =
            conditions.map(|d| d.iter().collect()).unwrap_or_default();
        for (name, value) in &items {
            let field = this.field_index(name.cast::<PyString>()?)?;
            let cell = to_cell(value.as_borrowed(), &schema.specs[field], || {
                schema.target(field, None)
            })?;
            cells.push((field, cell));
        }
        let rows = this.read()?.inner.rows_where(&cells);
        Self::taken(slf, &rows)
    }

    /// The rows for which `predicate(row)` is true, as a new table (a loop over row handles,
    /// reused when the predicate keeps none). A predicate that changes the table is an error.
    fn filter(slf: &Bound<'_, Self>, predicate: &Bound<'_, PyAny>) -> PyResult<PyTable> {
        let this = slf.get();
        let (n, version) = {
            let st = this.read()?;
            (st.inner.len(), st.inner.version())
        };
        let mut rows = Vec::new();
        for i in 0..n {
            if predicate.call1((Self::row_handle(slf, i)?,))?.is_truthy()? {
                rows.push(i);
            }
        }
        {
            let st = this.read()?;
            if st.inner.version() != version || st.inner.len() != n {
                return Err(ShoalError::Changed {
                    detail: "the table changed while filter's predicate ran".into(),
                }
                .into());
            }
        }
        Self::taken(slf, &rows)
    }

    /// The rows from last to first, lazily (`t[i]` for each `i` counting down).
    fn __reversed__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let n = slf.get().read()?.inner.len() as isize;
        let rows = pyo3::types::PyRange::new_with_step(py, n - 1, -1, -1)?;
        let builtins = py.import("builtins")?;
        builtins
            .getattr("map")?
            .call1((slf.getattr("__getitem__")?, rows))
    }

    /// The number of rows equal to `value` (as `list.count`).
    fn count(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut count = 0;
        let mut i = 0;
        // The length is read each time: `==` on a record may run user code that changes it.
        while i < slf.get().read()?.inner.len() {
            if Self::row_handle(slf, i)?.eq(value)? {
                count += 1;
            }
            i += 1;
        }
        Ok(count)
    }

    /// The position of the first row equal to `value` (as `list.index`); a ValueError if none.
    #[pyo3(signature = (value, start = 0, stop = None))]
    fn index(
        slf: &Bound<'_, Self>,
        value: &Bound<'_, PyAny>,
        start: isize,
        stop: Option<isize>,
    ) -> PyResult<usize> {
        Self::first_equal(slf, value, start, stop)?.ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err(
                "Table.index(x): no row equal to x in the table",
            )
        })
    }

    /// Removes the first row equal to `value` (as `list.remove`); a ValueError if none.
    fn remove(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        match Self::first_equal(slf, value, 0, None)? {
            Some(row) => slf.as_any().del_item(row),
            None => Err(pyo3::exceptions::PyValueError::new_err(
                "Table.remove(x): no row equal to x in the table",
            )),
        }
    }
}

impl PyTable {
    /// The first row in `start..stop` (clamped as a list's slice) equal to `value`. The length
    /// is read each time: `==` on a record may run user code that changes it.
    fn first_equal(
        slf: &Bound<'_, Self>,
        value: &Bound<'_, PyAny>,
        start: isize,
        stop: Option<isize>,
    ) -> PyResult<Option<usize>> {
        let len = slf.get().read()?.inner.len() as isize;
        let clamp = |i: isize| (if i < 0 { i + len } else { i }).clamp(0, len) as usize;
        let (start, stop) = (clamp(start), clamp(stop.unwrap_or(len)));
        for i in start..stop {
            if i >= slf.get().read()?.inner.len() {
                break;
            }
            if Self::row_handle(slf, i)?.eq(value)? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }
}

/// `shoal.concat(tables)`: a new table holding the rows of `tables` (one record type, at least
/// one table) one after another, as copies.
#[pyfunction]
pub fn concat(py: Python<'_>, tables: &Bound<'_, PyAny>) -> PyResult<PyTable> {
    let tables: Vec<Bound<'_, PyTable>> = tables
        .try_iter()?
        .map(|t| Ok(t?.cast_into::<PyTable>()?))
        .collect::<PyResult<_>>()?;
    let Some(first) = tables.first() else {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "concat needs at least one table (its record type is the result's)",
        ));
    };
    let schema = &first.get().schema;
    if let Some(other) = tables.iter().find(|t| !t.get().schema.is(schema)) {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "concat: a table of {} among tables of {}; all must hold one record type",
            other.get().schema.get().record_name,
            schema.get().record_name
        )));
    }
    let guards = tables
        .iter()
        .map(|t| t.get().read())
        .collect::<PyResult<Vec<_>>>()?;
    let inner: Vec<&shoal_core::Table> = guards.iter().map(|g| &g.inner).collect();
    let joined =
        shoal_core::Table::concat(&inner).map_err(|e| ShoalError::from_core(e, schema.get()))?;
    Ok(PyTable::with_inner(schema.clone_ref(py), joined))
}
