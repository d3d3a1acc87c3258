"""Column snapshots: zero-copy export, lifetime, read-only, copy-on-write semantics."""

import gc

import pytest
import shoal
from records import Point

np = pytest.importorskip("numpy")


def address(a) -> int:
    return a.__array_interface__["data"][0]


def test_numpy_view_is_zero_copy_and_read_only(points):
    a = np.asarray(points["x"])
    b = np.asarray(points["x"])
    assert a.dtype == np.float64 and a.tolist() == [float(i) for i in range(10)]
    assert address(a) == address(b), "both exports must share the table's buffer"
    assert not a.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 1.0
    m = memoryview(points["x"])
    assert m.readonly and m.format == "d" and m.shape == (10,) and m.nbytes == 80


def test_writable_buffer_request_is_refused(points):
    import ctypes
    import inspect
    import sys

    with pytest.raises(TypeError, match="not writable"):  # ctypes' wording of our refusal
        (ctypes.c_char * 80).from_buffer(points["x"])
    if sys.version_info >= (3, 12):
        with pytest.raises(BufferError, match="read-only snapshot"):
            points["x"].__buffer__(inspect.BufferFlags.WRITABLE)


def test_view_survives_growth_without_buffer_error(points):
    a = np.asarray(points["x"])
    for i in range(100_000):  # many reallocations
        points.append(float(i))
    assert a.tolist() == [float(i) for i in range(10)]
    assert len(points) == 100_010


def test_appends_within_capacity_keep_sharing():
    t = shoal.Table(Point)
    for i in range(10):
        t.append(float(i))
    a = np.asarray(t["x"])
    t.append(10.0)  # capacity is 16: no reallocation
    b = np.asarray(t["x"])
    assert address(a) == address(b)
    assert b.tolist()[-1] == 10.0 and len(a) == 10


def test_writes_after_export_copy_first(points):
    a = np.asarray(points["x"])
    points[0].x = 100.0
    assert a[0] == 0.0, "a snapshot never changes"
    assert points["x"][0] == 100.0
    c = np.asarray(points["x"])
    assert address(c) != address(a)


def test_view_outlives_table(points):
    a = np.asarray(points["x"])
    col = points["y"]
    del points
    gc.collect()
    assert a.sum() == 45.0
    assert np.asarray(col).tolist() == [float(-i) for i in range(10)]


def test_view_survives_clear_and_delete(points):
    a = np.asarray(points["x"])
    del points[0]
    points.clear()
    for _ in range(3):
        points.append(-1.0)
    assert a.tolist() == [float(i) for i in range(10)]


def test_column_api(points):
    col = points["x"]
    assert len(col) == 10 and col.name == "x" and col.type == "float"
    assert col[3] == 3.0 and col[-1] == 9.0 and col[2:4] == [2.0, 3.0]
    assert list(col) == col.to_list()
    assert col.sum() == 45.0
    assert col.nbytes == 80
    assert "Column('x', float, 10 values" in repr(col)
    with pytest.raises(IndexError):
        col[10]
    assert isinstance(col.to_numpy(), np.ndarray)


def test_sized_columns_export_with_their_dtype():
    class S(shoal.Record):
        a: shoal.u8
        b: shoal.i16
        c: bool
        d: shoal.f32
        e: int

    t = shoal.Table(S)
    t.append(1, -2, True, 0.5, 2**40)
    t.append(255, 300, False, 1.5, -1)
    assert np.asarray(t["a"]).dtype == np.uint8
    assert np.asarray(t["b"]).dtype == np.int16
    assert np.asarray(t["c"]).tolist() == [True, False]
    assert np.asarray(t["d"]).dtype == np.float32
    assert np.asarray(t["e"]).tolist() == [2**40, -1]
    assert t["a"].sum() == 256 and t["c"].sum() == 1 and t["e"].sum() == 2**40 - 1


def test_sum_matches_numpy_on_large_columns():
    rng = np.random.default_rng(0)
    xs = rng.random(100_003)
    t = shoal.Table.from_columns(Point, x=xs)
    assert t["x"].sum() == pytest.approx(xs.sum(), rel=1e-12)
    assert t["x"].sum() == pytest.approx(sum(xs.tolist()), rel=1e-12)
