"""Errors that say what happened (issue #11's "errors that mislead")."""

import datetime as dt
import enum

import pytest
import shoal

pa = pytest.importorskip("pyarrow")


class F(shoal.Record):
    x: float


class Z(shoal.Record):
    z: shoal.tz("UTC")  # type: ignore[valid-type]


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Other(enum.IntEnum):
    ONE = 1


class L(shoal.Record):
    level: Level


def test_an_index_past_isize_is_out_of_range():
    t = shoal.Table(F)
    t.append(1.0)
    with pytest.raises(IndexError, match="table index 9223372036854775808 out of range"):
        t[2**63]
    with pytest.raises(TypeError, match="not tuple"):
        t["x", 1]  # type: ignore[index]


def test_float_and_datetime_range_messages_name_their_own_ranges():
    with pytest.raises(
        OverflowError, match=r"float \(finite values up to 1.7976931348623157e308\)"
    ):
        shoal.Table(F).append(10**400)
    # In range where it is, before year 1 in UTC.
    east = dt.timezone(dt.timedelta(hours=5))
    with pytest.raises(OverflowError, match=r"datetime \(years 1 to 9999") as e:
        shoal.Table(Z).append(dt.datetime(1, 1, 1, tzinfo=east))
    assert "9223372036854775807" not in str(e.value)


def test_int_enum_fields_take_only_their_own_members_and_values():
    t = shoal.Table(L)
    t.append(Level.HIGH)
    t.append(1)
    for bad in (True, Other.ONE):
        with pytest.raises(ValueError, match="the members of Level"):
            t.append(bad)
    assert [r.level for r in t] == [Level.HIGH, Level.LOW]


class Picky(enum.Enum):
    A = "a"

    @classmethod
    def _missing_(cls, value: object) -> "Picky":
        raise LookupError(f"no {value!r} here")


class P(shoal.Record):
    p: Picky


def test_an_enums_own_missing_error_is_not_swallowed():
    with pytest.raises(LookupError, match="no 'b' here"):
        shoal.Table(P).append("b")


class C(shoal.Record):
    c: shoal.Category


def test_uint64_dictionary_indices_are_taken():
    arr = pa.DictionaryArray.from_arrays(pa.array([1, 0, 1], type=pa.uint64()), ["a", "b"])
    t = shoal.Table.from_arrow(C, pa.table({"c": arr}))
    assert [r.c for r in t] == ["b", "a", "b"]


def test_a_sizer_applies_to_subclasses():
    class Blob:
        pass

    class Sub(Blob):
        pass

    shoal.register_sizer(Blob, lambda obj: 1000)
    try:
        assert shoal.sizeof(Sub()).total >= 1000
    finally:
        shoal.register_sizer(Blob, None)


def test_a_stream_without_batches_must_still_name_every_field():
    with pytest.raises(ValueError, match="no column named 'c'"):
        shoal.Table.from_arrow(C, pa.table({}))
    assert len(shoal.Table.from_arrow(C, pa.table({"c": pa.array([], pa.string())}))) == 0
