//! What the metaclass calls: `Schema(cls, fields, frozen)` builds a record class's schema after
//! checking the class can be one, and `of_class` finds it again for tables and records.

use std::collections::HashMap;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use shoal_core::{DType, Datum, Field, Schema};

use crate::convert::{cell_to_py, to_cell, value_repr};
use crate::convert::{FastRead, FieldSpec};
use crate::errors::quoted;
use crate::errors::ShoalError;
use crate::errors::Target;
use crate::schema::{missing, Param, ParamTo, PyField, PySchema, Signature};

/// One constructor parameter as `shoal._record.Param` declares it, read by attribute.
#[derive(FromPyObject)]
struct ParamDecl<'py> {
    name: Bound<'py, PyString>,
    field: Option<usize>,
    initvar: Option<usize>,
    kw_only: bool,
    /// An InitVar's default, or `dataclasses.MISSING`.
    default: Bound<'py, PyAny>,
}

/// One field as `shoal._record.FieldDecl` declares it, read by attribute.
#[derive(FromPyObject)]
struct FieldDecl<'py> {
    name: Bound<'py, PyString>,
    /// The storage type's name (`f64`, `str`, `category` ...).
    storage: String,
    /// The default, or `dataclasses.MISSING`.
    default: Bound<'py, PyAny>,
    default_factory: Option<Bound<'py, PyAny>>,
    optional: bool,
    /// The values of a closed category (Enum member names or Literal strings).
    choices: Option<Vec<String>>,
    enum_type: Option<Bound<'py, PyType>>,
    tzinfo: Option<Bound<'py, PyAny>>,
    /// The zone's name as Arrow writes it.
    tz_name: Option<String>,
}

#[pymethods]
impl PySchema {
    /// `fields` is a list of `shoal._record.FieldDecl`s (see `FieldDecl`), `params` the
    /// constructor's `shoal._record.Param`s in signature order; `post_init` and `custom_init`
    /// say whether making a record calls `__post_init__` or the class's own `__init__`.
    #[new]
    fn new(
        record_type: &Bound<'_, PyType>,
        fields: Vec<Bound<'_, PyAny>>,
        frozen: bool,
        params: Vec<Bound<'_, PyAny>>,
        post_init: bool,
        custom_init: bool,
    ) -> PyResult<Self> {
        let py = record_type.py();
        if !super::is_record_type(record_type.as_type_ptr(), py)? {
            return Err(ShoalError::NotRecordClass {
                detail: "a Schema belongs to a shoal.Record subclass".into(),
            }
            .into());
        }
        // SAFETY: reading plain fields of a live type object.
        let t = unsafe { &*record_type.as_type_ptr() };
        let (dictoffset, weakoffset) = (t.tp_dictoffset, t.tp_weaklistoffset);
        if dictoffset != 0 || weakoffset != 0 {
            // Row handles are reused when no one holds them; a __dict__ or weakref would let
            // state leak from one row to the next.
            return Err(ShoalError::NotRecordClass {
                detail: "shoal.Record classes cannot have __dict__ or __weakref__ slots".into(),
            }
            .into());
        }
        let record_name = record_type.name()?.to_string();
        let missing = missing(py)?;
        let mut core_fields = Vec::new();
        let mut names = Vec::new();
        let mut specs = Vec::new();
        let mut defaults = Vec::new();
        let mut factories = Vec::new();
        for decl_obj in &fields {
            let decl: FieldDecl<'_> = decl_obj.extract()?;
            let FieldDecl {
                name,
                storage: type_name,
                default,
                default_factory,
                optional: nullable,
                choices,
                enum_type,
                tzinfo,
                tz_name,
            } = &decl;
            let name_str = name.to_str()?.to_owned();
            let dtype = DType::from_name(type_name).ok_or_else(|| ShoalError::BadField {
                record: record_name.clone(),
                field: name_str.clone(),
                detail: format!("unknown storage type {type_name:?}"),
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
                fast: FastRead::of(dtype, enum_type.is_some()),
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
                if let (Datum::Bytes(b), Some(c)) = (&cell, &spec.choices) {
                    if !c.iter().any(|v| v.as_bytes() == b.as_ref()) {
                        return Err(ShoalError::BadField {
                            record: record_name.clone(),
                            field: name_str,
                            detail: format!(
                                "default {} is not one of {}",
                                value_repr(default),
                                quoted(c)
                            ),
                        }
                        .into());
                    }
                }
                Some(cell)
            };
            names.push(PyString::intern(py, &name_str).unbind());
            defaults.push(default);
            factories.push(default_factory.clone().map(Bound::unbind));
            core_fields.push(core);
            specs.push(spec);
        }
        let core = Schema::new(core_fields).ok_or_else(|| ShoalError::DuplicateField {
            record: record_name.clone(),
        })?;
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
                    type_name: specs[i].declared(&core.fields()[i]),
                    default,
                    owner: record_name.clone(),
                    options: fields[i].clone().unbind(),
                },
            )?);
        }
        let call_signature = call_signature(&params, names.len(), missing)?;
        if call_signature.initvars > 0 && !post_init {
            return Err(ShoalError::NotRecordClass {
                detail: format!(
                    "{record_name}: InitVar values go to __post_init__, which {record_name} \
                     does not define"
                ),
            }
            .into());
        }
        let plain_call = !(post_init || custom_init) && call_signature.is_rows(names.len());
        Ok(PySchema {
            plain_call,
            core: Arc::new(core),
            row_signature: Signature::rows(py, &names),
            call_signature,
            names,
            specs,
            defaults,
            factories,
            post_init,
            custom_init,
            record_name,
            frozen,
            record_type: record_type.clone().unbind(),
            descriptors,
            params: params.into_iter().map(Bound::unbind).collect(),
        })
    }
}

