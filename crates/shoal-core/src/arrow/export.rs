//! Export: fills C Data Interface structs for a table's column snapshots. Every buffer is the
//! snapshot's memory, kept alive by the array's private data until the consumer calls
//! `release` (bools, which Arrow packs into bits, are the one copy).

use std::ffi::{c_void, CString};
use std::ptr;

use super::ffi::{ArrowArray, ArrowSchema};
use super::format::{fixed_format, format};
use crate::buffer::Snapshot;
use crate::column::{ColumnSnapshot, SnapshotData};
use crate::dtype::{DType, Schema};

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

/// The C structs whose children a release callback frees: both have a `release` callback.
trait Released {
    fn release_fn(&self) -> Option<unsafe extern "C" fn(*mut Self)>;
}

impl Released for ArrowSchema {
    fn release_fn(&self) -> Option<unsafe extern "C" fn(*mut Self)> {
        self.release
    }
}

impl Released for ArrowArray {
    fn release_fn(&self) -> Option<unsafe extern "C" fn(*mut Self)> {
        self.release
    }
}

/// Releases and frees the children (and dictionary) an exported struct owns.
///
/// # Safety
/// Each non-null pointer must be a `Box` we leaked when exporting, not yet freed.
unsafe fn release_children<T: Released>(children: impl Iterator<Item = *mut T>) {
    for child in children.filter(|c| !c.is_null()) {
        // SAFETY: `child` is a live Box we leaked (guaranteed by the caller).
        if let Some(release) = unsafe { &*child }.release_fn() {
            // SAFETY: the child's own release callback, called once on the struct it filled.
            unsafe { release(child) };
        }
        // SAFETY: as above; nothing refers to the child after its release.
        drop(unsafe { Box::from_raw(child) });
    }
}

/// The consumer's (or a parent's) call that ends an exported schema's life.
///
/// Contract (C Data Interface): called once, on a schema we filled, whose `private_data` is
/// the `SchemaPrivate` we leaked.
unsafe extern "C" fn release_schema(schema: *mut ArrowSchema) {
    // SAFETY: the consumer passes the live schema we filled (the contract above).
    let schema = unsafe { &mut *schema };
    // SAFETY: `private_data` is the Box we leaked when exporting, freed only here.
    let private = unsafe { Box::from_raw(schema.private_data.cast::<SchemaPrivate>()) };
    let children = private.children.iter().chain(Some(&private.dictionary));
    // SAFETY: every child and the dictionary are Boxes we leaked, released only here.
    unsafe { release_children(children.copied()) };
    schema.release = None;
    schema.private_data = ptr::null_mut();
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

/// The consumer's (or a parent's) call that ends an exported array's life.
///
/// Contract (C Data Interface): called once, on an array we filled, whose `private_data` is
/// the `ArrayPrivate` we leaked (which owns the snapshot its buffers point into).
unsafe extern "C" fn release_array(array: *mut ArrowArray) {
    // SAFETY: the consumer passes the live array we filled (the contract above).
    let array = unsafe { &mut *array };
    // SAFETY: `private_data` is the Box we leaked when exporting, freed only here.
    let private = unsafe { Box::from_raw(array.private_data.cast::<ArrayPrivate>()) };
    let children = private.children.iter().chain(Some(&private.dictionary));
    // SAFETY: every child and the dictionary are Boxes we leaked, released only here.
    unsafe { release_children(children.copied()) };
    array.release = None;
    array.private_data = ptr::null_mut();
}

pub(super) fn ptr_of<T>(s: &Snapshot<T>) -> *const c_void
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
