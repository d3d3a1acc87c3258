"""Conversions to dataframe libraries that need more than the Arrow PyCapsule interface."""

from __future__ import annotations

from typing import Any


def _signed_dictionaries(arrow: Any) -> Any:
    """Category codes as signed integers: pyarrow turns unsigned dictionary indices into pandas
    codes at half the speed (1M rows, 8 values: 5.4 ms for uint8 against 2.7 ms for int32, on
    pyarrow 26); the cast costs less than the difference."""
    import pyarrow as pa

    wider = {pa.uint8(): pa.int16(), pa.uint16(): pa.int32(), pa.uint32(): pa.int64()}
    for i, field in enumerate(arrow.schema):
        if pa.types.is_dictionary(field.type) and field.type.index_type in wider:
            signed = pa.dictionary(wider[field.type.index_type], field.type.value_type)
            arrow = arrow.set_column(i, field.with_type(signed), arrow.column(i).cast(signed))
    return arrow


def to_pandas(table: Any) -> Any:
    """A pandas DataFrame through pyarrow, keeping optional ints and bools exact.

    pandas' default turns an integer column with nulls into float64, which silently rounds
    values beyond 2**53; such columns become pandas' nullable ``Int64``/``boolean`` instead.
    """
    import pandas as pd
    import pyarrow as pa

    arrow = _signed_dictionaries(pa.table(table))
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


class InexactValue(ValueError):
    """A value that a cast to the field's type would change: the one error of `conform_arrow`
    that `from_arrow` reports instead of its own (any other means the input is not
    conformable, and the import's error says why)."""


def conform_arrow(record: Any, obj: Any, rename: dict[str, str] | None, nan_as_null: bool) -> Any:
    """``obj`` made to fit ``record``'s fields, for ``Table.from_arrow`` when it does not as it
    is (through pyarrow; None without it): columns renamed by ``rename`` (source name → field),
    missing ones filled from the fields' defaults (None when one has none), and values cast
    where every value survives exactly (int64 → u8 when all fit, timestamp[ns] → [us] when
    none has nanoseconds, NaN → null with ``nan_as_null``). A value that does not survive is
    an error naming the field, the row and the value (``InexactValue``); what cannot be cast
    at all is left for the import to refuse."""
    try:
        import pyarrow as pa
    except ImportError:
        return None
    from shoal import _shoal

    try:
        source = pa.table(obj)
    except Exception:
        return None  # not something pyarrow reads: the import's own error stands
    if rename:
        source = source.rename_columns([rename.get(n, n) for n in source.column_names])
    target = pa.table(_shoal.Table(record)).schema
    fields = {f.name: f for f in record.__shoal_schema__.fields}
    columns = []
    for want in target:
        if want.name in source.column_names:
            columns.append(_exact(record, want, source.column(want.name), nan_as_null))
        elif _has_default(fields[want.name]):
            columns.append(_defaults(fields[want.name], want, source.num_rows))
        else:
            return None  # the import's "no column named ..." stands
    return pa.table(columns, names=target.names)


def _has_default(field: Any) -> bool:
    import dataclasses

    return field.default is not dataclasses.MISSING or field.default_factory is not (
        dataclasses.MISSING
    )


def _defaults(field: Any, want: Any, rows: int) -> Any:
    import dataclasses

    import pyarrow as pa

    factory = field.default_factory
    if factory is dataclasses.MISSING:
        values = [field.default] * rows
    else:
        values = [factory() for _ in range(rows)]
    plain = want.type.value_type if pa.types.is_dictionary(want.type) else want.type
    return pa.array(values, type=plain).cast(want.type)


def _exact(record: Any, want: Any, column: Any, nan_as_null: bool) -> Any:
    """``column`` as ``want``'s type when every value survives the cast exactly."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.type == want.type or not _exact_cast_exists(column.type, want.type):
        return column  # the import says what is wrong
    if nan_as_null and pa.types.is_floating(column.type):
        column = pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)  # pyright: ignore[reportAttributeAccessIssue]
    try:
        return column.cast(want.type, safe=True)
    except pa.ArrowInvalid as e:
        row = _first_lossy(column, want.type)
        value = "?" if row is None else column[row].as_py()
        raise InexactValue(
            f"{record.__qualname__}.from_arrow: column '{want.name}', row {row}: {value!r} does "
            f"not fit {want.type} exactly ({e}); nothing was imported"
        ) from None


def _exact_cast_exists(have: Any, want: Any) -> bool:
    """Casts that keep every value or fail on the one they would change: between integer
    widths, integers and floats, units of timestamps or durations, and from all-null."""
    import pyarrow.types as t

    numbers = (t.is_integer(have) or t.is_floating(have)) and (
        t.is_integer(want) or (t.is_floating(want) and t.is_integer(have))
    )
    temporal = (t.is_timestamp(have) and t.is_timestamp(want) and have.tz == want.tz) or (
        t.is_duration(have) and t.is_duration(want)
    )
    return bool(numbers or temporal or t.is_null(have))


def _first_lossy(column: Any, to: Any) -> int | None:
    """The first row whose value does not survive the cast to ``to`` (on the error path only:
    chunks first, then the rows of the first chunk that fails)."""
    step = 65_536
    for start in range(0, len(column), step):
        chunk = column.slice(start, step)
        try:
            chunk.cast(to, safe=True)
            continue
        except Exception:
            pass
        for i in range(len(chunk)):
            try:
                chunk.slice(i, 1).cast(to, safe=True)
            except Exception:
                return start + i
    return None
