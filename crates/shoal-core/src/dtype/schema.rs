//! The ordered, named, typed fields of a record.

use std::sync::Arc;

use crate::dtype::DType;

/// One field of a record type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// Its storage type.
    pub dtype: DType,
    /// Whether the field takes nulls (`T | None`).
    pub nullable: bool,
    /// The values of a closed category (`Enum`, `Literal`); `None` for an open one.
    pub categories: Option<Arc<[String]>>,
    /// The time zone of a tz-aware datetime field (an IANA name or `+HH:MM`), as Arrow names it.
    pub tz: Option<String>,
}

impl Field {
    /// A non-optional field.
    pub fn new(name: &str, dtype: DType) -> Field {
        Field {
            name: name.to_owned(),
            dtype,
            nullable: false,
            categories: None,
            tz: None,
        }
    }

    /// The same field, optional (`T | None`).
    pub fn optional(mut self) -> Field {
        self.nullable = true;
        self
    }
}

/// The fields of a record type, with unique names.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Schema {
    fields: Vec<Field>,
}

impl Schema {
    /// Builds a schema; `None` if two fields share a name.
    pub fn new(fields: Vec<Field>) -> Option<Schema> {
        for (i, f) in fields.iter().enumerate() {
            if fields[..i].iter().any(|g| g.name == f.name) {
                return None;
            }
        }
        Some(Schema { fields })
    }

    /// The fields, in declaration order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The index of the field named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Bytes of raw data per row: the floor any row store can reach.
    pub fn row_bytes(&self) -> usize {
        self.fields.iter().map(|f| f.dtype.itemsize()).sum()
    }
}