/// The constructor's signature from the metaclass's `Param`s (positional ones first).
fn call_signature(
    params: &[Bound<'_, PyAny>],
    nfields: usize,
    missing: &Bound<'_, PyAny>,
) -> PyResult<Signature> {
    let mut bound = vec![false; nfields];
    let mut out = Vec::with_capacity(params.len());
    let mut initvars = 0;
    let mut positional = 0;
    for p in params {
        let ParamDecl {
            name,
            field,
            initvar,
            kw_only,
            default,
        } = p.extract()?;
        if !kw_only {
            if positional < out.len() {
                return Err(ShoalError::NotRecordClass {
                    detail: format!("positional parameter {name} follows keyword-only ones"),
                }
                .into());
            }
            positional += 1;
        }
        let to = match (field, initvar) {
            (Some(i), None) if i < nfields && !bound[i] => {
                bound[i] = true;
                ParamTo::Field(i)
            }
            (None, Some(index)) => {
                initvars = initvars.max(index + 1);
                let default = (!default.is(missing)).then(|| default.unbind());
                ParamTo::InitVar { index, default }
            }
            _ => {
                return Err(ShoalError::NotRecordClass {
                    detail: format!("parameter {name} names no field and no InitVar"),
                }
                .into())
            }
        };
        out.push(Param {
            name: name.unbind(),
            to,
        });
    }
    let unbound = (0..nfields).filter(|&i| !bound[i]).collect();
    Ok(Signature {
        in_order: Signature::fields_in_order(&out, nfields),
        params: out,
        positional,
        unbound,
        initvars,
    })
}

/// The last record class `of_class` looked up and its schema: making records of one class in a
/// loop finds the schema without a dict lookup. Valid while the class's version tag is the
/// one cached: CPython resets a type's tag to 0 whenever its dict changes and never gives a
/// tag twice, so a matching non-zero tag means the same class with the same `__shoal_schema__`.
#[derive(Clone, Copy)]
struct LastSchema {
    ty: *mut pyo3::ffi::PyTypeObject,
    tag: std::ffi::c_uint,
    schema: *mut pyo3::ffi::PyObject,
}

impl LastSchema {
    fn of(ty: *mut pyo3::ffi::PyTypeObject, schema: *mut pyo3::ffi::PyObject) -> Self {
        LastSchema {
            ty,
            tag: version_tag(ty),
            schema,
        }
    }

    fn lookup(self, ty: *mut pyo3::ffi::PyTypeObject) -> Option<*mut pyo3::ffi::PyObject> {
        (self.ty == ty && self.tag != 0 && version_tag(ty) == self.tag).then_some(self.schema)
    }
}

/// The type's version tag, or 0 when it has none (before 3.13 a flag says whether it holds).
fn version_tag(ty: *mut pyo3::ffi::PyTypeObject) -> std::ffi::c_uint {
    // SAFETY: a live type object (callers pass the class they hold); a shared borrow to read
    // two plain fields.
    let t = unsafe { &*ty };
    let (tag, flags) = (t.tp_version_tag, t.tp_flags);
    if cfg!(Py_3_13) || flags & pyo3::ffi::Py_TPFLAGS_VALID_VERSION_TAG != 0 {
        tag
    } else {
        0
    }
}

thread_local! {
    static LAST_SCHEMA: std::cell::Cell<LastSchema> = const {
        std::cell::Cell::new(LastSchema {
            ty: std::ptr::null_mut(),
            tag: 0,
            schema: std::ptr::null_mut(),
        })
    };
}

#[pymethods]
impl PySchema {
    /// A record of the class from every field's value in order, checked like a table row,
    /// without calling `__init__` or `__post_init__`: how pickles and copies are rebuilt.
    /// With `names` (the fields' names when pickled), values are matched by name, so a pickle
    /// of the class before it gained a field with a default still loads.
    #[pyo3(signature = (values, names = None))]
    fn record_of<'py>(
        slf: &Bound<'py, Self>,
        values: &Bound<'py, pyo3::types::PyTuple>,
        names: Option<&Bound<'py, pyo3::types::PyTuple>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let s = slf.get();
        let mut cells = Vec::with_capacity(s.len());
        match names.filter(|n| !same_names(s, n)) {
            None => s.bind_args(values, None, None, &mut cells)?,
            Some(names) => {
                let by_name = pyo3::types::PyDict::new(slf.py());
                for (name, value) in names.iter().zip(values.iter()) {
                    by_name.set_item(name, value)?;
                }
                let none = pyo3::types::PyTuple::empty(slf.py());
                s.bind_args(&none, Some(&by_name), None, &mut cells)?;
            }
        }
        super::new_standalone(slf, cells)
    }
}

