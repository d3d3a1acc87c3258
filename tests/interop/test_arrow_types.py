"""Arrow, pandas, polars and DuckDB with every field type: zero-copy export (by address),
round trips, view lifetimes, and refusal of malformed or mismatched input."""

import datetime as dt
import gc
import pickle

import numpy as np
import pytest
import shoal
from records import Rec, rec_values

pa = pytest.importorskip("pyarrow")


@pytest.fixture
def table():
    t = shoal.Table(Rec)
    for i in range(40):
        t.append(*rec_values(i))
    return t


def address(buffer) -> int:
    return np.frombuffer(buffer, np.uint8).__array_interface__["data"][0]


def test_arrow_types(table):
    schema = pa.table(table).schema
    assert schema.field("name").type == pa.string() and not schema.field("name").nullable
    assert schema.field("score").nullable
    assert schema.field("tag").type == pa.dictionary(pa.uint8(), pa.string())
    assert schema.field("blob").type == pa.binary()
    assert schema.field("when").type == pa.timestamp("us")
    assert schema.field("at").type == pa.timestamp("us", tz="Europe/Paris")
    assert schema.field("day").type == pa.date32()
    assert schema.field("took").type == pa.duration("us")


def test_values_match_python(table):
    rows = pa.table(table).to_pylist()
    for i, row in enumerate(rows):
        expected = shoal.asdict(table[i])
        expected["color"] = expected["color"].name  # Enum fields export member names
        assert row == expected


def test_string_buffers_are_the_tables_memory(table):
    """Arrow's offsets and text buffers are the very buffers pickle hands out of band: both
    are the table's own memory, not copies."""
    col = pa.table(table).column("name").chunk(0)
    oob = []
    pickle.dumps(table, protocol=5, buffer_callback=oob.append)
    # The name column is first: its parts are offsets then text.
    assert address(col.buffers()[1]) == address(oob[0].raw())
    assert address(col.buffers()[2]) == address(oob[1].raw())
    again = pa.table(table).column("name").chunk(0)
    assert address(again.buffers()[2]) == address(col.buffers()[2])


def test_exports_outlive_the_table(table):
    at = pa.table(table)
    expected = at.to_pylist()
    table[0].name = "changed after the export"
    table.clear()
    del table
    gc.collect()
    assert at.to_pylist() == expected


def test_round_trip_through_pyarrow_polars_and_pandas(table):
    assert shoal.Table.from_arrow(Rec, pa.table(table)) == table
    pl = pytest.importorskip("polars")
    assert shoal.Table.from_arrow(Rec, pl.DataFrame(table)) == table
    assert shoal.Table.from_arrow(Rec, table.to_polars()) == table
    pytest.importorskip("pandas")
    df = table.to_pandas()
    assert str(df["n"].dtype) == "Int64"  # optional ints stay exact
    assert shoal.Table.from_arrow(Rec, pa.Table.from_pandas(df)) == table


def test_polars_string_views_and_large_strings_import():
    pl = pytest.importorskip("polars")

    class S(shoal.Record):
        s: str | None

    values = ["short", None, "a string well past twelve bytes", ""]
    df = pl.DataFrame({"s": values})
    assert [r.s for r in shoal.Table.from_arrow(S, df)] == values
    large = pa.table({"s": pa.array(values, pa.large_string())})
    assert [r.s for r in shoal.Table.from_arrow(S, large)] == values
    view = pa.table({"s": pa.array(values, pa.string_view())})
    assert [r.s for r in shoal.Table.from_arrow(S, view)] == values


def test_duckdb_queries_strings_and_categories(table):
    duckdb = pytest.importorskip("duckdb")
    tbl = table  # noqa: F841 - DuckDB finds the table by its variable name
    rows = duckdb.sql("SELECT tag, count(*) FROM tbl GROUP BY tag ORDER BY tag").fetchall()
    assert rows == [("a", 14), ("b", 13), ("c", 13)]
    names = duckdb.sql("SELECT name FROM tbl WHERE score IS NULL").fetchall()
    assert [n for (n,) in names] == [rec_values(i)[0] for i in range(40) if i % 4 == 2]


