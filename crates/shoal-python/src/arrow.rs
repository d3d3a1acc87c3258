//! The Arrow PyCapsule interface for `Table`: `__arrow_c_schema__`, `__arrow_c_array__` and
//! `__arrow_c_stream__`, so `pyarrow.table(t)`, `polars.DataFrame(t)` and DuckDB read a table
//! without copying its numeric columns (see `shoal_core::arrow`).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

use pyo3::prelude::*;

use crate::errors::ShoalError;
use pyo3::types::PyCapsule;
use shoal_core::arrow::{
    check_struct_schema, export_columns, export_schema, import_struct, ArrowArray, ArrowSchema,
};
use shoal_core::{Column, ColumnSnapshot, DType, Schema};

/// An exported struct for a capsule: raw pointers inside, owned by the struct's release callback.
struct Owned<T>(T);

// SAFETY: the exported structs own their data through `private_data` (Arc'd snapshots, boxed
// strings); nothing in them is tied to the thread that made them.
unsafe impl<T> Send for Owned<T> {}

/// `ArrowArrayStream` of the C stream interface.
#[repr(C)]
struct ArrowArrayStream {
    get_schema: Option<unsafe extern "C" fn(*mut ArrowArrayStream, *mut ArrowSchema) -> c_int>,
    get_next: Option<unsafe extern "C" fn(*mut ArrowArrayStream, *mut ArrowArray) -> c_int>,
    get_last_error: Option<unsafe extern "C" fn(*mut ArrowArrayStream) -> *const c_char>,
    release: Option<unsafe extern "C" fn(*mut ArrowArrayStream)>,
    private_data: *mut c_void,
}

/// A stream of one batch: the table's columns at the moment of export.
struct StreamPrivate {
    schema: Arc<Schema>,
    codes: Vec<Option<DType>>,
    batch: Option<(Vec<ColumnSnapshot>, usize)>,
}

/// The code type of each category column (the Arrow schema's dictionary index types).
pub fn code_types(columns: &[ColumnSnapshot]) -> Vec<Option<DType>> {
    columns.iter().map(ColumnSnapshot::code_type).collect()
}

/// The private state of a stream we made.
///
/// # Safety
/// `stream` must be a live stream made by `export_stream`, not yet released.
unsafe fn stream_private<'a>(stream: *mut ArrowArrayStream) -> &'a mut StreamPrivate {
    // SAFETY: guaranteed by the caller.
    let private = unsafe { (*stream).private_data };
    // SAFETY: a live stream's `private_data` is the `StreamPrivate` Box we leaked.
    unsafe { &mut *private.cast::<StreamPrivate>() }
}

/// Contract (Arrow C stream interface): called by the consumer with a live stream we made and
/// an `ArrowSchema` to fill; returns 0.
unsafe extern "C" fn stream_get_schema(
    stream: *mut ArrowArrayStream,
    out: *mut ArrowSchema,
) -> c_int {
    // SAFETY: the consumer passes the stream we made (the contract).
    let private = unsafe { stream_private(stream) };
    // SAFETY: `out` is a schema struct the consumer owns and hands us to fill.
    export_schema(&private.schema, &private.codes, unsafe { &mut *out });
    0
}

/// Contract (Arrow C stream interface): called by the consumer with a live stream we made and
/// an `ArrowArray` to fill: the one batch, then an array with a null release (the end).
unsafe extern "C" fn stream_get_next(stream: *mut ArrowArrayStream, out: *mut ArrowArray) -> c_int {
    // SAFETY: the consumer passes the stream we made (the contract).
    let private = unsafe { stream_private(stream) };
    // SAFETY: `out` is an array struct the consumer owns and hands us to fill.
    let out = unsafe { &mut *out };
    match private.batch.take() {
        Some((columns, len)) => export_columns(columns, len, out),
        None => *out = ArrowArray::empty(),
    }
    0
}

/// Contract (Arrow C stream interface): the last error's message, or null; we report none.
unsafe extern "C" fn stream_last_error(_stream: *mut ArrowArrayStream) -> *const c_char {
    std::ptr::null()
}

