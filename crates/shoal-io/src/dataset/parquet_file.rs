//! One Parquet file: written by the `parquet` crate's Arrow writer, read back batch by batch
//! into shoal's columns with the partition folders' values added as constant columns.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{new_null_array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow_cast::{cast_with_options, CastOptions};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use arrow_select::take::take;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use shoal_core::{Column, DType, Schema};

use crate::bridge::{columns_of, file_schema, import_batch, FileColumn};
use crate::raw::{caught, regular_file};
use crate::IoError;

/// How the Parquet files' pages are compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParquetCompression {
    /// As they are.
    None,
    /// Snappy: what Spark and pandas write by default (pure Rust `snap`).
    #[default]
    Snappy,
    /// Zstandard: smaller, a little slower (the zstd C library).
    Zstd,
}

/// Rows per batch read: enough to amortise the decoder, small enough to bound its buffers.
const READ_BATCH: usize = 65_536;

/// Writes `batch` as a Parquet file at `path` (which must not exist), flushed to disk. The
/// batch's schema metadata goes into the file (as the Arrow schema the writer embeds).
pub(crate) fn write_parquet(
    path: &Path,
    batch: &RecordBatch,
    compression: ParquetCompression,
) -> Result<(), IoError> {
    let codec = match compression {
        ParquetCompression::None => Compression::UNCOMPRESSED,
        ParquetCompression::Snappy => Compression::SNAPPY,
        ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
    };
    let properties = WriterProperties::builder().set_compression(codec).build();
    let file = File::create_new(path).map_err(|e| IoError::os(path, "create", e))?;
    let out = BufWriter::with_capacity(1 << 20, file);
    let failed = |e: parquet::errors::ParquetError| match e {
        parquet::errors::ParquetError::External(e) => IoError::parquet(path, e.to_string()),
        other => IoError::parquet(path, other.to_string()),
    };
    let mut writer = ArrowWriter::try_new(out, batch.schema(), Some(properties)).map_err(failed)?;
    writer.write(batch).map_err(failed)?;
    let mut out = writer.into_inner().map_err(failed)?;
    out.flush().map_err(|e| IoError::os(path, "write", e))?;
    let file = out
        .into_inner()
        .map_err(|e| IoError::os(path, "write", e.into_error()))?;
    file.sync_all()
        .map_err(|e| IoError::os(path, "flush to disk", e))
}

/// What a Parquet file's footer says: its rows, its columns (as Arrow types) and the schema
/// metadata (for files shoal wrote, the record's declaration).
#[derive(Clone, Debug)]
pub struct ParquetInfo {
    /// Rows in the file.
    pub rows: usize,
    /// Its columns.
    pub columns: Vec<FileColumn>,
    /// Its schema metadata.
    pub metadata: HashMap<String, String>,
}

fn reader(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, IoError> {
    if !regular_file(path)? {
        return Err(IoError::parquet(path, "not a regular file"));
    }
    let file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
    caught(|| ParquetRecordBatchReaderBuilder::try_new(file))
        .map_err(|e| IoError::parquet(path, e.unwrap_or_else(|| "malformed".into())))
}

/// Reads the footer of the Parquet file at `path` (no data).
pub fn parquet_info(path: &Path) -> Result<ParquetInfo, IoError> {
    let builder = reader(path)?;
    let rows = builder.metadata().file_metadata().num_rows();
    let rows = usize::try_from(rows)
        .map_err(|_| IoError::parquet(path, format!("a row count of {rows}")))?;
    Ok(ParquetInfo {
        rows,
        columns: columns_of(builder.schema()),
        metadata: builder.schema().metadata().clone(),
    })
}

/// Appends the rows of the Parquet file at `path` to `columns` (one per field of `schema`):
/// the file's columns of the schema's fields, and for each `(field, value)` of `constants`
/// (the partition folders' values, `None` for null) that value in every row.
pub fn read_parquet(
    path: &Path,
    schema: &Schema,
    constants: &[(String, Option<String>)],
    columns: &mut [Column],
) -> Result<(), IoError> {
    let builder = reader(path)?;
    let wanted = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            schema.fields().iter().any(|s| &s.name == f.name())
                && !constants.iter().any(|(c, _)| c == f.name())
        })
        .map(|(i, _)| i);
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let batches = builder
        .with_projection(mask)
        .with_batch_size(READ_BATCH)
        .build()
        .map_err(|e| IoError::parquet(path, e.to_string()))?;
    let record = record_types(path, schema)?;
    let types = constant_types(path, &record, constants)?;
    let mut next = batches;
    for i in 0.. {
        let Some(batch) = caught(|| next.next().transpose())
            .map_err(|e| IoError::parquet(path, e.unwrap_or_else(|| "malformed".into())))?
        else {
            break;
        };
        let batch = with_constants(path, conform(path, batch, &record)?, constants, &types)?;
        import_batch(path, schema, batch, i, columns)?;
    }
    Ok(())
}

