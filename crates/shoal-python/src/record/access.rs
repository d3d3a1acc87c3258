//! Reading and writing fields: of a standalone record's own cells, or through a row handle to
//! its table (checking the table's structural version first).

use pyo3::ffi;
use pyo3::prelude::*;
use shoal_core::Datum;

use crate::convert::{cell_to_py, new_str, to_cell, FastRead};
use crate::errors::{Result, ShoalError};
use crate::schema::PySchema;
use crate::table::TableState;

use super::init::is_initialising;
use super::{is_record, record, schema_of, table_ref, RecordObject};

/// The schema and values of a record, or `None` if `obj` is not a record. Rows of `current` are
/// read from `current_table` (which the caller has already borrowed mutably).
pub fn record_cells(
    obj: &Bound<'_, PyAny>,
    current: Option<(*mut ffi::PyObject, &shoal_core::Table)>,
) -> Result<Option<(Py<PySchema>, Vec<Datum<'static>>)>> {
    let py = obj.py();
    if !is_record(obj)? {
        return Ok(None);
    }
    // SAFETY: `obj` is a RecordBase instance (checked above).
    let rec = unsafe { record(obj.as_ptr()) };
    let Some(schema) = schema_of(py, rec) else {
        return Ok(None);
    };
    let values = if rec.table.is_null() {
        values_slice(rec).to_vec()
    } else if let Some((ptr, table)) = current.filter(|(p, _)| *p == rec.table) {
        let _ = ptr;
        handle_cells(table, rec, schema.get())?
    } else {
        let t = table_ref(py, rec);
        let st = t.get().read()?;
        handle_cells(&st.inner, rec, schema.get())?
    };
    Ok(Some((schema.unbind(), values)))
}

fn handle_cells(
    table: &shoal_core::Table,
    rec: &RecordObject,
    schema: &PySchema,
) -> Result<Vec<Datum<'static>>> {
    check_version(table, rec, schema)?;
    table.row(rec.row).map_err(|_| stale(rec, schema))
}

fn values_slice(rec: &RecordObject) -> &[Datum<'static>] {
    if rec.values.is_null() {
        return &[];
    }
    // SAFETY: `values` is a leaked Box<[Datum]> of `nvalues` elements owned by `rec`.
    unsafe { std::slice::from_raw_parts(rec.values, rec.nvalues) }
}

fn stale(rec: &RecordObject, schema: &PySchema) -> ShoalError {
    ShoalError::StaleRow {
        record: schema.record_name.clone(),
        row: rec.row,
    }
}

fn check_version(table: &shoal_core::Table, rec: &RecordObject, schema: &PySchema) -> Result<()> {
    if table.version() == rec.version {
        Ok(())
    } else {
        Err(stale(rec, schema))
    }
}

/// Reads field `index` of the record `obj`.
///
/// # Safety
/// `obj` must be a live RecordBase instance.
pub unsafe fn get_field<'py>(obj: &Bound<'py, PyAny>, index: usize) -> Result<Bound<'py, PyAny>> {
    let py = obj.py();
    // SAFETY: guaranteed by the caller.
    let rec = unsafe { record(obj.as_ptr()) };
    read_field(py, rec, index)
}

fn read_field<'py>(py: Python<'py>, rec: &RecordObject, index: usize) -> Result<Bound<'py, PyAny>> {
    let schema = schema_of(py, rec).ok_or_else(uninitialised)?;
    let ptr = read_field_raw(py, rec, schema.get(), index)
        .or_else(|f| read_after(py, rec, schema.get(), index, f))?;
    // SAFETY: `read_field_raw` returns a new reference.
    Ok(unsafe { Bound::from_owned_ptr(py, ptr) })
}

/// Why a field read failed; kept to one byte so the hot path returns in registers.
#[derive(Clone, Copy, Debug)]
pub(super) enum ReadFail {
    Stale,
    Busy,
    Uninitialised,
    /// Converting the value raised (a Python exception is set).
    Raised,
}

/// After a failed fast read: waits and reads again while another thread is changing the table
/// (the failure is `Busy` only because that thread holds the borrow), else the error.
#[cold]
pub(super) fn read_after(
    py: Python<'_>,
    rec: &RecordObject,
    schema: &PySchema,
    index: usize,
    mut fail: ReadFail,
) -> std::result::Result<*mut ffi::PyObject, ShoalError> {
    while let ReadFail::Busy = fail {
        table_ref(py, rec).get().wait_for_other_thread()?;
        match read_field_raw(py, rec, schema, index) {
            Ok(p) => return Ok(p),
            Err(f) => fail = f,
        }
    }
    Err(read_error(py, rec, schema, fail))
}

#[cold]
pub(super) fn read_error(
    py: Python<'_>,
    rec: &RecordObject,
    schema: &PySchema,
    fail: ReadFail,
) -> ShoalError {
    match fail {
        ReadFail::Stale => stale(rec, schema),
        ReadFail::Busy => ShoalError::Python(ShoalError::Busy.into()),
        ReadFail::Uninitialised => uninitialised(),
        ReadFail::Raised => ShoalError::Python(PyErr::fetch(py)),
    }
}

/// A new reference for a cell, or `Raised` with the Python exception set.
#[inline(always)]
pub(super) fn cell_ptr(
    py: Python<'_>,
    cell: Datum<'_>,
    spec: &crate::convert::FieldSpec,
) -> std::result::Result<*mut ffi::PyObject, ReadFail> {
    match cell_to_py(py, cell, spec) {
        Ok(v) => Ok(v.into_ptr()),
        Err(e) => {
            e.restore(py);
            Err(ReadFail::Raised)
        }
    }
}

