"""Table: building, reading, writing through rows, structural changes, errors, pickling."""

import copy
import gc
import itertools
import pickle

import pytest
import shoal
from records import Point, Sized


def test_append_forms(points):
    t = shoal.Table(Point)
    t.append(1.0, 2.0)
    t.append(x=3.0)
    t.append(Point(5.0, 6.0))
    t.append(points[2])
    t.append(4)
    assert [shoal.astuple(p) for p in t] == [
        (1.0, 2.0),
        (3.0, 0.0),
        (5.0, 6.0),
        (2.0, -2.0),
        (4.0, 0.0),
    ]
    t.append(t[0])  # a row of the same table
    assert t[-1] == Point(1.0, 2.0)


def test_len_index_negative_and_errors(points):
    assert len(points) == 10
    assert points[-1] == Point(9.0, -9.0)
    with pytest.raises(IndexError, match="index 10 out of range for a table of 10 rows"):
        points[10]
    with pytest.raises(IndexError):
        points[-11]
    with pytest.raises(TypeError, match="integers, slices, field names, lists of rows or bool"):
        points[1.5]  # type: ignore[call-overload]
    with pytest.raises(KeyError, match="Point has no field 'z'"):
        points["z"]


def test_rows_are_records_that_write_through(points):
    row = points[3]
    assert isinstance(row, Point)
    assert row.norm() == pytest.approx(3 * 2**0.5)
    row.x = 30.0
    assert points[3].x == 30.0
    points[4].y = 7  # int accepted, stored as float
    assert points[4].y == 7.0 and type(points[4].y) is float
    with pytest.raises(TypeError, match=r"field 'x' of Point expects float.*got str 'a' \(row 3\)"):
        row.x = "a"
    assert points[3].x == 30.0


def test_equality_with_standalone(points):
    assert points[2] == Point(2.0, -2.0)
    assert points[2] != Point(2.0, 2.0)


def test_slices_are_copies(points):
    s = points[2:5]
    assert isinstance(s, shoal.Table)
    assert [p.x for p in s] == [2.0, 3.0, 4.0]
    s[0].x = 100.0
    assert points[2].x == 2.0
    assert [p.x for p in points[::-3]] == [9.0, 6.0, 3.0, 0.0]
    assert len(points[5:2]) == 0


def test_iteration_values_and_kept_rows(points):
    kept = list(points)
    assert [p.x for p in kept] == [float(i) for i in range(10)]
    assert len({id(p) for p in kept}) == 10  # rows kept by the caller are never reused


def test_iteration_reuses_unshared_rows_safely(points):
    seen = []
    for p in points:
        seen.append(p.x)
    assert seen == [float(i) for i in range(10)]
    pairs = list(itertools.pairwise(points))
    assert [(a.x, b.x) for a, b in pairs][:2] == [(0.0, 1.0), (1.0, 2.0)]


def test_structural_change_invalidates_row_handles(points):
    row = points[5]
    del points[0]
    with pytest.raises(shoal.StaleRowError, match="read the row again"):
        row.x
    with pytest.raises(shoal.StaleRowError):
        row.x = 1.0
    assert isinstance(shoal.StaleRowError("x"), ReferenceError)
    assert points[5].x == 6.0


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.pop(),
        lambda t: t.insert(0, 1.0),
        lambda t: t.clear(),
        lambda t: t.sort(key=lambda p: -p.x),
        lambda t: t.__delitem__(slice(0, 2)),
    ],
)
def test_every_structural_change_is_detected(points, change):
    row = points[1]
    change(points)
    with pytest.raises(shoal.StaleRowError):
        row.y


def test_appends_do_not_disturb_rows(points):
    row = points[1]
    for i in range(1000):
        points.append(float(i))
    assert row.x == 1.0


def test_iteration_refuses_structural_change(points):
    with pytest.raises(RuntimeError, match="changed during iteration"):
        for _ in points:
            del points[0]


def test_setitem_row_and_column(points):
    points[0] = (100.0, 200.0)
    points[1] = {"x": 5.0}
    points[2] = Point(7.0, 8.0)
    assert shoal.astuple(points[0]) == (100.0, 200.0)
    assert shoal.astuple(points[1]) == (5.0, 0.0)
    assert shoal.astuple(points[2]) == (7.0, 8.0)
    points["y"] = [float(i) for i in range(10)]
    assert points["y"].to_list() == [float(i) for i in range(10)]
    with pytest.raises(ValueError, match="3 values for a table of 10 rows"):
        points["y"] = [1.0, 2.0, 3.0]
    before = points["x"].to_list()
    with pytest.raises(TypeError, match=r"row 9"):
        points["x"] = [1.0] * 9 + ["bad"]
    assert points["x"].to_list() == before


