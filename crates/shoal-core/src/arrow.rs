//! Export to the Arrow C Data Interface (`ArrowSchema`, `ArrowArray`), zero-copy for numeric
//! columns: an exported array's data buffers are the table's column snapshots, kept alive by the
//! array's private data until the consumer calls `release`. (Arrow packs booleans into bits, so
//! bool columns are packed into a new buffer.)
//!
//! The structs follow <https://arrow.apache.org/docs/format/CDataInterface.html>.

use std::ffi::{c_char, c_void, CString};
use std::ptr;

use crate::column::ColumnSnapshot;
use crate::dtype::DType;
use crate::schema::Schema;

#[repr(C)]
pub struct ArrowSchema {
    pub format: *const c_char,
    pub name: *const c_char,
    pub metadata: *const c_char,
    pub flags: i64,
    pub n_children: i64,
    pub children: *mut *mut ArrowSchema,
    pub dictionary: *mut ArrowSchema,
    pub release: Option<unsafe extern "C" fn(*mut ArrowSchema)>,
    pub private_data: *mut c_void,
}

#[repr(C)]
pub struct ArrowArray {
    pub length: i64,
    pub null_count: i64,
    pub offset: i64,
    pub n_buffers: i64,
    pub n_children: i64,
    pub buffers: *mut *const c_void,
    pub children: *mut *mut ArrowArray,
    pub dictionary: *mut ArrowArray,
    pub release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    pub private_data: *mut c_void,
}

impl ArrowSchema {
    /// A released (empty) schema, as consumers allocate before an export fills it.
    pub fn empty() -> ArrowSchema {
        ArrowSchema {
            format: ptr::null(),
            name: ptr::null(),
            metadata: ptr::null(),
            flags: 0,
            n_children: 0,
            children: ptr::null_mut(),
            dictionary: ptr::null_mut(),
            release: None,
            private_data: ptr::null_mut(),
        }
    }
}

impl ArrowArray {
    pub fn empty() -> ArrowArray {
        ArrowArray {
            length: 0,
            null_count: 0,
            offset: 0,
            n_buffers: 0,
            n_children: 0,
            buffers: ptr::null_mut(),
            children: ptr::null_mut(),
            dictionary: ptr::null_mut(),
            release: None,
            private_data: ptr::null_mut(),
        }
    }
}

/// The Arrow format string of a storage type.
pub fn format(dtype: DType) -> &'static str {
    match dtype {
        DType::F64 => "g",
        DType::F32 => "f",
        DType::I8 => "c",
        DType::I16 => "s",
        DType::I32 => "i",
        DType::I64 => "l",
        DType::U8 => "C",
        DType::U16 => "S",
        DType::U32 => "I",
        DType::U64 => "L",
        DType::Bool => "b",
    }
}

/// What an exported schema owns: its strings and its children.
struct SchemaPrivate {
    _format: CString,
    _name: CString,
    children: Vec<*mut ArrowSchema>,
}

fn schema_node(format: &str, name: &str, children: Vec<*mut ArrowSchema>) -> ArrowSchema {
    let format = CString::new(format).expect("format has no NUL");
    let name = CString::new(name.replace('\0', "")).expect("NULs removed");
    let mut private = Box::new(SchemaPrivate {
        _format: format,
        _name: name,
        children,
    });
    ArrowSchema {
        format: private._format.as_ptr(),
        name: private._name.as_ptr(),
        metadata: ptr::null(),
        flags: 0,
        n_children: private.children.len() as i64,
        children: private.children.as_mut_ptr(),
        dictionary: ptr::null_mut(),
        release: Some(release_schema),
        private_data: Box::into_raw(private).cast(),
    }
}

unsafe extern "C" fn release_schema(schema: *mut ArrowSchema) {
    // SAFETY: called by the consumer (or our parent's release) on a schema we filled, once;
    // `private_data` is the Box we leaked there, and every child is a Box we leaked too.
    unsafe {
        let schema = &mut *schema;
        let private = Box::from_raw(schema.private_data.cast::<SchemaPrivate>());
        for &child in &private.children {
            if let Some(release) = (*child).release {
                release(child);
            }
            drop(Box::from_raw(child));
        }
        schema.release = None;
        schema.private_data = ptr::null_mut();
    }
}

/// Fills `out` with the schema of a table: a struct with one non-nullable child per field.
pub fn export_schema(schema: &Schema, out: &mut ArrowSchema) {
    let children = schema
        .fields()
        .iter()
        .map(|f| Box::into_raw(Box::new(schema_node(format(f.dtype), &f.name, Vec::new()))))
        .collect();
    *out = schema_node("+s", "", children);
}

/// What an exported array owns: the snapshots its buffers point into, packed bools, buffer
/// and child pointer arrays.
struct ArrayPrivate {
    _snapshot: Option<ColumnSnapshot>,
    _packed: Vec<u8>,
    buffers: Vec<*const c_void>,
    children: Vec<*mut ArrowArray>,
}

