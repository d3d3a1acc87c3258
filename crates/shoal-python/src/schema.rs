//! `Schema` (a record class's fields, built by `shoal.Record`'s metaclass) and `Field`, the
//! descriptor that stands for each field on the class.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};
use pyo3::PyVisit;
use shoal_core::{Cell, DType, Field, Schema};

use crate::convert::{cell_to_py, describe, to_cell};
use crate::errors::{Result, ShoalError, Target};
use crate::record;

/// How a field's values convert between Python and its column.
pub struct FieldSpec {
    pub dtype: DType,
    pub nullable: bool,
    /// The values of a closed category (`Enum` member names or `Literal` strings).
    pub choices: Option<Arc<[String]>>,
    /// For an `Enum` field: the class, and its members by name.
    pub enum_type: Option<Py<PyType>>,
    pub members: HashMap<Box<[u8]>, Py<PyAny>>,
    /// For a tz-aware datetime field: the zone values are read back in.
    pub tz: Option<Py<PyAny>>,
}

impl FieldSpec {
    /// The type as users declared it, for messages: `str | None`, `datetime in UTC`.
    pub fn describe(&self, core: &Field) -> String {
        let mut name = match (&self.enum_type, &self.choices) {
            (Some(e), _) => Python::attach(|py| {
                e.bind(py)
                    .name()
                    .map_or_else(|_| "Enum".into(), |n| n.to_string())
            }),
            (None, Some(c)) => format!("Literal[{}]", quoted(c)),
            (None, None) => self.dtype.name().to_owned(),
        };
        if let Some(tz) = &core.tz {
            name = format!("datetime in {tz}");
        }
        if self.nullable {
            name += " | None";
        }
        name
    }
}

/// `'a', 'b'`: values for a message (the first 10).
pub fn quoted(values: &[String]) -> String {
    let mut shown: Vec<String> = values.iter().take(10).map(|v| format!("{v:?}")).collect();
    if values.len() > 10 {
        shown.push("...".into());
    }
    shown.join(", ")
}

/// One field as `shoal._record` describes it: name, storage type, default, optional, closed
/// values, Enum class, tzinfo, Arrow zone name.
type FieldTuple<'py> = (
    Bound<'py, PyString>,
    String,
    Bound<'py, PyAny>,
    bool,
    Option<Vec<String>>,
    Option<Bound<'py, PyType>>,
    Option<Bound<'py, PyAny>>,
    Option<String>,
);

#[pyclass(frozen, module = "shoal", name = "Schema")]
pub struct PySchema {
    pub core: Arc<Schema>,
    /// Interned field names, compared by pointer on the attribute fast path.
    pub names: Vec<Py<PyString>>,
    pub specs: Vec<FieldSpec>,
    pub defaults: Vec<Option<Cell<'static>>>,
    pub record_name: String,
    pub frozen: bool,
    pub record_type: Py<PyType>,
    descriptors: Vec<Py<PyField>>,
}

