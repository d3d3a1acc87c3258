//! Export to the Arrow C Data Interface (`ArrowSchema`, `ArrowArray`), zero-copy for numeric
//! columns: an exported array's data buffers are the table's column snapshots, kept alive by the
//! array's private data until the consumer calls `release`. (Arrow packs booleans into bits, so
//! bool columns are packed into a new buffer.)
//!
//! The structs follow <https://arrow.apache.org/docs/format/CDataInterface.html>.

use std::ffi::{c_char, c_void, CString};
use std::ptr;

use crate::buffer::Snapshot;
use crate::column::{ColumnSnapshot, SnapshotData};
use crate::dtype::{Cell, DType, Problem};
use crate::schema::{Field, Schema};

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

/// The Arrow format string of a field's values (for a category: of its dictionary's values).
pub fn format(field: &Field) -> String {
    match field.dtype {
        DType::Datetime => format!("tsu:{}", field.tz.as_deref().unwrap_or("")),
        DType::Category => "u".into(),
        other => fixed_format(other).into(),
    }
}

fn fixed_format(dtype: DType) -> &'static str {
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
        DType::Str | DType::Category => "u",
        DType::Bytes => "z",
        DType::Datetime => "tsu:",
        DType::Date => "tdD",
        DType::Timedelta => "tDu",
    }
}

/// `ARROW_FLAG_NULLABLE` of the C Data Interface.
const FLAG_NULLABLE: i64 = 2;

/// What an exported schema owns: its strings, children and dictionary.
struct SchemaPrivate {
    _format: CString,
    _name: CString,
    children: Vec<*mut ArrowSchema>,
    dictionary: *mut ArrowSchema,
}

fn schema_node(
    format: &str,
    name: &str,
    children: Vec<*mut ArrowSchema>,
    dictionary: Option<ArrowSchema>,
) -> ArrowSchema {
    let format = CString::new(format.replace('\0', "")).expect("NULs removed");
    let name = CString::new(name.replace('\0', "")).expect("NULs removed");
    let dictionary = dictionary.map_or(ptr::null_mut(), |d| Box::into_raw(Box::new(d)));
    let mut private = Box::new(SchemaPrivate {
        _format: format,
        _name: name,
        children,
        dictionary,
    });
    ArrowSchema {
        format: private._format.as_ptr(),
        name: private._name.as_ptr(),
        metadata: ptr::null(),
        flags: 0,
        n_children: private.children.len() as i64,
        children: private.children.as_mut_ptr(),
        dictionary,
        release: Some(release_schema),
        private_data: Box::into_raw(private).cast(),
    }
}

unsafe extern "C" fn release_schema(schema: *mut ArrowSchema) {
    // SAFETY: called by the consumer (or our parent's release) on a schema we filled, once;
    // `private_data` is the Box we leaked there, and every child and the dictionary are Boxes
    // we leaked too.
    unsafe {
        let schema = &mut *schema;
        let private = Box::from_raw(schema.private_data.cast::<SchemaPrivate>());
        for &child in private.children.iter().chain(Some(&private.dictionary)) {
            if child.is_null() {
                continue;
            }
            if let Some(release) = (*child).release {
                release(child);
            }
            drop(Box::from_raw(child));
        }
        schema.release = None;
        schema.private_data = ptr::null_mut();
    }
}

/// Fills `out` with the schema of a table: a struct with one child per field. `code_types`
/// gives the current code type of each category field (`None` for other fields).
pub fn export_schema(schema: &Schema, code_types: &[Option<DType>], out: &mut ArrowSchema) {
    let children = schema
        .fields()
        .iter()
        .zip(code_types)
        .map(|(f, codes)| {
            let mut node = match codes {
                Some(codes) => {
                    let values = schema_node(&format(f), "", Vec::new(), None);
                    schema_node(fixed_format(*codes), &f.name, Vec::new(), Some(values))
                }
                None => schema_node(&format(f), &f.name, Vec::new(), None),
            };
            if f.nullable {
                node.flags |= FLAG_NULLABLE;
            }
            Box::into_raw(Box::new(node))
        })
        .collect();
    *out = schema_node("+s", "", children, None);
}

