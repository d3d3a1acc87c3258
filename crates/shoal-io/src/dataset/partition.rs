//! Partitions: rows grouped by the values of the partition fields, and those values as
//! hive-style folder names (`key=value`, escaped as Spark escapes them).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow_array::{Array, RecordBatch, StringArray, UInt32Array};
use arrow_cast::cast;
use arrow_row::{RowConverter, SortField};
use arrow_schema::DataType;
use arrow_select::take::take_record_batch;

use crate::save::arrow_error;
use crate::IoError;

/// The folder value of a null, as Hive, Spark and pyarrow write it.
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// The rows of one partition: its folder (relative to the dataset's) and its row numbers.
pub(crate) struct Group {
    pub folder: PathBuf,
    rows: Vec<u32>,
}

impl Group {
    /// The group's rows of `batch`, in their order in the table.
    pub fn take(&self, path: &Path, batch: &RecordBatch) -> Result<RecordBatch, IoError> {
        if self.rows.len() == batch.num_rows() {
            return Ok(batch.clone());
        }
        take_record_batch(batch, &UInt32Array::from(self.rows.clone()))
            .map_err(|e| arrow_error(path, e))
    }
}

/// The rows of `batch` grouped by the values of its columns `keys`, the groups in the order of
/// those values (nulls first) — one group of every row when there are no keys.
pub(crate) fn groups(
    path: &Path,
    batch: &RecordBatch,
    keys: &[usize],
) -> Result<Vec<Group>, IoError> {
    let len = batch.num_rows();
    if u32::try_from(len).is_err() {
        return Err(IoError::dataset(
            path,
            format!("{len} rows are more than a dataset write takes at once (2^32)"),
        ));
    }
    if keys.is_empty() {
        let rows = (0..len as u32).collect();
        return Ok(vec![Group {
            folder: PathBuf::new(),
            rows,
        }]);
    }
    let columns: Vec<_> = keys.iter().map(|&k| batch.column(k).clone()).collect();
    let fields = columns
        .iter()
        .map(|c| SortField::new(c.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields).map_err(|e| arrow_error(path, e))?;
    let keyed = converter
        .convert_columns(&columns)
        .map_err(|e| arrow_error(path, e))?;
    let mut index: HashMap<arrow_row::Row<'_>, usize> = HashMap::new();
    let mut found: Vec<(arrow_row::Row<'_>, Vec<u32>)> = Vec::new();
    for row in 0..len {
        match index.entry(keyed.row(row)) {
            Entry::Occupied(e) => found[*e.get()].1.push(row as u32),
            Entry::Vacant(e) => {
                e.insert(found.len());
                found.push((keyed.row(row), vec![row as u32]));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = keys
        .iter()
        .map(|&k| batch.schema_ref().field(k).name().as_str())
        .collect();
    found
        .into_iter()
        .map(|(_, rows)| {
            let mut folder = PathBuf::new();
            for (name, column) in names.iter().zip(&columns) {
                let value = folder_value(path, name, column.as_ref(), rows[0] as usize)?;
                folder.push(format!("{}={value}", escape(name)));
            }
            Ok(Group { folder, rows })
        })
        .collect()
}

/// Row `row` of `column` as a folder name's value: its text, escaped, or the null marker.
fn folder_value(
    path: &Path,
    name: &str,
    column: &dyn Array,
    row: usize,
) -> Result<String, IoError> {
    let text = cast(&column.slice(row, 1), &DataType::Utf8).map_err(|e| arrow_error(path, e))?;
    let text = text
        .as_any()
        .downcast_ref::<StringArray>()
        .filter(|t| t.len() == 1)
        .ok_or_else(|| IoError::dataset(path, format!("'{name}' does not cast to text")))?;
    if text.is_null(0) {
        return Ok(NULL_PARTITION.to_owned());
    }
    let value = text.value(0);
    if value.is_empty() || value == NULL_PARTITION {
        return Err(IoError::dataset(
            path,
            format!(
                "cannot partition by '{name}': a value is {value:?}, which Hive-style folders \
                 cannot tell from a null (Spark and pyarrow read both as null)"
            ),
        ));
    }
    Ok(escape(value))
}

/// Whether Spark escapes `c` in a partition folder's name (`ExternalCatalogUtils`).
fn escaped(c: char) -> bool {
    c < ' ' || "\"#%'*/:=?\\\u{7f}{[]^".contains(c)
}

/// `text` with the characters a folder name cannot hold as `%XX`, as Spark writes them (and
/// pyarrow, Dask and DuckDB decode them).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if escaped(c) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// A folder name's value with `%XX` escapes decoded; `None` if they do not decode to UTF-8.
pub fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_what_spark_escapes() {
        assert_eq!(escape("a/b=c%d e"), "a%2Fb%3Dc%25d e");
        assert_eq!(escape("Zürich"), "Zürich");
        assert_eq!(unescape("a%2Fb%3Dc%25d e").as_deref(), Some("a/b=c%d e"));
        assert_eq!(unescape("100%").as_deref(), Some("100%"));
    }

    proptest! {
        #[test]
        fn unescape_undoes_escape(text in any::<String>()) {
            let folder = escape(&text);
            prop_assert!(!folder.contains('/'));
            prop_assert_eq!(unescape(&folder), Some(text));
        }
    }
}
