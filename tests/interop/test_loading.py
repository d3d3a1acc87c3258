"""Loading real data: what other tools hand over rarely has the record's exact types and names.

`from_arrow` casts where every value survives (and names the row and value where one does
not), fills missing columns from the fields' defaults, renames by a mapping, and reads NaN as
null when told; `extend` takes rows as lists (`csv.reader`) and objects with the fields as
attributes; `from_columns` explains a 2-D array.
"""

import csv
import dataclasses
import datetime as dt
import io
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shoal


class Reading(shoal.Record):
    sensor: shoal.u8
    value: float
    count: int | None = None
    unit: shoal.Category = "C"
    seen: dt.datetime = shoal.field(default_factory=lambda: dt.datetime(2024, 1, 1))


def test_integers_of_another_width_are_cast_when_every_value_fits():
    arrow = pa.table({"sensor": pa.array([1, 200], pa.int64()), "value": [1.5, 2.5]})
    t = shoal.Table.from_arrow(Reading, arrow)
    assert [(r.sensor, r.value, r.count, r.unit) for r in t] == [
        (1, 1.5, None, "C"),
        (200, 2.5, None, "C"),
    ]
    assert [r.seen for r in t] == [dt.datetime(2024, 1, 1)] * 2  # the factory, per row


def test_a_value_that_does_not_fit_names_its_row_and_value():
    arrow = pa.table({"sensor": pa.array([1, 2, 300, 4], pa.int64()), "value": [0.0] * 4})
    with pytest.raises(ValueError, match=r"column 'sensor', row 2: 300 does not fit uint8"):
        shoal.Table.from_arrow(Reading, arrow)


def test_a_missing_column_without_a_default_is_named():
    with pytest.raises(ValueError, match=r"no column named 'value'"):
        shoal.Table.from_arrow(Reading, pa.table({"sensor": pa.array([1], pa.uint8())}))


def test_columns_are_renamed_by_a_mapping():
    arrow = pa.table({"id": pa.array([7], pa.uint8()), "reading": [3.25], "unit": ["F"]})
    t = shoal.Table.from_arrow(Reading, arrow, rename={"id": "sensor", "reading": "value"})
    assert shoal.astuple(t[0])[:4] == (7, 3.25, None, "F")


def test_nan_becomes_null_for_an_optional_int_only_when_asked():
    # pandas hands NaN over as null already; an Arrow float column keeps NaN as a value.
    df = pd.DataFrame({"sensor": [1, 2], "value": [0.5, 1.5], "count": [3.0, np.nan]})
    assert [r.count for r in shoal.Table.from_arrow(Reading, pa.table(df))] == [3, None]
    arrow = pa.table({"sensor": [1, 2], "value": [0.5, 1.5], "count": [3.0, float("nan")]})
    with pytest.raises(ValueError, match=r"column 'count', row 1: nan"):
        shoal.Table.from_arrow(Reading, arrow)
    t = shoal.Table.from_arrow(Reading, arrow, nan_as_null=True)
    assert [r.count for r in t] == [3, None]


def test_a_fraction_is_not_an_integer():
    arrow = pa.table({"sensor": [1.0, 2.5], "value": [0.0, 0.0]})
    with pytest.raises(ValueError, match=r"row 1: 2.5 does not fit uint8"):
        shoal.Table.from_arrow(Reading, arrow)


def test_pandas_nanosecond_timestamps_load_when_exact_and_are_refused_when_not():
    seen = pd.to_datetime(["2024-05-01 12:00:00.000001", "2024-05-02"], format="ISO8601")
    df = pd.DataFrame({"sensor": [1, 2], "value": [0.0, 0.0], "seen": seen})
    t = shoal.Table.from_arrow(Reading, pa.table(df))
    assert t[0].seen == dt.datetime(2024, 5, 1, 12, 0, 0, 1)
    df["seen"] = pd.to_datetime(["2024-05-01 12:00:00.000000001", "2024-05-02"], format="ISO8601")
    with pytest.raises(ValueError, match=r"column 'seen', row 0"):
        shoal.Table.from_arrow(Reading, pa.table(df))


def test_what_cannot_be_cast_exactly_is_still_refused_by_the_import():
    with pytest.raises(TypeError, match="column 'value'"):
        shoal.Table.from_arrow(Reading, pa.table({"sensor": [1], "value": ["1.5"]}))


def test_the_exact_table_still_takes_the_zero_copy_path():
    t = shoal.Table(Reading)
    t.extend([(1, 2.0)])
    back = shoal.Table.from_arrow(Reading, pa.table(t))
    assert back == t


def test_extend_takes_csv_rows_as_lists():
    text = "sensor,value\n1,2.5\n3,4.0\n"
    rows = list(csv.reader(io.StringIO(text)))[1:]
    t = shoal.Table(Reading)
    t.extend([int(s), float(v)] for s, v in rows)
    assert [(r.sensor, r.value) for r in t] == [(1, 2.5), (3, 4.0)]


def test_extend_takes_objects_with_the_fields_as_attributes():
    @dataclasses.dataclass
    class Old:
        sensor: int
        value: float
        count: int | None = 5

    t = shoal.Table(Reading)
    t.extend([Old(1, 2.0), SimpleNamespace(sensor=3, value=4.0)])
    assert [(r.sensor, r.value, r.count) for r in t] == [(1, 2.0, 5), (3, 4.0, None)]
    with pytest.raises(TypeError, match=r"no attribute 'sensor'"):
        t.extend([object()])
    assert len(t) == 2


def test_from_columns_explains_a_two_dimensional_array():
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*arr\[:, j\]"):
        shoal.Table.from_columns(Reading, sensor=np.zeros((2, 2), np.uint8), value=[1.0, 2.0])


def test_a_pandas_timestamp_with_nanoseconds_is_refused_by_append_as_by_from_arrow():
    t = shoal.Table(Reading)
    t.append(1, 0.0, seen=pd.Timestamp("2024-05-01 12:00:00.000001"))
    assert t[0].seen == dt.datetime(2024, 5, 1, 12, 0, 0, 1)
    with pytest.raises(TypeError, match=r"nanoseconds.*floor\('us'\)"):
        t.append(1, 0.0, seen=pd.Timestamp("2024-05-01 12:00:00.000000001"))
    assert len(t) == 1