def test_delete_pop_insert_clear(points):
    del points[0]
    assert points[0].x == 1.0
    del points[-1]
    assert len(points) == 8
    del points[::2]
    assert [p.x for p in points] == [2.0, 4.0, 6.0, 8.0]
    p = points.pop()
    assert p == Point(8.0, -8.0) and not isinstance(p, type(None))
    assert points.pop(0) == Point(2.0, -2.0)
    points.insert(0, 1.0, y=1.0)
    points.insert(-1, Point(5.0))
    points.insert(100, 9.0)
    assert [p.x for p in points] == [1.0, 4.0, 5.0, 6.0, 9.0]
    points.clear()
    assert len(points) == 0
    with pytest.raises(IndexError, match="empty"):
        points.pop()
    points.append(1.0)
    assert points[0].x == 1.0


def test_sort(points):
    points.sort(key=lambda p: -p.x)
    assert [p.x for p in points][:3] == [9.0, 8.0, 7.0]
    points.sort()
    assert [p.x for p in points][:3] == [0.0, 1.0, 2.0]
    points.sort(key=lambda p: p.y, reverse=True)
    assert points[0].y == 0.0


def test_extend_is_all_or_nothing(points):
    points.extend([(1.0, 2.0), {"x": 3.0}, Point(4.0)])
    assert len(points) == 13
    rows = [(float(i),) for i in range(5000)] + [("bad",)]
    with pytest.raises(TypeError, match=r"row 5013\); the table is unchanged"):
        points.extend(rows)
    assert len(points) == 13
    with pytest.raises(
        TypeError,
        match=r"expected a tuple, a list, a dict, a Point record .*, got float 1.0 \(row 13\)",
    ):
        points.extend([1.0])
    assert len(points) == 13


def test_extend_from_generator_and_tables(points):
    points.extend((float(i), 0.0) for i in range(3))
    assert len(points) == 13
    points.extend(points)
    assert len(points) == 26
    other = shoal.Table(Point)
    other.extend(points[:2])
    assert list(other) == list(points[:2])


def test_extend_rejects_other_record_types(points):
    class Other(shoal.Record):
        n: int

    with pytest.raises(TypeError, match="different fields"):
        points.extend([Other(1)])
    with pytest.raises(TypeError):
        points.append(Other(1))


def test_bad_input_leaves_table_unchanged():
    t = shoal.Table(Sized)
    good = (1.5, 1, 2, 3, 4, 5, 6, 7, 8, True)
    t.append(*good)
    for i, bad in [(0, "x"), (1, 300), (5, -1), (3, 1.0), (9, 1)]:
        row = list(good)
        row[i] = bad
        with pytest.raises((TypeError, OverflowError), match=r"\(row 1\); the table is unchanged"):
            t.append(*row)
        assert len(t) == 1
    assert shoal.astuple(t[0]) == good


def test_overflow_message_names_field_row_value():
    class B(shoal.Record):
        n: shoal.u8

    t = shoal.Table(B)
    with pytest.raises(OverflowError) as info:
        t.append(300)
    assert str(info.value) == (
        "field 'n' of B is u8 (0..=255): int 300 is out of range (row 0); the table is unchanged"
    )


def test_from_columns(points):
    np = pytest.importorskip("numpy")
    xs = np.arange(5, dtype=np.float64)
    t = shoal.Table.from_columns(Point, x=xs, y=[1, 2, 3, 4, 5])
    assert [shoal.astuple(p) for p in t] == [(float(i), float(i + 1)) for i in range(5)]
    xs[0] = 99.0  # the table holds its own copy
    assert t[0].x == 0.0
    d = shoal.Table.from_columns(Point, x=[1.0, 2.0])
    assert [p.y for p in d] == [0.0, 0.0]
    with pytest.raises(ValueError, match="'y' has 1 values but the others have 2"):
        shoal.Table.from_columns(Point, x=[1.0, 2.0], y=[1.0])
    with pytest.raises(ValueError, match="no column for field 'x'"):
        shoal.Table.from_columns(Point, y=[1.0])
    with pytest.raises(KeyError, match="no field 'z'"):
        shoal.Table.from_columns(Point, x=[1.0], z=[1.0])
    with pytest.raises(TypeError, match=r"row 1"):
        shoal.Table.from_columns(Point, x=[1.0, "a"])
    # a buffer of another type is converted element by element, with the same checks
    ints = shoal.Table.from_columns(Point, x=np.arange(3, dtype=np.int32))
    assert [p.x for p in ints] == [0.0, 1.0, 2.0]


def test_from_columns_sized_buffers():
    np = pytest.importorskip("numpy")

    class S(shoal.Record):
        a: shoal.u8
        b: bool

    t = shoal.Table.from_columns(S, a=np.array([1, 255], np.uint8), b=np.array([True, False]))
    assert [shoal.astuple(r) for r in t] == [(1, True), (255, False)]
    with pytest.raises(OverflowError, match="row 1"):
        shoal.Table.from_columns(S, a=np.array([1, 256]), b=[True, False])


def test_nbytes_counts_column_buffers():
    t = shoal.Table(Point)
    assert t.nbytes == 0
    for i in range(1000):
        t.append(float(i))
    assert 2 * 8 * 1000 <= t.nbytes <= 2 * 8 * 2048