/// Whether `names` are the class's fields, in order.
fn same_names(s: &PySchema, names: &Bound<'_, pyo3::types::PyTuple>) -> bool {
    names.len() == s.names.len()
        && names
            .iter()
            .zip(&s.names)
            .all(|(n, f)| n.eq(f.bind(n.py())).unwrap_or(false))
}

impl PySchema {
    /// The schema of a record class (`cls.__shoal_schema__`).
    pub fn of_class<'py>(cls: &Bound<'py, PyType>) -> PyResult<Bound<'py, PySchema>> {
        let py = cls.py();
        let key = pyo3::intern!(py, "__shoal_schema__");
        let ty = cls.as_type_ptr();
        if let Some(schema) = LAST_SCHEMA.with(|last| last.get().lookup(ty)) {
            // SAFETY: the cache holds the schema this same, unmodified class's dict holds
            // (see `LastSchema`), alive as long as the class the caller holds.
            let schema = unsafe { Bound::from_borrowed_ptr(py, schema) };
            // SAFETY: it was a `Schema` when cached (checked below), and is the same object.
            return Ok(unsafe { schema.cast_into_unchecked() });
        }
        match cls.getattr(key) {
            Ok(s) => {
                let schema = s.cast_into::<PySchema>()?;
                // Cached only when it is the class's own (not inherited, so `record_new` may
                // rely on the cache's schema belonging to the class it was asked about).
                if schema.get().record_type.as_ptr() == ty.cast() {
                    LAST_SCHEMA.with(|last| last.set(LastSchema::of(ty, schema.as_ptr())));
                }
                Ok(schema)
            }
            Err(_) => Err(ShoalError::NoSchema {
                class: cls.name()?.to_string(),
            }
            .into()),
        }
    }
}
