"""Conversions to dataframe libraries that need more than the Arrow PyCapsule interface."""

from __future__ import annotations

from typing import Any


def to_pandas(table: Any) -> Any:
    """A pandas DataFrame through pyarrow, keeping optional ints and bools exact.

    pandas' default turns an integer column with nulls into float64, which silently rounds
    values beyond 2**53; such columns become pandas' nullable ``Int64``/``boolean`` instead.
    """
    import pandas as pd
    import pyarrow as pa

    arrow = pa.table(table)
    mapping = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    if not any(f.nullable and f.type in mapping for f in arrow.schema):
        return arrow.to_pandas()
    columns = {
        f.name: arrow.column(f.name).to_pandas(
            types_mapper=mapping.get if f.nullable and f.type in mapping else None
        )
        for f in arrow.schema
    }
    return pd.DataFrame(columns)
