"""Arrow PyCapsule export: pyarrow reads tables without copying numeric columns."""

import gc

import numpy as np
import pytest
import shoal

pa = pytest.importorskip("pyarrow")


class Rec(shoal.Record):
    x: float
    n: shoal.u8
    k: shoal.i32
    ok: bool
    f: shoal.f32


@pytest.fixture
def table():
    t = shoal.Table(Rec)
    for i in range(100):
        t.append(i * 0.5, i % 256, -i, i % 3 == 0, i / 4)
    return t


def test_pyarrow_reads_every_type(table):
    at = pa.table(table)
    assert at.schema == pa.schema(
        [
            pa.field("x", pa.float64(), nullable=False),
            pa.field("n", pa.uint8(), nullable=False),
            pa.field("k", pa.int32(), nullable=False),
            pa.field("ok", pa.bool_(), nullable=False),
            pa.field("f", pa.float32(), nullable=False),
        ]
    )
    assert at.num_rows == 100
    assert at.to_pylist() == [shoal.asdict(r) for r in table]


def test_numeric_columns_are_the_tables_memory(table):
    at = pa.table(table)
    for name in ("x", "n", "k", "f"):
        arrow_address = at.column(name).chunk(0).buffers()[1].address
        assert arrow_address == np.asarray(table[name]).__array_interface__["data"][0], name


def test_arrow_data_outlives_the_table_and_ignores_later_writes(table):
    at = pa.table(table)
    table[0].x = 1000.0
    table.clear()
    del table
    gc.collect()
    assert at.column("x").to_pylist()[:3] == [0.0, 0.5, 1.0]


def test_stream_array_and_schema_capsules(table):
    reader = pa.RecordBatchReader.from_stream(table)
    assert reader.read_all().num_rows == 100
    batch = pa.record_batch(table)
    assert batch.num_rows == 100
    assert pa.schema(table).names == ["x", "n", "k", "ok", "f"]


def test_empty_table():
    at = pa.table(shoal.Table(Rec))
    assert at.num_rows == 0 and at.num_columns == 5


def test_from_arrow_round_trips_tables_batches_and_slices(table):
    assert shoal.Table.from_arrow(Rec, pa.table(table)) == table
    assert shoal.Table.from_arrow(Rec, pa.record_batch(table)) == table
    sliced = shoal.Table.from_arrow(Rec, pa.table(table).slice(7, 11))
    assert list(sliced) == list(table[7:18])
    chunked = pa.concat_tables([pa.table(table)] * 3)
    assert len(shoal.Table.from_arrow(Rec, chunked)) == 300


def test_from_arrow_keeps_its_data_alive(table):
    at = pa.table(table)
    u = shoal.Table.from_arrow(Rec, at)
    del at
    gc.collect()
    assert u["x"].to_list() == table["x"].to_list()


class Named(shoal.Record):
    x: float
    name: str


def arrow_named(n: int):
    """An Arrow table in pyarrow's own memory, as after reading a file."""
    return pa.table({"x": [i * 0.25 for i in range(n)], "name": [f"n{i}" for i in range(n)]})


def address(arrow_column, buffer: int) -> int:
    return arrow_column.chunk(0).buffers()[buffer].address


def test_from_arrow_reads_numbers_and_text_in_place_and_writes_copy():
    at = arrow_named(1000)
    u = shoal.Table.from_arrow(Named, at)
    # The columns are pyarrow's buffers, not copies of them.
    assert np.asarray(u["x"]).__array_interface__["data"][0] == address(at["x"], 1)
    back = pa.table(u)
    for b in (1, 2):
        assert address(back["name"], b) == address(at["name"], b)
    # Writes, appends and deletes copy first: the producer's data never changes.
    u[0].x = -1.0
    u[1].name = "a longer name"
    u.append(7.0, "appended")
    del u[2]
    assert at["x"].to_pylist()[:3] == [0.0, 0.25, 0.5]
    assert at["name"].to_pylist()[:3] == ["n0", "n1", "n2"]
    assert u[0].x == -1.0 and u[1].name == "a longer name" and u[-1].name == "appended"
    assert u[2].name == "n3" and len(u) == 1000


