//! The Arrow PyCapsule interface for `Table`: `__arrow_c_schema__`, `__arrow_c_array__` and
//! `__arrow_c_stream__`, so `pyarrow.table(t)`, `polars.DataFrame(t)` and DuckDB read a table
//! without copying its numeric columns (see `shoal_core::arrow`).

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use shoal_core::arrow::{export_columns, export_schema, ArrowArray, ArrowSchema};
use shoal_core::{ColumnSnapshot, Schema};

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
    batch: Option<(Vec<ColumnSnapshot>, usize)>,
}

unsafe extern "C" fn stream_get_schema(
    stream: *mut ArrowArrayStream,
    out: *mut ArrowSchema,
) -> c_int {
    // SAFETY: the consumer passes the stream we made and an ArrowSchema to fill.
    unsafe {
        let private = &*(*stream).private_data.cast::<StreamPrivate>();
        export_schema(&private.schema, &mut *out);
    }
    0
}

unsafe extern "C" fn stream_get_next(stream: *mut ArrowArrayStream, out: *mut ArrowArray) -> c_int {
    // SAFETY: as above; an array with a null release marks the end of the stream.
    unsafe {
        let private = &mut *(*stream).private_data.cast::<StreamPrivate>();
        match private.batch.take() {
            Some((columns, len)) => export_columns(columns, len, &mut *out),
            None => *out = ArrowArray::empty(),
        }
    }
    0
}

unsafe extern "C" fn stream_last_error(_stream: *mut ArrowArrayStream) -> *const c_char {
    std::ptr::null()
}

unsafe extern "C" fn stream_release(stream: *mut ArrowArrayStream) {
    // SAFETY: called once on a stream we made; `private_data` is the Box we leaked.
    unsafe {
        drop(Box::from_raw(
            (*stream).private_data.cast::<StreamPrivate>(),
        ));
        (*stream).release = None;
        (*stream).private_data = std::ptr::null_mut();
    }
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

pub fn schema_capsule<'py>(py: Python<'py>, schema: &Schema) -> PyResult<Bound<'py, PyCapsule>> {
    let mut s = ArrowSchema::empty();
    export_schema(schema, &mut s);
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
