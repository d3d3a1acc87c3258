//! `RecordBase`: the C-level base of every `shoal.Record` class.
//!
//! Written against the C API rather than as a `#[pyclass]` because table rows must be created
//! as instances of the *user's* Python subclass (`Point`), and PyO3 offers no public way to
//! allocate a subclass instance from Rust. A record is one of two things:
//! - a **row**: `table` points at the `Table` and `row`/`version` say which row, as of which
//!   structural version; reads and writes go to the table's columns;
//! - **standalone**: `values` holds its own checked scalars (`Point(1.0, 2.0)`).
//!
//! Attribute access has a fast path (`tp_getattro`/`tp_setattro`): the attribute name is compared
//! by pointer with the schema's interned field names, which is what Python passes for `p.x`.
//! Anything else falls back to the generic lookup, where `Field` descriptors give the same
//! answer for non-interned names, and methods resolve as usual.

use std::ffi::{c_int, c_void};
use std::ptr;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use shoal_core::Cell;

use crate::capi::{clear_refs, slot, trampoline};
use crate::convert::{cell_to_py, refused, to_cell};
use crate::errors::{Result, ShoalError};
use crate::schema::PySchema;
use crate::table::PyTable;

#[repr(C)]
struct RecordObject {
    ob_base: ffi::PyObject,
    /// Owned reference to the `Table` this row belongs to; null for a standalone record.
    table: *mut ffi::PyObject,
    /// Owned reference to the record class's `Schema`.
    schema: *mut ffi::PyObject,
    row: usize,
    version: u64,
    /// A leaked `Box<[Cell]>` of `nvalues` owned cells for a standalone record; null for a row.
    values: *mut Cell<'static>,
    nvalues: usize,
}

static RECORD_BASE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The `RecordBase` type object, created on first use.
pub fn record_base(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    RECORD_BASE
        .get_or_try_init(py, || create_type(py))
        .map(|t| t.bind(py))
}

fn create_type(py: Python<'_>) -> PyResult<Py<PyType>> {
    let slots = Box::leak(Box::new([
        slot(ffi::Py_tp_new, record_new as *mut c_void),
        slot(ffi::Py_tp_dealloc, record_dealloc as *mut c_void),
        slot(ffi::Py_tp_traverse, record_traverse as *mut c_void),
        slot(ffi::Py_tp_clear, record_clear as *mut c_void),
        slot(ffi::Py_tp_getattro, record_getattro as *mut c_void),
        slot(ffi::Py_tp_setattro, record_setattro as *mut c_void),
        slot(
            ffi::Py_tp_doc,
            c"Storage base of shoal.Record; subclass shoal.Record instead.".as_ptr() as *mut c_void,
        ),
        slot(0, ptr::null_mut()),
    ]));
    let spec = Box::leak(Box::new(ffi::PyType_Spec {
        name: c"shoal.RecordBase".as_ptr(),
        basicsize: std::mem::size_of::<RecordObject>() as c_int,
        itemsize: 0,
        flags: (ffi::Py_TPFLAGS_DEFAULT | ffi::Py_TPFLAGS_BASETYPE | ffi::Py_TPFLAGS_HAVE_GC) as _,
        slots: slots.as_mut_ptr(),
    }));
    // SAFETY: `spec` and its slots are 'static (leaked once) and well-formed: the slot list
    // ends with a zero entry and every function has the signature its slot requires.
    let ty = unsafe { ffi::PyType_FromSpec(spec) };
    // SAFETY: PyType_FromSpec returns a new reference or null with an exception set.
    let ty = unsafe { Bound::from_owned_ptr_or_err(py, ty)? };
    Ok(ty.cast_into::<PyType>()?.unbind())
}

/// The record struct behind `obj`, which must be an instance of `RecordBase`.
///
/// # Safety
/// `obj` must point to a live instance of `RecordBase` or a subclass.
unsafe fn record<'a>(obj: *mut ffi::PyObject) -> &'a mut RecordObject {
    // SAFETY: instances of RecordBase subclasses start with the RecordObject layout.
    unsafe { &mut *obj.cast::<RecordObject>() }
}

fn schema_of<'py>(py: Python<'py>, rec: &RecordObject) -> Option<Bound<'py, PySchema>> {
    if rec.schema.is_null() {
        return None;
    }
    // SAFETY: `schema` is an owned reference to a `Schema` object (set only by this module).
    Some(unsafe { Bound::from_borrowed_ptr(py, rec.schema).cast_into_unchecked::<PySchema>() })
}