/// What an exported array owns: the snapshot its buffers point into, packed bools, buffer,
/// child and dictionary pointers.
struct ArrayPrivate {
    _snapshot: Option<ColumnSnapshot>,
    _packed: Vec<u8>,
    buffers: Vec<*const c_void>,
    children: Vec<*mut ArrowArray>,
    dictionary: *mut ArrowArray,
}

struct Node {
    length: usize,
    null_count: usize,
    buffers: Vec<*const c_void>,
    children: Vec<*mut ArrowArray>,
    dictionary: Option<ArrowArray>,
    snapshot: Option<ColumnSnapshot>,
    packed: Vec<u8>,
}

fn array_node(node: Node) -> ArrowArray {
    let dictionary = node
        .dictionary
        .map_or(ptr::null_mut(), |d| Box::into_raw(Box::new(d)));
    let mut private = Box::new(ArrayPrivate {
        _snapshot: node.snapshot,
        _packed: node.packed,
        buffers: node.buffers,
        children: node.children,
        dictionary,
    });
    ArrowArray {
        length: node.length as i64,
        null_count: node.null_count as i64,
        offset: 0,
        n_buffers: private.buffers.len() as i64,
        n_children: private.children.len() as i64,
        buffers: private.buffers.as_mut_ptr(),
        children: private.children.as_mut_ptr(),
        dictionary,
        release: Some(release_array),
        private_data: Box::into_raw(private).cast(),
    }
}

unsafe extern "C" fn release_array(array: *mut ArrowArray) {
    // SAFETY: as for `release_schema`.
    unsafe {
        let array = &mut *array;
        let private = Box::from_raw(array.private_data.cast::<ArrayPrivate>());
        for &child in private.children.iter().chain(Some(&private.dictionary)) {
            if child.is_null() {
                continue;
            }
            if let Some(release) = (*child).release {
                release(child);
            }
            drop(Box::from_raw(child));
        }
        array.release = None;
        array.private_data = ptr::null_mut();
    }
}

fn ptr_of<T>(s: &Snapshot<T>) -> *const c_void
where
    T: crate::buffer::Native,
{
    s.as_slice().as_ptr().cast()
}

/// One column as an Arrow array. Nothing is copied but bools (which Arrow packs into bits): the
/// array keeps the snapshot, whose buffers it points into.
fn column_array(snapshot: ColumnSnapshot) -> ArrowArray {
    let validity = snapshot
        .validity()
        .map_or(ptr::null(), |v| v.as_ptr().cast::<c_void>());
    let mut node = Node {
        length: snapshot.len(),
        null_count: snapshot.null_count(),
        buffers: vec![validity],
        children: Vec::new(),
        dictionary: None,
        snapshot: None,
        packed: Vec::new(),
    };
    match snapshot.data() {
        SnapshotData::Fixed(f) if f.dtype() == DType::Bool => {
            let bytes = f.as_bytes();
            let mut packed = vec![0u8; bytes.len().div_ceil(8)];
            for (i, &b) in bytes.iter().enumerate() {
                packed[i / 8] |= (b & 1) << (i % 8);
            }
            node.buffers.push(packed.as_ptr().cast());
            node.packed = packed;
        }
        SnapshotData::Fixed(f) => node.buffers.push(f.as_ptr().cast()),
        SnapshotData::Var { offsets, data } => {
            node.buffers.extend([ptr_of(offsets), ptr_of(data)]);
        }
        SnapshotData::Cat {
            codes,
            offsets,
            data,
        } => {
            node.buffers.push(codes.as_ptr().cast());
            node.dictionary = Some(array_node(Node {
                length: offsets.len() - 1,
                null_count: 0,
                buffers: vec![ptr::null(), ptr_of(offsets), ptr_of(data)],
                children: Vec::new(),
                dictionary: None,
                snapshot: Some(snapshot.clone()),
                packed: Vec::new(),
            }));
        }
    }
    node.snapshot = Some(snapshot);
    array_node(node)
}

