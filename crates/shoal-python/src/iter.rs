//! Iteration over a table's rows, reusing row handles nobody else holds.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::PyVisit;

use crate::record;
use crate::table::PyTable;

#[pyclass(module = "shoal", name = "TableIterator")]
pub struct PyTableIter {
    table: Py<PyTable>,
    next: usize,
    version: u64,
    /// Two handles, because the loop variable still holds the previous row when the next one
    /// is requested; the one before that is usually free again.
    spare: [Option<Py<PyAny>>; 2],
    turn: usize,
}

impl PyTableIter {
    pub fn new(table: &Bound<'_, PyTable>) -> PyTableIter {
        PyTableIter {
            table: table.clone().unbind(),
            next: 0,
            version: table.borrow().core().version(),
            spare: [None, None],
            turn: 0,
        }
    }
}

#[pymethods]
impl PyTableIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let table = self.table.bind(py);
        let (len, version) = {
            let t = table.borrow();
            (t.core().len(), t.core().version())
        };
        if version != self.version {
            return Err(PyRuntimeError::new_err(
                "Table changed during iteration (rows were removed, inserted or reordered)",
            ));
        }
        if self.next >= len {
            return Ok(None);
        }
        let row = self.next;
        self.next += 1;
        for cached in self.spare.iter().flatten() {
            let cached = cached.bind(py);
            if record::rebind_if_unshared(cached, row, version) {
                return Ok(Some(cached.clone()));
            }
        }
        let schema = table.borrow().schema(py).clone();
        let handle = record::new_row(table, &schema, row, version)?;
        self.spare[self.turn] = Some(handle.clone().unbind());
        self.turn ^= 1;
        Ok(Some(handle))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.table)?;
        for s in self.spare.iter().flatten() {
            visit.call(s)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.spare = [None, None];
    }
}
