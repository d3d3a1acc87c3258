//! Python keys → cells of the indexed fields' storage types, converted before the table is
//! borrowed (a conversion may run Python code).

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use shoal_core::Datum;

use crate::convert::to_cell;
use crate::schema::PySchema;

/// A key that cannot be one of the index's keys, and why (a TypeError for `[]`, "no" for `in`).
pub struct NotAKey(pub PyErr);

/// The cells of `key` for `fields`: the value itself for one field, a tuple of one value per
/// field otherwise (`prefix`: a shorter tuple, for range bounds, is accepted). `None` is a
/// null for any field (a field that cannot be null then holds no such key).
pub fn key_cells<'a>(
    schema: &PySchema,
    fields: &[usize],
    key: &'a Bound<'_, PyAny>,
    prefix: bool,
) -> Result<Vec<Datum<'a>>, NotAKey> {
    let mut cells = Vec::with_capacity(fields.len());
    push_key_cells(schema, fields, key, prefix, &mut cells)?;
    Ok(cells)
}

/// As [`key_cells`], appending to `out` (one allocation for a batch of keys).
pub fn push_key_cells<'a>(
    schema: &PySchema,
    fields: &[usize],
    key: &'a Bound<'_, PyAny>,
    prefix: bool,
    out: &mut Vec<Datum<'a>>,
) -> Result<(), NotAKey> {
    let one = |value: &'a Bound<'_, PyAny>, field: usize| key_cell(schema, field, value);
    if let [field] = fields {
        out.push(one(key, *field)?);
        return Ok(());
    }
    let names = || {
        fields
            .iter()
            .map(|&f| schema.core.fields()[f].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tuple = key.cast::<PyTuple>().map_err(|_| {
        NotAKey(pyo3::exceptions::PyTypeError::new_err(format!(
            "an index on ({}) takes tuples of {} values as keys, not {}",
            names(),
            fields.len(),
            key.get_type().name().map_or("?".into(), |n| n.to_string())
        )))
    })?;
    let n = tuple.len();
    if n > fields.len() || (n < fields.len() && !prefix) || n == 0 {
        return Err(NotAKey(pyo3::exceptions::PyTypeError::new_err(format!(
            "an index on ({}) takes tuples of {} values as keys, not of {n}",
            names(),
            fields.len()
        ))));
    }
    // Borrowed items of a tuple live as long as the tuple, which the caller holds.
    for (v, &f) in tuple.as_slice().iter().zip(fields) {
        out.push(one(v, f)?);
    }
    Ok(())
}

/// The cell of one field's key value (`None`: a null).
pub fn key_cell<'a>(
    schema: &PySchema,
    field: usize,
    value: &'a Bound<'_, PyAny>,
) -> Result<Datum<'a>, NotAKey> {
    if value.is_none() {
        return Ok(Datum::Null);
    }
    to_cell(value.as_borrowed(), &schema.specs[field], || {
        schema.target(field, None)
    })
    .map_err(|e| NotAKey(e.into()))
}

/// The keys of a one-dimensional buffer of int64 (a NumPy array), for an index on one i64
/// field: read without a Python object per key.
pub fn int64_keys(keys: &Bound<'_, PyAny>) -> Option<Vec<i64>> {
    let buf = pyo3::buffer::PyBuffer::<i64>::get(keys).ok()?;
    if buf.dimensions() != 1 {
        return None;
    }
    buf.to_vec(keys.py()).ok()
}
