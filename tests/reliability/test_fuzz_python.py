"""Hypothesis over the Python doors hostile data comes in by: pickle buffers and Arrow input.
Whatever arrives, the result is a table whose every row reads, or a TypeError/ValueError."""

import datetime as dt
import pickle

import pytest
import shoal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")


class R(shoal.Record):
    x: float
    n: int | None
    s: str
    b: bytes
    c: shoal.Category
    d: dt.datetime


def sample() -> shoal.Table[R]:
    t = shoal.Table(R)
    for i in range(5):
        t.append(
            i / 3,
            i if i % 2 else None,
            "é" * i,
            b"\x00" * i,
            "ab"[i % 2],
            dt.datetime(2020, 1, i + 1),
        )
    return t


def read_all(t: shoal.Table[R]) -> None:
    for r in t:
        (r.x, r.n, r.s, r.b, r.c, r.d)
    pa.table(t)


@pytest.mark.parametrize("immutable", [False, True], ids=["copied", "read-in-place"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pickles_with_any_buffers_load_or_are_refused(data: st.DataObject, immutable: bool):
    """`bytes` buffers (immutable) are read in place after the checks; others are copied."""
    bufs: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(sample(), protocol=5, buffer_callback=bufs.append)
    raw = [bytearray(b.raw()) for b in bufs]
    for i in data.draw(st.lists(st.integers(0, len(raw) - 1), max_size=3)):
        if data.draw(st.booleans()):
            raw[i] = bytearray(data.draw(st.binary(max_size=64)))
        elif raw[i]:
            k = data.draw(st.integers(0, len(raw[i]) - 1))
            raw[i][k] ^= data.draw(st.integers(1, 255))
    try:
        wrap = bytes if immutable else lambda r: pickle.PickleBuffer(bytes(r))
        t = pickle.loads(payload, buffers=[wrap(r) for r in raw])
    except (TypeError, ValueError):
        return
    read_all(t)


columns = {
    "x": st.one_of(st.floats(), st.integers(-(2**70), 2**70), st.none(), st.text(max_size=3)),
    "n": st.one_of(st.integers(-(2**70), 2**70), st.none(), st.floats()),
    "s": st.one_of(st.text(max_size=5), st.none(), st.binary(max_size=3)),
    "b": st.one_of(st.binary(max_size=5), st.none(), st.text(max_size=3)),
    "c": st.one_of(st.text(max_size=3), st.none()),
    "d": st.one_of(st.datetimes(), st.none(), st.integers()),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_arrow_input_of_any_values_imports_or_is_refused(data: st.DataObject):
    n = data.draw(st.integers(0, 4))
    cols = {}
    for name, values in columns.items():
        if data.draw(st.integers(0, 9)) == 0:
            continue  # a missing column
        drawn = data.draw(st.lists(values, min_size=n, max_size=n))
        try:
            cols[name] = pa.array(drawn)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            return  # pyarrow itself cannot hold these values together
    if data.draw(st.booleans()) and "c" in cols:
        cols["c"] = cols["c"].dictionary_encode()
    table = pa.table(cols)
    try:
        t = shoal.Table.from_arrow(R, table)
    except (TypeError, ValueError):
        return
    assert set(table.column_names) >= {f.name for f in shoal.fields(R)}
    assert len(t) == table.num_rows
    read_all(t)