#[pymethods]
impl PySchema {
    /// `fields` is a list of tuples as `shoal._record` builds them (see `FieldTuple`).
    #[new]
    fn new(
        record_type: &Bound<'_, PyType>,
        fields: Vec<FieldTuple<'_>>,
        frozen: bool,
    ) -> PyResult<Self> {
        let py = record_type.py();
        if !record_type.is_subclass(record::record_base(py)?)? {
            return Err(PyTypeError::new_err(
                "a Schema belongs to a shoal.Record subclass",
            ));
        }
        // SAFETY: reading two plain fields of a live type object.
        let (dictoffset, weakoffset) = unsafe {
            let t = record_type.as_type_ptr();
            ((*t).tp_dictoffset, (*t).tp_weaklistoffset)
        };
        if dictoffset != 0 || weakoffset != 0 {
            // Row handles are reused when no one holds them; a __dict__ or weakref would let
            // state leak from one row to the next.
            return Err(PyTypeError::new_err(
                "shoal.Record classes cannot have __dict__ or __weakref__ slots",
            ));
        }
        let record_name = record_type.name()?.to_string();
        let missing = missing(py)?;
        let mut core_fields = Vec::new();
        let mut names = Vec::new();
        let mut specs = Vec::new();
        let mut defaults = Vec::new();
        for (name, type_name, default, nullable, choices, enum_type, tzinfo, tz_name) in &fields {
            let name_str = name.to_str()?.to_owned();
            let dtype = DType::from_name(type_name).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "field '{name_str}' of {record_name}: unknown storage type {type_name:?}"
                ))
            })?;
            let choices: Option<Arc<[String]>> = choices.clone().map(Into::into);
            let mut members = HashMap::new();
            if let Some(e) = enum_type {
                for member in e.try_iter()? {
                    let member = member?;
                    let key: String = member.getattr("name")?.extract()?;
                    members.insert(key.into_bytes().into_boxed_slice(), member.unbind());
                }
            }
            let core = Field {
                name: name_str.clone(),
                dtype,
                nullable: *nullable,
                categories: choices.clone(),
                tz: tz_name.clone(),
            };
            let spec = FieldSpec {
                dtype,
                nullable: *nullable,
                choices,
                enum_type: enum_type.clone().map(Bound::unbind),
                members,
                tz: tzinfo.clone().map(Bound::unbind),
            };
            let default = if default.is(missing) {
                None
            } else {
                let at = || Target {
                    record: record_name.clone(),
                    field: format!("{name_str}' (default"),
                    row: None,
                };
                let cell = to_cell(default.as_borrowed(), &spec, at)?.into_owned();
                // A closed category checks its default here, not at the first append.
                if let (Cell::Bytes(b), Some(c)) = (&cell, &spec.choices) {
                    if !c.iter().any(|v| v.as_bytes() == b.as_ref()) {
                        return Err(PyValueError::new_err(format!(
                            "field '{name_str}' of {record_name}: default {} is not one of {}",
                            describe(default),
                            quoted(c)
                        )));
                    }
                }
                Some(cell)
            };
            names.push(PyString::intern(py, &name_str).unbind());
            defaults.push(default);
            core_fields.push(core);
            specs.push(spec);
        }
        let core = Schema::new(core_fields)
            .ok_or_else(|| PyValueError::new_err(format!("{record_name}: duplicate field name")))?;
        let mut descriptors = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let default = match &defaults[i] {
                Some(d) => Some(cell_to_py(py, d.reborrow(), &specs[i])?.unbind()),
                None => None,
            };
            descriptors.push(Py::new(
                py,
                PyField {
                    name: name.clone_ref(py),
                    index: i,
                    type_name: specs[i].describe(&core.fields()[i]),
                    default,
                    owner: record_name.clone(),
                },
            )?);
        }
        Ok(PySchema {
            core: Arc::new(core),
            names,
            specs,
            defaults,
            record_name,
            frozen,
            record_type: record_type.clone().unbind(),
            descriptors,
        })
    }

    /// The `Field` descriptors, in declaration order.
    #[getter]
    fn fields(&self, py: Python<'_>) -> Vec<Py<PyField>> {
        self.descriptors.iter().map(|d| d.clone_ref(py)).collect()
    }

    /// Bytes of raw data per record.
    #[getter]
    fn row_bytes(&self) -> usize {
        self.core.row_bytes()
    }

    #[getter]
    fn frozen(&self) -> bool {
        self.frozen
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> std::result::Result<(), pyo3::PyTraverseError> {
        visit.call(&self.record_type)?;
        for d in &self.descriptors {
            visit.call(d)?;
        }
        for spec in &self.specs {
            if let Some(e) = &spec.enum_type {
                visit.call(e)?;
            }
            if let Some(tz) = &spec.tz {
                visit.call(tz)?;
            }
            for m in spec.members.values() {
                visit.call(m)?;
            }
        }
        Ok(())
    }
}

