"""Pickles are checked like Arrow input, cycles through columns are collected, and deletes are
one pass (../shared/repros/reliability/06, 10, 16, 18)."""

import datetime as dt
import gc
import pickle
import struct
import weakref

import pytest
import shoal


class S(shoal.Record):
    s: str


class D(shoal.Record):
    d: dt.datetime


def tampered(t: shoal.Table, *replace: bytes) -> tuple[bytes, list[pickle.PickleBuffer]]:
    bufs: list[pickle.PickleBuffer] = []
    data = pickle.dumps(t, protocol=5, buffer_callback=bufs.append)
    for i, b in enumerate(replace):
        bufs[i] = pickle.PickleBuffer(b)
    return data, bufs


def test_a_pickle_whose_offsets_split_a_character_is_refused():
    t = shoal.Table(S)
    t.append("é")
    t.append("x")
    # Rows b"\xc3" and b"\xa9": each invalid, though the buffer as a whole is valid UTF-8.
    data, bufs = tampered(t, struct.pack("=3i", 0, 1, 2), "é".encode())
    with pytest.raises(ValueError, match="column 's' is corrupt"):
        pickle.loads(data, buffers=bufs)


def test_a_pickle_with_a_datetime_out_of_range_is_refused():
    t = shoal.Table(D)
    t.append(dt.datetime(2020, 1, 1))
    data, bufs = tampered(t, struct.pack("=q", 2**63 - 1))
    with pytest.raises(ValueError, match="column 'd' is corrupt"):
        pickle.loads(data, buffers=bufs)


def test_a_cycle_through_a_column_is_collected():
    def make() -> weakref.ref[type]:
        class P(shoal.Record):
            x: float

        t = shoal.Table(P)
        t.append(1.0)
        P.cached = t["x"]  # type: ignore[attr-defined]
        return weakref.ref(P)

    refs = [make() for _ in range(50)]
    gc.collect()
    assert sum(r() is not None for r in refs) == 0


@pytest.mark.parametrize(
    "key", [slice(None, 500), slice(3, None, 7), slice(None, None, -3), slice(0)]
)
def test_slice_deletes_match_a_list(key: slice):
    t = shoal.Table(S)
    model = [f"row {i} " * (i % 5) for i in range(1000)]
    t.extend([(s,) for s in model])
    t[10].s = "overwritten, longer than before"  # a side-region row, too
    model[10] = "overwritten, longer than before"
    del t[key]
    del model[key]
    assert [r.s for r in t] == model
    while model:
        assert t.pop().s == model.pop()
    assert len(t) == 0
