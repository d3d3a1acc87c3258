//! `Writer.append` as a METH_FASTCALL method, as `Table.append` is.

use pyo3::ffi;
use pyo3::prelude::*;

use crate::table::{append_into, install_fastcall, new_none};

use super::PyWriter;

/// Installs `Writer.append` as a METH_FASTCALL method (PyO3's `*args` methods pay for a tuple
/// per call, a third of an append).
pub fn install_fast_writer_append(py: Python<'_>) -> PyResult<()> {
    install_fastcall(
        &py.get_type::<PyWriter>(),
        c"append",
        writer_append,
        c"append(*values, **fields)\n--\n\nAppends one record, as Table.append does; a full \
batch is written to the file. On error nothing is appended.",
    )
}

/// `Writer.append` as METH_FASTCALL | METH_KEYWORDS (the contract of `Table.append`'s).
unsafe extern "C" fn writer_append(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    crate::capi::trampoline(std::ptr::null_mut(), |py| {
        // SAFETY: `slf` is a live object (the contract).
        let writer = unsafe { Bound::from_borrowed_ptr(py, slf) };
        // SAFETY: the method descriptor has checked that `slf` is a Writer.
        let writer = unsafe { writer.cast_into_unchecked::<PyWriter>() };
        let this = writer.get();
        this.check_open()?;
        // SAFETY: the contract's `args`, `nargsf` and `kwnames`, passed on unchanged.
        unsafe { append_into(this.buffer.bind(py), args, nargsf, kwnames) }
            .map_err(|e| this.noted(py, e))?;
        this.flush_if_full(py)?;
        Ok(new_none())
    })
}
