//! Handing a table to the Arrow world: PyCapsules, pandas, polars.

use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use shoal_core::Column;

use super::PyTable;

#[pymethods]
impl PyTable {
    /// A pandas DataFrame of the table (through pyarrow; optional ints and bools become
    /// pandas' nullable dtypes rather than floats, so no value is rounded).
    fn to_pandas<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let interop = slf.py().import("shoal._interop")?;
        interop.call_method1("to_pandas", (slf,))
    }

    /// A polars DataFrame of the table (through the Arrow stream interface).
    fn to_polars<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.py().import("polars")?.call_method1("DataFrame", (slf,))
    }

    /// Arrow PyCapsule interface: the table's schema (a struct of its fields).
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let codes: Vec<_> = self
            .read()?
            .inner
            .columns()
            .iter()
            .map(Column::code_type)
            .collect();
        crate::arrow::schema_capsule(py, &self.schema.get().core, &codes)
    }

    /// Arrow PyCapsule interface: the table as one struct array; numeric columns are shared,
    /// not copied. `requested_schema` is ignored (the producer's own schema is returned).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
        let _ = requested_schema;
        let (columns, len) = self.snapshots()?;
        Ok((
            crate::arrow::schema_capsule(
                py,
                &self.schema.get().core,
                &crate::arrow::code_types(&columns),
            )?,
            crate::arrow::array_capsule(py, columns, len)?,
        ))
    }

    /// Arrow PyCapsule interface: a stream of one batch (the table as exported now).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let (columns, len) = self.snapshots()?;
        crate::arrow::stream_capsule(py, self.schema.get().core.clone(), columns, len)
    }
}
