//! Putting a written dataset in place: it is built in a hidden folder beside the target, then
//! moved there in one rename — or, replacing an existing dataset, swapped with it atomically
//! (`renameat2(RENAME_EXCHANGE)`) and the old one removed.

use std::ffi::CString;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::save::sync_directory;
use crate::IoError;

const EXISTS: i32 = 17; // EEXIST

/// Refuses, before anything is written, a target that is a file, or a folder that is not
/// empty (unless `overwrite`), or one holding anything but a dataset's files: `overwrite`
/// never removes a folder of other files.
pub(crate) fn check_target(target: &Path, overwrite: bool) -> Result<(), IoError> {
    let kind = match fs::symlink_metadata(target) {
        Ok(kind) => kind,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(IoError::os(target, "read", e)),
    };
    let exists = io::Error::from_raw_os_error(EXISTS);
    if !kind.is_dir() {
        return Err(IoError::os(
            target,
            "write a dataset (a folder) over the file",
            exists,
        ));
    }
    let empty = fs::read_dir(target)
        .map_err(|e| IoError::os(target, "read", e))?
        .next()
        .is_none();
    if empty {
        return Ok(());
    }
    if !overwrite {
        return Err(IoError::os(
            target,
            "write the dataset over the folder (pass overwrite=True to replace it)",
            exists,
        ));
    }
    if let Some(other) = foreign_entry(target)? {
        return Err(IoError::dataset(
            target,
            format!(
                "overwrite=True replaces a dataset, and this folder holds '{}', which is not a \
                 dataset's file: remove it yourself or choose another path",
                other.display()
            ),
        ));
    }
    Ok(())
}

/// The first entry under `folder` that a dataset does not hold (Parquet files, `key=value`
/// folders, and the `_SUCCESS`, `_metadata`, `.crc` files engines add), if any.
fn foreign_entry(folder: &Path) -> Result<Option<PathBuf>, IoError> {
    for entry in fs::read_dir(folder).map_err(|e| IoError::os(folder, "read", e))? {
        let entry = entry.map_err(|e| IoError::os(folder, "read", e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry
            .file_type()
            .map_err(|e| IoError::os(&path, "read", e))?;
        if kind.is_dir() && name.contains('=') {
            if let Some(found) = foreign_entry(&path)? {
                return Ok(Some(found));
            }
            continue;
        }
        let dataset_file = kind.is_file()
            && (name.ends_with(".parquet") || name.starts_with('_') || name.starts_with('.'));
        if !dataset_file {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// `.<name>.<pid>-<n>.shoal-tmp` beside `target`: hidden, unique per process and write.
pub(crate) fn temporary_dir(target: &Path) -> PathBuf {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.{}-{n}.shoal-tmp", std::process::id()))
}

/// Moves the complete dataset at `tmp` to `target` and flushes the parent folder.
pub(crate) fn install(tmp: &Path, target: &Path, overwrite: bool) -> Result<(), IoError> {
    check_target(target, overwrite)?;
    match fs::rename(tmp, target) {
        Ok(()) => return sync_directory(target),
        // A non-empty folder is in the way: `check_target` allowed replacing it.
        Err(e) if overwrite && e.raw_os_error() == Some(39) => {} // ENOTEMPTY
        Err(e) => return Err(IoError::os(target, "move the dataset into place at", e)),
    }
    exchange(tmp, target).map_err(|e| IoError::os(target, "replace the dataset at", e))?;
    sync_directory(target)?;
    // `tmp` now holds the old dataset.
    fs::remove_dir_all(tmp).map_err(|e| IoError::os(tmp, "remove the replaced dataset", e))
}

/// Swaps two paths in one step: no moment when `b` is missing.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let done = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Flushes a folder's entries to disk (the files just created in it).
pub(crate) fn sync_folder(folder: &Path) -> Result<(), IoError> {
    File::open(folder)
        .and_then(|d| d.sync_all())
        .map_err(|e| IoError::os(folder, "flush the folder", e))
}