/// Fills `out` with a struct array of the given column snapshots (all of length `len`).
pub fn export_columns(columns: Vec<ColumnSnapshot>, len: usize, out: &mut ArrowArray) {
    let children = columns
        .into_iter()
        .map(|c| Box::into_raw(Box::new(column_array(c))))
        .collect();
    *out = array_node(Node {
        length: len,
        null_count: 0,
        buffers: vec![ptr::null()],
        children,
        dictionary: None,
        snapshot: None,
        packed: Vec::new(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, Scalar, Table};
    use std::ffi::CStr;
    use std::sync::Arc;

    fn sample() -> Table {
        let schema = Schema::new(vec![
            Field::new("x", DType::F64),
            Field::new("ok", DType::Bool),
            Field::new("name", DType::Str).optional(),
            Field::new("tag", DType::Category),
        ])
        .unwrap();
        let mut t = Table::new(Arc::new(schema));
        for i in 0..10 {
            let name = format!("n{i}");
            t.push_cells(&[
                Cell::Num(Scalar::F64(i as f64)),
                Cell::Num(Scalar::Bool(i % 3 == 0)),
                if i == 4 {
                    Cell::Null
                } else {
                    Cell::bytes(name.as_bytes())
                },
                Cell::bytes(if i % 2 == 0 { b"even" } else { b"odd" }),
            ])
            .unwrap();
        }
        t
    }

    fn export(t: &mut Table) -> (ArrowSchema, ArrowArray) {
        let codes: Vec<_> = t.columns().iter().map(Column::code_type).collect();
        let mut s = ArrowSchema::empty();
        export_schema(t.schema(), &codes, &mut s);
        let snaps = (0..t.schema().len()).map(|f| t.snapshot(f)).collect();
        let mut a = ArrowArray::empty();
        export_columns(snaps, t.len(), &mut a);
        (s, a)
    }

    #[test]
    fn export_shares_buffers_and_releases_cleanly() {
        let mut t = sample();
        let (mut s, mut a) = export(&mut t);
        // SAFETY: reading the structs we just filled.
        unsafe {
            assert_eq!(CStr::from_ptr(s.format).to_str().unwrap(), "+s");
            let x = &**s.children;
            assert_eq!(CStr::from_ptr(x.name).to_str().unwrap(), "x");
            let xa = &**a.children;
            let data = *xa.buffers.add(1) as *const f64;
            let own = t.snapshot(0);
            assert_eq!(data.cast(), own.fixed().unwrap().as_ptr(), "zero-copy");
            assert_eq!(*data.add(9), 9.0);
            let bools = &**a.children.add(1);
            assert_eq!(*(*bools.buffers.add(1) as *const u8), 0b0100_1001);
            let names = &**a.children.add(2);
            assert_eq!(names.null_count, 1);
            let SnapshotData::Var { data: text, .. } = t.snapshot(2).data().clone() else {
                panic!("a str column has offsets and data")
            };
            assert_eq!(*names.buffers.add(2), ptr_of(&text), "zero-copy");
            let tag = &**s.children.add(3);
            assert_eq!(CStr::from_ptr(tag.format).to_str().unwrap(), "C");
            assert_eq!(
                CStr::from_ptr((*tag.dictionary).format).to_str().unwrap(),
                "u"
            );
            t.clear(); // the export keeps its own snapshots
            assert_eq!(*data.add(9), 9.0);
            (s.release.unwrap())(&mut s);
            (a.release.unwrap())(&mut a);
        }
        assert!(s.release.is_none() && a.release.is_none());
    }

    #[test]
    fn import_round_trips_and_refuses_bad_input() {
        let mut t = sample();
        let (mut s, mut a) = export(&mut t);
        let mut cols: Vec<Column> = t.schema().fields().iter().map(Column::for_field).collect();
        // SAFETY: a schema and array we exported together.
        unsafe { import_struct(t.schema(), &s, &a, &mut cols) }.unwrap();
        let back = Table::from_columns(Arc::clone(t.schema()), cols).unwrap();
        assert!(back.values_eq(&t));
        // A non-optional field refuses the nulls of the name column.
        let strict = Schema::new(vec![Field::new("name", DType::Str)]).unwrap();
        let mut cols = vec![Column::for_field(&strict.fields()[0])];
        // SAFETY: as above.
        let err = unsafe { import_struct(&strict, &s, &a, &mut cols) }.unwrap_err();
        assert_eq!(
            err,
            ImportError::Nulls {
                field: "name".into(),
                count: 1
            }
        );
        // Corrupt offsets are caught, not trusted.
        // SAFETY: writing into the offsets buffer of our own export, which we still own.
        unsafe {
            let names = &**a.children.add(2);
            let offsets = *names.buffers.add(1) as *mut i32;
            *offsets.add(3) = 1_000_000;
            let schema = Schema::new(vec![Field::new("name", DType::Str).optional()]).unwrap();
            let mut cols = vec![Column::for_field(&schema.fields()[0])];
            let err = import_struct(&schema, &s, &a, &mut cols).unwrap_err();
            assert!(matches!(err, ImportError::Malformed { .. }), "{err:?}");
            (s.release.unwrap())(&mut s);
            (a.release.unwrap())(&mut a);
        }
    }
}

/// Why Arrow input was refused; nothing is imported in that case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// The top level is not a struct (record batch) of columns.
    NotAStruct { format: String },
    /// A field of the record has no column of that name.
    MissingColumn { field: String },
    /// A column's Arrow type does not fit the field's type.
    TypeMismatch {
        field: String,
        expected: String,
        got: String,
    },
    /// A column holds nulls, which non-optional fields cannot.
    Nulls { field: String, count: usize },
    /// A value the field cannot hold (out of range, not in a closed category, ...).
    BadValue {
        field: String,
        row: usize,
        detail: String,
    },
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
                "column '{field}' has Arrow type {} but the field is {expected}",
                describe_format(got),
            ),
            ImportError::Nulls { field, count } => write!(
                f,
                "column '{field}' has {count} nulls, but the field is not optional \
                 (declare it `T | None`)"
            ),
            ImportError::BadValue { field, row, detail } => {
                write!(f, "column '{field}', row {row}: {detail}")
            }
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
        "z" => "binary",
        "Z" => "large_binary",
        "vz" => "binary_view",
        "tdD" => "date32",
        "n" => "null",
        _ if fmt.starts_with("ts") => "timestamp",
        _ if fmt.starts_with("tD") => "duration",
        _ => return format!("{fmt:?}"),
    };
    format!("{name} ({fmt:?})")
}

