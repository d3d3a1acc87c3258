//! Arrow IPC files read in place: the file is memory-mapped and every column buffer the
//! decoder hands out points into the map, which lives as long as any buffer does.

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::File;
use std::panic::{self, catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Arc, Once, OnceLock};

use arrow_array::ffi::FFI_ArrowSchema;
use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::convert::fb_to_schema;
use arrow_ipc::reader::{read_footer_length, FileDecoder};
use arrow_ipc::{root_as_footer, root_as_message, Block};
use arrow_schema::{Schema as ArrowSchema, SchemaRef};
use memmap2::Mmap;
use shoal_core::arrow::import_struct;
use shoal_core::{Column, Schema};

use crate::bridge::{c_array, c_schema, export_batch};
use crate::IoError;
use crate::{check, stream};

/// One column of a file, as [`MappedFile::columns`] describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileColumn {
    /// The column's name.
    pub name: String,
    /// Its C Data Interface format string.
    pub format: String,
    /// For a dictionary-encoded column, the format of the dictionary's values.
    pub dictionary: Option<String>,
    /// Whether the schema says it may hold nulls.
    pub nullable: bool,
}

/// The file format's magic, at the start (padded to 8 bytes) and at the end.
pub(crate) const MAGIC: &[u8; 6] = b"ARROW1";
/// The trailer: the footer's length (i32) and the magic.
const TRAILER: usize = 10;
/// The shortest file `map_file` maps.
pub(crate) const MIN_LEN: usize = MESSAGE_PREFIX + TRAILER;
/// An encapsulated message starts with a continuation marker and the metadata's length.
pub(crate) const MESSAGE_PREFIX: usize = 8;

/// An Arrow IPC file, memory-mapped, its footer and dictionaries read; batches decoded on use.
pub struct MappedFile {
    path: PathBuf,
    /// The whole file, as an arrow-rs buffer owning the map.
    bytes: Buffer,
    schema: SchemaRef,
    decoder: FileDecoder,
    /// The record batches' blocks, each checked to lie inside the file.
    blocks: Vec<Block>,
    /// Rows of each batch, from its message header.
    rows: Vec<usize>,
    /// Each batch once decoded (and checked), so slicing it again costs nothing.
    decoded: Vec<OnceLock<RecordBatch>>,
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedFile")
            .field("path", &self.path)
            .field("bytes", &self.bytes.len())
            .field("rows", &self.rows)
            .finish()
    }
}

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
    quiet_caught_panics();
    DECODING.with(|d| d.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(step));
    DECODING.with(|d| d.set(false));
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(IoError::format(path, format!("{what}: {e}"))),
        Err(_) => Err(IoError::format(path, format!("{what}: malformed"))),
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

impl MappedFile {
    /// Maps `path` read-only and reads its footer, schema and dictionaries (not its batches).
    pub fn open(path: &Path) -> Result<MappedFile, IoError> {
        Self::from_map(path, map_file(path)?)
    }

