//! Iteration over a table's rows, reusing row handles nobody else holds.

use std::cell::RefCell;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::PyVisit;

use crate::record;
use crate::table::PyTable;

#[pyclass(frozen, module = "shoal", name = "TableIterator")]
pub struct PyTableIter {
    table: Py<PyTable>,
    state: RefCell<IterState>,
}

// SAFETY: as for `PyTable`: all access happens with the GIL held (the module is GIL-using).
unsafe impl Sync for PyTableIter {}

struct IterState {
    next: usize,
    version: u64,
    /// Two handles, because the loop variable still holds the previous row when the next one
    /// is requested; the one before that is usually free again.
    spare: [Option<Py<PyAny>>; 2],
    turn: usize,
}

impl PyTableIter {
    pub fn new(table: &Bound<'_, PyTable>) -> PyResult<PyTableIter> {
        Ok(PyTableIter {
            table: table.clone().unbind(),
            state: RefCell::new(IterState {
                next: 0,
                version: table.get().read()?.inner.version(),
                spare: [None, None],
                turn: 0,
            }),
        })
    }
}

#[pymethods]
impl PyTableIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let table = self.table.bind(py);
        let mut it = self
            .state
            .try_borrow_mut()
            .map_err(|_| PyRuntimeError::new_err("iterator already running"))?;
        let (len, version) = {
            let st = table.get().read()?;
            (st.inner.len(), st.inner.version())
        };
        if version != it.version {
            return Err(PyRuntimeError::new_err(
                "Table changed during iteration (rows were removed, inserted or reordered)",
            ));
        }
        if it.next >= len {
            return Ok(None);
        }
        let row = it.next;
        it.next += 1;
        for cached in it.spare.iter().flatten() {
            let cached = cached.bind(py);
            if record::rebind_if_unshared(cached, row, version) {
                return Ok(Some(cached.clone()));
            }
        }
        let handle = record::new_row(table, table.get().schema(py), row, version)?;
        let turn = it.turn;
        it.spare[turn] = Some(handle.clone().unbind());
        it.turn ^= 1;
        Ok(Some(handle))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.table)?;
        if let Ok(it) = self.state.try_borrow() {
            for s in it.spare.iter().flatten() {
                visit.call(s)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        if let Ok(mut it) = self.state.try_borrow_mut() {
            it.spare = [None, None];
        }
    }
}