/// What a field is called in messages: `str`, `datetime[UTC]`, `category of 3`.
fn field_type_name(field: &Field) -> String {
    let mut name = field.dtype.name().to_owned();
    if let Some(tz) = &field.tz {
        name = format!("{name} in {tz}");
    }
    if field.nullable {
        name += " | None";
    }
    name
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

/// One Arrow array as the importer reads it: its format, length, offset and buffers, checked
/// against the counts the producer gave.
struct Input<'a> {
    format: String,
    len: usize,
    offset: usize,
    array: &'a ArrowArray,
    schema: &'a ArrowSchema,
}

impl<'a> Input<'a> {
    /// # Safety
    /// `schema` and `array` must be valid C Data Interface structs describing the same data.
    unsafe fn new(
        schema: &'a ArrowSchema,
        array: &'a ArrowArray,
        len: usize,
        offset: usize,
    ) -> Result<Input<'a>, ImportError> {
        if array.length < 0 || array.offset < 0 || (array.length as usize) < offset + len {
            return Err(malformed("a column is shorter than its table"));
        }
        Ok(Input {
            // SAFETY: guaranteed by the caller.
            format: unsafe { c_str(schema.format) },
            len,
            offset: offset + array.offset as usize,
            array,
            schema,
        })
    }

    /// Buffer `i` (null if absent); an error if the array has fewer buffers.
    fn buffer(&self, i: usize) -> Result<*const u8, ImportError> {
        if i >= self.array.n_buffers.max(0) as usize {
            return Err(malformed(&format!(
                "format {:?} needs buffer {i}",
                self.format
            )));
        }
        // SAFETY: `i` is below the producer's buffer count.
        Ok(unsafe { *self.array.buffers.add(i) }.cast())
    }

    /// Elements `[offset, offset + len + extra)` of buffer `i` as `T`s.
    ///
    /// # Safety
    /// The producer promises that buffer `i` holds at least that many `T`s.
    unsafe fn slice<T>(&self, i: usize, extra: usize) -> Result<&'a [T], ImportError> {
        let p = self.buffer(i)?;
        let n = self.len + extra;
        if n == 0 {
            return Ok(&[]);
        }
        if p.is_null() {
            return Err(malformed(&format!(
                "buffer {i} of a {:?} column is missing",
                self.format
            )));
        }
        // SAFETY: guaranteed by the caller; Arrow buffers are aligned for their element type.
        Ok(unsafe { std::slice::from_raw_parts(p.cast::<T>().add(self.offset), n) })
    }

    /// The validity bits and the number of nulls among the rows.
    fn validity(&self) -> Result<Option<(&'a [u8], usize)>, ImportError> {
        let p = self.buffer(0)?;
        if p.is_null() || self.array.null_count == 0 || self.len == 0 {
            return Ok(None);
        }
        let bytes = (self.offset + self.len).div_ceil(8);
        // SAFETY: a validity buffer covers `offset + length` bits.
        let bits = unsafe { std::slice::from_raw_parts(p, bytes) };
        let nulls = (self.offset..self.offset + self.len)
            .filter(|&i| bits[i / 8] >> (i % 8) & 1 == 0)
            .count();
        Ok((nulls > 0).then_some((bits, nulls)))
    }

    fn is_valid(bits: Option<(&[u8], usize)>, i: usize) -> bool {
        bits.is_none_or(|(b, _)| b[i / 8] >> (i % 8) & 1 == 1)
    }
}

