//! What frames and functions own (docs/measure.md, "Frames, generators, functions").
//!
//! A frame owns its locals and value stack once its call has returned (a traceback or a
//! generator keeps them alive); it never owns its caller (`f_back`), its globals or builtins,
//! and a frame still executing owns nothing but itself: its locals are the running program's.
//! A function owns its closure cells, defaults and `__dict__` when it was made as data: it has
//! a closure, or was defined inside another function (`<locals>` in its qualified name).
//! Other functions (module level, methods), their code and globals are shared.

use pyo3::ffi;

use super::layout::at;

/// Offsets in `PyFrameObject` and `_PyInterpreterFrame` per version (Include/cpython/
/// frameobject.h for 3.10, Include/internal/pycore_frame.h from 3.11).
#[cfg(not(Py_3_11))]
mod offsets {
    pub(super) const F_BACK: isize = 24;
    pub(super) const F_BUILTINS: isize = 40;
    pub(super) const F_GLOBALS: isize = 48;
    pub(super) const F_LOCALS: isize = 56;
    /// `PyFrameState f_state`, a signed char.
    pub(super) const F_STATE: isize = 108;
}

#[cfg(Py_3_11)]
mod offsets {
    pub(super) const F_BACK: isize = 16;
    /// `struct _PyInterpreterFrame *f_frame`.
    pub(super) const F_FRAME: isize = 24;
    #[cfg(not(Py_3_12))]
    pub(super) const I_GLOBALS: isize = 8;
    #[cfg(not(Py_3_12))]
    pub(super) const I_LOCALS: isize = 24;
    #[cfg(Py_3_12)]
    pub(super) const I_GLOBALS: isize = 24;
    #[cfg(Py_3_12)]
    pub(super) const I_LOCALS: isize = 40;
}

/// The referents of frame `o` (from its `tp_traverse`) that are not the frame's own: its
/// caller, globals, builtins, and a module frame's locals (its globals). For a frame still
/// executing (3.10; from 3.11 its traverse already skips the locals), every referent.
///
/// # Safety
/// `o` must be a live frame object.
pub(super) unsafe fn foreign_referents(o: *mut ffi::PyObject) -> Foreign {
    use offsets::*;
    // SAFETY: `f_back`, an object pointer field of the live frame.
    let back = unsafe { at::<*mut ffi::PyObject>(o, F_BACK) };
    #[cfg(not(Py_3_11))]
    {
        // SAFETY: a field of the live 3.10 frame, at its offset above (as each read below).
        let state = unsafe { at::<i8>(o, F_STATE) };
        // SAFETY: as above.
        let builtins = unsafe { at::<*mut ffi::PyObject>(o, F_BUILTINS) };
        // SAFETY: as above.
        let globals = unsafe { at::<*mut ffi::PyObject>(o, F_GLOBALS) };
        // SAFETY: as above.
        let locals = unsafe { at::<*mut ffi::PyObject>(o, F_LOCALS) };
        const EXECUTING: i8 = 0;
        const UNWINDING: i8 = 2;
        Foreign {
            all: state == EXECUTING || state == UNWINDING,
            these: [
                back,
                builtins,
                globals,
                if locals == globals { locals } else { back },
            ],
        }
    }
    #[cfg(Py_3_11)]
    {
        // SAFETY: `f_frame` points to the frame's live interpreter frame (its own data or
        // the executing one's).
        let frame = unsafe { at::<*mut ffi::PyObject>(o, F_FRAME) };
        if frame.is_null() {
            return Foreign {
                all: false,
                these: [back; 4],
            };
        }
        // SAFETY: a field of the live interpreter frame, at its offset above.
        let globals = unsafe { at::<*mut ffi::PyObject>(frame, I_GLOBALS) };
        // SAFETY: as above.
        let locals = unsafe { at::<*mut ffi::PyObject>(frame, I_LOCALS) };
        Foreign {
            all: false,
            these: [
                back,
                globals,
                back,
                if locals == globals { locals } else { back },
            ],
        }
    }
}

/// What a frame does not own, as [`foreign_referents`] finds it.
pub(super) struct Foreign {
    /// Nothing the frame refers to is its own (it is still executing).
    pub(super) all: bool,
    /// These referents are not its own.
    pub(super) these: [*mut ffi::PyObject; 4],
}

impl Foreign {
    pub(super) fn owns(&self, r: *mut ffi::PyObject) -> bool {
        !self.all && !self.these.contains(&r)
    }
}

/// The objects a function made as data owns (closure, defaults, kw-defaults, `__dict__`,
/// annotations), or `None` for a shared function.
///
/// # Safety
/// `o` must be a live function object (exactly `PyFunction_Type`).
pub(super) unsafe fn owned_parts(o: *mut ffi::PyObject) -> Option<[*mut ffi::PyObject; 5]> {
    // SAFETY: exactly a function, so it has the `PyFunctionObject` layout of this version.
    let f = unsafe { &*o.cast::<ffi::PyFunctionObject>() };
    // SAFETY: `func_qualname` is a live str (set at creation, never null).
    let local = unsafe { ascii_contains(f.func_qualname, b"<locals>") };
    if f.func_closure.is_null() && !local {
        return None;
    }
    Some([
        f.func_closure,
        f.func_defaults,
        f.func_kwdefaults,
        f.func_dict,
        f.func_annotations,
    ])
}

/// Whether the str `s` is compact ASCII and contains `needle` (read in place: asking for the
/// UTF-8 of another kind of str would allocate a cache inside it).
///
/// # Safety
/// `s` must be null or a live object.
unsafe fn ascii_contains(s: *mut ffi::PyObject, needle: &[u8]) -> bool {
    // SAFETY: a type check of a live object.
    if s.is_null() || unsafe { ffi::PyUnicode_CheckExact(s) } == 0 {
        return false;
    }
    // SAFETY: every str starts with a `PyASCIIObject`.
    let ascii = unsafe { &*s.cast::<ffi::PyASCIIObject>() };
    // SAFETY: reads the state bits of a live str.
    if unsafe { ascii.compact() } == 0 || unsafe { ascii.ascii() } == 0 {
        return false;
    }
    // SAFETY: a compact ASCII str keeps its characters right after its header.
    let data = unsafe { s.cast::<ffi::PyASCIIObject>().add(1).cast::<u8>() };
    // SAFETY: `len` characters are initialised there.
    let text = unsafe { std::slice::from_raw_parts(data, ascii.length as usize) };
    text.windows(needle.len()).any(|w| w == needle)
}
