"""Every field type: str, bytes, T | None, categories (open, Enum, Literal), datetimes (naive and
tz-aware), dates and timedeltas, checked against plain Python values; bad input; compaction."""

import datetime as dt
import pickle
from typing import Literal

import pytest
import shoal
from records import PARIS, UTC, Color, Rec, rec_values


@pytest.fixture
def table():
    t = shoal.Table(Rec)
    for i in range(50):
        t.append(*rec_values(i))
    return t


def as_python(values: tuple) -> tuple:
    """What reading the values back must give (aware datetimes in the column's zone)."""
    out = list(values)
    out[7] = out[7].astimezone(PARIS)
    return tuple(out)


def test_every_type_reads_back_what_was_written(table):
    for i, row in enumerate(table):
        assert shoal.astuple(row) == as_python(rec_values(i))
    assert table[7].at.tzinfo is PARIS
    assert table[1].color is Color.RED
    standalone = Rec(*rec_values(3))
    assert shoal.astuple(standalone) == as_python(rec_values(3))
    assert table[3] == standalone


def test_field_types_are_described():
    kinds = {f.name: f.storage for f in shoal.fields(Rec)}
    assert kinds["name"] == "str"
    assert kinds["score"] == "float | None"
    assert kinds["color"] == "Color"
    assert kinds["size"] == "Literal['S', 'M', 'L']".replace("'", '"')
    assert kinds["at"] == "datetime in Europe/Paris"
    assert kinds["n"] == "int | None"


def test_writes_go_through_and_longer_strings_fit(table):
    row = table[10]
    row.name = "a much longer name than the one before, with ünïcode ✓"
    row.score = None
    row.blob = b"\x00" * 100
    row.n = None
    row.tag = "brand new tag"
    assert table[10].name.startswith("a much longer")
    assert table[10].score is None and table[10].n is None
    assert table[10].blob == b"\x00" * 100
    assert table[10].tag == "brand new tag"
    assert table[11].name == rec_values(11)[0]  # neighbours untouched
    assert table[9].name == rec_values(9)[0]


def test_overwritten_strings_are_reclaimed():
    class S(shoal.Record):
        s: str

    t = shoal.Table(S)
    for i in range(20_000):
        t.append(f"{i:012d}")
    base = t.nbytes
    for rnd in range(30):
        text = "x" * (5 + rnd % 2 * 20)
        for row in t:
            row.s = text
    # Without reclamation 30 rounds would leave ~30 x 20k x 15 B = 9 MB behind.
    assert t.nbytes < 4 * base + 2_000_000
    t.compact()
    assert t.compact() == 0  # nothing left to reclaim
    assert all(r.s == "x" * 5 for r in t[:100]) or all(r.s == "x" * 25 for r in t[:100])