/// Contract (Arrow C stream interface): called once, by the consumer, on a stream we made.
unsafe extern "C" fn stream_release(stream: *mut ArrowArrayStream) {
    // SAFETY: the consumer passes the live stream we made (the contract).
    let stream = unsafe { &mut *stream };
    // SAFETY: `private_data` is the Box we leaked when exporting, freed only here.
    drop(unsafe { Box::from_raw(stream.private_data.cast::<StreamPrivate>()) });
    stream.release = None;
    stream.private_data = std::ptr::null_mut();
}

fn capsule<'py, T: 'static>(
    py: Python<'py>,
    value: T,
    name: &'static CStr,
    release: fn(&mut T),
) -> PyResult<Bound<'py, PyCapsule>> {
    // The consumer may have moved the struct out (setting its release to null); otherwise the
    // capsule still owns it and releases it here.
    PyCapsule::new_with_value_and_destructor(py, Owned(value), name, move |mut owned, _| {
        release(&mut owned.0)
    })
}

fn release_schema(s: &mut ArrowSchema) {
    if let Some(release) = s.release {
        // SAFETY: a schema we exported and nobody has released.
        unsafe { release(s) };
    }
}

fn release_array(a: &mut ArrowArray) {
    if let Some(release) = a.release {
        // SAFETY: an array we exported and nobody has released.
        unsafe { release(a) };
    }
}

fn release_stream(s: &mut ArrowArrayStream) {
    if let Some(release) = s.release {
        // SAFETY: a stream we exported and nobody has released.
        unsafe { release(s) };
    }
}

pub fn schema_capsule<'py>(
    py: Python<'py>,
    schema: &Schema,
    codes: &[Option<DType>],
) -> PyResult<Bound<'py, PyCapsule>> {
    let mut s = ArrowSchema::empty();
    export_schema(schema, codes, &mut s);
    capsule(py, s, c"arrow_schema", release_schema)
}

pub fn array_capsule<'py>(
    py: Python<'py>,
    columns: Vec<ColumnSnapshot>,
    len: usize,
) -> PyResult<Bound<'py, PyCapsule>> {
    let mut a = ArrowArray::empty();
    export_columns(columns, len, &mut a);
    capsule(py, a, c"arrow_array", release_array)
}

pub fn stream_capsule<'py>(
    py: Python<'py>,
    schema: Arc<Schema>,
    columns: Vec<ColumnSnapshot>,
    len: usize,
) -> PyResult<Bound<'py, PyCapsule>> {
    let private = Box::new(StreamPrivate {
        schema,
        codes: code_types(&columns),
        batch: Some((columns, len)),
    });
    let stream = ArrowArrayStream {
        get_schema: Some(stream_get_schema),
        get_next: Some(stream_get_next),
        get_last_error: Some(stream_last_error),
        release: Some(stream_release),
        private_data: Box::into_raw(private).cast(),
    };
    capsule(py, stream, c"arrow_array_stream", release_stream)
}

/// Takes the struct a capsule holds, leaving a released one behind (the producer's capsule
/// destructor then has nothing to free: ownership moved to us).
///
/// # Safety
/// `capsule` must hold a `T` under `name`, as the Arrow PyCapsule interface specifies, where
/// `T`'s release callback is its field found through `released`.
unsafe fn take<T>(capsule: &Bound<'_, PyAny>, name: &CStr, released: T) -> PyResult<T> {
    let capsule = capsule.cast::<PyCapsule>().map_err(PyErr::from)?;
    // SAFETY: PyCapsule_GetPointer checks the name and returns null (with an exception) if it
    // does not match.
    let ptr = unsafe { pyo3::ffi::PyCapsule_GetPointer(capsule.as_ptr(), name.as_ptr()) };
    if ptr.is_null() {
        return Err(PyErr::fetch(capsule.py()));
    }
    // SAFETY: the capsule holds a valid `T`; we move it out and leave a released value.
    Ok(unsafe { std::ptr::replace(ptr.cast::<T>(), released) })
}

struct Released<T: ReleaseCallback>(T);

trait ReleaseCallback {
    fn release(&mut self);
}

impl ReleaseCallback for ArrowSchema {
    fn release(&mut self) {
        release_schema(self)
    }
}

impl ReleaseCallback for ArrowArray {
    fn release(&mut self) {
        release_array(self)
    }
}

impl ReleaseCallback for ArrowArrayStream {
    fn release(&mut self) {
        release_stream(self)
    }
}