fn missing(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static MISSING: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    MISSING
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("dataclasses")?.getattr("MISSING")?.unbind())
        })
        .map(|m| m.bind(py))
}

impl PySchema {
    /// The schema of a record class (`cls.__shoal_schema__`).
    pub fn of_class<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, PySchema>> {
        let py = cls.py();
        match cls.getattr(pyo3::intern!(py, "__shoal_schema__")) {
            Ok(s) => Ok(s.cast_into::<PySchema>()?),
            Err(_) => Err(PyTypeError::new_err(format!(
                "{} has no fields; declare a record as `class Point(shoal.Record): x: float`",
                cls.name()?
            ))),
        }
    }

    pub fn len(&self) -> usize {
        self.core.len()
    }

    pub fn target(&self, field: usize, row: Option<usize>) -> Target {
        Target {
            record: self.record_name.clone(),
            field: self.core.fields()[field].name.clone(),
            row,
        }
    }

    fn bad_row(&self, detail: String, row: Option<usize>) -> ShoalError {
        let note = row.map_or(String::new(), |r| {
            format!(" (row {r}); the table is unchanged")
        });
        ShoalError::BadRow {
            record: self.record_name.clone(),
            detail: detail + &note,
        }
    }

    fn field_list(&self) -> String {
        let names: Vec<&str> = self.core.fields().iter().map(|f| f.name.as_str()).collect();
        names.join(", ")
    }

    /// Binds call arguments to fields like a dataclass `__init__` (positional, then keyword, then
    /// default), checks each value, and appends the scalars to `out`.
    pub fn bind_args(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        row: Option<usize>,
        out: &mut Vec<Cell<'static>>,
    ) -> Result<()> {
        let n = self.len();
        let nargs = args.len();
        if nargs > n {
            return Err(self.bad_row(
                format!("takes {n} values ({}), got {nargs}", self.field_list()),
                row,
            ));
        }
        let kwargs = kwargs.filter(|k| !k.is_empty());
        let mut used_kwargs = 0;
        for i in 0..n {
            let name = self.names[i].bind(args.py());
            let keyword = match kwargs {
                Some(k) => k.get_item(name)?,
                None => None,
            };
            let obj = match (i < nargs, keyword) {
                (true, None) => args.get_item(i)?,
                (true, Some(_)) => {
                    return Err(self.bad_row(format!("got two values for field '{name}'"), row))
                }
                (false, Some(v)) => {
                    used_kwargs += 1;
                    v
                }
                (false, None) => match &self.defaults[i] {
                    Some(s) => {
                        out.push(s.clone());
                        continue;
                    }
                    None => {
                        return Err(self.bad_row(format!("missing value for field '{name}'"), row))
                    }
                },
            };
            let cell = to_cell(obj.as_borrowed(), &self.specs[i], || self.target(i, row))?;
            out.push(cell.into_owned());
        }
        if let Some(k) = kwargs {
            if used_kwargs != k.len() {
                let unknown = k
                    .keys()
                    .iter()
                    .find(|key| {
                        !self
                            .names
                            .iter()
                            .any(|n| n.bind(args.py()).as_any().eq(key).unwrap_or(false))
                    })
                    .map_or_else(|| "?".to_owned(), |key| describe(&key));
                return Err(self.bad_row(
                    format!(
                        "unknown field {unknown}; the fields are {}",
                        self.field_list()
                    ),
                    row,
                ));
            }
        }
        Ok(())
    }

    /// Checks one item of `extend` (a tuple, a dict or a record of the same fields) into `out`.
    pub fn bind_item(
        &self,
        item: &Bound<'_, PyAny>,
        row: usize,
        current: Option<(*mut pyo3::ffi::PyObject, &shoal_core::Table)>,
        out: &mut Vec<Cell<'static>>,
    ) -> Result<()> {
        let py = item.py();
        if let Ok(t) = item.cast::<PyTuple>() {
            return self.bind_args(t, None, Some(row), out);
        }
        if let Ok(d) = item.cast::<PyDict>() {
            return self.bind_args(&PyTuple::empty(py), Some(d), Some(row), out);
        }
        if let Some(values) = self.record_item(item, current)? {
            out.extend(values);
            return Ok(());
        }
        Err(self.bad_row(
            format!(
                "expected a tuple, a dict or a {} record, got {}",
                self.record_name,
                describe(item)
            ),
            Some(row),
        ))
    }

