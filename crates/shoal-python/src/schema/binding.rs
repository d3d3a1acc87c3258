//! Binding call arguments to fields like a dataclass `__init__`.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::PyVisit;
use shoal_core::{Datum, Problem};

use super::PySchema;
use crate::convert::{to_cell, value_repr};
use crate::errors::{Result, ShoalError};

/// Where one parameter's value goes.
pub enum ParamTo {
    /// The field of this index.
    Field(usize),
    /// The `InitVar` of this place (among the class's InitVars), passed to `__post_init__`.
    InitVar {
        index: usize,
        default: Option<Py<PyAny>>,
    },
}

/// One parameter of a signature.
pub struct Param {
    pub name: Py<pyo3::types::PyString>,
    pub to: ParamTo,
}

/// The parameters values bind to: `positional` ones first (by position or keyword), then
/// keyword-only ones; fields in `unbound` take their default.
pub struct Signature {
    pub params: Vec<Param>,
    pub positional: usize,
    pub unbound: Vec<usize>,
    pub initvars: usize,
    /// The params are exactly the fields, in order (as [`Signature::rows`]).
    pub in_order: bool,
}

impl Signature {
    /// Every field of `names`, in order, by position or keyword: how rows are given as data.
    pub fn rows(py: Python<'_>, names: &[Py<pyo3::types::PyString>]) -> Self {
        let params = names
            .iter()
            .enumerate()
            .map(|(i, name)| Param {
                name: name.clone_ref(py),
                to: ParamTo::Field(i),
            })
            .collect();
        Signature {
            params,
            positional: names.len(),
            unbound: Vec::new(),
            initvars: 0,
            in_order: true,
        }
    }

    /// Whether this signature binds like [`Signature::rows`] for `n` fields.
    pub fn is_rows(&self, n: usize) -> bool {
        self.positional == n && self.in_order
    }

    /// Whether `params` are exactly `n` fields in order.
    pub fn fields_in_order(params: &[Param], n: usize) -> bool {
        params.len() == n
            && params
                .iter()
                .enumerate()
                .all(|(i, p)| matches!(p.to, ParamTo::Field(f) if f == i))
    }

    pub fn traverse(&self, visit: &PyVisit<'_>) -> std::result::Result<(), pyo3::PyTraverseError> {
        for p in &self.params {
            if let ParamTo::InitVar {
                default: Some(d), ..
            } = &p.to
            {
                visit.call(d)?;
            }
        }
        Ok(())
    }

    fn positional_names(&self, py: Python<'_>) -> String {
        let names: Vec<String> = self.params[..self.positional]
            .iter()
            .map(|p| p.name.bind(py).to_string())
            .collect();
        names.join(", ")
    }
}

impl PySchema {
    /// Binds a row given as data (an `extend` tuple or dict, a pickled record): every field in
    /// order, by position or name, then defaults; checks each value into `out`.
    pub fn bind_args(
        &self,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
        row: Option<usize>,
        out: &mut Vec<Datum<'static>>,
    ) -> Result<()> {
        self.bind(&self.row_signature, args, kwargs, row, out, &mut Vec::new())
    }

