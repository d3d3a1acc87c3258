//! `Table.append` as a METH_FASTCALL method: the hot path of building a table from a loop.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyTuple};
use shoal_core::Table;

use crate::convert::{fast_cell, to_cell};
use crate::schema::PySchema;

use super::PyTable;

/// Installs `Table.append` as a METH_FASTCALL method: appends are the hot path of building a
/// table from a Python loop, and PyO3's `*args` methods pay for a tuple per call.
pub fn install_fast_append(py: Python<'_>) -> PyResult<()> {
    install_fastcall(
        &py.get_type::<PyTable>(),
        c"append",
        append_fast,
        c"append(*values, **fields)\n--\n\nAppends one record: t.append(1.0, 2.0), \
t.append(x=1.0) or t.append(Point(1.0, 2.0)). On error nothing is appended.",
    )
}

/// The signature of a METH_FASTCALL | METH_KEYWORDS method.
pub type FastCall = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *const *mut ffi::PyObject,
    ffi::Py_ssize_t,
    *mut ffi::PyObject,
) -> *mut ffi::PyObject;

/// Sets `ty.name` to the METH_FASTCALL | METH_KEYWORDS method `meth`.
pub fn install_fastcall(
    ty: &Bound<'_, pyo3::types::PyType>,
    name: &'static std::ffi::CStr,
    meth: FastCall,
    doc: &'static std::ffi::CStr,
) -> PyResult<()> {
    let def = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: meth,
        },
        ml_flags: ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ml_doc: doc.as_ptr(),
    }));
    // SAFETY: `def` is 'static and describes a function with the METH_FASTCALL|METH_KEYWORDS
    // signature; the type pointer is live.
    let descr = unsafe { ffi::PyDescr_NewMethod(ty.as_type_ptr(), def) };
    // SAFETY: a new reference or null with an exception set.
    let descr = unsafe { Bound::from_owned_ptr_or_err(ty.py(), descr)? };
    ty.setattr(name.to_str().expect("an ASCII name"), descr)
}

/// A new reference to `None`, what a method returns when it has nothing to say.
pub fn new_none() -> *mut ffi::PyObject {
    // SAFETY: a borrowed pointer to the immortal `None` singleton.
    let none = unsafe { ffi::Py_None() };
    // SAFETY: `none` is a live object; this adds the reference the caller returns.
    unsafe { ffi::Py_NewRef(none) }
}

/// `Table.append` as METH_FASTCALL | METH_KEYWORDS.
///
/// Contract (`_PyCFunctionFastWithKeywords`): called with the attached thread, `slf` a Table
/// (checked by the method descriptor), `args` holding the positional values then one value per
/// name in `kwnames` (a tuple of str, or null), all borrowed; returns a new reference, or null
/// with an exception set.
unsafe extern "C" fn append_fast(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    crate::capi::trampoline(std::ptr::null_mut(), |py| {
        // SAFETY: `slf` is a live object (the contract).
        let table = unsafe { Bound::from_borrowed_ptr(py, slf) };
        // SAFETY: the method descriptor has checked that `slf` is a Table.
        let table = unsafe { table.cast_into_unchecked::<PyTable>() };
        // SAFETY: the contract's `args`, `nargsf` and `kwnames`, passed on unchanged.
        unsafe { append_into(&table, args, nargsf, kwnames) }?;
        Ok(new_none())
    })
}

/// Appends the row a METH_FASTCALL | METH_KEYWORDS call describes to `table`.
///
/// # Safety
/// `args` holds the positional values then one value per name in `kwnames` (a tuple of str,
/// or null), all borrowed references live for the call; `nargsf` as CPython passes it.
pub unsafe fn append_into(
    table: &Bound<'_, PyTable>,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> PyResult<()> {
    let py = table.py();
    let this = table.get();
    // SAFETY: CPython passes `nargs` positional arguments followed by one per keyword name.
    let nargs = unsafe { ffi::PyVectorcall_NARGS(nargsf as usize) } as usize;
    let nkw = if kwnames.is_null() {
        0
    } else {
        // SAFETY: `kwnames` is a tuple of strings when not null.
        unsafe { ffi::PyTuple_GET_SIZE(kwnames) as usize }
    };
    // SAFETY: as above, `args` holds `nargs + nkw` borrowed references.
    let argv = unsafe { std::slice::from_raw_parts(args, nargs + nkw) };
    let schema = this.schema.get();
    if nkw == 0 && nargs == schema.len() && schema.plain_call {
        // SAFETY: the pointers are live borrowed references for the duration of the call.
        let first = (nargs == 1).then(|| unsafe { Bound::from_borrowed_ptr(py, argv[0]) });
        if !first.as_ref().is_some_and(|a| maybe_record_value(a)) {
            return push_positional(py, this, argv);
        }
    }
    append_slow(table, argv, nargs, kwnames)
}