fn array_node(
    length: usize,
    buffers: Vec<*const c_void>,
    children: Vec<*mut ArrowArray>,
    snapshot: Option<ColumnSnapshot>,
    packed: Vec<u8>,
) -> ArrowArray {
    let mut private = Box::new(ArrayPrivate {
        _snapshot: snapshot,
        _packed: packed,
        buffers,
        children,
    });
    ArrowArray {
        length: length as i64,
        null_count: 0,
        offset: 0,
        n_buffers: private.buffers.len() as i64,
        n_children: private.children.len() as i64,
        buffers: private.buffers.as_mut_ptr(),
        children: private.children.as_mut_ptr(),
        dictionary: ptr::null_mut(),
        release: Some(release_array),
        private_data: Box::into_raw(private).cast(),
    }
}

unsafe extern "C" fn release_array(array: *mut ArrowArray) {
    // SAFETY: as for `release_schema`.
    unsafe {
        let array = &mut *array;
        let private = Box::from_raw(array.private_data.cast::<ArrayPrivate>());
        for &child in &private.children {
            if let Some(release) = (*child).release {
                release(child);
            }
            drop(Box::from_raw(child));
        }
        array.release = None;
        array.private_data = ptr::null_mut();
    }
}

/// One column as an Arrow array. Numeric data is not copied: the array keeps the snapshot.
fn column_array(snapshot: ColumnSnapshot) -> ArrowArray {
    let len = snapshot.len();
    if let ColumnSnapshot::Bool(_) = &snapshot {
        let bytes = snapshot.as_bytes();
        let mut packed = vec![0u8; len.div_ceil(8)];
        for (i, &b) in bytes.iter().enumerate() {
            packed[i / 8] |= (b & 1) << (i % 8);
        }
        let data = packed.as_ptr().cast::<c_void>();
        return array_node(len, vec![ptr::null(), data], Vec::new(), None, packed);
    }
    let data = snapshot.as_ptr().cast::<c_void>();
    array_node(
        len,
        vec![ptr::null(), data],
        Vec::new(),
        Some(snapshot),
        Vec::new(),
    )
}

/// Fills `out` with a struct array of the given column snapshots (all of length `len`).
pub fn export_columns(columns: Vec<ColumnSnapshot>, len: usize, out: &mut ArrowArray) {
    let children = columns
        .into_iter()
        .map(|c| Box::into_raw(Box::new(column_array(c))))
        .collect();
    *out = array_node(len, vec![ptr::null()], children, None, Vec::new());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Field, Table, Value};
    use std::ffi::CStr;
    use std::sync::Arc;

    #[test]
    fn export_shares_numeric_buffers_and_releases_cleanly() {
        let schema = Schema::new(vec![
            Field {
                name: "x".into(),
                dtype: DType::F64,
            },
            Field {
                name: "ok".into(),
                dtype: DType::Bool,
            },
        ])
        .unwrap();
        let mut t = Table::new(Arc::new(schema.clone()));
        for i in 0..10 {
            t.push_row(&[Value::Float(i as f64), Value::Bool(i % 3 == 0)])
                .unwrap();
        }
        let mut s = ArrowSchema::empty();
        export_schema(&schema, &mut s);
        let mut a = ArrowArray::empty();
        export_columns(vec![t.snapshot(0), t.snapshot(1)], t.len(), &mut a);
        // SAFETY: reading the structs we just filled.
        unsafe {
            assert_eq!(CStr::from_ptr(s.format).to_str().unwrap(), "+s");
            let x = &**s.children;
            assert_eq!(CStr::from_ptr(x.name).to_str().unwrap(), "x");
            let xa = &**a.children;
            let data = *xa.buffers.add(1) as *const f64;
            assert_eq!(data, t.snapshot(0).as_ptr().cast::<f64>(), "zero-copy");
            assert_eq!(*data.add(9), 9.0);
            let bools = &**a.children.add(1);
            assert_eq!(*(*bools.buffers.add(1) as *const u8), 0b0100_1001);
            t.clear(); // the export keeps its own snapshot
            assert_eq!(*data.add(9), 9.0);
            (s.release.unwrap())(&mut s);
            (a.release.unwrap())(&mut a);
        }
        assert!(s.release.is_none() && a.release.is_none());
    }
}