def test_repr_and_html(points):
    text = repr(points)
    assert text.startswith("Table[Point] with 10 rows")
    assert "Point(x=0.0, y=0.0)" in text
    big = shoal.Table(Point)
    big.extend((float(i),) for i in range(100))
    assert "..." in repr(big) and "Point(x=99.0, y=0.0)" in repr(big)
    html = big._repr_html_()
    assert html.startswith("<table") and "<th>x<br><small>float</small></th>" in html
    assert "100 rows" in html


def test_generic_alias():
    assert shoal.Table[Point].__origin__ is shoal.Table


def test_pickle_copy_and_equality(points):
    clone = pickle.loads(pickle.dumps(points))
    assert clone == points and clone is not points
    assert copy.copy(points) == points
    deep = copy.deepcopy(points)
    deep[0].x = 50.0
    assert deep != points
    assert points[0].x == 0.0
    assert pickle.loads(pickle.dumps(points[1])) == Point(1.0, -1.0)


def test_table_and_rows_are_collected():
    t = shoal.Table(Point)
    t.append(1.0)
    row = t[0]
    del t
    gc.collect()
    assert row.x == 1.0  # the row keeps its table alive


def test_no_reference_leaks_through_rows_records_and_iterators():
    import sys

    t = shoal.Table(Point)
    t.extend((float(i),) for i in range(100))

    def churn():
        kept = [t[i] for i in range(100)] + list(t) + [Point(1.0) for _ in range(100)]
        kept += [t.pop() for _ in range(10)]
        t.extend(kept[-10:])
        for _ in t:
            pass
        iter(t)

    churn()  # warm up: the table now caches one row handle (a reference to t and to Point)
    gc.collect()
    before = (sys.getrefcount(t), sys.getrefcount(Point))
    for _ in range(5):
        churn()
    gc.collect()
    assert (sys.getrefcount(t), sys.getrefcount(Point)) == before


def test_table_with_cached_row_is_collected():
    def live_tables() -> int:
        return sum(type(o) is shoal.Table for o in gc.get_objects())

    gc.collect()
    before = live_tables()
    t = shoal.Table(Point)
    t.append(1.0)
    t[0]  # the table caches this row handle, which references the table: a cycle
    assert live_tables() == before + 1
    del t
    gc.collect()
    assert live_tables() == before


def test_pickle_protocol_5_ships_columns_out_of_band_and_slices_only_their_rows(points):
    np = pytest.importorskip("numpy")
    buffers = []
    data = pickle.dumps(points, protocol=5, buffer_callback=buffers.append)
    assert [b.raw().nbytes for b in buffers] == [80, 80]  # two float columns, 10 rows
    assert len(data) < 200  # only the recipe travels in-band
    assert pickle.loads(data, buffers=buffers) == points
    column_memory = np.asarray(points["x"]).__array_interface__["data"][0]
    assert np.asarray(buffers[0].raw()).__array_interface__["data"][0] == column_memory
    part = []
    pickle.dumps(points[2:5], protocol=5, buffer_callback=part.append)
    assert [b.raw().nbytes for b in part] == [24, 24]
    assert pickle.loads(pickle.dumps(points, protocol=5)) == points  # in-band too


class Loaded(shoal.Record):
    x: float
    name: str
    kind: shoal.Category
    ok: bool


def loaded_parts(t):
    """The buffers a protocol-5 pickle of `t` ships, as `bytes` and as writable bytearrays."""
    buffers = []
    data = pickle.dumps(t, protocol=5, buffer_callback=buffers.append)
    return data, [bytes(b.raw()) for b in buffers]


def test_a_loaded_pickle_reads_bytes_in_place_and_never_writes_them():
    np = pytest.importorskip("numpy")
    t = shoal.Table(Loaded)
    t.extend((i / 2, f"n{i}", "ab"[i % 2], i % 3 == 0) for i in range(50))
    data, parts = loaded_parts(t)
    originals = [bytes(bytearray(p)) for p in parts]  # equal copies, other objects
    u = pickle.loads(data, buffers=parts)
    assert u == t
    x_part = next(p for p in parts if len(p) == 50 * 8)
    address = np.frombuffer(x_part, dtype=np.float64).__array_interface__["data"][0]
    assert np.asarray(u["x"]).__array_interface__["data"][0] == address  # no copy
    u[0].x = -1.0
    u[1].name = "a much longer name"
    u[2].kind = "c"
    u[3].ok = True
    u.append(9.0, "new", "a", False)
    del u[4]
    assert parts == originals, "the loaded table wrote into the pickle's bytes"
    assert (u[0].x, u[1].name, u[2].kind, u[3].ok, u[-1].name) == (
        -1.0,
        "a much longer name",
        "c",
        True,
        "new",
    )
    del t, u
    gc.collect()
    assert parts == originals


def test_a_loaded_pickle_copies_buffers_their_owner_can_change():
    t = shoal.Table(Loaded)
    t.extend((i / 2, f"n{i}", "ab"[i % 2], True) for i in range(10))
    data, parts = loaded_parts(t)
    writable = [bytearray(p) for p in parts]
    u = pickle.loads(data, buffers=writable)
    for w in writable:
        w[:] = bytes(len(w))  # the caller reuses its buffers
    assert u == t
