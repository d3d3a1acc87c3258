//! Parquet datasets: `t.save_dataset(path, partition_by)`, and one file of a dataset read as a
//! table for `shoal.open_dataset` (whose folder walking and filtering are Python's).

use std::path::PathBuf;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use shoal_core::Column;
use shoal_io::{DatasetOptions, ParquetCompression};

use crate::errors::ShoalError;
use crate::progress::Progress;
use crate::schema::PySchema;

use super::files::{fields_in, file_error, file_metadata, table_of, with_defaults, FileColumns};
use super::PyTable;

/// The `compression=` of `save_dataset`: "snappy" (the default, as Spark and pandas write),
/// "zstd", or None (or "uncompressed").
fn parquet_compression(name: Option<&str>) -> PyResult<ParquetCompression> {
    match name {
        None | Some("uncompressed") => Ok(ParquetCompression::None),
        Some("snappy") => Ok(ParquetCompression::Snappy),
        Some("zstd") => Ok(ParquetCompression::Zstd),
        Some(other) => Err(PyValueError::new_err(format!(
            "compression must be \"snappy\", \"zstd\" or None (or \"uncompressed\"), not \
             {other:?}"
        ))),
    }
}

/// `partition_by` as field names: one name, or a sequence of them.
fn partition_names(partition_by: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(one) = partition_by.cast::<PyString>() {
        return Ok(vec![one.to_str()?.to_owned()]);
    }
    partition_by
        .try_iter()
        .and_then(|names| names.map(|n| n?.extract::<String>()).collect())
        .map_err(|_| {
            PyTypeError::new_err("partition_by must be a field name or a list of field names")
        })
}

#[pymethods]
impl PyTable {
    /// Writes the rows as a Parquet dataset: a folder of Parquet files, split into hive-style
    /// folders by the values of the `partition_by` fields (`year=2013/month=1/...`), the
    /// layout Spark, Dask, DuckDB and pyarrow read. Partition fields are not stored in the
    /// files (their folders hold them); within a partition the rows keep their order.
    ///
    /// Atomic: written into a hidden folder beside `path` and moved into place once complete
    /// and on disk. An existing non-empty `path` is an error unless `overwrite=True`, which
    /// swaps the new dataset in (in one step) and removes the old — and refuses a folder
    /// holding anything but a dataset's files.
    #[pyo3(signature = (
        path, partition_by = None, *, compression = Some("snappy"), rows_per_file = 1_000_000,
        overwrite = false, progress = None
    ))]
    #[allow(clippy::too_many_arguments)] // Python's keyword arguments
    fn save_dataset(
        &self,
        py: Python<'_>,
        path: PathBuf,
        partition_by: Option<&Bound<'_, PyAny>>,
        compression: Option<&str>,
        rows_per_file: usize,
        overwrite: bool,
        progress: Option<bool>,
    ) -> PyResult<()> {
        let options = DatasetOptions {
            partition_by: partition_by
                .map(partition_names)
                .transpose()?
                .unwrap_or_default(),
            compression: parquet_compression(compression)?,
            rows_per_file,
            overwrite,
        };
        let schema = self.schema.get();
        let metadata = file_metadata(py, schema)?;
        let (columns, len) = self.snapshots()?;
        let core = schema.core.clone();
        py.detach(|| {
            let mut shown = Progress::new("shoal save_dataset", "rows", Some(len), progress);
            let mut tell = |rows| shown.set(rows);
            shoal_io::save_dataset(&path, &core, columns, len, metadata, &options, &mut tell)
        })
        .map_err(|e| file_error(schema, e))?;
        Ok(())
    }
}

/// The Parquet file at `path` as a table of `record` rows (in memory: Parquet is decoded),
/// with each `(field, value)` of `constants` — its partition folders' values, `None` for
/// null — in every row.
#[pyfunction]
pub fn _read_parquet(
    py: Python<'_>,
    path: PathBuf,
    record: &Bound<'_, PyType>,
    constants: Vec<(String, Option<String>)>,
) -> PyResult<PyTable> {
    let schema = PySchema::of_class(record)?;
    let s = schema.get();
    let (read, rows, columns) = py
        .detach(|| {
            let info = shoal_io::parquet_info(&path)?;
            let read = fields_in(s, |name| {
                info.columns.iter().any(|c| c.name == name)
                    || constants.iter().any(|(c, _)| c == name)
            });
            let mut columns: Vec<Column> = read.fields().iter().map(Column::for_field).collect();
            shoal_io::read_parquet(&path, &read, &constants, &mut columns)?;
            Ok((read, info.rows, columns))
        })
        .map_err(|e| file_error(s, e))?;
    let columns = with_defaults(py, s, &read, columns, rows)?;
    Ok(PyTable::with_source(
        schema.clone().unbind(),
        table_of(s, columns)?,
        None,
    ))
}

/// What the footer of the Parquet file at `path` says: its rows, its columns (as
/// `_file_schema` gives them) and its schema metadata.
#[pyfunction]
pub fn _parquet_info(
    py: Python<'_>,
    path: PathBuf,
) -> PyResult<(
    usize,
    FileColumns,
    std::collections::HashMap<String, String>,
)> {
    let info = py
        .detach(|| shoal_io::parquet_info(&path))
        .map_err(|error| {
            PyErr::from(ShoalError::File {
                record: "shoal.open_dataset".into(),
                error: Box::new(error),
            })
        })?;
    let columns = info
        .columns
        .into_iter()
        .map(|c| (c.name, c.format, c.dictionary, c.nullable))
        .collect();
    Ok((info.rows, columns, info.metadata))
}