/// Why Arrow input was refused; nothing is imported in that case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// The top level is not a struct (record batch) of columns.
    NotAStruct { format: String },
    /// A field of the record has no column of that name.
    MissingColumn { field: String },
    /// A column's Arrow type is not the field's storage type.
    TypeMismatch {
        field: String,
        expected: DType,
        got: String,
    },
    /// A column holds nulls, which non-optional fields cannot.
    Nulls { field: String, count: i64 },
    /// The arrays do not have the shape their schema promises.
    Malformed { detail: String },
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::NotAStruct { format } => {
                write!(f, "expected a struct of columns (a table or record batch), got Arrow format {format:?}")
            }
            ImportError::MissingColumn { field } => write!(f, "no column named '{field}'"),
            ImportError::TypeMismatch {
                field,
                expected,
                got,
            } => write!(
                f,
                "column '{field}' has Arrow type {} but the field is {expected} (Arrow {:?})",
                describe_format(got),
                format(*expected)
            ),
            ImportError::Nulls { field, count } => write!(
                f,
                "column '{field}' has {count} nulls, but the field is not optional"
            ),
            ImportError::Malformed { detail } => write!(f, "malformed Arrow data: {detail}"),
        }
    }
}

impl std::error::Error for ImportError {}

/// A readable name for an Arrow format string.
pub fn describe_format(fmt: &str) -> String {
    let name = match fmt {
        "g" => "float64",
        "f" => "float32",
        "e" => "float16",
        "c" => "int8",
        "s" => "int16",
        "i" => "int32",
        "l" => "int64",
        "C" => "uint8",
        "S" => "uint16",
        "I" => "uint32",
        "L" => "uint64",
        "b" => "bool",
        "u" => "utf8",
        "U" => "large_utf8",
        "vu" => "utf8_view",
        "n" => "null",
        _ => return format!("{fmt:?}"),
    };
    format!("{name} ({fmt:?})")
}

/// Reads a NUL-terminated C string (empty for null).
///
/// # Safety
/// `p` must be null or point to a NUL-terminated string.
unsafe fn c_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// Appends the rows of one Arrow struct array to `columns` (one per schema field, matched by
/// name). Checks everything before copying anything, so on error `columns` is unchanged.
///
/// # Safety
/// `arrow_schema` and `array` must be valid, unreleased C Data Interface structs describing
/// the same data (as a producer hands them over).
pub unsafe fn import_struct(
    schema: &Schema,
    arrow_schema: &ArrowSchema,
    array: &ArrowArray,
    columns: &mut [crate::Column],
) -> Result<(), ImportError> {
    // SAFETY: guaranteed by the caller; every pointer read below is checked against the
    // counts the producer gave, and children/buffers are only read within those counts.
    unsafe {
        let top = c_str(arrow_schema.format);
        if top != "+s" {
            return Err(ImportError::NotAStruct { format: top });
        }
        if array.n_children != arrow_schema.n_children || array.n_children < 0 {
            return Err(ImportError::Malformed {
                detail: "the array's and the schema's column counts differ".into(),
            });
        }
        if array.null_count > 0 {
            return Err(ImportError::Malformed {
                detail: "null rows at the top level".into(),
            });
        }
        let n = array.n_children as usize;
        let mut plan = Vec::with_capacity(schema.len());
        for field in schema.fields() {
            let found =
                (0..n).find(|&i| c_str((**arrow_schema.children.add(i)).name) == field.name);
            let Some(i) = found else {
                return Err(ImportError::MissingColumn {
                    field: field.name.clone(),
                });
            };
            let child_schema = &**arrow_schema.children.add(i);
            let child = &**array.children.add(i);
            let got = c_str(child_schema.format);
            if got != format(field.dtype) {
                return Err(ImportError::TypeMismatch {
                    field: field.name.clone(),
                    expected: field.dtype,
                    got,
                });
            }
            if child.null_count != 0 && !(child.null_count == -1 && (*child.buffers).is_null()) {
                return Err(ImportError::Nulls {
                    field: field.name.clone(),
                    count: child.null_count,
                });
            }
            if child.n_buffers != 2 || child.length < array.length + array.offset {
                return Err(ImportError::Malformed {
                    detail: format!("column '{}' has the wrong buffers or length", field.name),
                });
            }
            let data = *child.buffers.add(1);
            if data.is_null() && array.length > 0 {
                return Err(ImportError::Malformed {
                    detail: format!("column '{}' has no data buffer", field.name),
                });
            }
            plan.push((data.cast::<u8>(), (child.offset + array.offset) as usize));
        }
        let len = array.length as usize;
        for ((col, field), (data, offset)) in columns.iter_mut().zip(schema.fields()).zip(plan) {
            if len == 0 {
                continue;
            }
            if field.dtype == DType::Bool {
                let bits: Vec<u8> = (offset..offset + len)
                    .map(|i| (*data.add(i / 8) >> (i % 8)) & 1)
                    .collect();
                col.extend_from_bytes(&bits);
            } else {
                let size = field.dtype.itemsize();
                let bytes = std::slice::from_raw_parts(data.add(offset * size), len * size);
                col.extend_from_bytes(bytes);
            }
        }
        Ok(())
    }
}
