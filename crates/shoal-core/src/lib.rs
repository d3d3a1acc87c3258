//! shoal-core: typed, growable, copy-on-write columns and the tables built from them.
//!
//! Pure Rust, no Python: the binding crate `shoal-python` turns Python objects into [`Value`]s
//! and [`Error`]s into Python exceptions.
//!
//! Modules depend one way: `buffer` ← `dtype` ← `column` ← `index` ← `table` ← `arrow`; `error` is
//! shared by all of them.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod arrow;
pub mod buffer;
pub mod column;
pub mod dtype;
pub mod error;
pub mod index;
pub mod table;

pub use buffer::{AllocError, Buffer, KeepAlive, Native, Snapshot};
pub use column::{Column, ColumnSnapshot, Fixed, FixedSnapshot, Refused, SnapshotData};
pub use dtype::{temporal, DType, Datum, Field, Problem, Scalar, Schema, Value};
pub use error::Error;
pub use table::Table;