    /// The values of `item` if it is a record with exactly this schema's fields.
    pub fn record_item(
        &self,
        item: &Bound<'_, PyAny>,
        current: Option<(*mut pyo3::ffi::PyObject, &shoal_core::Table)>,
    ) -> Result<Option<Vec<Cell<'static>>>> {
        match record::record_values(item, current)? {
            Some((schema, values))
                if schema.get().core == self.core || *schema.get().core == *self.core =>
            {
                Ok(Some(values))
            }
            Some((schema, _)) => Err(ShoalError::BadRow {
                record: self.record_name.clone(),
                detail: format!(
                    "a {} record has different fields ({}) from {} ({})",
                    schema.get().record_name,
                    schema.get().field_list(),
                    self.record_name,
                    self.field_list()
                ),
            }),
            None => Ok(None),
        }
    }
}

/// A field of a record class: `Point.x`. On instances it reads and writes the field's value.
#[pyclass(frozen, module = "shoal", name = "Field")]
pub struct PyField {
    #[pyo3(get)]
    name: Py<PyString>,
    #[pyo3(get)]
    index: usize,
    type_name: String,
    default: Option<Py<PyAny>>,
    owner: String,
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

    fn __get__<'py>(
        slf: &Bound<'py, Self>,
        obj: Option<&Bound<'py, PyAny>>,
        _owner: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match obj {
            None => Ok(slf.clone().into_any()),
            Some(o) if record::is_record(o)? => {
                // SAFETY: `o` is a RecordBase instance (checked).
                Ok(unsafe { record::get_field(o, slf.get().index)? })
            }
            Some(o) => Err(PyTypeError::new_err(format!(
                "field descriptor for {} used on {}",
                slf.get().owner,
                describe(o)
            ))),
        }
    }

    fn __set__(&self, obj: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        if !record::is_record(obj)? {
            return Err(PyTypeError::new_err(format!(
                "field descriptor for {} used on {}",
                self.owner,
                describe(obj)
            )));
        }
        // SAFETY: `obj` is a RecordBase instance (checked).
        unsafe { record::set_field(obj, self.index, value)? };
        Ok(())
    }

    fn __delete__(&self, _obj: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyTypeError::new_err(format!(
            "cannot delete field '{}' of {}: every record has every field",
            self.name, self.owner
        )))
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

impl PySchema {
    /// The error for a core refusal of already-converted values (whose Python objects are
    /// gone), or for a structural error.
    pub fn refusal(&self, e: shoal_core::Error) -> ShoalError {
        match e {
            shoal_core::Error::Cell {
                field,
                row,
                problem,
            } => crate::convert::refused(
                problem,
                &self.specs[field],
                self.target(field, Some(row)),
                "the value".into(),
            ),
            other => ShoalError::BadColumn {
                detail: format!("{}: {}", self.record_name, self.describe_core_error(&other)),
            },
        }
    }

    /// A core error about whole columns, with field names instead of indices.
    pub fn describe_core_error(&self, e: &shoal_core::Error) -> String {
        let name = |f: &usize| self.core.fields()[*f].name.clone();
        match e {
            shoal_core::Error::ColumnLength {
                field,
                expected,
                got,
            } => format!(
                "column '{}' has {got} values but the others have {expected}",
                name(field)
            ),
            shoal_core::Error::ColumnType {
                field,
                expected,
                got,
            } => {
                format!(
                    "column '{}' has type {got}, expected {expected}",
                    name(field)
                )
            }
            other => other.to_string(),
        }
    }
}
