//! `Field` as a descriptor: `p.x` and `p.x = v` on records, for any spelling of the name.

use pyo3::prelude::*;

use crate::errors::ShoalError;

use crate::convert::value_repr;
use crate::record;
use crate::schema::PyField;

#[pymethods]
impl PyField {
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
            Some(o) => Err(ShoalError::WrongInstance {
                owner: slf.get().owner.clone(),
                got: value_repr(o),
            }
            .into()),
        }
    }

    fn __set__(&self, obj: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        if !record::is_record(obj)? {
            return Err(ShoalError::WrongInstance {
                owner: self.owner.clone(),
                got: value_repr(obj),
            }
            .into());
        }
        // SAFETY: `obj` is a RecordBase instance (checked).
        unsafe { record::set_field(obj, self.index, value)? };
        Ok(())
    }

    fn __delete__(&self, _obj: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(ShoalError::DeleteField {
            record: self.owner.clone(),
            field: self.name.to_string(),
        }
        .into())
    }
}
