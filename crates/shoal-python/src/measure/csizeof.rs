//! Sizes from a C type's own `__sizeof__`, for types whose storage the walk cannot see from the
//! layout alone (deque blocks, array buffers, generator and frame slots, ElementTree children).
//!
//! The method is called directly through its C function pointer, and only when that function
//! lives in the Python installation itself (the interpreter, libpython, the stdlib's
//! `lib-dynload`) or in NumPy: code there is known to compute the size without running Python
//! code. The library is found with `dladdr` on the function's address, so a type cannot earn
//! trust by the name it gives itself.

use std::ffi::{c_char, c_int, c_void, CStr};

use pyo3::ffi;
use pyo3::prelude::*;

/// A C method taking no arguments: `PyCFunction` called as `f(self, NULL)`.
pub(super) type CSizeof =
    unsafe extern "C" fn(*mut ffi::PyObject, *mut ffi::PyObject) -> *mut ffi::PyObject;

#[repr(C)]
struct DlInfo {
    dli_fname: *const c_char,
    dli_fbase: *mut c_void,
    dli_sname: *const c_char,
    dli_saddr: *mut c_void,
}

extern "C" {
    /// The shared object containing `addr` (POSIX; glibc and macOS).
    fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
    /// CPython's MRO lookup (exported in 3.10–3.13): a borrowed reference or null, without
    /// calling any descriptor or running Python code.
    fn _PyType_Lookup(tp: *mut ffi::PyTypeObject, name: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// Where trusted `__sizeof__` code lives, found before a walk (which runs no Python code).
pub(super) struct TrustedCode {
    name: Py<PyAny>,
    /// The Python installation's directory (lib-dynload is under it) ...
    installation: Option<String>,
    /// ... and NumPy's, if it is imported.
    numpy: Option<String>,
    /// Where the interpreter's own code is loaded (libpython or the executable).
    core_base: *mut c_void,
}

fn library_of(f: *const c_void) -> Option<DlInfo> {
    let mut info = DlInfo {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: `dladdr` only reads the loader's tables and fills `info`.
    (unsafe { dladdr(f, &mut info) } != 0).then_some(info)
}

impl TrustedCode {
    pub(super) fn new(py: Python<'_>) -> TrustedCode {
        let dir_of = |expr: &CStr| -> Option<String> {
            let v = py.eval(expr, None, None).ok()?;
            Some(v.extract::<String>().ok()? + "/")
        };
        let core = ffi::PyType_IsSubtype as *const c_void;
        TrustedCode {
            name: pyo3::intern!(py, "__sizeof__").clone().into_any().unbind(),
            installation: dir_of(c"__import__('os').path.realpath(__import__('sys').base_prefix)"),
            numpy: dir_of(
                c"__import__('os').path.dirname(__import__('os').path.realpath(\
                  __import__('sys').modules['numpy'].__file__))",
            ),
            core_base: library_of(core).map_or(std::ptr::null_mut(), |i| i.dli_fbase),
        }
    }

    fn trusted_library(&self, f: *const c_void) -> bool {
        let Some(info) = library_of(f) else {
            return false;
        };
        if !self.core_base.is_null() && info.dli_fbase == self.core_base {
            return true;
        }
        if info.dli_fname.is_null() {
            return false;
        }
        // SAFETY: a NUL-terminated path owned by the loader, valid while the library is loaded.
        let path = unsafe { CStr::from_ptr(info.dli_fname) }.to_string_lossy();
        let path = std::fs::canonicalize(&*path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| path.into_owned());
        // Packages installed into the installation are not part of it.
        let stdlib = self
            .installation
            .as_ref()
            .is_some_and(|p| path.starts_with(p))
            && !path.contains("-packages/");
        stdlib || self.numpy.as_ref().is_some_and(|p| path.starts_with(p))
    }

    /// The trusted C `__sizeof__` of the live type `tp`, unless it is `object`'s (which is
    /// only `basicsize + itemsize * ob_size`, wrong for types without a length there).
    pub(super) fn find(&self, tp: *mut ffi::PyTypeObject) -> Option<CSizeof> {
        // SAFETY: a lookup in the live type's MRO by an interned str key.
        let descr = unsafe { _PyType_Lookup(tp, self.name.as_ptr()) };
        if descr.is_null() {
            return None;
        }
        // SAFETY: `descr` is a live object (a borrowed reference from the type's dict).
        if unsafe { ffi::Py_TYPE(descr) } != &raw mut ffi::PyMethodDescr_Type {
            return None; // a Python-level __sizeof__, or something else: never run it
        }
        // SAFETY: exactly a method descriptor, so it has the `PyMethodDescrObject` layout.
        let descr = unsafe { &*descr.cast::<ffi::PyMethodDescrObject>() };
        if descr.d_common.d_type == &raw mut ffi::PyBaseObject_Type || descr.d_method.is_null() {
            return None;
        }
        // SAFETY: a method descriptor's `PyMethodDef` lives as long as its type.
        let def = unsafe { &*descr.d_method };
        if def.ml_flags & !ffi::METH_COEXIST != ffi::METH_NOARGS {
            return None;
        }
        // SAFETY: with METH_NOARGS the method is a plain `PyCFunction`.
        let f: CSizeof = unsafe { def.ml_meth.PyCFunction };
        self.trusted_library(f as *const c_void).then_some(f)
    }
}

/// The size `f` (a trusted `__sizeof__`) reports for `o`, without the GC pre-header; `None` if
/// it failed (the error is cleared).
pub(super) fn call(f: CSizeof, o: *mut ffi::PyObject) -> Option<u64> {
    // SAFETY: `f` is a METH_NOARGS method of `o`'s type (found by `find`), called as CPython
    // calls it: `self` and a null argument.
    let result = unsafe { f(o, std::ptr::null_mut()) };
    if result.is_null() {
        // SAFETY: an exception is set; the walk reports what it can instead.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    // SAFETY: `result` is a new reference to a live object.
    let n = unsafe { ffi::PyLong_AsSsize_t(result) };
    // SAFETY: releases the new reference.
    unsafe { ffi::Py_DecRef(result) };
    if n < 0 {
        // SAFETY: clears the error of a non-int result (or a negative size, with none set).
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    Some(n as u64)
}
