"""Finding rows without a loop (issue #14, first part): `sort(by=...)`, `where`, `take`,
`t[rows]`, `t[mask]`, `head`/`tail`, `filter` and the Sequence methods, each compared with the
same operation on a plain list of the records' values."""

from __future__ import annotations

import collections.abc
import functools
import math

import numpy as np
import pytest
import shoal
from hypothesis import given, settings
from hypothesis import strategies as st


class Ev(shoal.Record):
    x: float
    name: str
    kind: shoal.Category
    n: int | None


rows_st = st.lists(
    st.tuples(
        st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1.0]),
        st.text(max_size=3),
        st.sampled_from(["a", "b", "é", "ab"]),
        st.none() | st.integers(-(2**63), 2**63 - 1) | st.integers(-2, 2),
    ),
    max_size=40,
)
FIELDS = ("x", "name", "kind", "n")


def table(rows: list[tuple]) -> shoal.Table[Ev]:
    t = shoal.Table(Ev)
    t.extend(rows)
    return t


def as_rows(t: shoal.Table[Ev]) -> list[tuple]:
    return [(r.x, r.name, r.kind, r.n) for r in t]


def same(a: list[tuple], b: list[tuple]) -> bool:
    """Equal rows, NaN equal to NaN (it is one value here)."""
    key = lambda v: "nan" if isinstance(v, float) and math.isnan(v) else v  # noqa: E731
    return [tuple(map(key, r)) for r in a] == [tuple(map(key, r)) for r in b]


def model_cmp(fields: list[int], reverse: bool):
    """The documented order: nulls last, NaN after every number, -0.0 == 0.0, text by code
    points; `reverse` flips the values only; ties keep their order (Python's sort is stable)."""

    def value_cmp(a, b) -> int:
        if isinstance(a, float):
            a, b = (
                (math.isnan(a), 0.0 if math.isnan(a) else a),
                (math.isnan(b), 0.0 if math.isnan(b) else b),
            )
        return (a > b) - (a < b)

    def cmp(r1, r2) -> int:
        for f in fields:
            a, b = r1[f], r2[f]
            if a is None or b is None:
                c = (a is None) - (b is None)
            else:
                c = value_cmp(a, b) * (-1 if reverse else 1)
            if c:
                return c
        return 0

    return functools.cmp_to_key(cmp)


@settings(max_examples=200, deadline=None)
@given(
    rows=rows_st,
    by=st.lists(st.sampled_from(range(4)), min_size=1, max_size=3),
    reverse=st.booleans(),
)
def test_sort_by_fields_matches_the_documented_order(rows, by, reverse):
    t = table(rows)
    t.sort(by=[FIELDS[f] for f in by], reverse=reverse)
    assert same(as_rows(t), sorted(rows, key=model_cmp(by, reverse)))


@settings(max_examples=200, deadline=None)
@given(rows=rows_st, data=st.data())
def test_where_take_mask_head_tail_filter_match_a_list(rows, data):
    t = table(rows)
    kind = data.draw(st.sampled_from(["a", "b", "é", "zz"]))
    n = data.draw(st.none() | st.integers(-2, 2))
    assert same(as_rows(t.where(kind=kind)), [r for r in rows if r[2] == kind])
    assert same(as_rows(t.where(kind=kind, n=n)), [r for r in rows if r[2] == kind and r[3] == n])
    assert same(as_rows(t.where()), rows)
    positions = (
        data.draw(st.lists(st.integers(-len(rows), len(rows) - 1), max_size=10)) if rows else []
    )
    assert same(as_rows(t.take(positions)), [rows[p] for p in positions])
    assert same(as_rows(t[positions]), [rows[p] for p in positions]) if positions else True
    mask = data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))
    expected = [r for r, m in zip(rows, mask, strict=True) if m]
    assert same(as_rows(t[np.array(mask, dtype=bool)]), expected)
    if rows:
        assert same(as_rows(t[mask]), expected)
    k = data.draw(st.integers(0, 50))
    assert same(as_rows(t.head(k)), rows[:k])
    assert same(as_rows(t.tail(k)), rows[len(rows) - min(k, len(rows)) :])
    assert same(
        as_rows(t.filter(lambda r: r.n is not None and r.n > 0)),
        [r for r in rows if r[3] is not None and r[3] > 0],
    )
    assert same(as_rows(t), rows)  # selections copy; the table is unchanged


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.intp])
def test_positions_may_be_numpy_ints_of_any_width(dtype):
    t = table([(float(i), str(i), "a", i) for i in range(5)])
    assert [r.n for r in t[np.array([4, 0, 2], dtype=dtype)]] == [4, 0, 2]
    assert [r.n for r in t.take(np.array([1, 1], dtype=dtype))] == [1, 1]
    with pytest.raises(TypeError, match="not ndarray"):
        t[np.array([1.0, 2.0])]


