//! `Column`: an immutable snapshot of one field's values, exported zero-copy through the buffer
//! protocol (`np.asarray(t["x"])`, `memoryview(t["x"])`).
//!
//! The snapshot shares the table's memory until the table writes below the snapshot's length,
//! at which point the table copies (see `shoal_core::buffer`). So an exported view is always
//! valid — after appends, writes, deletes, and after the table itself is gone — and is read-only.

use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::buffer::{ElementType, PyUntypedBuffer};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PySlice, PyString};
use pyo3::PyVisit;
use shoal_core::{Column, ColumnSnapshot, DType, Refused};

use crate::convert::FieldSpec;
use crate::convert::{cell_to_py, to_cell};
use crate::errors::{Result, ShoalError};
use crate::schema::PySchema;

#[pyclass(frozen, module = "shoal", name = "Column")]
pub struct PyColumn {
    name: Py<PyString>,
    snap: ColumnSnapshot,
    /// The record's schema and this field's index in it (for converting values).
    schema: Py<PySchema>,
    field: usize,
    /// Shape and strides handed out in buffer views; they live as long as the view's owner.
    shape: [ffi::Py_ssize_t; 1],
    strides: [ffi::Py_ssize_t; 1],
}

impl PyColumn {
    pub fn new(
        py: Python<'_>,
        schema: &Py<PySchema>,
        field: usize,
        snap: ColumnSnapshot,
    ) -> PyColumn {
        let shape = [snap.len() as ffi::Py_ssize_t];
        let strides = [snap.dtype().itemsize() as ffi::Py_ssize_t];
        PyColumn {
            name: schema.get().names[field].clone_ref(py),
            snap,
            schema: schema.clone_ref(py),
            field,
            shape,
            strides,
        }
    }

    pub fn snapshot(&self) -> &ColumnSnapshot {
        &self.snap
    }

    fn spec(&self) -> &FieldSpec {
        &self.schema.get().specs[self.field]
    }

    fn value<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        cell_to_py(py, self.snap.get(i).expect("in range"), self.spec())
    }

    fn values<'py>(&self, py: Python<'py>, limit: usize) -> PyResult<Vec<Bound<'py, PyAny>>> {
        (0..self.snap.len().min(limit))
            .map(|i| self.value(py, i))
            .collect()
    }

    /// The fixed-width data, or why a buffer cannot be exported.
    fn exportable(&self) -> std::result::Result<&shoal_core::FixedSnapshot, String> {
        let Some(f) = self.snap.fixed() else {
            return Err(format!(
                "a {} column has no fixed-width buffer; use to_list(), to_numpy() (an object \
                 array) or Arrow (pyarrow.table(t))",
                self.snap.dtype()
            ));
        };
        match self.snap.null_count() {
            0 => Ok(f),
            n => Err(format!(
                "column {} has {n} nulls, which a plain buffer cannot show; use to_numpy() \
                 (NaN for floats) or Arrow (pyarrow.table(t))",
                self.name
            )),
        }
    }
}

#[pymethods]
impl PyColumn {
    /// The schema is the one reference that can close a cycle (record class → a `Column` kept
    /// as a class attribute → schema → class); the collector must see it.
    fn __traverse__(&self, visit: PyVisit<'_>) -> std::result::Result<(), pyo3::PyTraverseError> {
        visit.call(&self.schema)
    }

    #[getter]
    fn name(&self, py: Python<'_>) -> Py<PyString> {
        self.name.clone_ref(py)
    }

