//! Streaming writes: a file built batch by batch, larger than memory, moved over its target
//! only when complete.
//!
//! The batches go to `<target>.partial`, each handed to the system as it is written, so a
//! process killed part-way leaves every finished batch readable there (`stream::recover`).
//! `finish` writes the footer, flushes the file to disk and renames it over the target.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{make_array, Array, ArrayRef, RecordBatch, StringArray};
use arrow_buffer::Buffer;
use arrow_schema::{ArrowError, DataType, Field as ArrowField, SchemaRef};
use shoal_core::{Column, ColumnSnapshot, DType, Schema};

use crate::batch_file::BatchFile;
use crate::bridge::{file_schema, record_batch};
use crate::save::{arrow_error, sync_directory, Compression};
use crate::{IoError, MappedFile};

/// A file being written batch by batch; see the module's documentation.
pub struct Writer {
    target: PathBuf,
    partial: PathBuf,
    /// The file's schema: an open category's codes are `u32` from the start, so a dictionary
    /// that outgrows `u8` or `u16` codes mid-stream needs no change of schema.
    schema: SchemaRef,
    /// `None` once a write has failed: the file may end in a partial batch, so nothing more
    /// is appended (its complete batches stay recoverable).
    out: Option<BatchFile>,
    rows: usize,
    batches: usize,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("partial", &self.partial)
            .field("rows", &self.rows)
            .field("batches", &self.batches)
            .finish()
    }
}

/// `<target>.partial`: where a `Writer` for `target` writes until it finishes.
pub fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// The code type a `Writer` gives a category field: a closed one's own, `u32` for an open one.
fn writer_code_type(field: &shoal_core::Field) -> Option<DType> {
    match field.dtype {
        DType::Category if field.categories.is_none() => Some(DType::U32),
        DType::Category => Column::for_field(field).code_type(),
        _ => None,
    }
}

impl Writer {
    /// Starts a file for `target` at `partial_path(target)`, which must not exist (an earlier
    /// `Writer`'s unfinished file is never overwritten: recover or delete it first).
    pub fn create(
        target: &Path,
        schema: &Schema,
        metadata: HashMap<String, String>,
        compression: Compression,
    ) -> Result<Writer, IoError> {
        let partial = partial_path(target);
        let codes: Vec<_> = schema.fields().iter().map(writer_code_type).collect();
        let schema =
            Arc::new(file_schema(schema, &codes, metadata).map_err(|e| arrow_error(&partial, e))?);
        let out = BatchFile::create(&partial, &schema, compression)?;
        Ok(Writer {
            target: target.to_owned(),
            partial,
            schema,
            out: Some(out),
            rows: 0,
            batches: 0,
        })
    }

    /// Starts a file for `target` that holds `target`'s batches first (copied, so `target`
    /// stays as it is until `finish`), then the new ones. `target` must be a complete file
    /// whose schema is the one a `Writer` of `schema` writes. Returns, with the writer, empty
    /// columns for the buffer table whose category dictionaries number the file's values as
    /// the file does, so the next batches' dictionaries extend the file's.
    pub fn append_to(
        target: &Path,
        schema: &Schema,
        metadata: HashMap<String, String>,
        compression: Compression,
    ) -> Result<(Writer, Vec<Column>), IoError> {
        let old = MappedFile::open(target)?;
        let mut w = Writer::create(target, schema, metadata, compression)?;
        match w.copy_batches(&old, schema) {
            Ok(columns) => Ok((w, columns)),
            Err(e) => {
                let _ = w.abort();
                Err(e)
            }
        }
    }

    fn copy_batches(&mut self, old: &MappedFile, schema: &Schema) -> Result<Vec<Column>, IoError> {
        let theirs = old.arrow_schema().fields();
        if let Some((ours, theirs)) =
            (self.schema.fields().iter().zip(theirs.iter())).find(|(a, b)| a != b)
        {
            return Err(IoError::format(
                old.path(),
                format!(
                    "a Writer appends to files of its own schema: column '{}' is {}{} in the \
                     file, the Writer's is {}{}",
                    theirs.name(),
                    theirs.data_type(),
                    if theirs.is_nullable() {
                        " (nullable)"
                    } else {
                        ""
                    },
                    ours.data_type(),
                    if ours.is_nullable() {
                        " (nullable)"
                    } else {
                        ""
                    },
                ),
            ));
        }
        if theirs.len() != self.schema.fields().len() {
            return Err(IoError::format(
                old.path(),
                format!(
                    "a Writer appends to files of its own schema: the file has {} columns, the \
                     Writer {}",
                    theirs.len(),
                    self.schema.fields().len()
                ),
            ));
        }
        let mut last = None;
        for i in 0..old.batch_rows().len() {
            let batch = old.batch(i)?;
            let batch = RecordBatch::try_new(self.schema.clone(), batch.columns().to_vec())
                .map_err(|e| arrow_error(old.path(), e))?;
            let out = self.out.as_mut().expect("a new writer is open");
            out.write(&batch)?;
            self.rows += batch.num_rows();
            self.batches += 1;
            last = Some(batch);
        }
        let mut columns: Vec<Column> = schema.fields().iter().map(Column::for_field).collect();
        if let Some(batch) = last {
            for (column, array) in columns.iter_mut().zip(batch.columns()) {
                seed_dictionary(old.path(), column, array)?;
            }
        }
        Ok(columns)
    }