unsafe extern "C" fn record_new(
    subtype: *mut ffi::PyTypeObject,
    args: *mut ffi::PyObject,
    kwargs: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    trampoline(ptr::null_mut(), |py| {
        // SAFETY: CPython passes a valid type, an args tuple and a kwargs dict or null.
        let (ty, args, kwargs) = unsafe {
            (
                Bound::from_borrowed_ptr(py, subtype.cast()).cast_into_unchecked::<PyType>(),
                Bound::from_borrowed_ptr(py, args).cast_into_unchecked::<PyTuple>(),
                Bound::from_borrowed_ptr_or_opt(py, kwargs)
                    .map(|k| k.cast_into_unchecked::<PyDict>()),
            )
        };
        let schema = PySchema::of_class(&ty)?;
        let mut values = Vec::with_capacity(schema.get().len());
        schema
            .get()
            .bind_args(&args, kwargs.as_ref(), None, &mut values)?;
        if !ty.is(schema.get().record_type.bind(py)) {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{} inherits its schema from {}; declare its fields by subclassing shoal.Record",
                ty.name()?,
                schema.get().record_name
            )));
        }
        Ok(new_standalone(&schema, values)?.into_ptr())
    })
}

/// # Safety
/// `ty` must be `RecordBase` or a subclass.
unsafe fn alloc_instance(
    py: Python<'_>,
    ty: *mut ffi::PyTypeObject,
) -> PyResult<*mut ffi::PyObject> {
    // SAFETY: every type object has tp_alloc (inherited from object at the latest); it returns a
    // new zeroed instance or null with an exception set.
    let obj = unsafe { ((*ty).tp_alloc.expect("tp_alloc"))(ty, 0) };
    if obj.is_null() {
        Err(PyErr::fetch(py))
    } else {
        Ok(obj)
    }
}

/// A new, zeroed instance of the schema's record class, holding a reference to the schema.
fn alloc_record<'py>(
    schema: &Bound<'py, PySchema>,
) -> PyResult<(Bound<'py, PyAny>, &'py mut RecordObject)> {
    let py = schema.py();
    let ty = schema
        .get()
        .record_type
        .as_ptr()
        .cast::<ffi::PyTypeObject>();
    // SAFETY: the schema's record type is a RecordBase subclass (checked in PySchema::new).
    let obj = unsafe { alloc_instance(py, ty)? };
    // SAFETY: `obj` is a fresh, zero-initialised instance of a RecordBase subclass, owned by the
    // returned `Bound` for as long as the caller uses the struct reference.
    let rec = unsafe { record(obj) };
    rec.schema = schema.clone().into_any().into_ptr();
    // SAFETY: `obj` is a new reference.
    Ok((unsafe { Bound::from_owned_ptr(py, obj) }, rec))
}

/// A new row handle for `row` of `table`, an instance of the schema's record class.
pub fn new_row<'py>(
    table: &Bound<'py, PyTable>,
    schema: &Bound<'py, PySchema>,
    row: usize,
    version: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let (obj, rec) = alloc_record(schema)?;
    rec.table = table.clone().into_any().into_ptr();
    rec.row = row;
    rec.version = version;
    Ok(obj)
}

/// Points a row handle that nobody else holds at another row, so loops need not allocate.
/// Returns false (changing nothing) if anyone else holds a reference.
/// `obj` must be borrowed from the cache without a new reference (so a count of 1 means the
/// cache is the only holder).
pub fn rebind_if_unshared(obj: &Bound<'_, PyAny>, row: usize, version: u64) -> bool {
    // SAFETY: reading the reference count of a live object.
    if cfg!(Py_GIL_DISABLED) || unsafe { ffi::Py_REFCNT(obj.as_ptr()) } != 1 {
        return false;
    }
    // SAFETY: callers only pass row handles they created with `new_row`.
    let rec = unsafe { record(obj.as_ptr()) };
    rec.row = row;
    rec.version = version;
    true
}

pub fn is_record(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    obj.is_instance(record_base(obj.py())?)
}