@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        ("name", None, TypeError, "field 'name' of Rec is not optional, got None"),
        ("name", 5, TypeError, "field 'name' of Rec expects str, got int 5"),
        ("name", "\ud800", ValueError, "cannot be stored as UTF-8"),
        ("tag", b"x", TypeError, "expects str"),
        ("color", "RED", ValueError, "is not one of the members of Color"),
        ("size", "XL", ValueError, '\'XL\' is not one of "S", "M", "L"'),
        ("blob", "text", TypeError, "expects bytes"),
        ("when", dt.datetime(2020, 1, 1, tzinfo=UTC), TypeError, "aware datetime for a naive"),
        ("at", dt.datetime(2020, 1, 1), TypeError, "naive datetime for a tz-aware field"),
        ("day", dt.datetime(2020, 1, 1), TypeError, "datetime is not accepted"),
        ("took", dt.timedelta(days=999_999_999), OverflowError, "out of range"),
        ("took", 5, TypeError, "expects datetime.timedelta"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(table, field, value, error, message):
    before = table[:]
    good = list(rec_values(1))
    index = [f.name for f in shoal.fields(Rec)].index(field)
    good[index] = value
    with pytest.raises(error, match=message) as info:
        table.append(*good)
    assert "(row 50); the table is unchanged" in str(info.value)
    with pytest.raises(error, match=message):
        table.extend([rec_values(2), tuple(good)])
    with pytest.raises(error, match=message):
        setattr(table[4], field, value)
    with pytest.raises(error, match=message):
        table[4] = tuple(good)
    assert table == before


def test_enum_fields_take_members_and_their_values():
    class Paint(shoal.Record):
        color: Color

    t = shoal.Table(Paint)
    t.extend([(Color.RED,), (1,), ("g",)])
    assert [r.color for r in t] == [Color.RED, Color.RED, Color.GREEN]


def test_unknown_value_of_a_closed_category_is_a_value_error():
    class Sized(shoal.Record):
        size: Literal["S", "M"] = "S"

    with pytest.raises(ValueError, match="is not one of"):
        Sized("XL")
    with pytest.raises(ValueError, match="default"):

        class Bad(shoal.Record):
            size: Literal["S", "M"] = "L"  # type: ignore[assignment]


def test_categories_store_each_value_once():
    class C(shoal.Record):
        tag: shoal.Category

    t = shoal.Table(C)
    for i in range(100_000):
        t.append(f"tag{i % 8}")
    assert t.nbytes < 150_000  # one byte per row plus the dictionary
    assert [r.tag for r in t[:9]] == [f"tag{i % 8}" for i in range(9)]
    for i in range(300):  # widening past 256 values keeps every code
        t.append(f"new{i}")
    assert t[0].tag == "tag0" and t[-1].tag == "new299"


def test_temporal_extremes_round_trip():
    class T(shoal.Record):
        when: dt.datetime
        day: dt.date
        took: dt.timedelta

    t = shoal.Table(T)
    t.append(dt.datetime.min, dt.date.min, dt.timedelta(days=-106_000_000))
    t.append(dt.datetime.max, dt.date.max, dt.timedelta(days=106_000_000, microseconds=5))
    assert shoal.astuple(t[0]) == (dt.datetime.min, dt.date.min, dt.timedelta(days=-106_000_000))
    assert t[1].when == dt.datetime.max and t[1].day == dt.date.max


def test_aware_datetimes_in_other_zones_are_converted():
    class E(shoal.Record):
        at: shoal.tz(UTC)  # type: ignore[valid-type] - the bare spelling works at runtime too

    t = shoal.Table(E)
    # 02:30 happens twice in Paris that night; `fold` picks which, and both are kept apart.
    first = dt.datetime(2024, 10, 27, 2, 30, tzinfo=PARIS)
    second = first.replace(fold=1)
    t.extend([(first,), (second,)])
    assert t[0].at == dt.datetime(2024, 10, 27, 0, 30, tzinfo=UTC) and t[0].at.tzinfo is UTC
    assert t[1].at == dt.datetime(2024, 10, 27, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_round_trips_tables_and_slices(table, protocol):
    assert pickle.loads(pickle.dumps(table, protocol=protocol)) == table
    part = table[10:20]
    assert pickle.loads(pickle.dumps(part, protocol=protocol)) == part


def test_pickle_5_ships_every_buffer_out_of_band(table):
    buffers = []
    data = pickle.dumps(table, protocol=5, buffer_callback=buffers.append)
    assert len(data) < 2000
    assert pickle.loads(data, buffers=buffers) == table
    half = []
    pickle.dumps(table[:25], protocol=5, buffer_callback=half.append)
    total = sum(b.raw().nbytes for b in buffers)
    assert sum(b.raw().nbytes for b in half) < total * 0.7


def test_corrupt_pickles_are_refused(table):
    from shoal._shoal import _table_from_buffers

    with pytest.raises(ValueError, match="corrupt"):
        _table_from_buffers(Rec, [([b"\x00\x00\x00\x00\xff\x00\x00\x00", b"abc"], None, 1)] * 11)


def test_columns_of_every_type(table):
    np = pytest.importorskip("numpy")
    assert table["name"].to_list() == [rec_values(i)[0] for i in range(50)]
    assert table["score"].null_count == sum(1 for i in range(50) if i % 4 == 2)
    scores = table["score"].to_numpy()
    assert np.isnan(scores[2]) and scores[3] == 4.5
    assert table["score"].sum() == sum(v for i in range(50) if (v := rec_values(i)[1]) is not None)
    when = table["when"].to_numpy()
    assert when.dtype == np.dtype("datetime64[us]")
    assert when[3] == np.datetime64(rec_values(3)[6])
    assert table["name"].to_numpy().dtype == object
    with pytest.raises(BufferError, match="no fixed-width buffer"):
        memoryview(table["name"])
    with pytest.raises(BufferError, match="nulls"):
        memoryview(table["score"])
    with pytest.raises(TypeError, match="numeric"):
        table["name"].sum()


def test_from_columns_checks_every_type():
    t = shoal.Table.from_columns(
        Rec,
        name=["a", "b"],
        score=[None, 1.0],
        tag=["x", "y"],
        color=[Color.RED, Color.GREEN],
        size=["S", "L"],
        blob=[b"", None],
        when=[dt.datetime(2020, 1, 1)] * 2,
        at=[dt.datetime(2020, 1, 1, tzinfo=UTC)] * 2,
        day=[dt.date(2020, 1, 1)] * 2,
        took=[dt.timedelta(0)] * 2,
    )
    assert t[1].score == 1.0 and t[0].n is None
    with pytest.raises(ValueError, match="row 1"):
        shoal.Table.from_columns(Rec, size=["S", "XL"])


def test_sizeof_counts_string_buffers(table):
    rep = shoal.sizeof(table)
    assert rep.categories["buffers"] == table.nbytes


def test_string_annotations_resolve_names_local_to_the_defining_function():
    namespace: dict = {}
    exec(
        "from __future__ import annotations\n"
        "def make():\n"
        "    import shoal as local_shoal\n"
        "    class R(local_shoal.Record):\n"
        "        kind: local_shoal.Category\n"
        "        n: local_shoal.u8 | None\n"
        "    return R\n",
        namespace,
    )
    record = namespace["make"]()
    assert [f.storage for f in shoal.fields(record)] == ["category", "u8 | None"]


def test_structural_operations_keep_every_type(table):
    import copy

    rows = [as_python(rec_values(i)) for i in range(50)]
    expected = sorted(rows, key=lambda r: (r[0], r[3].name))
    table.sort(key=lambda r: (r.name, r.color.name))
    assert [shoal.astuple(r) for r in table] == expected
    clone = copy.deepcopy(table)
    assert clone == table
    table["name"] = [f"renamed {i}" for i in range(50)]
    table["tag"] = ["z"] * 50
    assert table[7].name == "renamed 7" and table[7].tag == "z"
    assert clone[7].name != "renamed 7"  # the copy is independent
    table.insert(3, *rec_values(99))
    del table[0]
    popped = table.pop(2)
    assert shoal.astuple(popped) == as_python(rec_values(99))
    assert len(table) == 49


def test_category_reads_share_one_str_per_value_and_follow_column_replacement():
    class C(shoal.Record):
        tag: shoal.Category | None

    t = shoal.Table(C)
    t.extend([("red",), ("green",), (None,), ("red",)])
    assert t[0].tag is t[3].tag == "red"
    assert t[2].tag is None
    t["tag"] = ["blue", "red", "red", None]  # a new dictionary: codes mean other values now
    assert [r.tag for r in t] == ["blue", "red", "red", None]
    t[0].tag = "green"
    assert [r.tag for r in t] == ["green", "red", "red", None]


def test_a_bare_tz_annotation_works_under_postponed_evaluation():
    # CPython 3.10's typing refused `x: shoal.tz("UTC")` as a string annotation (it requires
    # something callable); the marker is callable now, and calling it says what it is for.
    namespace: dict = {}
    exec(
        "from __future__ import annotations\n"
        "import shoal\n"
        "class Stamp(shoal.Record):\n"
        "    at: shoal.tz('UTC')\n",
        namespace,
    )
    stamp = namespace["Stamp"](dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    assert stamp.at.tzinfo is not None
    with pytest.raises(TypeError, match="marks a datetime annotation"):
        shoal.tz("UTC")()