fn malformed(detail: &str) -> ImportError {
    ImportError::Malformed {
        detail: detail.to_owned(),
    }
}

/// How a temporal Arrow unit converts to the field's unit: multiply or divide by this.
fn unit_factor(unit: &str) -> Option<(bool, i64)> {
    Some(match unit {
        "s" => (true, 1_000_000),
        "m" => (true, 1_000),
        "u" => (true, 1),
        "n" => (false, 1_000),
        _ => return None,
    })
}

/// Appends the rows of one Arrow struct array to `columns` (one per schema field, matched by
/// name), checking every value. On error the columns may hold part of the batch: callers build
/// into fresh columns and drop them on error.
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
    // SAFETY: guaranteed by the caller; children are only read within the producer's counts.
    unsafe {
        let top = c_str(arrow_schema.format);
        if top != "+s" {
            return Err(ImportError::NotAStruct { format: top });
        }
        if array.n_children != arrow_schema.n_children || array.n_children < 0 || array.length < 0 {
            return Err(malformed(
                "the array's and the schema's column counts differ",
            ));
        }
        if array.null_count > 0 {
            return Err(malformed("null rows at the top level"));
        }
        let n = array.n_children as usize;
        let (len, offset) = (array.length as usize, array.offset.max(0) as usize);
        for (field, col) in schema.fields().iter().zip(columns.iter_mut()) {
            let found =
                (0..n).find(|&i| c_str((**arrow_schema.children.add(i)).name) == field.name);
            let Some(i) = found else {
                return Err(ImportError::MissingColumn {
                    field: field.name.clone(),
                });
            };
            let input = Input::new(
                &**arrow_schema.children.add(i),
                &**array.children.add(i),
                len,
                offset,
            )?;
            import_column(field, &input, col)?;
        }
        Ok(())
    }
}

