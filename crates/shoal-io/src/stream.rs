//! Unfinished files: an Arrow IPC file's footer is written last, so a `Writer` stopped before
//! closing (a crash, `SIGKILL`, a full disk) leaves a file without one. Its messages from
//! byte 8 on are an Arrow IPC *stream*: every message that lies whole in the file can be
//! read, and `recover` writes those batches out as a complete file.

use std::io::Cursor;
use std::path::Path;

use arrow_ipc::convert::fb_to_schema;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::{root_as_message, Message, MessageHeader};
use arrow_schema::Schema as ArrowSchema;

use crate::batch_file::BatchFile;
use crate::raw::{decode, map_file, MAGIC, MESSAGE_PREFIX, MIN_LEN};
use crate::save::{replace_with, Compression};
use crate::{check, IoError};

/// Where the file format's stream of messages starts: after the magic, padded to 8 bytes.
const STREAM_START: usize = 8;

/// The complete part of a file's message stream.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Complete {
    /// Record batches that lie whole in the file, their headers checked against their bodies.
    pub batches: usize,
    /// Their rows.
    pub rows: usize,
    /// The end of the last complete message (dictionary or batch), from the file's start.
    end: usize,
}

/// Walks the messages from byte 8 while each lies whole in `bytes` and reads as the stream
/// format says (a schema first, then dictionaries and record batches whose buffers fit their
/// bodies), stopping at the end-of-stream marker, the first incomplete message or the first
/// damaged one. Reads headers only, never a body.
fn complete_part(path: &Path, bytes: &[u8]) -> Complete {
    let mut done = Complete::default();
    let mut schema: Option<ArrowSchema> = None;
    let mut at = STREAM_START;
    while let Some((message, body_len, next)) = message_at(bytes, at) {
        match (message.header_type(), &schema) {
            (MessageHeader::Schema, None) => {
                let Some(fb) = message.header_as_schema() else {
                    break;
                };
                match decode(path, "the schema", || Ok(fb_to_schema(fb))) {
                    Ok(s) => schema = Some(s),
                    Err(_) => break,
                }
            }
            (MessageHeader::DictionaryBatch, Some(_)) => {}
            (MessageHeader::RecordBatch, Some(s)) => {
                let Some(header) = message.header_as_record_batch() else {
                    break;
                };
                let Ok(rows) = usize::try_from(header.length()) else {
                    break;
                };
                if check::batch_header(s, &header, &bytes[next - body_len..next]).is_err() {
                    break;
                }
                done.batches += 1;
                done.rows += rows;
            }
            _ => break,
        }
        done.end = next;
        at = next;
    }
    done
}

/// The message at `at` (its metadata verified as a flatbuffer), its body's length and where
/// the next message starts — or `None` at the end-of-stream marker or when it does not lie
/// whole in `bytes`.
fn message_at(bytes: &[u8], at: usize) -> Option<(Message<'_>, usize, usize)> {
    let word = |i: usize| -> Option<u32> {
        let w = bytes.get(i..i.checked_add(4)?)?;
        Some(u32::from_le_bytes(w.try_into().ok()?))
    };
    // The continuation marker, then the metadata's length (older writers: the length alone).
    let (len, prefix) = match word(at)? {
        0xffff_ffff => (word(at + 4)?, MESSAGE_PREFIX),
        len => (len, 4),
    };
    let len = usize::try_from(i32::try_from(len).ok()?).ok()?;
    if len == 0 {
        return None;
    }
    let meta_start = at.checked_add(prefix)?;
    let meta = bytes.get(meta_start..meta_start.checked_add(len)?)?;
    let message = root_as_message(meta).ok()?;
    let body_len = usize::try_from(message.bodyLength()).ok()?;
    let next = meta_start.checked_add(len)?.checked_add(body_len)?;
    (next <= bytes.len()).then_some((message, body_len, next))
}

/// The error for a file with the start magic and no footer: how many rows are recoverable.
pub(crate) fn unfinished(path: &Path, bytes: &[u8]) -> IoError {
    let done = complete_part(path, bytes);
    IoError::Unfinished {
        path: path.to_owned(),
        batches: done.batches,
        rows: done.rows,
    }
}

/// Writes the complete record batches of the file at `partial` (finished or not) as a
/// complete, uncompressed file at `target`, atomically (as `save`), then removes `partial` if it is another
/// file. Returns the batches and rows recovered. Memory: one batch at a time.
pub fn recover(partial: &Path, target: &Path) -> Result<Complete, IoError> {
    let nothing = || {
        IoError::format(
            partial,
            "not even its schema was written: there is nothing to recover (delete it)",
        )
    };
    let map = match map_file(partial) {
        Err(IoError::Format { .. }) if is_short(partial) => return Err(nothing()),
        map => map?,
    };
    if &map[..MAGIC.len()] != MAGIC {
        return Err(IoError::format(partial, "no 'ARROW1' magic at the start"));
    }
    let done = complete_part(partial, &map);
    if done.end == 0 {
        return Err(nothing());
    }
    let stream = Cursor::new(&map[STREAM_START..done.end]);
    let mut reader = decode(partial, "the schema", || {
        StreamReader::try_new(stream, None)
    })?;
    let schema = reader.schema();
    replace_with(target, |tmp| {
        let mut out = BatchFile::create(tmp, &schema, Compression::None)?;
        let mut last = None;
        for i in 0..done.batches {
            let batch = decode(partial, &format!("batch {i}"), || reader.next().transpose())?
                .ok_or_else(|| IoError::format(partial, format!("batch {i} is missing")))?;
            out.write(&batch)?;
            last = Some(batch);
        }
        // The last batch's dictionaries hold every value (each batch's extends the last).
        out.finish(last.as_ref())
    })?;
    if !same_file(partial, target) {
        std::fs::remove_file(partial).map_err(|e| IoError::os(partial, "remove", e))?;
    }
    Ok(done)
}

/// Whether the file at `path` is a regular file shorter than any Arrow IPC file.
fn is_short(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() < MIN_LEN as u64)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
