//! Parquet datasets: a table as a folder of Parquet files, split into hive-style partition
//! folders (`year=2013/month=1/part-00000.parquet`), the layout Spark, Dask, DuckDB and
//! pyarrow read and write. A dataset is written into a hidden folder beside its target and
//! moved into place whole, so a crash leaves the old dataset or the new one, never a mix.

mod install;
mod parquet_file;
mod partition;

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use arrow_array::RecordBatch;
use shoal_core::{ColumnSnapshot, DType, Schema};

use crate::bridge::record_batch;
use crate::save::arrow_error;
use crate::IoError;

pub use parquet_file::{parquet_info, read_parquet, ParquetCompression, ParquetInfo};
pub use partition::{escape, unescape, NULL_PARTITION};

/// How `save_dataset` splits and writes the rows.
#[derive(Clone, Debug)]
pub struct DatasetOptions {
    /// The fields whose values name the partition folders, outermost first.
    pub partition_by: Vec<String>,
    /// The files' compression.
    pub compression: ParquetCompression,
    /// At most this many rows per file (a partition with more gets several files).
    pub rows_per_file: usize,
    /// Whether an existing dataset at the path is replaced (else it is an error).
    pub overwrite: bool,
}

/// What `save_dataset` wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Parquet files.
    pub files: usize,
    /// Rows in them.
    pub rows: usize,
}

/// The field types a partition can be keyed by: those whose values are short text in a
/// folder name and read back exactly.
fn partitionable(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::I8
            | DType::I16
            | DType::I32
            | DType::I64
            | DType::U8
            | DType::U16
            | DType::U32
            | DType::U64
            | DType::Bool
            | DType::Str
            | DType::Category
            | DType::Date
    )
}

/// The batch's column index of each partition field, checked.
fn partition_columns(path: &Path, schema: &Schema, keys: &[String]) -> Result<Vec<usize>, IoError> {
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let Some(i) = schema.fields().iter().position(|f| &f.name == key) else {
            return Err(IoError::dataset(
                path,
                format!("partition_by names '{key}', which is not a field of the record"),
            ));
        };
        let dtype = schema.fields()[i].dtype;
        if !partitionable(dtype) {
            return Err(IoError::dataset(
                path,
                format!(
                    "cannot partition by '{key}' ({}): partition values become folder names; \
                     partition by integer, bool, str, Category or date fields",
                    dtype.name()
                ),
            ));
        }
        if found.contains(&i) {
            return Err(IoError::dataset(
                path,
                format!("partition_by names '{key}' twice"),
            ));
        }
        found.push(i);
    }
    if found.len() == schema.fields().len() && !found.is_empty() {
        return Err(IoError::dataset(
            path,
            "partition_by names every field: the files would hold no column",
        ));
    }
    Ok(found)
}

/// Writes the table as a Parquet dataset at `path` (a folder), partitioned by
/// `options.partition_by`, each file's schema metadata holding `metadata` and the list of
/// partition fields (`shoal.partition_by`). `progress` is told the rows written so far after
/// each file.
pub fn save_dataset(
    path: &Path,
    schema: &Schema,
    columns: Vec<ColumnSnapshot>,
    len: usize,
    mut metadata: HashMap<String, String>,
    options: &DatasetOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Written, IoError> {
    if options.rows_per_file == 0 {
        return Err(IoError::dataset(path, "rows_per_file must be at least 1"));
    }
    let keys = partition_columns(path, schema, &options.partition_by)?;
    install::check_target(path, options.overwrite)?;
    metadata.insert("shoal.partition_by".into(), options.partition_by.join(","));
    let batch = record_batch(schema, columns, len, metadata).map_err(|e| arrow_error(path, e))?;
    let tmp = install::temporary_dir(path);
    fs::create_dir(&tmp).map_err(|e| IoError::os(&tmp, "create the folder", e))?;
    let written = write_partitions(&tmp, &batch, &keys, options, progress)
        .and_then(|w| install::install(&tmp, path, options.overwrite).map(|()| w));
    if written.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    written
}

/// Every partition's files under `root`, each file and folder flushed to disk.
fn write_partitions(
    root: &Path,
    batch: &RecordBatch,
    keys: &[usize],
    options: &DatasetOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Written, IoError> {
    let data: Vec<usize> = (0..batch.num_columns())
        .filter(|i| !keys.contains(i))
        .collect();
    let rows = batch.project(&data).map_err(|e| arrow_error(root, e))?;
    let mut written = Written { files: 0, rows: 0 };
    for group in partition::groups(root, batch, keys)? {
        let folder = root.join(&group.folder);
        fs::create_dir_all(&folder).map_err(|e| IoError::os(&folder, "create the folder", e))?;
        let part = group.take(root, &rows)?;
        // One file per `rows_per_file` rows; an empty table still gets one (its schema).
        let mut start = 0;
        loop {
            let n = options.rows_per_file.min(part.num_rows() - start);
            let file = folder.join(format!("part-{:05}.parquet", written.files));
            parquet_file::write_parquet(&file, &part.slice(start, n), options.compression)?;
            written.files += 1;
            written.rows += n;
            start += n;
            progress(written.rows);
            if start >= part.num_rows() {
                break;
            }
        }
        install::sync_folder(&folder)?;
    }
    install::sync_folder(root)?;
    Ok(written)
}