/// `t.append(v0, v1, ...)` with one value per field: each checked straight into its column.
#[inline(never)]
fn push_positional(py: Python<'_>, this: &PyTable, argv: &[*mut ffi::PyObject]) -> PyResult<()> {
    let mut st = this.change()?;
    push_values(py, this.schema.get(), &mut st.inner, argv)
}

/// Appends one row given as one value per field (`argv`, borrowed references live for the
/// call), each checked straight into its column; on error nothing is appended.
#[inline]
pub(super) fn push_values(
    py: Python<'_>,
    schema: &PySchema,
    table: &mut Table,
    argv: &[*mut ffi::PyObject],
) -> PyResult<()> {
    // First with values that need no conversion, keeping (large) error values off the hot
    // path; any miss or refusal undoes the row and takes the general path below.
    let fast = table.push_with(
        |f, _| {
            // SAFETY: `f < argv.len()` (one value per field); the reference is live for the
            // whole call, which is as long as any text borrowed from it is used.
            let obj = unsafe { pyo3::Borrowed::from_ptr(py, argv[f]) };
            fast_cell(obj, &schema.specs[f]).ok_or(())
        },
        |_, _| (),
    );
    if fast.is_ok() {
        return Ok(());
    }
    push_converted(py, schema, table, argv)
}

#[cold]
#[inline(never)]
fn push_converted(
    py: Python<'_>,
    schema: &PySchema,
    table: &mut Table,
    argv: &[*mut ffi::PyObject],
) -> PyResult<()> {
    let row = table.len();
    table.push_with(
        |f, _| {
            // SAFETY: `f < argv.len()` (one value per field); the reference is live for the
            // whole call, which is as long as any text borrowed from it is used.
            let obj = unsafe { pyo3::Borrowed::from_ptr(py, argv[f]) };
            to_cell(obj, &schema.specs[f], || schema.target(f, Some(row)))
        },
        |f, problem| {
            // SAFETY: as above.
            let obj = unsafe { Bound::from_borrowed_ptr(py, argv[f]) };
            schema.specs[f].refused(
                problem,
                schema.target(f, Some(row)),
                crate::convert::value_repr(&obj),
            )
        },
    )?;
    Ok(())
}

/// The general path of `append_fast`: rebuild `*args`/`**kwargs` and bind like a constructor.
#[cold]
#[inline(never)]
fn append_slow(
    table: &Bound<'_, PyTable>,
    argv: &[*mut ffi::PyObject],
    nargs: usize,
    kwnames: *mut ffi::PyObject,
) -> PyResult<()> {
    let py = table.py();
    let nkw = argv.len() - nargs;
    // SAFETY: the pointers are live borrowed references for the duration of the call.
    let positional = argv[..nargs]
        .iter()
        .map(|&p| unsafe { Bound::from_borrowed_ptr(py, p) });
    let tuple = PyTuple::new(py, positional)?;
    let kwargs = PyDict::new(py);
    for k in 0..nkw {
        // SAFETY: `kwnames` is a tuple of `nkw` names.
        let name = unsafe { ffi::PyTuple_GET_ITEM(kwnames, k as ffi::Py_ssize_t) };
        // SAFETY: a live borrowed str.
        let name = unsafe { Bound::from_borrowed_ptr(py, name) };
        // SAFETY: the keyword values follow the positional arguments, borrowed for the call.
        let value = unsafe { Bound::from_borrowed_ptr(py, argv[nargs + k]) };
        kwargs.set_item(name, value)?;
    }
    PyTable::append_args(table, &tuple, Some(&kwargs))
}

/// Whether a lone argument may be a record to copy (anything but an exact float or int): the
/// rule that keeps `append(3.0)` on the fast path for a one-field record.
pub(crate) fn maybe_record_value(arg: &Bound<'_, PyAny>) -> bool {
    !(arg.is_exact_instance_of::<PyFloat>() || arg.is_exact_instance_of::<PyInt>())
}