def test_a_table_keeps_the_sequence_methods_but_is_not_registered_as_one():
    # Registered, polars (2.1) would read `pl.DataFrame(t)` as one column of row objects (it
    # checks `Sequence` before the Arrow stream interface), and pandas (3.1) `pd.DataFrame(t)`
    # would raise AttributeError (it hands a registered Sequence to its ndarray path).
    t = table([(1.0, "a", "a", 1), (2.0, "b", "b", None), (1.0, "a", "a", 1)])
    assert not isinstance(t, collections.abc.Sequence)
    assert t.count(Ev(1.0, "a", "a", 1)) == 2
    assert t.index(Ev(1.0, "a", "a", 1)) == 0
    assert t.index(Ev(1.0, "a", "a", 1), 1) == 2
    assert Ev(2.0, "b", "b", None) in t
    assert [r.x for r in reversed(t)] == [1.0, 2.0, 1.0]
    with pytest.raises(ValueError, match="no row equal"):
        t.index(Ev(9.0, "z", "a", None))
    t.remove(Ev(1.0, "a", "a", 1))  # the first equal row, as list.remove
    assert as_rows(t) == [(2.0, "b", "b", None), (1.0, "a", "a", 1)]
    with pytest.raises(ValueError, match=r"Table.remove\(x\): no row equal"):
        t.remove(Ev(9.0, "z", "a", None))


@pytest.mark.parametrize(
    ("attempt", "error", "message"),
    [
        (lambda t: t[[0, 3]], IndexError, "index 3 out of range for a table of 3 rows"),
        (lambda t: t.take([-4]), IndexError, "index -4 out of range"),
        (lambda t: t[[True, False]], ValueError, "a mask of 2 values for a table of 3 rows"),
        (lambda t: t[np.ones(4, dtype=bool)], ValueError, "a mask of 4 values"),
        (lambda t: t.where(x="one"), TypeError, "field 'x' of Ev"),
        (lambda t: t.where(color="red"), KeyError, "Ev has no field 'color'"),
        (lambda t: t.sort(by="color"), KeyError, "Ev has no field 'color'"),
        (lambda t: t.sort(by="x", key=lambda r: r.x), TypeError, "not both"),
        (lambda t: t.filter(lambda r: t.append(0.0, "", "a", None)), RuntimeError, "changed"),
    ],
)
def test_bad_selections_are_clear_errors_and_change_nothing(attempt, error, message):
    rows = [(1.0, "a", "a", 1), (2.0, "b", "b", None), (0.5, "c", "a", 2)]
    t = table(rows)
    with pytest.raises(error, match=message):
        attempt(t)
    if error is not RuntimeError:
        assert as_rows(t) == rows


@given(rows_st, rows_st)
@settings(max_examples=60, deadline=None)
def test_concat_is_the_rows_one_after_another(a, b):
    ta, tb = shoal.Table(Ev), shoal.Table(Ev)
    ta.extend(a)
    tb.extend(b)
    joined = shoal.concat([ta, tb, ta])
    assert same(as_rows(joined), as_rows(ta) + as_rows(tb) + as_rows(ta))
    joined.append(0.0, "new", "a", None)  # a copy: the inputs are unchanged
    assert len(ta) == len(a) and len(tb) == len(b)


def test_concat_refuses_mixed_record_types_and_no_tables():
    class Other(shoal.Record):
        x: float

    with pytest.raises(TypeError, match="a table of Other among tables of Ev"):
        shoal.concat([shoal.Table(Ev), shoal.Table(Other)])
    with pytest.raises(ValueError, match="at least one table"):
        shoal.concat([])
    with pytest.raises(TypeError):
        shoal.concat([[1, 2]])


def test_large_selections_gathered_on_several_threads_keep_every_column_in_order():
    n = 300_000  # past the threshold where columns are gathered in parallel
    t = shoal.Table(Ev)
    t.extend((float(i), f"n{i}", "ab"[i % 2], None if i % 5 == 0 else i) for i in range(n))
    mask = np.arange(n) % 3 != 0
    picked = t[mask]
    kept = [i for i in range(n) if i % 3 != 0]
    assert picked["x"].to_list() == [float(i) for i in kept]
    assert picked["name"].to_list() == [f"n{i}" for i in kept]
    assert picked["kind"].to_list() == ["ab"[i % 2] for i in kept]
    assert picked["n"].to_list() == [None if i % 5 == 0 else i for i in kept]
