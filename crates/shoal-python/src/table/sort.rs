//! The order `Table.sort` applies to its rows, from one key per row: compared in Rust when the
//! keys are all exact floats, all exact ints that fit 64 bits, or all ASCII str — the orders
//! Python's `<` gives them — and by Python's own sort otherwise. Stable, and `reverse` keeps
//! equal keys in their original order, as `list.sort` does.

use std::cmp::Ordering;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyRange, PyString};

/// The rows in sorted order: `order[k]` is the row that goes to position `k`.
pub fn stable_order(keys: &Bound<'_, PyList>, reverse: bool) -> PyResult<Vec<usize>> {
    if let Some(floats) = all(keys, float_key) {
        return Ok(order_by(floats, reverse, |a: &f64, b: &f64| a.total_cmp(b)));
    }
    if let Some(ints) = all(keys, int_key) {
        return Ok(order_by(ints, reverse, i64::cmp));
    }
    if let Some(texts) = all(keys, ascii_key) {
        return Ok(order_by(texts, reverse, |a: &&[u8], b: &&[u8]| a.cmp(b)));
    }
    python_order(keys, reverse)
}

/// Each key through `read`, or `None` as soon as one is not of its kind. `keys` must be a list
/// only the caller can reach, unchanged while the results are used (text keys borrow from it).
fn all<'a, 'py, K>(
    keys: &'a Bound<'py, PyList>,
    read: impl Fn(Borrowed<'a, 'py, PyAny>) -> Option<K>,
) -> Option<Vec<K>> {
    let mut out = Vec::new();
    out.try_reserve_exact(keys.len()).ok()?;
    for i in 0..keys.len() {
        // SAFETY: `i` is below the length of a list nobody else changes (the contract).
        let item = unsafe { pyo3::ffi::PyList_GET_ITEM(keys.as_ptr(), i as pyo3::ffi::Py_ssize_t) };
        // SAFETY: the list holds a reference to the item as long as `keys` is borrowed.
        out.push(read(unsafe { Borrowed::from_ptr(keys.py(), item) })?);
    }
    Some(out)
}

/// An exact float as a key of the same order under `total_cmp`: -0.0 equals 0.0 (as `<` has
/// it); NaNs, which `<` leaves unordered, go last (or first if their sign bit is set).
fn float_key(k: Borrowed<'_, '_, PyAny>) -> Option<f64> {
    let f = k.cast_exact::<PyFloat>().ok()?.value();
    Some(if f == 0.0 { 0.0 } else { f })
}

fn int_key(k: Borrowed<'_, '_, PyAny>) -> Option<i64> {
    k.cast_exact::<PyInt>().ok()?.extract().ok()
}

/// An ASCII str's bytes, whose order is the str's (code points are bytes).
fn ascii_key<'a>(k: Borrowed<'a, '_, PyAny>) -> Option<&'a [u8]> {
    let s = k.cast_exact::<PyString>().ok()?;
    // SAFETY: `s` is a live str.
    if unsafe { pyo3::ffi::PyUnicode_IS_ASCII(s.as_ptr()) } == 0 {
        return None;
    }
    // SAFETY: an ASCII str's data is its `len` one-byte characters.
    let data = unsafe { pyo3::ffi::PyUnicode_DATA(s.as_ptr()) };
    // SAFETY: as above.
    let len = unsafe { pyo3::ffi::PyUnicode_GET_LENGTH(s.as_ptr()) } as usize;
    // SAFETY: the bytes live as long as the str, which is borrowed for `'a`.
    Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// Row numbers sorted by their keys (stable; `reverse` keeps ties in their original order).
fn order_by<K>(keys: Vec<K>, reverse: bool, cmp: impl Fn(&K, &K) -> Ordering) -> Vec<usize> {
    let mut pairs: Vec<(K, usize)> = keys.into_iter().zip(0..).collect();
    if reverse {
        pairs.sort_by(|a, b| cmp(&b.0, &a.0));
    } else {
        pairs.sort_by(|a, b| cmp(&a.0, &b.0));
    }
    pairs.into_iter().map(|(_, row)| row).collect()
}

/// Python's sort of the row numbers by their keys: any keys, compared by `<`.
pub fn python_order(keys: &Bound<'_, PyList>, reverse: bool) -> PyResult<Vec<usize>> {
    let py = keys.py();
    let kwargs = PyDict::new(py);
    kwargs.set_item("key", keys.getattr("__getitem__")?)?;
    kwargs.set_item("reverse", reverse)?;
    let rows = PyRange::new(py, 0, keys.len() as isize)?;
    let sorted = py
        .import("builtins")?
        .getattr("sorted")?
        .call((rows,), Some(&kwargs))?;
    sorted.extract()
}