    /// Binds constructor arguments like a dataclass `__init__` (positional, then keyword, then
    /// default; keyword-only fields by keyword; `InitVar`s in): the fields' values into
    /// `out`, the InitVars' values returned in their order.
    pub fn bind_init<'py>(
        &self,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
        row: Option<usize>,
        out: &mut Vec<Datum<'static>>,
    ) -> Result<Vec<Bound<'py, PyAny>>> {
        let sig = &self.call_signature;
        if sig.initvars == 0 {
            self.bind(sig, args, kwargs, row, out, &mut [])?;
            return Ok(Vec::new());
        }
        let mut initvars = Vec::with_capacity(sig.initvars);
        initvars.resize_with(sig.initvars, || None);
        self.bind(sig, args, kwargs, row, out, &mut initvars)?;
        Ok(initvars.into_iter().flatten().collect())
    }

    /// The value of field `i` when none is given: its default, or what its factory makes.
    pub fn fallback(&self, py: Python<'_>, i: usize, row: Option<usize>) -> Result<Datum<'static>> {
        if let Some(d) = &self.defaults[i] {
            return Ok(d.clone());
        }
        let Some(factory) = &self.factories[i] else {
            let name = &self.core.fields()[i].name;
            return Err(self.bad_row(format!("missing value for field '{name}'"), row));
        };
        let made = factory.bind(py).call0()?;
        self.checked(i, &made, row)
    }

    /// `obj` checked as a value of field `i`, as an owned cell.
    pub fn checked(
        &self,
        i: usize,
        obj: &Bound<'_, PyAny>,
        row: Option<usize>,
    ) -> Result<Datum<'static>> {
        let cell = to_cell(obj.as_borrowed(), &self.specs[i], || self.target(i, row))?;
        owned(cell).map_err(|p| {
            ShoalError::refused(
                p,
                self.target(i, row),
                String::new(),
                self.specs[i].dtype,
                None,
            )
        })
    }

    fn bind<'py>(
        &self,
        sig: &Signature,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
        row: Option<usize>,
        out: &mut Vec<Datum<'static>>,
        initvars: &mut [Option<Bound<'py, PyAny>>],
    ) -> Result<()> {
        let py = args.py();
        let nargs = args.len();
        if nargs > sig.positional {
            return Err(self.bad_row(
                format!(
                    "takes {} values ({}), got {nargs}",
                    sig.positional,
                    sig.positional_names(py)
                ),
                row,
            ));
        }
        let base = out.len();
        // Fields bound in their order are pushed; others are placed in their slots.
        let in_order = sig.in_order;
        if !in_order {
            out.resize_with(base + self.len(), || Datum::Null);
        }
        let kwargs = kwargs.filter(|k| !k.is_empty());
        let mut used_kwargs = 0;
        for (j, p) in sig.params.iter().enumerate() {
            let name = p.name.bind(py);
            let keyword = match kwargs {
                Some(k) => k.get_item(name)?,
                None => None,
            };
            let given = match (j < nargs, keyword) {
                (true, None) => Some(args.get_item(j)?),
                (true, Some(_)) => {
                    return Err(self.bad_row(format!("got two values for field '{name}'"), row))
                }
                (false, Some(v)) => {
                    used_kwargs += 1;
                    Some(v)
                }
                (false, None) => None,
            };
            match &p.to {
                ParamTo::Field(i) => {
                    let cell = match given {
                        Some(obj) => self.checked(*i, &obj, row)?,
                        None => self.fallback(py, *i, row)?,
                    };
                    if in_order {
                        out.push(cell);
                    } else {
                        out[base + i] = cell;
                    }
                }
                ParamTo::InitVar { index, default } => {
                    initvars[*index] = Some(match (given, default) {
                        (Some(obj), _) => obj,
                        (None, Some(d)) => d.bind(py).clone(),
                        (None, None) => {
                            return Err(self.bad_row(format!("missing value for '{name}'"), row))
                        }
                    })
                }
            }
        }
        for &i in &sig.unbound {
            out[base + i] = self.fallback(py, i, row)?;
        }
        if let Some(k) = kwargs {
            if used_kwargs != k.len() {
                let unknown = k
                    .keys()
                    .iter()
                    .find(|key| {
                        !sig.params
                            .iter()
                            .any(|p| p.name.bind(py).as_any().eq(key).unwrap_or(false))
                    })
                    .map_or_else(|| "?".to_owned(), |key| value_repr(&key));
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
}

/// An owned copy of `cell`; a copy the allocator refuses is `Problem::OutOfMemory`, not an
/// abort (text of any size arrives here).
fn owned(cell: Datum<'_>) -> std::result::Result<Datum<'static>, Problem> {
    match cell {
        Datum::Bytes(std::borrow::Cow::Borrowed(b)) => {
            let mut copy = Vec::new();
            copy.try_reserve_exact(b.len())
                .map_err(|_| Problem::OutOfMemory)?;
            copy.extend_from_slice(b);
            Ok(Datum::Bytes(std::borrow::Cow::Owned(copy)))
        }
        other => Ok(other.into_owned()),
    }
}
