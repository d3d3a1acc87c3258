//! Export to the Arrow C Data Interface (`ArrowSchema`, `ArrowArray`), zero-copy for numeric
//! columns: an exported array's data buffers are the table's column snapshots, kept alive by the
//! array's private data until the consumer calls `release`. (Arrow packs booleans into bits, so
//! bool columns are packed into a new buffer.)
//!
//! The structs follow <https://arrow.apache.org/docs/format/CDataInterface.html>.

mod export;
mod ffi;
mod format;
mod import;

pub use export::{export_columns, export_schema};
pub use ffi::{ArrowArray, ArrowSchema};
pub use format::{format, format_name};
pub use import::{check_struct_schema, import_struct};

#[cfg(test)]
mod tests;