class S(shoal.Record):
    s: str


def test_invalid_offsets_and_utf8_are_refused():
    offsets = np.array([0, 3, 5], np.int32)
    array = pa.Array.from_buffers(
        pa.string(), 2, [None, pa.py_buffer(offsets), pa.py_buffer(b"hello")]
    )
    data = pa.table({"s": array})
    # Corrupt the shared offsets after pyarrow validated them. (An offset past the end of the
    # text cannot be caught by any consumer: the C Data Interface does not carry the text
    # buffer's length. What can be checked is.)
    offsets[1] = 4
    offsets[2] = 2  # decreasing
    with pytest.raises(ValueError, match="malformed"):
        shoal.Table.from_arrow(S, data)
    offsets[0] = -1
    with pytest.raises(ValueError, match="malformed"):
        shoal.Table.from_arrow(S, data)
    bad_text = pa.Array.from_buffers(
        pa.string(), 1, [None, pa.py_buffer(np.array([0, 2], np.int32)), pa.py_buffer(b"\xff\xfe")]
    )
    with pytest.raises(ValueError, match="UTF-8"):
        shoal.Table.from_arrow(S, pa.table({"s": bad_text}))


@pytest.mark.parametrize(
    ("record", "data", "error", "message"),
    [
        (S, {"s": pa.array([1, 2])}, TypeError, "column 's' has Arrow type int64.*field is str"),
        (S, {"s": pa.array(["a", None])}, ValueError, "column 's' has 1 nulls"),
        (
            Rec,
            {"when": pa.array([2**62], pa.timestamp("us"))},
            ValueError,
            "column 'when', row 0: .* out of the datetime range",
        ),
        (
            Rec,
            {"when": pa.array([1001], pa.timestamp("ns"))},
            ValueError,
            r"column .when., row 0: .* does not fit timestamp\[us\] exactly",
        ),
        (
            Rec,
            {"at": pa.array([0], pa.timestamp("us", tz="UTC"))},
            TypeError,
            "column 'at' has Arrow type timestamp.*datetime in Europe/Paris",
        ),
        (
            Rec,
            {"size": pa.array(["XL"]).dictionary_encode()},
            ValueError,
            "column 'size', row 0: not one of the field's values",
        ),
    ],
)
def test_mismatches_name_the_column_and_both_types(record, data, error, message):
    columns = data
    if record is Rec:  # one good row, with the column under test replaced
        good = pa.table(_one_row())
        columns = {n: (data[n] if n in data else good.column(n)) for n in good.column_names}
    with pytest.raises(error, match=message):
        shoal.Table.from_arrow(record, pa.table(columns))


def _one_row():
    t = shoal.Table(Rec)
    t.append(*rec_values(1))
    return t


def test_seconds_and_milliseconds_convert_exactly():
    class W(shoal.Record):
        when: dt.datetime
        took: dt.timedelta

    data = pa.table(
        {"when": pa.array([86_400], pa.timestamp("s")), "took": pa.array([1500], pa.duration("ms"))}
    )
    t = shoal.Table.from_arrow(W, data)
    assert t[0].when == dt.datetime(1970, 1, 2) and t[0].took == dt.timedelta(seconds=1.5)


def test_sliced_arrow_input_of_every_type(table):
    """Arrow slices share buffers and carry offsets (into values, offsets, views, validity bits
    and dictionary codes); every type must honour them."""
    whole = pa.table(table)
    for start, length in [(3, 10), (17, 1), (0, 40), (39, 1), (5, 0)]:
        part = whole.slice(start, length)
        assert shoal.Table.from_arrow(Rec, part) == table[start : start + length]
    pl = pytest.importorskip("polars")
    assert shoal.Table.from_arrow(Rec, pl.DataFrame(table).slice(11, 9)) == table[11:20]