def test_adopted_buffers_outlive_the_producer_and_are_released_with_the_last_reader():
    gc.collect()
    before = pa.total_allocated_bytes()
    at = arrow_named(10_000)
    u = shoal.Table.from_arrow(Named, at)
    view = np.asarray(u["x"])
    del at
    gc.collect()
    assert pa.total_allocated_bytes() > before, "pyarrow's memory is still in use"
    del u
    gc.collect()
    assert view[:3].tolist() == [0.0, 0.25, 0.5]
    assert pa.total_allocated_bytes() > before
    del view
    gc.collect()
    assert pa.total_allocated_bytes() == before


def test_only_the_columns_read_in_place_stay_alive():
    # A file's worth of columns, of which the record takes one: the others (and the category,
    # which is translated, not adopted) are released when the Arrow table goes.
    gc.collect()
    before = pa.total_allocated_bytes()
    n = 100_000
    columns = {
        "x": pa.array([i * 1.0 for i in range(n)]),  # in pyarrow's pool, as read from a file
        "wide": pa.array(range(n)),
        "name": pa.array([f"n{i}" for i in range(n)]),
    }
    at = pa.table(columns)
    del columns
    whole = pa.total_allocated_bytes() - before

    class Numbers(shoal.Record):
        x: float

    u = shoal.Table.from_arrow(Numbers, at)
    del at
    gc.collect()
    kept = pa.total_allocated_bytes() - before
    # x alone, in place (and the producer's few hundred bytes of bookkeeping for it)
    assert 8 * n <= kept < 8 * n + 4096 < whole, (kept, whole)
    assert u[n - 1].x == n - 1
    del u
    gc.collect()
    assert pa.total_allocated_bytes() == before


def test_from_arrow_still_checks_the_text_it_reads_in_place():
    names = pa.array(["ok", "é"])
    offsets = np.array([0, 2, 3, 4], dtype=np.int32)  # splits "é" into two rows
    split = pa.StringArray.from_buffers(3, pa.py_buffer(offsets), names.buffers()[2])
    at = pa.table({"x": [1.0, 2.0, 3.0], "name": split})
    with pytest.raises(ValueError, match=r"(?s)name.*row 1.*UTF-8"):
        shoal.Table.from_arrow(Named, at)


def test_from_arrow_matches_columns_by_name():
    at = pa.table({"f": [1.5], "ok": [True], "k": [-3], "n": [7], "x": [2.0]}).cast(
        pa.schema(
            [
                ("f", pa.float32()),
                ("ok", pa.bool_()),
                ("k", pa.int32()),
                ("n", pa.uint8()),
                ("x", pa.float64()),
            ]
        )
    )
    (row,) = shoal.Table.from_arrow(Rec, at)
    assert shoal.astuple(row) == (2.0, 7, -3, True, 1.5)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (
            {"x": [1.0], "n": [300], "k": [1], "ok": [True], "f": [1.0]},
            ValueError,
            "column 'n', row 0: 300",
        ),
        ({"x": [1.0]}, ValueError, "no column named 'n'"),
        (
            {"x": pa.array([None, 1.0]), "n": pa.array([1, 2], pa.uint8())},
            ValueError,
            "nulls",
        ),
    ],
)
def test_from_arrow_rejects_mismatches_naming_the_column(data, error, message):
    with pytest.raises(error, match=message):
        shoal.Table.from_arrow(Rec, pa.table(data))


def test_from_arrow_rejects_non_arrow_objects():
    with pytest.raises(TypeError, match="__arrow_c_stream__"):
        shoal.Table.from_arrow(Rec, [1, 2, 3])


def test_polars_and_pandas_convenience(table):
    pl = pytest.importorskip("polars")
    df = table.to_polars()
    assert isinstance(df, pl.DataFrame) and df.shape == (100, 5)
    assert shoal.Table.from_arrow(Rec, df) == table
    pd = pytest.importorskip("pandas")
    pdf = table.to_pandas()
    assert isinstance(pdf, pd.DataFrame) and list(pdf.columns) == ["x", "n", "k", "ok", "f"]


def test_duckdb_queries_a_table_in_place(table):
    duckdb = pytest.importorskip("duckdb")
    # DuckDB finds the Python variable `table` by name (quoted: it is an SQL keyword).
    rows = duckdb.sql('select sum(x), max(n), count(*) from "table" where ok').fetchall()
    expected = [r for r in table if r.ok]
    assert rows == [(sum(r.x for r in expected), max(r.n for r in expected), len(expected))]