/// The Arrow schema shoal exports for `schema` (categories as u32-coded dictionaries): the
/// types the file's columns are cast to where they differ only in integer width.
fn record_types(path: &Path, schema: &Schema) -> Result<ArrowSchema, IoError> {
    let codes: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| (f.dtype == DType::Category).then_some(DType::U32))
        .collect();
    file_schema(schema, &codes, HashMap::new()).map_err(|e| IoError::parquet(path, e.to_string()))
}

/// The Arrow type of each constant's field.
fn constant_types(
    path: &Path,
    record: &ArrowSchema,
    constants: &[(String, Option<String>)],
) -> Result<Vec<DataType>, IoError> {
    constants
        .iter()
        .map(|(name, _)| {
            record
                .field_with_name(name)
                .map(|f| f.data_type().clone())
                .map_err(|_| {
                    IoError::dataset(
                        path,
                        format!("the partition '{name}' is not a field of the record"),
                    )
                })
        })
        .collect()
}

/// `batch` with each integer column of another width than its field's cast to the field's
/// (Spark writes `u8` back as `i16`, pyarrow may write `int` as `i32`): exactly, a value that
/// does not fit is an error naming the column.
fn conform(path: &Path, batch: RecordBatch, record: &ArrowSchema) -> Result<RecordBatch, IoError> {
    let exact = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let schema = batch.schema();
    let mut fields: Vec<Field> = Vec::with_capacity(batch.num_columns());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    let mut changed = false;
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let target = record
            .field_with_name(field.name())
            .ok()
            .map(|f| f.data_type());
        match target {
            Some(to)
                if to != field.data_type() && to.is_integer() && field.data_type().is_integer() =>
            {
                let cast = cast_with_options(array, to, &exact).map_err(|e| {
                    IoError::dataset(path, format!("column '{}': {e}", field.name()))
                })?;
                fields.push(field.as_ref().clone().with_data_type(to.clone()));
                arrays.push(cast);
                changed = true;
            }
            _ => {
                fields.push(field.as_ref().clone());
                arrays.push(array.clone());
            }
        }
    }
    if !changed {
        return Ok(batch);
    }
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays)
        .map_err(|e| IoError::parquet(path, e.to_string()))
}

/// `batch` with one column per constant, its value in every row.
fn with_constants(
    path: &Path,
    batch: RecordBatch,
    constants: &[(String, Option<String>)],
    types: &[DataType],
) -> Result<RecordBatch, IoError> {
    if constants.is_empty() {
        return Ok(batch);
    }
    let n = batch.num_rows();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut arrays: Vec<ArrayRef> = batch.columns().to_vec();
    for ((name, value), dtype) in constants.iter().zip(types) {
        fields.push(Field::new(name, dtype.clone(), true));
        arrays.push(constant(path, name, value.as_deref(), dtype, n)?);
    }
    let schema = Arc::new(ArrowSchema::new(fields));
    RecordBatch::try_new(schema, arrays).map_err(|e| IoError::parquet(path, e.to_string()))
}

/// `n` rows of the folder value `value` of field `name`, as `dtype`.
fn constant(
    path: &Path,
    name: &str,
    value: Option<&str>,
    dtype: &DataType,
    n: usize,
) -> Result<ArrayRef, IoError> {
    let Some(value) = value else {
        return Ok(new_null_array(dtype, n));
    };
    let exact = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let one = cast_with_options(&StringArray::from(vec![value]), dtype, &exact).map_err(|e| {
        IoError::dataset(
            path,
            format!("its folder {name}={value} is not a value of the field '{name}': {e}"),
        )
    })?;
    take(&one, &UInt32Array::from(vec![0u32; n]), None)
        .map_err(|e| IoError::parquet(path, e.to_string()))
}
