//! shoal-core's C Data Interface structs and arrow-rs's are the same C structs: these views
//! let one side fill or read what the other made, so columns cross without a copy.

use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::{Array, RecordBatch, StructArray};
use arrow_schema::{ArrowError, DataType, Schema as ArrowSchema};
use shoal_core::arrow::{
    export_columns, export_schema, import_struct, ArrowArray, ArrowSchema as CSchema,
};
use shoal_core::{Column, ColumnSnapshot, DType, Schema};
use std::path::Path;

use crate::raw::decode;
use crate::IoError;
use std::collections::HashMap;
use std::mem::{align_of, size_of};
use std::sync::Arc;

const _: () = assert!(size_of::<FFI_ArrowSchema>() == size_of::<CSchema>());
const _: () = assert!(align_of::<FFI_ArrowSchema>() == align_of::<CSchema>());
const _: () = assert!(size_of::<FFI_ArrowArray>() == size_of::<ArrowArray>());
const _: () = assert!(align_of::<FFI_ArrowArray>() == align_of::<ArrowArray>());

/// arrow-rs's schema struct seen as shoal-core's.
pub fn c_schema(s: &FFI_ArrowSchema) -> &CSchema {
    // SAFETY: both are the C Data Interface's `struct ArrowSchema`, `#[repr(C)]` with the same
    // fields in the same order (sizes and alignments checked above); the borrow carries over.
    unsafe { &*(s as *const FFI_ArrowSchema).cast::<CSchema>() }
}

fn c_schema_mut(s: &mut FFI_ArrowSchema) -> &mut CSchema {
    // SAFETY: as in `c_schema`.
    unsafe { &mut *(s as *mut FFI_ArrowSchema).cast::<CSchema>() }
}

/// arrow-rs's array struct seen as shoal-core's.
pub fn c_array(a: &FFI_ArrowArray) -> &ArrowArray {
    // SAFETY: both are the C Data Interface's `struct ArrowArray`, `#[repr(C)]` with the same
    // fields in the same order (sizes and alignments checked above); the borrow carries over.
    unsafe { &*(a as *const FFI_ArrowArray).cast::<ArrowArray>() }
}

fn c_array_mut(a: &mut FFI_ArrowArray) -> &mut ArrowArray {
    // SAFETY: as in `c_array`.
    unsafe { &mut *(a as *mut FFI_ArrowArray).cast::<ArrowArray>() }
}

/// A table's column snapshots as an arrow-rs record batch whose buffers are the snapshots
/// themselves (kept alive by the exported array's private data), with `metadata` on its schema.
pub fn record_batch(
    schema: &Schema,
    columns: Vec<ColumnSnapshot>,
    len: usize,
    metadata: HashMap<String, String>,
) -> Result<RecordBatch, ArrowError> {
    let codes: Vec<_> = columns.iter().map(ColumnSnapshot::code_type).collect();
    let mut arrow_schema = FFI_ArrowSchema::empty();
    export_schema(schema, &codes, c_schema_mut(&mut arrow_schema));
    let mut array = FFI_ArrowArray::empty();
    export_columns(columns, len, c_array_mut(&mut array));
    // SAFETY: the array and schema were exported together just above, valid and unreleased;
    // `from_ffi` takes the array (its release moves into the returned data).
    let data = unsafe { from_ffi(array, &arrow_schema) }?;
    let DataType::Struct(fields) = data.data_type().clone() else {
        return Err(ArrowError::SchemaError(
            "a table exports as a struct".into(),
        ));
    };
    let columns = StructArray::from(data).columns().to_vec();
    let schema = ArrowSchema::new_with_metadata(fields, metadata);
    RecordBatch::try_new(Arc::new(schema), columns)
}

/// The Arrow schema of a table of `schema` whose category columns have the given code types
/// (`None` for other columns), with `metadata`.
pub fn file_schema(
    schema: &Schema,
    code_types: &[Option<DType>],
    metadata: HashMap<String, String>,
) -> Result<ArrowSchema, ArrowError> {
    let mut c = FFI_ArrowSchema::empty();
    export_schema(schema, code_types, c_schema_mut(&mut c));
    let DataType::Struct(fields) = DataType::try_from(&c)? else {
        return Err(ArrowError::SchemaError(
            "a table exports as a struct".into(),
        ));
    };
    Ok(ArrowSchema::new_with_metadata(fields, metadata))
}

/// A record batch as one C struct array and its schema, for shoal-core's importer.
pub fn export_batch(batch: RecordBatch) -> Result<(FFI_ArrowSchema, FFI_ArrowArray), ArrowError> {
    let data = StructArray::from(batch).into_data();
    let schema = FFI_ArrowSchema::try_from(data.data_type())?;
    Ok((schema, FFI_ArrowArray::new(&data)))
}

/// One column of a file, as [`columns_of`] describes it.
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

/// Each column of an Arrow schema: its name, its C Data Interface format (`g`, `u`, `tsu:UTC`
/// ...), its dictionary's value format for a dictionary-encoded column, and whether it is
/// nullable. A type the C interface cannot express has the format `?`.
pub fn columns_of(schema: &ArrowSchema) -> Vec<FileColumn> {
    schema
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

/// Appends the rows of `batch` (batch `i` of the file at `path`) to `columns`, one per field of
/// `schema`: empty columns adopt the batch's buffers where their layout is shoal's own.
pub(crate) fn import_batch(
    path: &Path,
    schema: &Schema,
    batch: RecordBatch,
    i: usize,
    columns: &mut [Column],
) -> Result<(), IoError> {
    let (arrow_schema, array) = decode(path, &format!("batch {i}"), || export_batch(batch))?;
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
        path: path.to_owned(),
        batch: i,
        error,
    })
}
