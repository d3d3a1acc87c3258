//! A file of many record batches, written one batch at a time, that every reader can open.
//!
//! arrow-rs' `FileWriter` writes a category dictionary that grows between batches as delta
//! messages and lists them in the footer; polars (2.1) refuses such files ("delta dictionary
//! batches not supported"). So this writer frames the file itself, from arrow-rs' encoders:
//! the body is an Arrow IPC stream (schema, then each batch with its dictionaries' new values
//! as deltas — what `stream::recover` reads back from an unfinished file); `finish` appends
//! each dictionary once more in full, and the footer lists those full dictionaries only, so a
//! file reader sees one dictionary per column, as in any file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_ipc::convert::IpcSchemaEncoder;
use arrow_ipc::writer::{
    write_message, DictionaryHandling, DictionaryTracker, EncodedData, IpcDataGenerator,
    IpcWriteContext, IpcWriteOptions,
};
use arrow_ipc::{Block, FooterBuilder, MetadataVersion};
use arrow_schema::{ArrowError, SchemaRef};
use flatbuffers::FlatBufferBuilder;

use crate::raw::MAGIC;
use crate::save::{arrow_error, write_options, Compression};
use crate::IoError;

/// An Arrow IPC file being written batch by batch; see the module's documentation.
pub(crate) struct BatchFile {
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes written so far: where the next message starts.
    at: usize,
    schema: SchemaRef,
    options: IpcWriteOptions,
    encoder: IpcDataGenerator,
    dictionaries: DictionaryTracker,
    context: IpcWriteContext,
    batches: Vec<Block>,
}

impl BatchFile {
    /// Creates `path`, which must not exist, and writes the magic and the schema.
    pub(crate) fn create(
        path: &Path,
        schema: &SchemaRef,
        compression: Compression,
    ) -> Result<BatchFile, IoError> {
        let file = File::create_new(path).map_err(|e| IoError::os(path, "create", e))?;
        let options =
            write_options(path, compression)?.with_dictionary_handling(DictionaryHandling::Delta);
        let mut f = BatchFile {
            path: path.to_owned(),
            out: BufWriter::with_capacity(1 << 20, file),
            at: 0,
            schema: schema.clone(),
            options,
            encoder: IpcDataGenerator::default(),
            dictionaries: DictionaryTracker::new(true),
            context: IpcWriteContext::default(),
            batches: Vec::new(),
        };
        f.write_bytes(&[MAGIC.as_slice(), &[0, 0]].concat())?;
        let message = f.encoder.schema_to_bytes_with_dictionary_tracker(
            schema,
            &mut f.dictionaries,
            &f.options,
        );
        f.write_message(message)?;
        Ok(f)
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        self.out
            .write_all(bytes)
            .map_err(|e| IoError::os(&self.path, "write", e))?;
        self.at += bytes.len();
        Ok(())
    }

    /// Writes one message; returns its block (where it starts, its lengths).
    fn write_message(&mut self, message: EncodedData) -> Result<Block, IoError> {
        let start = self.at;
        let (meta, body) =
            write_message(&mut self.out, message, &self.options).map_err(|e| self.error(e))?;
        self.at += meta + body;
        Ok(Block::new(start as i64, meta as i32, body as i64))
    }

    fn error(&self, e: ArrowError) -> IoError {
        arrow_error(&self.path, e)
    }

    /// Appends `batch` (after its dictionaries' new values) and hands it to the system, so a
    /// process killed after this keeps it in the file.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), IoError> {
        let (dictionaries, message) = self
            .encoder
            .encode(
                batch,
                &mut self.dictionaries,
                &self.options,
                &mut self.context,
            )
            .map_err(|e| self.error(e))?;
        for d in dictionaries {
            self.write_message(d)?;
        }
        let block = self.write_message(message)?;
        self.batches.push(block);
        self.out
            .flush()
            .map_err(|e| IoError::os(&self.path, "write", e))
    }

    /// Writes the full dictionaries — those of `full`, a batch (of any rows) whose
    /// dictionaries hold every value written — the end-of-stream marker and the footer, and
    /// flushes the file to disk.
    pub(crate) fn finish(mut self, full: Option<&RecordBatch>) -> Result<(), IoError> {
        let dictionaries = match full {
            Some(batch) if !self.batches.is_empty() => self.full_dictionaries(batch)?,
            _ => Vec::new(),
        };
        // The end-of-stream marker: a continuation and a zero length.
        self.write_bytes(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])?;
        let mut fbb = FlatBufferBuilder::new();
        let dictionaries = fbb.create_vector(&dictionaries);
        let batches = fbb.create_vector(&self.batches);
        let mut ids = DictionaryTracker::new(false);
        let schema = IpcSchemaEncoder::new()
            .with_dictionary_tracker(&mut ids)
            .schema_to_fb_offset(&mut fbb, &self.schema);
        let mut footer = FooterBuilder::new(&mut fbb);
        footer.add_version(MetadataVersion::V5);
        footer.add_schema(schema);
        footer.add_dictionaries(dictionaries);
        footer.add_recordBatches(batches);
        let footer = footer.finish();
        fbb.finish(footer, None);
        let footer = fbb.finished_data();
        let footer_len = i32::try_from(footer.len())
            .map_err(|_| IoError::format(&self.path, "a footer over 2 GiB"))?;
        self.write_bytes(footer)?;
        self.write_bytes(&footer_len.to_le_bytes())?;
        self.write_bytes(MAGIC)?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| IoError::os(&self.path, "write", e.into_error()))?;
        file.sync_all()
            .map_err(|e| IoError::os(&self.path, "flush to disk", e))
    }

    /// Writes each dictionary in full (not a delta), encoded with a fresh tracker that
    /// numbers them as the schema does; returns their blocks, for the footer.
    fn full_dictionaries(&mut self, full: &RecordBatch) -> Result<Vec<Block>, IoError> {
        let mut fresh = DictionaryTracker::new(false);
        self.encoder.schema_to_bytes_with_dictionary_tracker(
            &self.schema,
            &mut fresh,
            &self.options,
        );
        let (dictionaries, _) = self
            .encoder
            .encode(
                &full.slice(0, 0),
                &mut fresh,
                &self.options,
                &mut self.context,
            )
            .map_err(|e| self.error(e))?;
        dictionaries
            .into_iter()
            .map(|d| self.write_message(d))
            .collect()
    }
}
