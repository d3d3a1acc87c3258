//! `Field`: what stands for each field on a record class (`Point.x`): name, index, type and
//! default. Its descriptor methods live with the records it reads (`record::descriptor`).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

/// A field of a record class: `Point.x`. On instances it reads and writes the field's value.
#[pyclass(frozen, module = "shoal", name = "Field")]
pub struct PyField {
    #[pyo3(get)]
    pub(crate) name: Py<PyString>,
    #[pyo3(get)]
    pub(crate) index: usize,
    pub(crate) type_name: String,
    pub(crate) default: Option<Py<PyAny>>,
    pub(crate) owner: String,
}

#[pymethods]
impl PyField {
    /// The type's name: `float`, `int`, `bool`, `f32`, `i8` ... `u64`, `str`, `bytes`,
    /// `category`, an Enum's or Literal's name, `datetime`, `datetime in UTC`, `date`,
    /// `timedelta`; with ` | None` for optional fields.
    #[getter]
    fn r#type(&self) -> &str {
        &self.type_name
    }

    /// The default value, or `dataclasses.MISSING`.
    #[getter]
    fn default<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.default {
            Some(d) => Ok(d.bind(py).clone()),
            None => missing(py).cloned(),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let default = match &self.default {
            Some(d) => format!(
                " = {}",
                d.bind(py).repr().map_or("?".into(), |r| r.to_string())
            ),
            None => String::new(),
        };
        format!(
            "<shoal.Field {}.{}: {}{}>",
            self.owner, self.name, self.type_name, default
        )
    }
}

/// `dataclasses.MISSING`: what a field without a default reports.
pub fn missing(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static MISSING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    MISSING
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("dataclasses")?.getattr("MISSING")?.unbind())
        })
        .map(|m| m.bind(py))
}