/// The schema and values of a record, or `None` if `obj` is not a record. Rows of `current` are
/// read from `current_table` (which the caller has already borrowed mutably).
pub fn record_values(
    obj: &Bound<'_, PyAny>,
    current: Option<(*mut ffi::PyObject, &shoal_core::Table)>,
) -> Result<Option<(Py<PySchema>, Vec<Cell<'static>>)>> {
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
        row_values(table, rec, schema.get())?
    } else {
        // SAFETY: `table` is an owned reference to a `Table`.
        let t = unsafe { Bound::from_borrowed_ptr(py, rec.table).cast_into_unchecked::<PyTable>() };
        let st = t.get().read()?;
        row_values(&st.inner, rec, schema.get())?
    };
    Ok(Some((schema.unbind(), values)))
}

fn row_values(
    table: &shoal_core::Table,
    rec: &RecordObject,
    schema: &PySchema,
) -> Result<Vec<Cell<'static>>> {
    check_version(table, rec, schema)?;
    table.row(rec.row).map_err(|_| stale(rec, schema))
}

fn values_slice(rec: &RecordObject) -> &[Cell<'static>] {
    if rec.values.is_null() {
        return &[];
    }
    // SAFETY: `values` is a leaked Box<[Cell]> of `nvalues` elements owned by `rec`.
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
        .map_err(|f| read_error(py, rec, schema.get(), f))?;
    // SAFETY: `read_field_raw` returns a new reference.
    Ok(unsafe { Bound::from_owned_ptr(py, ptr) })
}

/// Why a field read failed; kept to one byte so the hot path returns in registers.
#[derive(Clone, Copy, Debug)]
enum ReadFail {
    Stale,
    Busy,
    Uninitialised,
    /// Converting the value raised (a Python exception is set).
    Raised,
}

#[cold]
fn read_error(py: Python<'_>, rec: &RecordObject, schema: &PySchema, fail: ReadFail) -> ShoalError {
    match fail {
        ReadFail::Stale => stale(rec, schema),
        ReadFail::Busy => ShoalError::Python(crate::table::busy()),
        ReadFail::Uninitialised => uninitialised(),
        ReadFail::Raised => ShoalError::Python(PyErr::fetch(py)),
    }
}

/// A new reference for a cell, or `Raised` with the Python exception set.
#[inline(always)]
fn cell_ptr(
    py: Python<'_>,
    cell: Cell<'_>,
    spec: &crate::schema::FieldSpec,
) -> std::result::Result<*mut ffi::PyObject, ReadFail> {
    match cell_to_py(py, cell, spec) {
        Ok(v) => Ok(v.into_ptr()),
        Err(e) => {
            e.restore(py);
            Err(ReadFail::Raised)
        }
    }
}

/// Field `index` of `rec` as a new reference: the hot path of `row.x`.
#[inline]
fn read_field_raw(
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
    // SAFETY: `table` is an owned reference to a `Table`, alive as long as `rec`.
    let t = unsafe { pyo3::Borrowed::from_ptr(py, rec.table).cast_unchecked::<PyTable>() };
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
                        Ok(v) => Ok(v.into_ptr()),
                        Err(e) => {
                            e.restore(py);
                            Err(ReadFail::Raised)
                        }
                    };
                }
            }
            match column.get(rec.row) {
                Some(cell) => cell_ptr(py, cell, spec),
                None => Err(ReadFail::Stale),
            }
        })
        .ok_or(ReadFail::Busy)?
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
    if s.frozen {
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
        // SAFETY: `index < nvalues`, and `values` is owned by `rec`.
        unsafe { *rec.values.add(index) = cell.into_owned() };
        return Ok(());
    }
    // SAFETY: `table` is an owned reference to a `Table`.
    let t = unsafe { Bound::from_borrowed_ptr(py, rec.table).cast_into_unchecked::<PyTable>() };
    let mut st = t.get().write()?;
    check_version(&st.inner, rec, s)?;
    st.inner
        .set_cell(rec.row, index, cell)
        .map_err(|e| match e {
            shoal_core::Error::Cell { problem, .. } => refused(
                problem,
                spec,
                s.target(index, row),
                crate::convert::describe(value),
            ),
            _ => stale(rec, s),
        })
}

fn uninitialised() -> ShoalError {
    ShoalError::Changed {
        detail: "record is not initialised (was it created without calling its class?)".into(),
    }
}