    fn from_map(path: &Path, map: Mmap) -> Result<MappedFile, IoError> {
        let len = map.len();
        if &map[..MAGIC.len()] != MAGIC {
            return Err(IoError::format(path, "no 'ARROW1' magic at the start"));
        }
        if &map[len - MAGIC.len()..] != MAGIC {
            // The footer is written last: an unfinished file, whose complete batches can be
            // recovered, or a damaged one.
            return Err(stream::unfinished(path, &map));
        }
        let ptr = NonNull::new(map.as_ptr().cast_mut())
            .ok_or_else(|| IoError::format(path, "an empty map"))?;
        // SAFETY: `ptr` and `len` describe the map's bytes, valid and never written while the
        // map lives; the buffer owns the map, so they live as long as the buffer and every
        // slice of it.
        let bytes = unsafe { Buffer::from_custom_allocation(ptr, len, Arc::new(map)) };
        let mut trailer = [0u8; TRAILER];
        trailer.copy_from_slice(&bytes[len - TRAILER..]);
        let footer_len = decode(path, "the trailer", || read_footer_length(trailer))?;
        let footer_start = (len - TRAILER)
            .checked_sub(footer_len)
            .filter(|&start| start >= MESSAGE_PREFIX)
            .ok_or_else(|| IoError::format(path, format!("a footer of {footer_len} bytes")))?;
        let footer_bytes = &bytes[footer_start..len - TRAILER];
        let footer = root_as_footer(footer_bytes)
            .map_err(|e| IoError::format(path, format!("the footer: {e}")))?;
        let fb_schema = footer
            .schema()
            .ok_or_else(|| IoError::format(path, "no schema in the footer"))?;
        let schema = Arc::new(decode(path, "the schema", || Ok(fb_to_schema(fb_schema)))?);
        let mut decoder =
            FileDecoder::new(schema.clone(), footer.version()).with_require_alignment(true);
        for block in footer.dictionaries().iter().flatten() {
            let data = block_bytes(path, &bytes, block, footer_start)?;
            decode(path, "a dictionary", || {
                decoder.read_dictionary(block, &data)
            })?;
        }
        let blocks: Vec<Block> = footer
            .recordBatches()
            .map(|v| v.iter().copied().collect())
            .unwrap_or_default();
        let rows = blocks
            .iter()
            .map(|b| batch_rows(path, &schema, &bytes, b, footer_start))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MappedFile {
            path: path.to_owned(),
            bytes,
            schema,
            decoder,
            decoded: blocks.iter().map(|_| OnceLock::new()).collect(),
            blocks,
            rows,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size in bytes.
    pub fn nbytes(&self) -> usize {
        self.bytes.len()
    }

    /// The schema's key-value metadata (where shoal keeps the record's declaration).
    pub fn metadata(&self) -> &HashMap<String, String> {
        self.schema.metadata()
    }

    /// Each column of the file: its name, its C Data Interface format (`g`, `u`, `tsu:UTC`
    /// ...), its dictionary's value format for a dictionary-encoded column, and whether it is
    /// nullable. A type the C interface cannot express has the format `?`.
    pub fn columns(&self) -> Vec<FileColumn> {
        self.schema
            .fields()
            .iter()
            .map(|f| {
                let c = FFI_ArrowSchema::try_from(f.data_type()).ok();
                FileColumn {
                    name: f.name().clone(),
                    format: c.as_ref().map_or("?".into(), |c| c.format().to_owned()),
                    dictionary: c
                        .as_ref()
                        .and_then(|c| c.dictionary())
                        .map(|d| d.format().to_owned()),
                    nullable: f.is_nullable(),
                }
            })
            .collect()
    }

    /// Rows of each record batch.
    pub fn batch_rows(&self) -> &[usize] {
        &self.rows
    }

    /// Batch `i`, decoded and checked (every offset, every UTF-8 string) the first time it is
    /// asked for, its buffers in the map.
    pub fn batch(&self, i: usize) -> Result<&RecordBatch, IoError> {
        let (Some(block), Some(slot)) = (self.blocks.get(i), self.decoded.get(i)) else {
            return Err(IoError::format(&self.path, format!("no batch {i}")));
        };
        if let Some(batch) = slot.get() {
            return Ok(batch);
        }
        let footer_start = self.bytes.len() - TRAILER;
        let data = block_bytes(&self.path, &self.bytes, block, footer_start)?;
        let batch = decode(&self.path, &format!("batch {i}"), || {
            self.decoder.read_record_batch(block, &data)
        })?
        .ok_or_else(|| IoError::format(&self.path, format!("batch {i} is empty")))?;
        Ok(slot.get_or_init(|| batch))
    }

    /// Appends rows `[start, start + len)` of batch `i` to `columns` (one per field of
    /// `schema`). Empty columns adopt the map's buffers where their layout is shoal's own, so
    /// those columns read the file in place; the rest are copied.
    pub fn import(
        &self,
        schema: &Schema,
        i: usize,
        start: usize,
        len: usize,
        columns: &mut [Column],
    ) -> Result<(), IoError> {
        let batch = self.batch(i)?;
        if start
            .checked_add(len)
            .is_none_or(|end| end > batch.num_rows())
        {
            return Err(IoError::format(
                &self.path,
                format!(
                    "rows {start}..+{len} of batch {i} ({} rows)",
                    batch.num_rows()
                ),
            ));
        }
        let (arrow_schema, array) = decode(&self.path, &format!("batch {i}"), || {
            export_batch(batch.slice(start, len))
        })?;
        // SAFETY: arrow-rs exported the schema and array together just above, valid and
        // unreleased; we own the array and release it (by dropping it) right after.
        let imported = unsafe {
            import_struct(
                schema,
                c_schema(&arrow_schema),
                c_array(&array),
                columns,
                true,
            )
        };
        drop(array);
        imported.map_err(|error| IoError::Import {
            path: self.path.clone(),
            batch: i,
            error,
        })
    }
}

/// `path` memory-mapped read-only: a regular file (a FIFO would wait for a writer, a
/// directory is `EISDIR`) at least as long as the smallest Arrow IPC file.
pub(crate) fn map_file(path: &Path) -> Result<Mmap, IoError> {
    // Checked before opening: opening a FIFO would wait for a writer.
    let kind = std::fs::metadata(path).map_err(|e| IoError::os(path, "open", e))?;
    if kind.is_dir() {
        let is_a_directory = std::io::Error::from_raw_os_error(21); // EISDIR
        return Err(IoError::os(path, "open", is_a_directory));
    }
    if !kind.is_file() {
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

/// The bytes of `block` (metadata and body), checked to lie before the footer.
fn block_bytes(
    path: &Path,
    bytes: &Buffer,
    block: &Block,
    footer_start: usize,
) -> Result<Buffer, IoError> {
    let bad = || {
        IoError::format(
            path,
            format!(
                "a block at {} of {} + {} bytes lies outside the data",
                block.offset(),
                block.metaDataLength(),
                block.bodyLength()
            ),
        )
    };
    let offset = usize::try_from(block.offset()).map_err(|_| bad())?;
    let meta = usize::try_from(block.metaDataLength()).map_err(|_| bad())?;
    let body = usize::try_from(block.bodyLength()).map_err(|_| bad())?;
    let end = offset
        .checked_add(meta)
        .and_then(|e| e.checked_add(body))
        .ok_or_else(bad)?;
    if meta < MESSAGE_PREFIX || offset < MESSAGE_PREFIX || end > footer_start {
        return Err(bad());
    }
    Ok(bytes.slice_with_length(offset, end - offset))
}

/// A record batch's row count, read from its message header without touching its body, after
/// checking the header's buffers against the body (`check`).
fn batch_rows(
    path: &Path,
    schema: &ArrowSchema,
    bytes: &Buffer,
    block: &Block,
    footer_start: usize,
) -> Result<usize, IoError> {
    let data = block_bytes(path, bytes, block, footer_start)?;
    let (meta, body) = data.split_at(block.metaDataLength() as usize);
    let flatbuffer = if meta[..4] == [0xff; 4] {
        &meta[8..]
    } else {
        &meta[4..]
    };
    let message = root_as_message(flatbuffer)
        .map_err(|e| IoError::format(path, format!("a batch header: {e}")))?;
    let header = message
        .header_as_record_batch()
        .ok_or_else(|| IoError::format(path, "a record batch block holds another message"))?;
    check::batch_header(schema, &header, body.len()).map_err(|e| IoError::format(path, e))?;
    Ok(header.length() as usize)
}