    /// The field's type (as `Field.type` names it).
    #[getter]
    fn r#type(&self) -> String {
        self.spec()
            .declared(&self.schema.get().core.fields()[self.field])
    }

    /// Bytes of data in this snapshot (every buffer: values, offsets, text, dictionary,
    /// validity).
    #[getter]
    fn nbytes(&self) -> usize {
        let parts: usize = self.snap.parts().iter().map(|p| p.len()).sum();
        parts + self.snap.validity().map_or(0, <[u8]>::len)
    }

    /// The number of nulls.
    #[getter]
    fn null_count(&self) -> usize {
        self.snap.null_count()
    }

    fn __len__(&self) -> usize {
        self.snap.len()
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(slice) = key.cast::<PySlice>() {
            let ind = slice.indices(self.snap.len() as isize)?;
            let items = (0..ind.slicelength)
                .map(|k| self.value(py, (ind.start + k as isize * ind.step) as usize))
                .collect::<PyResult<Vec<_>>>()?;
            return Ok(PyList::new(py, items)?.into_any());
        }
        let index: isize = key.extract()?;
        let len = self.snap.len() as isize;
        let i = if index < 0 { index + len } else { index };
        match (i >= 0 && i < len).then(|| self.value(py, i as usize)) {
            Some(v) => v,
            None => Err(ShoalError::ColumnIndex {
                index,
                len: len as usize,
            }
            .into()),
        }
    }

    /// The values one at a time, each made when it is reached (no list of them all first).
    fn __iter__(slf: &Bound<'_, Self>) -> PyColumnIter {
        PyColumnIter {
            column: slf.clone().unbind(),
            next: AtomicUsize::new(0),
        }
    }

    fn to_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.values(py, usize::MAX)?)
    }

    /// A NumPy array: for fixed-width columns without nulls a read-only view of this snapshot's
    /// memory (no copy; datetimes as `datetime64[us]`, timedeltas as `timedelta64[us]`); float
    /// columns with nulls as a copy with NaN for them; other columns as an object array.
    fn to_numpy<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let np = py.import("numpy")?;
        let this = slf.get();
        let dtype = this.snap.dtype();
        if this.exportable().is_ok() {
            let raw = np.call_method1("asarray", (slf,))?;
            return match dtype {
                DType::Datetime => raw.call_method1("view", ("datetime64[us]",)),
                DType::Timedelta => raw.call_method1("view", ("timedelta64[us]",)),
                DType::Date => raw.call_method1("astype", ("datetime64[D]",)),
                _ => Ok(raw),
            };
        }
        let values = this.to_list(py)?;
        if dtype.is_float() {
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("dtype", "float64")?;
            let nan = f64::NAN.into_pyobject(py)?;
            let filled: Vec<Bound<'_, PyAny>> = values
                .iter()
                .map(|v| {
                    if v.is_none() {
                        nan.clone().into_any()
                    } else {
                        v
                    }
                })
                .collect();
            return np.getattr("array")?.call((filled,), Some(&kwargs));
        }
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("dtype", "object")?;
        np.getattr("array")?.call((values,), Some(&kwargs))
    }

    /// The sum of a numeric column, nulls skipped: a float for float columns (pairwise, like
    /// NumPy), an exact int otherwise.
    fn sum<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let dtype = self.snap.dtype();
        let fixed = self.snap.fixed().filter(|_| dtype.storage() == dtype);
        let Some(f) = fixed else {
            return Err(ShoalError::NotNumeric {
                column: self.name.to_string(),
                operation: "sum()",
                dtype,
            }
            .into());
        };
        // Null slots hold zero, so they add nothing.
        if let Some(x) = f.sum_f64() {
            return Ok(x.into_pyobject(py)?.into_any());
        }
        let total = f.sum_int().expect("integer or bool column");
        Ok(total.into_pyobject(py)?.into_any())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let n = self.snap.len();
        let shown: Vec<String> = self
            .values(py, 8)?
            .iter()
            .map(|v| v.repr().map(|r| r.to_string()))
            .collect::<PyResult<_>>()?;
        let more = if n > 8 { ", ..." } else { "" };
        Ok(format!(
            "Column({}, {}, {} values: [{}{}])",
            self.name.bind(py).repr()?,
            self.r#type(),
            n,
            shown.join(", "),
            more
        ))
    }

    /// # Safety
    /// `view` must be a valid `Py_buffer` to fill, as CPython passes it.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(ShoalError::NoBuffer {
                detail: "a Column is a read-only snapshot; write values with t[\"x\"] = values \
                         or t[i].x = v"
                    .into(),
            }
            .into());
        }
        let this = slf.get();
        let data = this
            .exportable()
            .map_err(|detail| ShoalError::NoBuffer { detail })?;
        let spec = crate::capi::ViewSpec {
            data: data.as_bytes(),
            itemsize: this.snap.dtype().itemsize(),
            format: format_cstr(this.snap.dtype()),
            shape: &this.shape,
            strides: &this.strides,
        };
        // SAFETY: `view` is valid per the caller; the data lives in the snapshot and shape and
        // strides in `this`, all kept alive by the view's reference to `slf`.
        unsafe { crate::capi::fill_readonly_view(view, flags, slf.clone().into_any(), spec) };
        Ok(())
    }

    /// # Safety
    /// Called by CPython with a view this object filled.
    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        // Nothing to free: every pointer in the view is owned by `self` or static.
    }
}

fn format_cstr(dtype: DType) -> &'static std::ffi::CStr {
    match dtype.storage() {
        DType::F64 => c"d",
        DType::F32 => c"f",
        DType::I8 => c"b",
        DType::I16 => c"h",
        DType::I32 => c"i",
        DType::I64 => c"q",
        DType::U8 => c"B",
        DType::U16 => c"H",
        DType::U32 => c"I",
        DType::U64 => c"Q",
        DType::Bool => c"?",
        _ => c"B",
    }
}

