//! Files for shoal: Arrow IPC files, written atomically and read memory-mapped.
//!
//! Depends on `shoal-core` (the store) and arrow-rs (the format), never on Python. Columns
//! cross between the two through the Arrow C Data Interface structs both sides share
//! (`bridge`), so neither saving nor opening copies a column's data.

mod batch_file;
mod bridge;
mod check;
mod dataset;
mod error;
mod mapped;
mod raw;
mod save;
mod stream;
mod writer;

pub use bridge::FileColumn;
pub use dataset::{
    escape, parquet_info, read_parquet, save_dataset, unescape, DatasetOptions, ParquetCompression,
    ParquetInfo, Written, NULL_PARTITION,
};
pub use error::IoError;
pub use mapped::MappedFile;
pub use save::{save, Compression};
pub use stream::{recover, Complete};
pub use writer::{partial_path, Writer};
