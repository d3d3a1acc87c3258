//! Arrow IPC files read in place: the file is memory-mapped and every column buffer the
//! decoder hands out points into the map, which lives as long as any buffer does.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_data::ArrayData;
use arrow_ipc::convert::fb_to_schema;
use arrow_ipc::reader::{read_footer_length, FileDecoder};
use arrow_ipc::{root_as_footer, root_as_message, Block};
use arrow_schema::{DataType, Schema as ArrowSchema, SchemaRef};
use memmap2::{Mmap, UncheckedAdvice};
use shoal_core::{Column, Schema};

use crate::bridge::{columns_of, import_batch, FileColumn};
use crate::raw::{decode, map_file, MAGIC, MESSAGE_PREFIX, TRAILER};
use crate::IoError;
use crate::{check, stream};

/// An Arrow IPC file, memory-mapped, its footer and dictionaries read; batches decoded on use.
pub struct MappedFile {
    path: PathBuf,
    /// The whole file, as an arrow-rs buffer owning the map.
    bytes: Buffer,
    /// The map `bytes` owns, for handing pages back to the system (`release_rows`).
    map: Arc<Mmap>,
    schema: SchemaRef,
    decoder: FileDecoder,
    /// The record batches' blocks, each checked to lie inside the file.
    blocks: Vec<Block>,
    /// Rows of each batch, from its message header.
    rows: Vec<usize>,
    /// Each batch once decoded (and checked), so slicing it again costs nothing — for an
    /// uncompressed file, whose batches are views of the map; a compressed file's batches are
    /// decompressed into memory each time, so that only the tables made of them hold it.
    decoded: Vec<OnceLock<RecordBatch>>,
    /// Whether any batch is compressed (its columns are then decompressed into memory).
    compressed: bool,
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
        let map = Arc::new(map);
        // SAFETY: `ptr` and `len` describe the map's bytes, valid and never written while the
        // map lives; the buffer owns the map, so they live as long as the buffer and every
        // slice of it.
        let bytes = unsafe { Buffer::from_custom_allocation(ptr, len, map.clone()) };
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
        let (rows, compressed): (Vec<usize>, Vec<bool>) = blocks
            .iter()
            .map(|b| batch_rows(path, &schema, &bytes, b, footer_start))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        Ok(MappedFile {
            path: path.to_owned(),
            bytes,
            map,
            schema,
            decoder,
            decoded: blocks.iter().map(|_| OnceLock::new()).collect(),
            blocks,
            rows,
            compressed: compressed.contains(&true),
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

    /// The file's Arrow schema.
    pub fn arrow_schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The schema's key-value metadata (where shoal keeps the record's declaration).
    pub fn metadata(&self) -> &HashMap<String, String> {
        self.schema.metadata()
    }

    /// Each column of the file, as [`columns_of`] describes it.
    pub fn columns(&self) -> Vec<FileColumn> {
        columns_of(&self.schema)
    }

    /// Rows of each record batch.
    pub fn batch_rows(&self) -> &[usize] {
        &self.rows
    }

    /// Batch `i`, decoded and checked (every offset, every UTF-8 string) the first time it is
    /// asked for, its buffers in the map (for a compressed file: decompressed, every time).
    pub fn batch(&self, i: usize) -> Result<Cow<'_, RecordBatch>, IoError> {
        let (Some(block), Some(slot)) = (self.blocks.get(i), self.decoded.get(i)) else {
            return Err(IoError::format(&self.path, format!("no batch {i}")));
        };
        if let Some(batch) = slot.get() {
            return Ok(Cow::Borrowed(batch));
        }
        let footer_start = self.bytes.len() - TRAILER;
        let data = block_bytes(&self.path, &self.bytes, block, footer_start)?;
        let batch = decode(&self.path, &format!("batch {i}"), || {
            self.decoder.read_record_batch(block, &data)
        })?
        .ok_or_else(|| IoError::format(&self.path, format!("batch {i} is empty")))?;
        if self.compressed {
            return Ok(Cow::Owned(batch));
        }
        Ok(Cow::Borrowed(slot.get_or_init(|| batch)))
    }

