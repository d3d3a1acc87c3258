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
