//! shoal-core: typed, growable, copy-on-write columns and the tables built from them.
//!
//! Pure Rust, no Python: the binding crate `shoal-python` turns Python objects into [`Value`]s
//! and [`Error`]s into Python exceptions.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod arrow;
pub mod bitmap;
pub mod buffer;
pub mod category;
pub mod column;
pub mod dtype;
pub mod error;
pub mod kernels;
pub mod schema;
pub mod strings;
pub mod table;
pub mod temporal;

pub use buffer::{Buffer, Native, Snapshot};
pub use column::{Column, ColumnSnapshot, Fixed, FixedSnapshot, SnapshotData};
pub use dtype::{Cell, DType, Problem, Scalar, Value};
pub use error::Error;
pub use schema::{Field, Schema};
pub use table::Table;