/// The field index of `name` if it is one of the schema's interned field names (pointer match).
fn fast_field_index(schema: &PySchema, name: *mut ffi::PyObject) -> Option<usize> {
    schema.names.iter().position(|n| n.as_ptr() == name)
}

unsafe extern "C" fn record_getattro(
    obj: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    trampoline(ptr::null_mut(), |py| {
        // SAFETY: CPython calls tp_getattro with a live instance of our type.
        let rec = unsafe { record(obj) };
        if !rec.schema.is_null() {
            // SAFETY: `schema` is an owned reference to a `Schema`, alive as long as `rec`.
            let schema =
                unsafe { pyo3::Borrowed::from_ptr(py, rec.schema).cast_unchecked::<PySchema>() };
            if let Some(i) = fast_field_index(schema.get(), name) {
                return read_field_raw(py, rec, schema.get(), i)
                    .map_err(|f| read_error(py, rec, schema.get(), f).into());
            }
        }
        // SAFETY: plain delegation to the generic lookup with the same valid arguments.
        let r = unsafe { ffi::PyObject_GenericGetAttr(obj, name) };
        if r.is_null() {
            Err(PyErr::fetch(py))
        } else {
            Ok(r)
        }
    })
}

unsafe extern "C" fn record_setattro(
    obj: *mut ffi::PyObject,
    name: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    trampoline(-1, |py| {
        // SAFETY: CPython calls tp_setattro with a live instance of our type.
        let rec = unsafe { record(obj) };
        let field = schema_of(py, rec).and_then(|s| fast_field_index(s.get(), name));
        if !value.is_null() {
            if let Some(i) = field {
                // SAFETY: `obj` is live for the call; `value` is a valid borrowed object.
                let (o, v) = unsafe {
                    (
                        Bound::from_borrowed_ptr(py, obj),
                        Bound::from_borrowed_ptr(py, value),
                    )
                };
                // SAFETY: `o` is a RecordBase instance.
                unsafe { set_field(&o, i, &v)? };
                return Ok(0);
            }
        }
        // SAFETY: plain delegation to the generic setter with the same valid arguments.
        if unsafe { ffi::PyObject_GenericSetAttr(obj, name, value) } < 0 {
            Err(PyErr::fetch(py))
        } else {
            Ok(0)
        }
    })
}

unsafe extern "C" fn record_traverse(
    obj: *mut ffi::PyObject,
    visit: ffi::visitproc,
    arg: *mut c_void,
) -> c_int {
    // SAFETY: CPython calls tp_traverse with a live instance of our type. Our type itself is not
    // visited here: instances are always of a Python subclass, whose subtype_traverse does it.
    let rec = unsafe { record(obj) };
    for p in [rec.table, rec.schema] {
        if !p.is_null() {
            // SAFETY: `p` is a live object we own a reference to.
            let r = unsafe { visit(p, arg) };
            if r != 0 {
                return r;
            }
        }
    }
    0
}

unsafe extern "C" fn record_clear(obj: *mut ffi::PyObject) -> c_int {
    // SAFETY: CPython calls tp_clear with a live instance of our type.
    let rec = unsafe { record(obj) };
    clear_refs([&mut rec.table, &mut rec.schema]);
    0
}

unsafe extern "C" fn record_dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: CPython calls tp_dealloc once, with a live instance whose refcount reached zero.
    unsafe {
        let tp = ffi::Py_TYPE(obj);
        ffi::PyObject_GC_UnTrack(obj.cast());
        record_clear(obj);
        let rec = record(obj);
        if !rec.values.is_null() {
            drop(Box::from_raw(ptr::slice_from_raw_parts_mut(
                rec.values,
                rec.nvalues,
            )));
            rec.values = ptr::null_mut();
        }
        ((*tp).tp_free.expect("tp_free"))(obj.cast());
        // Instances of heap types own a reference to their type; subtype_dealloc leaves
        // dropping it to us because RecordBase is itself a heap type.
        ffi::Py_DECREF(tp.cast());
    }
}

/// A new standalone record of the schema's class holding `values` (already checked).
pub fn new_standalone<'py>(
    schema: &Bound<'py, PySchema>,
    values: Vec<Cell<'static>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (obj, rec) = alloc_record(schema)?;
    let values = Box::into_raw(values.into_boxed_slice());
    rec.nvalues = values.len();
    rec.values = values.cast();
    Ok(obj)
}
