//! Checks a record batch's header against its body before arrow-rs decodes it. arrow-rs 59
//! trusts two things a hostile file can lie about — a buffer's offset and length (it slices
//! the body with them) and a validity bitmap's size (it builds a bitmap of the header's row
//! count over it) — and panics instead of returning an error; everything else it checks
//! itself when it builds the arrays (offsets, UTF-8, dictionary keys).

use arrow_data::{layout, BufferSpec};
use arrow_ipc::{Buffer as IpcBuffer, FieldNode, RecordBatch as IpcBatch};
use arrow_schema::{DataType, Schema};

/// Padding writers may leave at the end of a buffer (Arrow recommends 64-byte multiples).
const PADDING: u64 = 64;

/// The header's promises that the body cannot keep, or `Ok` if it can keep them all (or the
/// schema holds types this walk does not follow, which arrow-rs then checks alone). For a
/// compressed batch the sizes checked are the decompressed ones each buffer states in its
/// first 8 bytes, and those are bounded too: arrow-rs allocates what they say before it
/// decompresses.
pub fn batch_header(schema: &Schema, batch: &IpcBatch<'_>, body: &[u8]) -> Result<(), String> {
    let compressed = batch.compression().is_some();
    let body_bytes = body;
    let body = body.len();
    let nodes: Vec<FieldNode> = batch
        .nodes()
        .map(|n| n.iter().copied().collect())
        .unwrap_or_default();
    let buffers: Vec<IpcBuffer> = batch
        .buffers()
        .map(|b| b.iter().copied().collect())
        .unwrap_or_default();
    for (i, b) in buffers.iter().enumerate() {
        let end = u64::try_from(b.offset())
            .ok()
            .zip(u64::try_from(b.length()).ok())
            .and_then(|(o, l)| o.checked_add(l));
        if end.is_none_or(|end| end > body as u64) {
            return Err(format!(
                "buffer {i} at {} of {} bytes lies outside the {body}-byte body",
                b.offset(),
                b.length()
            ));
        }
    }
    if usize::try_from(batch.length()).is_err() {
        return Err(format!("a batch of {} rows", batch.length()));
    }
    let mut walk = Walk {
        nodes: nodes.iter(),
        buffers: buffers.iter(),
        body: compressed.then_some(body_bytes),
    };
    for field in schema.fields() {
        if !walk.field(field.data_type())? {
            break;
        }
    }
    Ok(())
}

struct Walk<'a> {
    nodes: std::slice::Iter<'a, FieldNode>,
    buffers: std::slice::Iter<'a, IpcBuffer>,
    /// A compressed batch's body, whose buffers state their decompressed sizes.
    body: Option<&'a [u8]>,
}

/// The most a variable-width buffer (text bytes) may decompress to: what `i32` offsets can
/// address, and no more than 65,536 times its compressed size.
fn variable_cap(compressed: u64) -> u64 {
    (i32::MAX as u64).min(compressed.saturating_mul(1 << 16).saturating_add(4096))
}

impl Walk<'_> {
    /// Checks one field's node and buffers (and its children's); `false` when the field's
    /// type is one this walk does not follow (the rest is left to arrow-rs).
    fn field(&mut self, data_type: &DataType) -> Result<bool, String> {
        let children: Vec<&DataType> = match data_type {
            DataType::Struct(fields) => fields.iter().map(|f| f.data_type()).collect(),
            DataType::List(f) | DataType::LargeList(f) | DataType::Map(f, _) => vec![f.data_type()],
            DataType::FixedSizeList(f, _) => vec![f.data_type()],
            DataType::Dictionary(keys, _) => return self.leaf(keys),
            DataType::Null
            | DataType::Union(..)
            | DataType::RunEndEncoded(..)
            | DataType::Utf8View
            | DataType::BinaryView
            | DataType::ListView(_)
            | DataType::LargeListView(_) => return Ok(false),
            leaf => return self.leaf(leaf),
        };
        if !self.leaf(data_type)? {
            return Ok(false);
        }
        for child in children {
            if !self.field(child)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// One node and the buffers its type's layout has (validity first).
    fn leaf(&mut self, data_type: &DataType) -> Result<bool, String> {
        let Some(node) = self.nodes.next() else {
            return Err("fewer field nodes than the schema has fields".into());
        };
        let (Ok(rows), Ok(nulls)) = (
            u64::try_from(node.length()),
            u64::try_from(node.null_count()),
        ) else {
            return Err(format!(
                "a field of {} rows and {} nulls",
                node.length(),
                node.null_count()
            ));
        };
        let bits = rows.div_ceil(8);
        let spec = layout(data_type);
        if spec.variadic {
            return Ok(false);
        }
        if spec.can_contain_null_mask {
            let validity = self.next_buffer()?;
            let cap = bits + PADDING;
            let length = self.decoded_length(&validity, cap)?;
            if nulls > 0 && length < bits {
                return Err(format!(
                    "a validity bitmap of {length} bytes for {rows} rows"
                ));
            }
        }
        for buffer_spec in &spec.buffers {
            let buffer = self.next_buffer()?;
            let need = match buffer_spec {
                BufferSpec::BitMap => bits,
                BufferSpec::FixedWidth { byte_width, .. } => {
                    rows.saturating_mul(*byte_width as u64)
                }
                BufferSpec::VariableWidth | BufferSpec::AlwaysNull => 0,
            };
            let cap = match buffer_spec {
                BufferSpec::VariableWidth => variable_cap(buffer.length() as u64),
                // Offsets buffers hold one more value than the rows.
                _ => need.saturating_add(8).saturating_add(PADDING),
            };
            let length = self.decoded_length(&buffer, cap)?;
            if length < need {
                return Err(format!("a buffer of {length} bytes for {rows} rows"));
            }
        }
        Ok(true)
    }

    /// A buffer's length once decompressed: its own for an uncompressed batch; for a
    /// compressed one, the length its first 8 bytes state (-1: stored uncompressed after
    /// them), refused above `cap`.
    fn decoded_length(&self, buffer: &IpcBuffer, cap: u64) -> Result<u64, String> {
        let length = buffer.length() as u64;
        let Some(body) = self.body else {
            return Ok(length);
        };
        if length == 0 {
            return Ok(0);
        }
        let start = buffer.offset() as usize;
        let prefix = body
            .get(start..start + 8)
            .filter(|_| length >= 8)
            .ok_or_else(|| format!("a compressed buffer of {length} bytes"))?;
        let stated = i64::from_le_bytes(prefix.try_into().expect("8 bytes"));
        let decoded = match stated {
            -1 => length - 8,
            n => u64::try_from(n).map_err(|_| format!("a buffer decompressing to {n} bytes"))?,
        };
        if decoded > cap {
            return Err(format!(
                "a buffer of {length} bytes said to decompress to {decoded} (at most {cap} here)"
            ));
        }
        Ok(decoded)
    }

    fn next_buffer(&mut self) -> Result<IpcBuffer, String> {
        self.buffers
            .next()
            .copied()
            .ok_or_else(|| "fewer buffers than the schema's fields need".to_owned())
    }
}
