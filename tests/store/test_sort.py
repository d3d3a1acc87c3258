"""`Table.sort(key=...)` orders rows as `sorted()` orders the same records: stable, `reverse`
keeping ties in their original order. Float, int and ASCII text keys are compared in Rust;
every other key (mixed kinds, big ints, non-ASCII text, tuples) by Python's own sort."""

from __future__ import annotations

import math

import pytest
import shoal
from hypothesis import given, settings
from hypothesis import strategies as st


class Item(shoal.Record):
    key: float
    label: str
    pos: int


key_lists = st.one_of(
    st.lists(st.floats(allow_nan=False) | st.sampled_from([0.0, -0.0, math.inf, -math.inf])),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.integers(-3, 3)),
    st.lists(st.integers(min_value=-(2**80), max_value=2**80)),
    st.lists(st.text(alphabet="abcAB _~", max_size=4)),
    st.lists(st.text(max_size=4)),
    st.lists(st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False)),
    st.lists(st.tuples(st.integers(0, 2), st.text(max_size=2))),
)


@settings(max_examples=200, deadline=None)
@given(keys=key_lists, reverse=st.booleans())
def test_sort_by_key_is_sorted_of_the_same_records(keys: list, reverse: bool) -> None:
    t = shoal.Table(Item)
    t.extend((0.0, repr(k), i) for i, k in enumerate(keys))
    model = list(range(len(keys)))
    expected = sorted(model, key=keys.__getitem__, reverse=reverse)
    t.sort(key=lambda r: keys[r.pos], reverse=reverse)
    assert [r.pos for r in t] == expected


def test_nan_keys_sort_last_and_the_rest_in_order() -> None:
    t = shoal.Table(Item)
    t.extend([(math.nan, "a", 0), (2.0, "b", 1), (math.nan, "c", 2), (-1.0, "d", 3)])
    t.sort(key=lambda r: r.key)
    assert [r.pos for r in t] == [3, 1, 0, 2]


def test_a_key_that_raises_or_changes_the_table_leaves_it_unchanged() -> None:
    t = shoal.Table(Item)
    t.extend((float(i), "x", i) for i in range(5))

    def bad(r: Item) -> float:
        if r.pos == 3:
            raise KeyError("no key")
        return -r.key

    with pytest.raises(KeyError):
        t.sort(key=bad)
    assert [r.pos for r in t] == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError, match="changed"):
        t.sort(key=lambda r: t.append(0.0, "y", 9) or r.key)
    with pytest.raises(TypeError):
        t.sort(key=lambda r: r.key if r.pos else "text")  # mixed: Python's own sort refuses
