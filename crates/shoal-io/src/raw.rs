//! The file as bytes: the Arrow IPC file format's fixed parts, mapping a file, and running
//! arrow-rs decoder steps so that their errors — and panics — become `IoError`s.

use std::cell::Cell;
use std::fs::File;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use memmap2::Mmap;

use crate::IoError;

/// The file format's magic, at the start (padded to 8 bytes) and at the end.
pub(crate) const MAGIC: &[u8; 6] = b"ARROW1";
/// The trailer: the footer's length (i32) and the magic.
pub(crate) const TRAILER: usize = 10;
/// The shortest file `map_file` maps.
pub(crate) const MIN_LEN: usize = MESSAGE_PREFIX + TRAILER;
/// An encapsulated message starts with a continuation marker and the metadata's length.
pub(crate) const MESSAGE_PREFIX: usize = 8;

thread_local! {
    /// Set while this thread runs a decoder step whose panic `decode` turns into an error.
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// Runs a decoder step, turning its error — or its panic — into a format error naming the
/// file. arrow-rs 59 panics on some hostile inputs instead of returning an error (a schema
/// type it does not know, a union's bad mode); such a panic is caught here and printed
/// nowhere (the panic hook stays quiet for it), so it is only ever an error to the user.
pub(crate) fn decode<T>(
    path: &Path,
    what: &str,
    step: impl FnOnce() -> Result<T, arrow_schema::ArrowError>,
) -> Result<T, IoError> {
    caught(step).map_err(|detail| {
        IoError::format(
            path,
            format!("{what}: {}", detail.unwrap_or("malformed".into())),
        )
    })
}

/// Runs `step` with its panic caught (and unprinted): its error's text, or `None` for a panic.
pub(crate) fn caught<T, E: std::fmt::Display>(
    step: impl FnOnce() -> Result<T, E>,
) -> Result<T, Option<String>> {
    quiet_caught_panics();
    DECODING.with(|d| d.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(step));
    DECODING.with(|d| d.set(false));
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Some(e.to_string())),
        Err(_) => Err(None),
    }
}

/// Installs (once) a panic hook that says nothing for panics `decode` catches and hands every
/// other panic to the hook that was there before.
fn quiet_caught_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !DECODING.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Whether `path` is a regular file, asked before it is opened: opening a FIFO would wait for
/// a writer. A directory is an `EISDIR` error.
pub(crate) fn regular_file(path: &Path) -> Result<bool, IoError> {
    let kind = std::fs::metadata(path).map_err(|e| IoError::os(path, "open", e))?;
    if kind.is_dir() {
        let is_a_directory = std::io::Error::from_raw_os_error(21); // EISDIR
        return Err(IoError::os(path, "open", is_a_directory));
    }
    Ok(kind.is_file())
}

/// `path` memory-mapped read-only: a regular file (a FIFO would wait for a writer, a
/// directory is `EISDIR`) at least as long as the smallest Arrow IPC file.
pub(crate) fn map_file(path: &Path) -> Result<Mmap, IoError> {
    if !regular_file(path)? {
        return Err(IoError::format(path, "not a regular file"));
    }
    let file = File::open(path).map_err(|e| IoError::os(path, "open", e))?;
    let len = file
        .metadata()
        .map_err(|e| IoError::os(path, "read the size of", e))?
        .len();
    if len < MIN_LEN as u64 {
        return Err(IoError::format(path, format!("{len} bytes are too short")));
    }
    // SAFETY: a read-only private map. Its bytes change only if another program writes
    // into the file in place while it is mapped (shoal's own saves replace the file, a new
    // inode, instead): the hazard every memory-mapped reader (pyarrow, polars) shares,
    // documented in docs/files.md.
    unsafe { Mmap::map(&file) }.map_err(|e| IoError::os(path, "memory-map", e))
}
