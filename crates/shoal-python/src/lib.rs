//! shoal's Python bindings: the `shoal._shoal` extension module.
//!
//! One file per exposed type (`record`, `schema`, `table`, `column`, `iter`); `convert` turns
//! Python values into checked scalars and back; `errors` is the one place errors become
//! Python exceptions.
#![deny(unsafe_op_in_unsafe_fn)]

mod alloc;
mod arrow;
mod capi;
mod column;
mod convert;
mod errors;
mod index;
mod measure;
mod progress;
mod rawbuffer;
mod record;
mod schema;
mod table;
mod writer;

use pyo3::prelude::*;

/// `gil_used = true`: a table's state is a `RefCell` and the hot paths read it without a
/// guard, which is sound only while the GIL serialises access. On a free-threaded CPython
/// (3.13t) importing shoal therefore turns the GIL back on (CPython warns that it does),
/// rather than let two threads race on a table. PyO3 0.30's default is `false`.
#[pymodule(gil_used = true)]
fn _shoal(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RecordBase", record::record_base(py)?)?;
    m.add_class::<schema::PySchema>()?;
    m.add_class::<schema::PyField>()?;
    m.add_class::<table::PyTable>()?;
    m.add_class::<index::PyIndex>()?;
    table::install_fast_append(py)?;
    table::install_fast_subscript(py)?;
    m.add_class::<column::PyColumn>()?;
    m.add_class::<rawbuffer::PyRawBuffer>()?;
    m.add("StaleRowError", py.get_type::<errors::StaleRowError>())?;
    m.add(
        "FrozenInstanceError",
        py.get_type::<errors::FrozenInstanceError>(),
    )?;
    m.add_function(wrap_pyfunction!(table::_table_from_buffers, m)?)?;
    m.add_function(wrap_pyfunction!(table::concat, m)?)?;
    m.add_function(wrap_pyfunction!(record::run_init, m)?)?;
    m.add_function(wrap_pyfunction!(table::_open, m)?)?;
    m.add_function(wrap_pyfunction!(table::_file_schema, m)?)?;
    m.add_class::<table::Batches>()?;
    m.add_class::<table::FileBatches>()?;
    m.add_class::<table::FileBatchesIter>()?;
    m.add_function(wrap_pyfunction!(table::_open_batches, m)?)?;
    m.add_function(wrap_pyfunction!(table::_read_parquet, m)?)?;
    m.add_function(wrap_pyfunction!(table::_parquet_info, m)?)?;
    m.add_class::<writer::PyWriter>()?;
    writer::install_fast_writer_append(py)?;
    m.add_function(wrap_pyfunction!(writer::_recover, m)?)?;
    m.add_function(wrap_pyfunction!(measure::_sizeof, m)?)?;
    m.add_function(wrap_pyfunction!(measure::_census, m)?)?;
    m.add("TRACEMALLOC_DOMAIN", alloc::DOMAIN)?;
    measure::KnownTypes::default()
        .shared::<schema::PySchema>(py)
        .shared::<schema::PyField>(py)
        .store::<table::PyTable>(py)
        .store::<column::PyColumn>(py)
        .record(record::record_base(py)?.as_type_ptr(), record::held_bytes)
        .install(py);
    Ok(())
}
