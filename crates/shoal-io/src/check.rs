//! Checks a record batch's header against its body before arrow-rs decodes it. arrow-rs 59
//! trusts two things a hostile file can lie about — a buffer's offset and length (it slices
//! the body with them) and a validity bitmap's size (it builds a bitmap of the header's row
//! count over it) — and panics instead of returning an error; everything else it checks
//! itself when it builds the arrays (offsets, UTF-8, dictionary keys).

use arrow_data::{layout, BufferSpec};
use arrow_ipc::{Buffer as IpcBuffer, FieldNode, RecordBatch as IpcBatch};
use arrow_schema::{DataType, Schema};

/// The header's promises that the body cannot keep, or `Ok` if it can keep them all (or the
/// schema holds types this walk does not follow, which arrow-rs then checks alone).
pub fn batch_header(schema: &Schema, batch: &IpcBatch<'_>, body: usize) -> Result<(), String> {
    if batch.compression().is_some() {
        return Err("its batches are compressed: shoal reads uncompressed files in place".into());
    }
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
            if nulls > 0 && (validity.length() as u64) < bits {
                return Err(format!(
                    "a validity bitmap of {} bytes for {rows} rows",
                    validity.length()
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
            if (buffer.length() as u64) < need {
                return Err(format!(
                    "a buffer of {} bytes for {rows} rows",
                    buffer.length()
                ));
            }
        }
        Ok(true)
    }

    fn next_buffer(&mut self) -> Result<&IpcBuffer, String> {
        self.buffers
            .next()
            .ok_or_else(|| "fewer buffers than the schema's fields need".to_owned())
    }
}