/// Whether a buffer of `element` (in `format`) holds exactly `dtype`'s values in native order.
fn buffer_matches(element: ElementType, format: &std::ffi::CStr, dtype: DType) -> bool {
    let foreign_order = match format.to_bytes().first() {
        Some(b'>' | b'!') => cfg!(target_endian = "little"),
        Some(b'<') => cfg!(target_endian = "big"),
        _ => false,
    };
    let expected = match dtype {
        DType::F64 | DType::F32 => ElementType::Float {
            bytes: dtype.itemsize(),
        },
        DType::Bool => ElementType::Bool,
        DType::U8 | DType::U16 | DType::U32 | DType::U64 => ElementType::UnsignedInteger {
            bytes: dtype.itemsize(),
        },
        _ => ElementType::SignedInteger {
            bytes: dtype.itemsize(),
        },
    };
    !foreign_order && element == expected
}

/// A column for field `field` from `obj`: one copy of a matching 1-D contiguous buffer (plain
/// numeric fields), or each element checked like a single value otherwise.
pub fn column_from_object(
    schema: &PySchema,
    field: usize,
    obj: &Bound<'_, PyAny>,
) -> Result<Column> {
    let core_field = &schema.core.fields()[field];
    let dtype = core_field.dtype;
    let mut c = Column::for_field(core_field);
    if let Ok(buf) = PyUntypedBuffer::get(obj) {
        if buf.dimensions() > 1 {
            return Err(ShoalError::BadColumn {
                detail: format!(
                    "column for field '{}' of {}: an array of shape ({}), where one value per \
                     row is needed; give each field a 1-D array (a 2-D array's column j is \
                     arr[:, j])",
                    core_field.name,
                    schema.record_name,
                    buf.shape()
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    let plain_numeric = dtype.is_fixed() && dtype.storage() == dtype;
    if plain_numeric && !obj.is_instance_of::<PyString>() {
        if let Ok(buf) = PyUntypedBuffer::get(obj) {
            let element = ElementType::from_format(buf.format());
            if buf.dimensions() <= 1
                && buf.is_c_contiguous()
                && buffer_matches(element, buf.format(), dtype)
            {
                // SAFETY: the buffer is C-contiguous, held (so valid) until `buf` drops at the
                // end of this block, and `len_bytes` is its exact size.
                let bytes = unsafe {
                    std::slice::from_raw_parts(buf.buf_ptr() as *const u8, buf.len_bytes())
                };
                return match c.extend_from_bytes(bytes) {
                    Ok(()) => Ok(c),
                    Err(Refused::Batch(_)) => Err(ShoalError::OutOfMemory {
                        detail: format!(
                            "column for field '{}' of {}: {} bytes do not fit in memory",
                            core_field.name,
                            schema.record_name,
                            bytes.len()
                        ),
                    }),
                    Err(e) => Err(ShoalError::BadColumn {
                        detail: format!(
                            "column for field '{}' of {}: {e}",
                            core_field.name, schema.record_name
                        ),
                    }),
                };
            }
        }
    }
    if let Ok(n) = obj.len() {
        // An honest length is reserved at once, as `list()` does, so a column that cannot fit
        // is a MemoryError now rather than an abort later.
        c.try_reserve(n).map_err(|_| ShoalError::OutOfMemory {
            detail: format!(
                "column for field '{}' of {}: {n} values do not fit in memory",
                core_field.name, schema.record_name
            ),
        })?;
    }
    let spec = &schema.specs[field];
    for (row, item) in obj.try_iter()?.enumerate() {
        let item = item?;
        let at = || schema.target(field, Some(row));
        let cell = to_cell(item.as_borrowed(), spec, at)?;
        c.push(cell).map_err(|p| {
            spec.refused(
                p,
                schema.target(field, Some(row)),
                crate::convert::value_repr(&item),
            )
        })?;
    }
    Ok(c)
}

impl crate::measure::HeldBuffers for PyColumn {
    /// The snapshot's allocations.
    fn held_buffers(&self) -> Vec<(usize, u64)> {
        self.snapshot()
            .allocations()
            .into_iter()
            .map(|(id, bytes)| (id, bytes as u64))
            .collect()
    }
}

/// Iterator over a column snapshot's values (the snapshot never changes, so neither does its
/// length).
#[pyclass(module = "shoal", name = "ColumnIterator", frozen)]
pub struct PyColumnIter {
    column: Py<PyColumn>,
    next: AtomicUsize,
}

#[pymethods]
impl PyColumnIter {
    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let column = self.column.get();
        let i = self.next.load(Ordering::Relaxed);
        if i >= column.snap.len() {
            return Ok(None);
        }
        self.next.store(i + 1, Ordering::Relaxed);
        column.value(py, i).map(Some)
    }

    fn __length_hint__(&self) -> usize {
        let len = self.column.get().snap.len();
        len.saturating_sub(self.next.load(Ordering::Relaxed))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> std::result::Result<(), pyo3::PyTraverseError> {
        visit.call(&self.column)
    }
}