/// # Safety
/// `input` describes a valid Arrow array (see [`import_struct`]).
unsafe fn import_column(
    field: &Field,
    input: &Input<'_>,
    col: &mut crate::Column,
) -> Result<(), ImportError> {
    let mismatch = || ImportError::TypeMismatch {
        field: field.name.clone(),
        expected: field_type_name(field),
        got: input.format.clone(),
    };
    let validity = input.validity()?;
    if let Some((_, count)) = validity {
        if !field.nullable {
            return Err(ImportError::Nulls {
                field: field.name.clone(),
                count,
            });
        }
    }
    let bad = |row: usize, detail: String| ImportError::BadValue {
        field: field.name.clone(),
        row,
        detail,
    };
    let before = col.len();
    // SAFETY (for every `slice` below): the format was checked first, so the producer promises
    // buffers of those element types and lengths.
    unsafe {
        match field.dtype {
            DType::Category => return import_category(field, input, col, validity, &mismatch),
            DType::Str | DType::Bytes => {
                let values = read_var(input, field.dtype == DType::Str)
                    .ok_or_else(mismatch)?
                    .map_err(|e| match e {
                        ImportError::BadValue { row, detail, .. } => bad(row, detail),
                        other => other,
                    })?;
                for (row, v) in values.into_iter().enumerate() {
                    if let Err(p) = col.push(v.map_or(Cell::Null, Cell::bytes)) {
                        return Err(bad(row, format!("{p:?}")));
                    }
                }
                return Ok(());
            }
            DType::Datetime | DType::Timedelta => {
                let (prefix, tz) = if field.dtype == DType::Datetime {
                    ("ts", format!(":{}", field.tz.as_deref().unwrap_or("")))
                } else {
                    ("tD", String::new())
                };
                let unit = input
                    .format
                    .strip_prefix(prefix)
                    .filter(|rest| rest.len() == 1 + tz.len() && rest[1..] == tz)
                    .and_then(|rest| unit_factor(&rest[..1]))
                    .ok_or_else(mismatch)?;
                let raw = input.slice::<i64>(1, 0)?;
                let range = field.dtype.temporal_range().unwrap_or((i64::MIN, i64::MAX));
                let mut out = Vec::with_capacity(raw.len());
                for (row, &v) in raw.iter().enumerate() {
                    if !Input::is_valid(validity, input.offset + row) {
                        out.push(0);
                        continue;
                    }
                    let us = match unit {
                        (true, k) => v.checked_mul(k),
                        (false, k) if v % k == 0 => Some(v / k),
                        (false, _) => {
                            return Err(bad(
                                row,
                                format!("{v} ns is not a whole number of microseconds"),
                            ))
                        }
                    };
                    match us.filter(|us| (range.0..=range.1).contains(us)) {
                        Some(us) => out.push(us),
                        None => {
                            return Err(bad(
                                row,
                                format!("{v} is out of the {} range", field.dtype),
                            ))
                        }
                    }
                }
                let bytes = std::slice::from_raw_parts(out.as_ptr().cast::<u8>(), out.len() * 8);
                col.extend_from_bytes(bytes);
            }
            DType::Date => {
                if input.format != "tdD" {
                    return Err(mismatch());
                }
                let raw = input.slice::<i32>(1, 0)?;
                let range = crate::dtype::DATE_RANGE_DAYS;
                for (row, &v) in raw.iter().enumerate() {
                    if Input::is_valid(validity, input.offset + row)
                        && !(range.0..=range.1).contains(&v)
                    {
                        return Err(bad(row, format!("{v} days is out of the date range")));
                    }
                }
                let bytes = std::slice::from_raw_parts(raw.as_ptr().cast::<u8>(), raw.len() * 4);
                col.extend_from_bytes(bytes);
            }
            DType::Bool => {
                if input.format != "b" {
                    return Err(mismatch());
                }
                let data = input.buffer(1)?;
                if data.is_null() && input.len > 0 {
                    return Err(malformed("a bool column has no data"));
                }
                let bits: Vec<u8> = (input.offset..input.offset + input.len)
                    .map(|i| (*data.add(i / 8) >> (i % 8)) & 1)
                    .collect();
                col.extend_from_bytes(&bits);
            }
            fixed => {
                if input.format != fixed_format(fixed) {
                    return Err(mismatch());
                }
                let size = fixed.itemsize();
                let data = input.buffer(1)?;
                if data.is_null() && input.len > 0 {
                    return Err(malformed("a column has no data buffer"));
                }
                if input.len > 0 {
                    let bytes =
                        std::slice::from_raw_parts(data.add(input.offset * size), input.len * size);
                    col.extend_from_bytes(bytes);
                }
            }
        }
    }
    if let Some((bits, _)) = validity {
        col.mark_nulls(before, bits, input.offset);
    }
    Ok(())
}