/// Field `index` of a row handle by the field's [`FastRead`]: `Some` (a new reference, or null
/// with an exception set) when the row is current and holds a value of a fast kind, `None` for
/// the general path ([`read_field_raw`]), which reads everything else and explains errors.
#[inline(always)]
pub(super) fn read_row_fast(
    py: Python<'_>,
    rec: &RecordObject,
    schema: &PySchema,
    index: usize,
) -> Option<*mut ffi::PyObject> {
    let fast = schema.specs.get(index)?.fast;
    if fast == FastRead::General || rec.table.is_null() {
        return None;
    }
    let t = table_ref(py, rec);
    t.get()
        .peek(|st| {
            if st.inner.version() != rec.version {
                return None;
            }
            fast_value(st, fast, index, rec.row)
        })
        .flatten()
}

/// Row `row`'s value of field `field` by the field's [`FastRead`]: a new reference (or null
/// with an exception set), or `None` for the general path (a null, a `General` field).
#[inline(always)]
pub fn fast_value(
    st: &TableState,
    fast: FastRead,
    field: usize,
    row: usize,
) -> Option<*mut ffi::PyObject> {
    let column = st.inner.columns().get(field)?;
    // Each maker returns a new reference or null with an exception set, and runs no Python
    // code (as `peek` requires): floats, ints and strs are not GC-tracked.
    Some(match fast {
        // SAFETY: boxing a double.
        FastRead::F64 => unsafe { ffi::PyFloat_FromDouble(column.f64_at(row)?) },
        // SAFETY: boxing an i64.
        FastRead::I64 => unsafe { ffi::PyLong_FromLongLong(column.i64_at(row)?) },
        // SAFETY: a new reference to `True` or `False`.
        FastRead::Bool => unsafe { ffi::PyBool_FromLong(column.bool_at(row)?.into()) },
        FastRead::Str => new_str(column.bytes_at(row)?),
        FastRead::Category => st.cached_category_str(field, column.code_at(row)?)?,
        FastRead::General => return None,
    })
}

/// Field `index` of `rec` as a new reference: the general path of `row.x`.
#[inline]
pub(super) fn read_field_raw(
    py: Python<'_>,
    rec: &RecordObject,
    schema: &PySchema,
    index: usize,
) -> std::result::Result<*mut ffi::PyObject, ReadFail> {
    let spec = &schema.specs[index];
    if rec.table.is_null() {
        let cell = values_slice(rec)
            .get(index)
            .ok_or(ReadFail::Uninitialised)?;
        return cell_ptr(py, cell.reborrow(), spec);
    }
    let t = table_ref(py, rec);
    t.get()
        .peek(|st| {
            if st.inner.version() != rec.version {
                return Err(ReadFail::Stale);
            }
            let column = st.inner.column(index);
            if spec.dtype == shoal_core::DType::Category && spec.enum_type.is_none() {
                if let Some(Some(code)) = column.code(rec.row) {
                    let text = || cell_to_py(py, column.get(rec.row).expect("in range"), spec);
                    return match st.category_str(py, index, code, text) {
                        Ok(v) => Ok(Ok(v.into_ptr())),
                        Err(e) => {
                            e.restore(py);
                            Err(ReadFail::Raised)
                        }
                    };
                }
            }
            match column.get(rec.row) {
                // Converting a tz-aware datetime calls the zone's `fromutc`, Python code that
                // could change this table: the value is copied out and converted after `peek`.
                Some(cell) if spec.tz.is_some() => Ok(Err(cell.into_owned())),
                Some(cell) => cell_ptr(py, cell, spec).map(Ok),
                None => Err(ReadFail::Stale),
            }
        })
        .ok_or(ReadFail::Busy)??
        .or_else(|copied| cell_ptr(py, copied, spec))
}

/// Writes field `index` of the record `obj` (through to the table for a row).
///
/// # Safety
/// `obj` must be a live RecordBase instance.
pub unsafe fn set_field(
    obj: &Bound<'_, PyAny>,
    index: usize,
    value: &Bound<'_, PyAny>,
) -> Result<()> {
    let py = obj.py();
    // SAFETY: guaranteed by the caller.
    let rec = unsafe { record(obj.as_ptr()) };
    let schema = schema_of(py, rec).ok_or_else(uninitialised)?;
    let s = schema.get();
    if s.frozen && !is_initialising(obj.as_ptr()) {
        return Err(ShoalError::Frozen {
            record: s.record_name.clone(),
            field: s.core.fields()[index].name.clone(),
        });
    }
    let row = (!rec.table.is_null()).then_some(rec.row);
    let spec = &s.specs[index];
    let cell = to_cell(value.as_borrowed(), spec, || s.target(index, row))?;
    if rec.table.is_null() {
        if index >= rec.nvalues {
            return Err(uninitialised());
        }
        // SAFETY: `values` is the leaked `Box<[Datum]>` of `nvalues` cells `rec` owns.
        let values = unsafe { std::slice::from_raw_parts_mut(rec.values, rec.nvalues) };
        values[index] = cell.into_owned();
        return Ok(());
    }
    let t = table_ref(py, rec);
    let mut st = t.get().change()?;
    check_version(&st.inner, rec, s)?;
    st.inner
        .set_cell(rec.row, index, cell)
        .map_err(|e| match e {
            shoal_core::Error::Datum { problem, .. } => spec.refused(
                problem,
                s.target(index, row),
                crate::convert::value_repr(value),
            ),
            _ => stale(rec, s),
        })
}

pub(super) fn uninitialised() -> ShoalError {
    ShoalError::Changed {
        detail: "record is not initialised (was it created without calling its class?)".into(),
    }
}