    /// Whether the file's batches are compressed: its columns are then decompressed into
    /// memory, batch by batch, and nothing reads the map in place.
    pub fn is_compressed(&self) -> bool {
        self.compressed
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
        import_batch(&self.path, schema, batch.slice(start, len), i, columns)
    }
}

impl MappedFile {
    /// Hands back to the system this process's pages holding rows `[start, start + len)` of
    /// batch `i` (whole pages inside each of its columns' buffers), so a scan's resident size
    /// stays one batch. Reading those rows again faults the same bytes back in from the page
    /// cache: nothing changes but the resident size. A batch not yet decoded has no pages to
    /// give back.
    pub fn release_rows(&self, i: usize, start: usize, len: usize) {
        let Some(batch) = self.decoded.get(i).and_then(OnceLock::get) else {
            return;
        };
        if start
            .checked_add(len)
            .is_none_or(|end| end > batch.num_rows())
        {
            return;
        }
        let mut ranges = Vec::new();
        for column in batch.columns() {
            row_bytes(&column.to_data(), start, len, &mut ranges);
        }
        let base = self.map.as_ptr() as usize;
        let page = page_size();
        for (ptr, bytes) in ranges {
            let Some(offset) = (ptr as usize).checked_sub(base) else {
                continue;
            };
            let first = offset.div_ceil(page) * page;
            let end = (offset + bytes) / page * page;
            if end <= first || end > self.map.len() {
                continue;
            }
            // SAFETY: `[first, end)` lies inside the map (checked above). The map is read-only
            // and private and never written, so its pages are the file's pages: after
            // MADV_DONTNEED the next read faults in the same bytes from the page cache, and
            // every slice over the range (arrow buffers, shoal columns) keeps reading what it
            // read before. The one hazard — another program changing the file in place — is
            // every map's, documented in docs/files.md. A refusal only leaves pages resident.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(UncheckedAdvice::DontNeed, first, end - first)
            };
        }
    }
}

/// The page size, from the system (4 KiB if it will not say).
fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf reads a system constant; no memory is touched.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
    })
}

/// The (start, length) of the bytes that hold rows `[start, start + len)` of `data` in each
/// of its buffers: validity bits, values (fixed-width, bits, dictionary codes), text offsets
/// and text bytes.
fn row_bytes(data: &ArrayData, start: usize, len: usize, out: &mut Vec<(*const u8, usize)>) {
    let first = data.offset() + start;
    let end = first + len;
    let mut span = |buffer: &Buffer, from: usize, to: usize| {
        if from < to && to <= buffer.len() {
            out.push((buffer.as_ptr().wrapping_add(from), to - from));
        }
    };
    if let Some(nulls) = data.nulls() {
        let bits = nulls.buffer();
        span(
            bits,
            (nulls.offset() + start) / 8,
            (nulls.offset() + start + len) / 8,
        );
    }
    let Some(values) = data.buffers().first() else {
        return;
    };
    match data.data_type() {
        DataType::Boolean => span(values, first / 8, end / 8),
        DataType::Utf8 | DataType::Binary => {
            let offsets = values.typed_data::<i32>();
            span(values, first * 4, (end + 1) * 4);
            if let (Some(&a), Some(&b), Some(text)) =
                (offsets.get(first), offsets.get(end), data.buffers().get(1))
            {
                let (a, b) = (usize::try_from(a), usize::try_from(b));
                if let (Ok(a), Ok(b)) = (a, b) {
                    span(text, a, b);
                }
            }
        }
        DataType::Dictionary(key, _) => {
            if let Some(w) = key.primitive_width() {
                span(values, first * w, end * w);
            }
        }
        other => {
            if let Some(w) = other.primitive_width() {
                span(values, first * w, end * w);
            }
        }
    }
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

/// A record batch's row count and whether it is compressed, read from its message header
/// without decoding its body, after checking the header's buffers against the body (`check`).
fn batch_rows(
    path: &Path,
    schema: &ArrowSchema,
    bytes: &Buffer,
    block: &Block,
    footer_start: usize,
) -> Result<(usize, bool), IoError> {
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
    check::batch_header(schema, &header, body).map_err(|e| IoError::format(path, e))?;
    Ok((header.length() as usize, header.compression().is_some()))
}