/// Reads a text or binary column as row slices (`None` for nulls), checking offsets, views and
/// (for text) UTF-8. `None` if the format is not a text/binary one of the right kind.
///
/// # Safety
/// `input` describes a valid Arrow array.
unsafe fn read_var<'a>(
    input: &Input<'a>,
    text: bool,
) -> Option<Result<Vec<Option<&'a [u8]>>, ImportError>> {
    let kind = match (input.format.as_str(), text) {
        ("u", true) | ("z", false) => 0,
        ("U", true) | ("Z", false) => 1,
        ("vu", true) | ("vz", false) => 2,
        _ => return None,
    };
    // SAFETY: forwarded from the caller.
    Some(unsafe { read_var_kind(input, kind, text) })
}

/// # Safety
/// As for [`read_var`], with `kind` 0 (i32 offsets), 1 (i64 offsets) or 2 (views).
unsafe fn read_var_kind<'a>(
    input: &Input<'a>,
    kind: u8,
    text: bool,
) -> Result<Vec<Option<&'a [u8]>>, ImportError> {
    let validity = input.validity()?;
    let spans: Vec<(usize, usize, *const u8, usize)> = unsafe {
        match kind {
            0 | 1 => {
                let offsets: Vec<i64> = if kind == 0 {
                    input
                        .slice::<i32>(1, 1)?
                        .iter()
                        .map(|&o| o.into())
                        .collect()
                } else {
                    input.slice::<i64>(1, 1)?.to_vec()
                };
                let data = input.buffer(2)?;
                let end = offsets.iter().copied().max().unwrap_or(0);
                if offsets.windows(2).any(|w| w[0] > w[1] || w[0] < 0)
                    || (data.is_null() && end > 0)
                {
                    return Err(malformed(
                        "offsets are decreasing, negative or without data",
                    ));
                }
                offsets
                    .windows(2)
                    .map(|w| (w[0] as usize, (w[1] - w[0]) as usize, data, end as usize))
                    .collect()
            }
            _ => read_views(input)?,
        }
    };
    let mut out = Vec::with_capacity(spans.len());
    for (row, (start, len, base, bound)) in spans.into_iter().enumerate() {
        if !Input::is_valid(validity, input.offset + row) {
            out.push(None);
            continue;
        }
        if start + len > bound {
            return Err(malformed("a value runs past its data buffer"));
        }
        // SAFETY: `base` points to a producer buffer of at least `bound` bytes (the largest
        // offset, or the buffer size the producer listed for views).
        let bytes = unsafe { std::slice::from_raw_parts(base.add(start), len) };
        if text && std::str::from_utf8(bytes).is_err() {
            return Err(ImportError::BadValue {
                field: String::new(),
                row,
                detail: "invalid UTF-8 in a text column".into(),
            });
        }
        out.push(Some(bytes));
    }
    Ok(out)
}