    /// The file being written.
    pub fn partial(&self) -> &Path {
        &self.partial
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Batches written so far.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// Appends the rows of `columns` (a table's snapshots, `len` rows) as one record batch.
    /// Category columns must come from one table whose dictionaries only grew between calls
    /// (each batch's dictionary extends the last, written as a delta).
    pub fn write(
        &mut self,
        schema: &Schema,
        columns: Vec<ColumnSnapshot>,
        len: usize,
    ) -> Result<(), IoError> {
        let Some(out) = self.out.as_mut() else {
            return Err(IoError::format(
                &self.partial,
                "an earlier write failed; the batches before it can be recovered",
            ));
        };
        if len == 0 {
            return Ok(());
        }
        let batch = record_batch(schema, columns, len, HashMap::new())
            .and_then(|b| with_schema(&self.schema, b))
            .map_err(|e| arrow_error(&self.partial, e))?;
        if let Err(e) = out.write(&batch) {
            self.out = None;
            return Err(e);
        }
        self.rows += len;
        self.batches += 1;
        Ok(())
    }

    /// Writes the footer, flushes the file to disk and moves it over the target. `columns`
    /// are snapshots of the table the batches came from (any rows): its category
    /// dictionaries, which hold every value written, are written in full for the footer.
    pub fn finish(
        mut self,
        schema: &Schema,
        columns: Vec<ColumnSnapshot>,
        len: usize,
    ) -> Result<(), IoError> {
        let Some(out) = self.out.take() else {
            return Err(IoError::format(
                &self.partial,
                "an earlier write failed; the batches before it can be recovered",
            ));
        };
        let full = record_batch(schema, columns, len, HashMap::new())
            .and_then(|b| with_schema(&self.schema, b))
            .map_err(|e| arrow_error(&self.partial, e))?;
        out.finish(Some(&full))?;
        fs::rename(&self.partial, &self.target)
            .map_err(|e| IoError::os(&self.target, "replace", e))?;
        sync_directory(&self.target)
    }

    /// Stops and removes the unfinished file; the target is untouched.
    pub fn abort(mut self) -> Result<(), IoError> {
        drop(self.out.take());
        fs::remove_file(&self.partial).map_err(|e| IoError::os(&self.partial, "remove", e))
    }
}

/// Gives an empty category `column` the dictionary of `array` (a file's dictionary-encoded
/// column), in the file's order.
fn seed_dictionary(path: &Path, column: &mut Column, array: &ArrayRef) -> Result<(), IoError> {
    let Some(dictionary) = array.as_any_dictionary_opt() else {
        return Ok(());
    };
    let values = dictionary.values();
    let Some(text) = values.as_any().downcast_ref::<StringArray>() else {
        return Ok(());
    };
    for value in text.iter() {
        let value = value.unwrap_or_default();
        column
            .intern_category(value.as_bytes())
            .map_err(|p| IoError::format(path, format!("its category value {value:?}: {p:?}")))?;
    }
    Ok(())
}

/// `batch`'s columns under the file's `schema`: category codes widened to the schema's code
/// type where the table's are narrower.
fn with_schema(schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| widen_codes(column, field))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

fn widen_codes(column: &ArrayRef, field: &ArrowField) -> Result<ArrayRef, ArrowError> {
    if column.data_type() == field.data_type() {
        return Ok(column.clone());
    }
    let data = column.to_data();
    let (from, start, len) = (data.data_type(), data.offset(), data.len());
    let codes: Vec<u32> = match (from, field.data_type()) {
        (DataType::Dictionary(k, _), DataType::Dictionary(to, _)) if **to == DataType::UInt32 => {
            let keys = &data.buffers()[0];
            match **k {
                DataType::UInt8 => keys.typed_data::<u8>()[start..start + len]
                    .iter()
                    .map(|&c| u32::from(c))
                    .collect(),
                DataType::UInt16 => keys.typed_data::<u16>()[start..start + len]
                    .iter()
                    .map(|&c| u32::from(c))
                    .collect(),
                _ => return Err(mismatch(field, from)),
            }
        }
        _ => return Err(mismatch(field, from)),
    };
    let widened = data
        .into_builder()
        .data_type(field.data_type().clone())
        .offset(0)
        .buffers(vec![Buffer::from_vec(codes)])
        .nulls(column.nulls().cloned())
        .build()?;
    Ok(make_array(widened))
}

fn mismatch(field: &ArrowField, got: &DataType) -> ArrowError {
    ArrowError::SchemaError(format!(
        "column '{}' is {got}, the file's schema says {}",
        field.name(),
        field.data_type()
    ))
}
