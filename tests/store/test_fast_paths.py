"""The hot paths of `row.x`, `row.x = v`, `t[i]` and iteration give what the general paths give.

Reads and writes of `float`, `int`, `bool`, `str` and category fields take a typed path that
skips the general conversion; everything it does not handle (nulls, shared storage, stale
handles, other value types, busy tables) must fall through to the general path unchanged.
"""

from __future__ import annotations

import pytest
import shoal
from hypothesis import given, settings
from hypothesis import strategies as st


class Row(shoal.Record):
    x: float
    n: int
    flag: bool
    name: str
    kind: shoal.Category
    maybe: float | None


def make(n: int) -> shoal.Table[Row]:
    t = shoal.Table(Row)
    for i in range(n):
        t.append(i * 0.5, i, i % 2 == 0, f"name-{i}", f"k{i % 3}", None if i % 4 == 0 else i * 1.5)
    return t


def as_tuple(r: Row) -> tuple:
    return (r.x, r.n, r.flag, r.name, r.kind, r.maybe)


values = st.one_of(
    st.floats(allow_nan=False),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
)
fields = st.sampled_from(["x", "n", "flag", "name", "kind", "maybe"])


def outcome(record, field, value):
    """The type of the exception `record.field = value` raises, or None."""
    try:
        setattr(record, field, value)
    except Exception as e:
        return type(e)
    return None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-8, 7), fields, values), max_size=30))
def test_writes_through_handles_do_what_writes_to_standalone_records_do(ops):
    # Standalone records never take the table's fast paths: they are the model.
    t = make(6)
    model = [Row(*as_tuple(r)) for r in t]
    for index, field, value in ops:
        if not -len(model) <= index < len(model):
            with pytest.raises(IndexError):
                t[index]
            continue
        ours = outcome(t[index], field, value)
        theirs = outcome(model[index], field, value)
        assert ours == theirs, (field, value)
    assert [as_tuple(r) for r in t] == [as_tuple(m) for m in model]
    assert [as_tuple(t[i]) for i in range(-len(t), 0)] == [as_tuple(m) for m in model]


def test_a_write_to_a_shared_column_copies_it_first():
    t = make(4)
    snapshot = t["x"]
    t[1].x = 99.0
    assert snapshot.to_list()[1] == 0.5 and t[1].x == 99.0


def test_null_rows_read_none_and_take_values_again():
    t = make(5)
    assert t[0].maybe is None
    t[0].maybe = 2.5
    assert t[0].maybe == 2.5
    t[1].maybe = None
    assert t[1].maybe is None


def test_stale_handles_still_raise_on_read_and_write():
    t = make(3)
    h = t[1]
    del t[0]
    with pytest.raises(shoal.StaleRowError):
        h.x
    with pytest.raises(shoal.StaleRowError):
        h.x = 1.0
    assert [r.x for r in t] == [0.5, 1.0]


def test_int_keys_out_of_range_and_past_isize_are_index_errors():
    t = make(3)
    assert t[-1].n == 2 and t[-3].n == 0
    for key in (3, -4, 2**63, -(2**63) - 1, 2**100):
        with pytest.raises(IndexError):
            t[key]
    assert t[True].n == 1  # bool is an int, as in a list


class Rich(shoal.Record):
    x: float
    name: str | None
    when: shoal.tz("UTC")  # type: ignore[valid-type]
    kind: shoal.Category


def rich(n: int) -> shoal.Table[Rich]:
    import datetime as dt

    t = shoal.Table(Rich)
    for i in range(n):
        when = dt.datetime(2020, 1, 1 + i % 28, tzinfo=dt.timezone.utc)
        t.append(i * 0.25, None if i % 3 == 0 else f"n{i}", when, f"k{i % 2}")
    return t


def test_iter_gives_the_values_attribute_reads_give():
    t = rich(10)
    names = ["x", "name", "when", "kind"]
    rows = [tuple(getattr(r, f) for f in names) for r in t]
    assert list(t.iter()) == rows
    assert list(t.iter("name", "x")) == [(r[1], r[0]) for r in rows]
    assert list(t.iter("when")) == [r[2] for r in rows]
    kept = list(t.iter("x", "kind"))  # tuples held by the caller are never refilled
    assert kept == [(r[0], r[3]) for r in rows] and len({id(k) for k in kept}) == len(kept)


def test_iter_refuses_unknown_fields_and_a_table_that_changed():
    t = rich(3)
    with pytest.raises(KeyError, match="no field 'nope'"):
        t.iter("x", "nope")
    with pytest.raises(TypeError):
        t.iter(1)
    it = t.iter("x")
    next(it)
    del t[0]
    with pytest.raises(RuntimeError, match="changed during iteration"):
        next(it)
    it = t.iter("x")
    t.append(9.0, "z", rich(1)[0].when, "k0")  # appends keep rows in place
    assert list(it) == [0.25, 0.5, 9.0]


def test_every_kind_of_key_still_indexes_as_before():
    import numpy as np

    t = make(4)
    held = t[0]  # the cached handle is in use: the next one is new
    other = t[1]
    assert (held.n, other.n) == (0, 1)
    assert t.__getitem__(2).n == t[2].n == t[np.int64(2)].n == 2
    assert [r.n for r in t[1:3]] == [1, 2]
    assert t["n"].to_list() == [0, 1, 2, 3]
    with pytest.raises(TypeError):
        t[1.0]


def test_a_column_iterates_lazily_over_its_snapshot():
    import operator

    t = rich(5)
    it = iter(t["name"])  # the Column itself is gone: the iterator keeps the snapshot
    assert operator.length_hint(it) == 5
    assert next(it) is None and next(it) == "n1"
    t[2].name = "changed"  # the table moves on; the snapshot does not
    del t[:]
    assert operator.length_hint(it) == 3
    assert list(it) == ["n2", None, "n4"] and list(it) == []
    u = rich(4)
    assert list(u["when"]) == u["when"].to_list() and list(u["x"]) == [0.0, 0.25, 0.5, 0.75]
