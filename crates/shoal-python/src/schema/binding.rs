//! Binding call arguments to fields like a dataclass `__init__`.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use shoal_core::{Datum, Problem};

use super::PySchema;
use crate::convert::{to_cell, value_repr};
use crate::errors::{Result, ShoalError};

impl PySchema {
    /// Binds call arguments to fields like a dataclass `__init__` (positional, then keyword, then
    /// default), checks each value, and appends the scalars to `out`.
    pub fn bind_args(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        row: Option<usize>,
        out: &mut Vec<Datum<'static>>,
    ) -> Result<()> {
        let n = self.len();
        let nargs = args.len();
        if nargs > n {
            return Err(self.bad_row(
                format!("takes {n} values ({}), got {nargs}", self.field_list()),
                row,
            ));
        }
        let kwargs = kwargs.filter(|k| !k.is_empty());
        let mut used_kwargs = 0;
        for i in 0..n {
            let name = self.names[i].bind(args.py());
            let keyword = match kwargs {
                Some(k) => k.get_item(name)?,
                None => None,
            };
            let obj = match (i < nargs, keyword) {
                (true, None) => args.get_item(i)?,
                (true, Some(_)) => {
                    return Err(self.bad_row(format!("got two values for field '{name}'"), row))
                }
                (false, Some(v)) => {
                    used_kwargs += 1;
                    v
                }
                (false, None) => match &self.defaults[i] {
                    Some(s) => {
                        out.push(s.clone());
                        continue;
                    }
                    None => {
                        return Err(self.bad_row(format!("missing value for field '{name}'"), row))
                    }
                },
            };
            let cell = to_cell(obj.as_borrowed(), &self.specs[i], || self.target(i, row))?;
            out.push(owned(cell).map_err(|p| {
                ShoalError::refused(
                    p,
                    self.target(i, row),
                    String::new(),
                    self.specs[i].dtype,
                    None,
                )
            })?);
        }
        if let Some(k) = kwargs {
            if used_kwargs != k.len() {
                let unknown = k
                    .keys()
                    .iter()
                    .find(|key| {
                        !self
                            .names
                            .iter()
                            .any(|n| n.bind(args.py()).as_any().eq(key).unwrap_or(false))
                    })
                    .map_or_else(|| "?".to_owned(), |key| value_repr(&key));
                return Err(self.bad_row(
                    format!(
                        "unknown field {unknown}; the fields are {}",
                        self.field_list()
                    ),
                    row,
                ));
            }
        }
        Ok(())
    }
}

/// An owned copy of `cell`; a copy the allocator refuses is `Problem::OutOfMemory`, not an
/// abort (text of any size arrives here).
fn owned(cell: Datum<'_>) -> std::result::Result<Datum<'static>, Problem> {
    match cell {
        Datum::Bytes(std::borrow::Cow::Borrowed(b)) => {
            let mut copy = Vec::new();
            copy.try_reserve_exact(b.len())
                .map_err(|_| Problem::OutOfMemory)?;
            copy.extend_from_slice(b);
            Ok(Datum::Bytes(std::borrow::Cow::Owned(copy)))
        }
        other => Ok(other.into_owned()),
    }
}