impl<T: ReleaseCallback> Drop for Released<T> {
    /// Structs taken from a producer are released exactly once, whatever happens.
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Imports one batch, moving out the children whose buffers columns adopt; the rest of the
/// batch is released when `batch` drops, right after.
///
/// # Safety
/// `arrow_schema` and `batch` must be a schema and array handed over together by a producer.
unsafe fn import_batch(
    schema: &Schema,
    arrow_schema: &ArrowSchema,
    batch: Released<ArrowArray>,
    columns: &mut [Column],
    record: &str,
) -> PyResult<()> {
    // SAFETY: guaranteed by the caller; we own `batch` and release it when it drops below.
    unsafe { import_struct(schema, arrow_schema, &batch.0, columns, true) }
        .map_err(|e| import_error(e, record))
}

fn import_error(error: shoal_core::Error, record: &str) -> PyErr {
    ShoalError::Arrow {
        record: record.to_owned(),
        error,
    }
    .into()
}

/// Columns holding every row of an Arrow object (anything with `__arrow_c_stream__` or
/// `__arrow_c_array__`), checked against `schema`. One copy; all or nothing.
pub fn import_columns(
    obj: &Bound<'_, PyAny>,
    schema: &Schema,
    record: &str,
) -> PyResult<Vec<Column>> {
    let mut columns: Vec<Column> = schema.fields().iter().map(Column::for_field).collect();
    let py = obj.py();
    if obj.hasattr(pyo3::intern!(py, "__arrow_c_stream__"))? {
        let capsule = obj.call_method0(pyo3::intern!(py, "__arrow_c_stream__"))?;
        let empty = ArrowArrayStream {
            get_schema: None,
            get_next: None,
            get_last_error: None,
            release: None,
            private_data: std::ptr::null_mut(),
        };
        // SAFETY: the capsule is an "arrow_array_stream" capsule per the protocol.
        let mut stream = Released(unsafe { take(&capsule, c"arrow_array_stream", empty)? });
        let s = &mut stream.0;
        let mut arrow_schema = Released(ArrowSchema::empty());
        let get_schema = s
            .get_schema
            .ok_or_else(|| malformed("stream without get_schema"))?;
        // SAFETY: the producer's callback, called as the stream interface specifies: with its
        // own live stream and a released schema for it to fill.
        if unsafe { get_schema(s, &mut arrow_schema.0) } != 0 {
            return Err(malformed("the stream's get_schema failed"));
        }
        let get_next = s
            .get_next
            .ok_or_else(|| malformed("stream without get_next"))?;
        let mut batches = 0usize;
        loop {
            let mut batch = Released(ArrowArray::empty());
            // SAFETY: as above, with a released array for it to fill.
            if unsafe { get_next(s, &mut batch.0) } != 0 {
                return Err(malformed("the stream's get_next failed"));
            }
            if batch.0.release.is_none() {
                break; // end of stream
            }
            // SAFETY: a schema and a batch the producer's stream handed over for each other.
            unsafe { import_batch(schema, &arrow_schema.0, batch, &mut columns, record) }?;
            batches += 1;
        }
        if batches == 0 {
            // No data to check against: the schema alone must still name every field.
            // SAFETY: the schema the producer's `get_schema` filled, not yet released.
            unsafe { check_struct_schema(schema, &arrow_schema.0) }
                .map_err(|e| import_error(e, record))?;
        }
        return Ok(columns);
    }
    if obj.hasattr(pyo3::intern!(py, "__arrow_c_array__"))? {
        let pair = obj.call_method0(pyo3::intern!(py, "__arrow_c_array__"))?;
        let (schema_capsule, array_capsule): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
            pair.extract()?;
        // SAFETY: the capsules are "arrow_schema" and "arrow_array" capsules per the protocol.
        let arrow_schema =
            Released(unsafe { take(&schema_capsule, c"arrow_schema", ArrowSchema::empty())? });
        // SAFETY: as above.
        let array = Released(unsafe { take(&array_capsule, c"arrow_array", ArrowArray::empty())? });
        // SAFETY: a schema and array handed over together by their producer.
        unsafe { import_batch(schema, &arrow_schema.0, array, &mut columns, record) }?;
        return Ok(columns);
    }
    Err(ShoalError::NotArrow {
        record: record.to_owned(),
        got: crate::convert::value_repr(obj),
    }
    .into())
}

fn malformed(detail: &str) -> PyErr {
    ShoalError::MalformedStream {
        detail: detail.to_owned(),
    }
    .into()
}