/// The (start, length, buffer, buffer size) of each row of a string/binary view array.
///
/// # Safety
/// `input` describes a valid view array: buffer 1 holds 16-byte views, then the variadic data
/// buffers, then an i64 array of their sizes.
unsafe fn read_views(
    input: &Input<'_>,
) -> Result<Vec<(usize, usize, *const u8, usize)>, ImportError> {
    let n_buffers = input.array.n_buffers.max(0) as usize;
    if n_buffers < 3 {
        return Err(malformed("a view array needs a sizes buffer"));
    }
    let variadic = n_buffers - 3;
    // SAFETY: guaranteed by the caller.
    unsafe {
        let sizes = input.buffer(n_buffers - 1)?.cast::<i64>();
        let views = input.slice::<[u8; 16]>(1, 0)?;
        let mut out = Vec::with_capacity(views.len());
        for view in views {
            let len = i32::from_le_bytes(view[0..4].try_into().expect("4 bytes"));
            if len < 0 {
                return Err(malformed("negative view length"));
            }
            if len <= 12 {
                out.push((0, len as usize, view.as_ptr().add(4), 12));
                continue;
            }
            let buf = i32::from_le_bytes(view[8..12].try_into().expect("4 bytes"));
            let off = i32::from_le_bytes(view[12..16].try_into().expect("4 bytes"));
            if buf < 0 || buf as usize >= variadic || off < 0 {
                return Err(malformed("a view points to no buffer"));
            }
            let base = input.buffer(2 + buf as usize)?;
            let size = *sizes.add(buf as usize);
            out.push((off as usize, len as usize, base, size.max(0) as usize));
        }
        Ok(out)
    }
}

/// Imports a category field from a dictionary-encoded column (any integer indices, text
/// values) or from a plain text column.
///
/// # Safety
/// `input` describes a valid Arrow array.
unsafe fn import_category(
    field: &Field,
    input: &Input<'_>,
    col: &mut crate::Column,
    validity: Option<(&[u8], usize)>,
    mismatch: &dyn Fn() -> ImportError,
) -> Result<(), ImportError> {
    let refused = |row: usize, p: Problem| ImportError::BadValue {
        field: field.name.clone(),
        row,
        detail: match p {
            Problem::UnknownCategory => "not one of the field's values".into(),
            other => format!("{other:?}"),
        },
    };
    let with_field = |e: ImportError| match e {
        ImportError::BadValue { row, detail, .. } => ImportError::BadValue {
            field: field.name.clone(),
            row,
            detail,
        },
        other => other,
    };
    // SAFETY: the structs are valid per the caller; the dictionary pointers are checked.
    unsafe {
        if input.schema.dictionary.is_null() {
            let values = read_var(input, true)
                .ok_or_else(mismatch)?
                .map_err(with_field)?;
            return col
                .extend_categories(values.into_iter())
                .map_err(|(row, p)| refused(row, p));
        }
        if input.array.dictionary.is_null() {
            return Err(malformed("a dictionary column without its dictionary"));
        }
        let dict_schema = &*input.schema.dictionary;
        let dict_array = &*input.array.dictionary;
        let dict_len = dict_array.length.max(0) as usize;
        let dict = Input::new(dict_schema, dict_array, dict_len, 0)?;
        let words = read_var(&dict, true)
            .ok_or_else(mismatch)?
            .map_err(with_field)?;
        let codes: Vec<i64> = match input.format.as_str() {
            "c" => input.slice::<i8>(1, 0)?.iter().map(|&c| c.into()).collect(),
            "C" => input.slice::<u8>(1, 0)?.iter().map(|&c| c.into()).collect(),
            "s" => input
                .slice::<i16>(1, 0)?
                .iter()
                .map(|&c| c.into())
                .collect(),
            "S" => input
                .slice::<u16>(1, 0)?
                .iter()
                .map(|&c| c.into())
                .collect(),
            "i" => input
                .slice::<i32>(1, 0)?
                .iter()
                .map(|&c| c.into())
                .collect(),
            "I" => input
                .slice::<u32>(1, 0)?
                .iter()
                .map(|&c| c.into())
                .collect(),
            "l" => input.slice::<i64>(1, 0)?.to_vec(),
            _ => return Err(mismatch()),
        };
        let mut values = Vec::with_capacity(codes.len());
        for (row, &code) in codes.iter().enumerate() {
            if !Input::is_valid(validity, input.offset + row) {
                values.push(None);
                continue;
            }
            let word = usize::try_from(code)
                .ok()
                .and_then(|c| words.get(c).copied())
                .ok_or_else(|| malformed("a dictionary index is out of range"))?;
            values.push(Some(
                word.ok_or_else(|| malformed("a null in a dictionary"))?,
            ));
        }
        col.extend_categories(values.into_iter())
            .map_err(|(row, p)| refused(row, p))
    }
}
