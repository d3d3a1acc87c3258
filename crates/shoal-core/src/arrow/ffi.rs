//! The C Data Interface structs, as <https://arrow.apache.org/docs/format/CDataInterface.html>
//! defines them.

use std::ffi::{c_char, c_void};
use std::ptr;

/// The C Data Interface's `struct ArrowSchema`: one array's type.
#[repr(C)]
pub struct ArrowSchema {
    /// The format string (`g`, `u`, `+s`, `tsu:UTC` ...).
    pub format: *const c_char,
    /// The field name, or null.
    pub name: *const c_char,
    /// Key-value metadata in the interface's binary layout, or null.
    pub metadata: *const c_char,
    /// `ARROW_FLAG_*` bits (nullable, dictionary ordered, map keys sorted).
    pub flags: i64,
    /// Number of children.
    pub n_children: i64,
    /// The children's schemas.
    pub children: *mut *mut ArrowSchema,
    /// The dictionary's schema for a dictionary-encoded array, else null.
    pub dictionary: *mut ArrowSchema,
    /// Frees what the producer allocated; null once released.
    pub release: Option<unsafe extern "C" fn(*mut ArrowSchema)>,
    /// The producer's own state.
    pub private_data: *mut c_void,
}

/// The C Data Interface's `struct ArrowArray`: one array's data.
#[repr(C)]
pub struct ArrowArray {
    /// Number of rows.
    pub length: i64,
    /// Number of nulls (-1 if not computed).
    pub null_count: i64,
    /// Rows to skip at the start of every buffer.
    pub offset: i64,
    /// Number of buffers.
    pub n_buffers: i64,
    /// Number of children.
    pub n_children: i64,
    /// The buffers (validity first), as the format prescribes.
    pub buffers: *mut *const c_void,
    /// The children's arrays.
    pub children: *mut *mut ArrowArray,
    /// The dictionary's values for a dictionary-encoded array, else null.
    pub dictionary: *mut ArrowArray,
    /// Frees what the producer allocated; null once released.
    pub release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    /// The producer's own state.
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
    /// A released (empty) array, as consumers allocate before an export fills it.
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

/// A child array moved out of its parent (the C Data Interface's "moving child arrays", meant
/// for keeping only some columns alive): set once the import has finished with it, released
/// when the last buffer reading it in place goes away. Empty if the import failed first.
#[derive(Default)]
pub(crate) struct MovedChild(std::sync::OnceLock<ArrowArray>);

// SAFETY: the moved array is only read through the buffers adopted from it, and released once,
// from whichever thread drops the last reference; the specification has release callbacks
// free their own data, tied to no thread (arrow-rs's `FFI_ArrowArray` is `Send + Sync` on the
// same grounds). Tables are dropped with the GIL held in practice.
unsafe impl Send for MovedChild {}
// SAFETY: as above: shared references only read it.
unsafe impl Sync for MovedChild {}

impl MovedChild {
    /// Takes ownership of `child`, which the caller has detached from its parent.
    pub(crate) fn hold(&self, child: ArrowArray) {
        if let Err(mut refused) = self.0.set(child) {
            release(&mut refused);
        }
    }
}

impl Drop for MovedChild {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            release(&mut child);
        }
    }
}

fn release(a: &mut ArrowArray) {
    if let Some(release) = a.release {
        // SAFETY: a live array we own, released exactly once (its release is then null).
        unsafe { release(a) };
    }
}
