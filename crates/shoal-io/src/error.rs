//! The one error type of the file layer; `shoal-python` maps it to `OSError` / `ValueError`.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What went wrong reading or writing a file. Every variant names the file.
#[derive(Debug)]
pub enum IoError {
    /// The operating system refused `action` (open, write, map, rename ...).
    Os {
        /// The file.
        path: PathBuf,
        /// What we were doing.
        action: &'static str,
        /// The system's error.
        source: io::Error,
    },
    /// The bytes are not a readable Arrow IPC file (truncated, corrupted, hostile, or using
    /// something shoal cannot read in place, such as compression or misaligned buffers).
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, as specifically as the decoder could tell.
        detail: String,
    },
    /// The bytes are not a readable Parquet file.
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong, as the `parquet` crate tells it.
        detail: String,
    },
    /// A dataset (a folder of Parquet files) that cannot be written or read as asked: a
    /// partition field of a type folder names cannot hold, a folder value that is not a value
    /// of its field, a target folder that exists.
    Dataset {
        /// The dataset's folder, or the file in it.
        path: PathBuf,
        /// What is wrong and what to do.
        detail: String,
    },
    /// An Arrow IPC file without its footer (a `Writer` stopped before finishing): the
    /// complete batches it holds can be recovered.
    Unfinished {
        /// The file.
        path: PathBuf,
        /// Complete record batches in it.
        batches: usize,
        /// Their rows.
        rows: usize,
    },
    /// The file is valid Arrow, but its columns do not fit the record class.
    Import {
        /// The file.
        path: PathBuf,
        /// The batch whose import failed.
        batch: usize,
        /// The store's own error (names the field and the value).
        error: shoal_core::Error,
    },
}

impl IoError {
    pub(crate) fn os(path: &std::path::Path, action: &'static str, source: io::Error) -> IoError {
        IoError::Os {
            path: path.to_owned(),
            action,
            source,
        }
    }

    pub(crate) fn parquet(path: &std::path::Path, detail: impl Into<String>) -> IoError {
        IoError::Parquet {
            path: path.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn dataset(path: &std::path::Path, detail: impl Into<String>) -> IoError {
        IoError::Dataset {
            path: path.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn format(path: &std::path::Path, detail: impl Into<String>) -> IoError {
        IoError::Format {
            path: path.to_owned(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IoError::Os {
                path,
                action,
                source,
            } => write!(f, "cannot {action} '{}': {source}", path.display()),
            IoError::Format { path, detail } => {
                write!(
                    f,
                    "'{}' is not a readable Arrow IPC file: {detail}",
                    path.display()
                )
            }
            IoError::Parquet { path, detail } => {
                write!(
                    f,
                    "'{}' is not a readable Parquet file: {detail}",
                    path.display()
                )
            }
            IoError::Dataset { path, detail } => write!(f, "'{}': {detail}", path.display()),
            IoError::Unfinished {
                path,
                batches,
                rows,
            } => write!(
                f,
                "'{}' is unfinished: it has no footer (was its writer stopped before closing \
                 it?); {rows} rows in {batches} complete batches can be recovered",
                path.display()
            ),
            IoError::Import { path, batch, error } => {
                write!(f, "'{}', batch {batch}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for IoError {}
