//! Saving: an Arrow IPC file written beside the target and moved over it, so a crash at any
//! point leaves either the old file or the new one, never a mix.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions};
use arrow_ipc::{CompressionType, MetadataVersion};
use arrow_schema::ArrowError;
use shoal_core::{ColumnSnapshot, Schema};

use crate::bridge::record_batch;
use crate::IoError;

/// Buffers start at multiples of this: what Arrow recommends, so every reader (arrow-rs with
/// alignment required, pyarrow, polars) maps them in place.
pub const ALIGNMENT: usize = 64;

/// How a file's buffers are stored. Compressed files cannot be read in place: opening one
/// decompresses each batch into memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// As they are: memory-mapped by every reader.
    #[default]
    None,
    /// LZ4 frames (fast; arrow-rs uses the pure-Rust `lz4_flex`).
    Lz4,
    /// Zstandard (smaller; the zstd C library).
    Zstd,
}

/// Arrow IPC write options: V5, 64-byte aligned, compressed as asked.
pub(crate) fn write_options(
    path: &Path,
    compression: Compression,
) -> Result<IpcWriteOptions, IoError> {
    let codec = match compression {
        Compression::None => None,
        Compression::Lz4 => Some(CompressionType::LZ4_FRAME),
        Compression::Zstd => Some(CompressionType::ZSTD),
    };
    IpcWriteOptions::try_new(ALIGNMENT, false, MetadataVersion::V5)
        .and_then(|o| o.try_with_compression(codec))
        .map_err(|e| arrow_error(path, e))
}

/// Writes the columns as an Arrow IPC file at `path`, atomically: into a
/// temporary file in the same directory, flushed to disk, then renamed over `path`, and the
/// directory flushed. On any error the temporary file is removed and `path` is untouched.
pub fn save(
    path: &Path,
    schema: &Schema,
    columns: Vec<ColumnSnapshot>,
    len: usize,
    metadata: HashMap<String, String>,
    compression: Compression,
) -> Result<(), IoError> {
    let batch = record_batch(schema, columns, len, metadata).map_err(|e| arrow_error(path, e))?;
    replace_with(path, |tmp| write_file(tmp, &batch, compression))
}

/// Runs `write` on a new temporary file beside `path`, then moves it over `path` and flushes
/// the directory. On any error the temporary file is removed and `path` is untouched.
pub(crate) fn replace_with(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), IoError>,
) -> Result<(), IoError> {
    let tmp = temporary_path(path);
    let written = write(&tmp)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| IoError::os(path, "replace", e)));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_directory(path)
}

/// One batch, written by arrow-rs' `FileWriter`, which streams each buffer from the table's
/// own memory (no copy of the body).
fn write_file(tmp: &Path, batch: &RecordBatch, compression: Compression) -> Result<(), IoError> {
    let file = File::create_new(tmp).map_err(|e| IoError::os(tmp, "create", e))?;
    let options = write_options(tmp, compression)?;
    let out = BufWriter::with_capacity(1 << 20, file);
    let mut writer = FileWriter::try_new_with_options(out, &batch.schema(), options)
        .map_err(|e| arrow_error(tmp, e))?;
    writer.write(batch).map_err(|e| arrow_error(tmp, e))?;
    writer.finish().map_err(|e| arrow_error(tmp, e))?;
    let mut out = writer.into_inner().map_err(|e| arrow_error(tmp, e))?;
    out.flush().map_err(|e| IoError::os(tmp, "write", e))?;
    let file = out
        .into_inner()
        .map_err(|e| IoError::os(tmp, "write", e.into_error()))?;
    file.sync_all()
        .map_err(|e| IoError::os(tmp, "flush to disk", e))
}

pub(crate) fn arrow_error(path: &Path, error: ArrowError) -> IoError {
    match error {
        ArrowError::IoError(_, source) => IoError::os(path, "write", source),
        other => IoError::format(path, other.to_string()),
    }
}

/// `.<name>.<pid>-<n>.shoal-tmp` beside `path`: hidden, unique per process and save.
fn temporary_path(path: &Path) -> PathBuf {
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let n = SAVES.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}-{n}.shoal-tmp", std::process::id()))
}

/// Flushes the directory entry of a rename, so the new file survives a power cut.
pub(crate) fn sync_directory(path: &Path) -> Result<(), IoError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| IoError::os(dir, "flush the directory of", e))
}
