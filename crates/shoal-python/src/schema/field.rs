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
    /// The `shoal._record.FieldDecl` the metaclass declared: the dataclass options.
    pub(crate) options: Py<PyAny>,
}

#[pymethods]
impl PyField {
    /// How the field is stored: `float`, `int`, `bool`, `f32`, `i8` ... `u64`, `str`,
    /// `bytes`, `category`, an Enum's or Literal's name, `datetime`, `datetime in UTC`,
    /// `date`, `timedelta`; with ` | None` for optional fields.
    #[getter]
    fn storage(&self) -> &str {
        &self.type_name
    }

    /// The annotation, as `dataclasses.Field.type` (`float`, `shoal.u8`, `str | None`).
    #[getter]
    fn r#type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.option(py, "type")
    }

    /// The `default_factory`, or `dataclasses.MISSING`.
    #[getter]
    fn default_factory<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let f = self.option(py, "default_factory")?;
        if f.is_none() {
            return missing(py).cloned();
        }
        Ok(f)
    }

    /// Whether the constructor takes this field.
    #[getter]
    fn init<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.option(py, "init")
    }

    /// Whether `repr` shows this field.
    #[getter]
    fn repr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.option(py, "repr")
    }

    /// Whether `hash` uses this field (None: as `compare`).
    #[getter]
    fn hash<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.option(py, "hash")
    }

    /// Whether `==` and ordering compare this field.
    #[getter]
    fn compare<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.option(py, "compare")
    }

    /// Whether the constructor takes this field by keyword only.
    #[getter]
    fn kw_only<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.option(py, "kw_only")
    }

    /// The field's `metadata` mapping (read-only).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.option(py, "metadata")
    }

    /// The declaration these options come from (`shoal._record.FieldDecl`).
    #[getter]
    fn options<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.options.bind(py).clone()
    }

    /// The default value, or `dataclasses.MISSING`.
    #[getter]
    fn default<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.default {
            Some(d) => Ok(d.bind(py).clone()),
            None => missing(py).cloned(),
        }
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.options)?;
        if let Some(d) = &self.default {
            visit.call(d)?;
        }
        Ok(())
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

impl PyField {
    fn option<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        self.options.bind(py).getattr(name)
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
