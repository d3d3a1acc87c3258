"""Indexes (`Table.index_by`): lookups against a scan of plain rows, through every change
the table allows; unique keys refused wherever they would repeat; bad keys refused clearly."""

import datetime as dt
import gc
import math

import hypothesis.strategies as st
import pytest
import shoal
from hypothesis.stateful import invariant, rule

from tests.store.test_model import RICH_FIELDS, Rich, check_rich, machine, rich_typed, rich_values


class Event(shoal.Record):
    rid: str
    ts: int
    region: shoal.Category | None = None
    latency: float = 0.0


def events(n: int = 10) -> shoal.Table[Event]:
    t = shoal.Table(Event)
    for i in range(n):
        t.append(f"r-{i}", i * 10, "eu" if i % 2 else "us", i / 4)
    return t


def test_lookup_by_key_returns_write_through_rows():
    t = events()
    by_id = t.index_by("rid", unique=True)
    assert by_id["r-3"] == t[3]
    by_id["r-3"].latency = 9.5
    assert t[3].latency == 9.5
    assert "r-3" in by_id and "zz" not in by_id and 3 not in by_id
    assert by_id.get("zz") is None and by_id.get("zz", 7) == 7 and by_id.get(5) is None
    assert by_id.positions(["r-4", "r-1"]) == [4, 1]
    assert [r.rid for r in by_id.take(["r-4", "r-1"])] == ["r-4", "r-1"]
    assert by_id.unique and not by_id.sorted and by_id.fields == ("rid",)
    assert by_id.table is t


def test_missing_and_wrong_keys_raise_and_change_nothing():
    t = events()
    by_id = t.index_by("rid")
    with pytest.raises(KeyError, match=r"index_by\('rid'\): no row has the key 'nope'"):
        by_id["nope"]
    with pytest.raises(TypeError, match="expects str, got int"):
        by_id[5]
    with pytest.raises(TypeError):
        by_id[["r-1"]]  # unhashable, and not a str
    with pytest.raises(KeyError, match="'gone'"):
        by_id.positions(["r-1", "gone"])
    with pytest.raises(KeyError):
        by_id.take(["gone"])
    by_pair = t.index_by(("region", "ts"))
    with pytest.raises(TypeError, match=r"tuples of 2 values"):
        by_pair["eu"]
    with pytest.raises(TypeError, match=r"not of 3"):
        by_pair[("eu", 10, 1)]
    with pytest.raises(TypeError, match="finds keys, not ranges"):
        by_id.range("a", "b")
    assert len(t) == 10 and by_pair[("eu", 10)].rid == "r-1"


def test_unique_index_refuses_a_repeat_everywhere_naming_both_rows():
    t = events()
    with pytest.raises(ValueError, match="row 2 is already the key of row 0"):
        t.index_by("region", unique=True)
    by_id = t.index_by("rid", unique=True)
    before = t.to_arrow() if hasattr(t, "to_arrow") else None
    with pytest.raises(ValueError, match="already the key of row 3"):
        t.append("r-3", 0)
    with pytest.raises(ValueError, match="already the key of row 3"):
        t.extend([("r-100", 1), ("r-3", 2)])
    with pytest.raises(ValueError, match="already the key of row 3"):
        t.insert(0, "r-3", 0)
    with pytest.raises(ValueError, match="'r-3' for row 4 is already the key of row 3"):
        t[4].rid = "r-3"
    with pytest.raises(ValueError, match="already the key"):
        t["rid"] = ["same"] * len(t)
    assert len(t) == 10 and [r.rid for r in t] == [f"r-{i}" for i in range(10)]
    assert by_id["r-4"].ts == 40 and "r-100" not in by_id
    t[4].rid = "r-4"  # its own key again is no repeat
    t[4].rid = "fresh"
    assert "r-4" not in by_id and by_id["fresh"] == t[4]
    del before


def test_index_follows_deletes_inserts_sorts_and_clear():
    t = events()
    by_id = t.index_by("rid", unique=True)
    by_region = t.index_by("region")
    del t[0]
    assert by_id["r-3"] == t[2] and "r-0" not in by_id
    t.insert(0, "r-new", 5, None)
    assert by_id["r-3"] == t[3] and by_id["r-new"] == t[0]
    assert [r.rid for r in by_region.rows(None)] == ["r-new"]
    t.sort(by="ts", reverse=True)
    assert by_id["r-9"] == t[0]
    assert [r.rid for r in by_region.rows("eu")] == ["r-9", "r-7", "r-5", "r-3", "r-1"]
    del t[t.index(by_id["r-9"])]
    assert "r-9" not in by_id
    t.clear()
    assert "r-3" not in by_id and by_region.rows("eu") == []
    t.append("r-3", 1)
    assert by_id["r-3"] == t[0]


def test_sorted_index_ranges_in_key_order():
    t = shoal.Table(Event)
    for i, ts in enumerate([50, 10, 30, 10, 40]):
        t.append(f"r-{i}", ts)
    by_ts = t.index_by("ts", sorted=True)
    assert [r.rid for r in by_ts.range(10, 40)] == ["r-1", "r-3", "r-2"]
    assert [r.ts for r in by_ts.range(35)] == [40, 50]
    assert [r.ts for r in by_ts.range(stop=30)] == [10, 10]
    t.append("r-5", 20)  # merged in at the next query
    assert [r.ts for r in by_ts.range(10, 40)] == [10, 10, 20, 30]
    t[0].ts = 15
    assert [r.rid for r in by_ts.range(10, 20)] == ["r-1", "r-3", "r-0"]
    assert [r.rid for r in by_ts.rows(10)] == ["r-1", "r-3"] and by_ts[40].rid == "r-4"
    assert by_ts.sorted and by_ts.nbytes >= 4 * len(t)


def test_float_keys_compare_as_equality_does():
    class M(shoal.Record):
        v: float | None

    t = shoal.Table(M)
    for v in [0.0, -0.0, math.nan, 1.5, None, math.nan]:
        t.append(v)
    by_v = t.index_by("v")
    assert by_v.positions([0.0]) == [0, 1] and by_v.positions([-0.0]) == [0, 1]
    assert math.nan not in by_v and by_v.rows(math.nan) == []
    assert by_v.positions([None]) == [4] and by_v.positions([1.5]) == [3]
    t.append(2.0)
    assert by_v.positions([2]) == [6]  # 2 == 2.0, as for a dict
    by_sorted = t.index_by("v", sorted=True)
    assert [r.v for r in by_sorted.range(-1.0)] == [0.0, -0.0, 1.5, 2.0]  # NaN and None in no range


def test_a_forgotten_index_stops_costing_and_refusing():
    t = events()
    by_id = t.index_by("rid", unique=True)
    del by_id
    gc.collect()
    t.append("r-3", 0)  # no unique index left to refuse it
    assert len(t) == 11


def test_references_between_records_through_a_key_survive_moves():
    class Node(shoal.Record):
        id: int
        parent: int | None
        name: str

    tree = shoal.Table(Node)
    tree.extend([(1, None, "root"), (2, 1, "a"), (3, 1, "b"), (4, 2, "a1")])
    by_id = tree.index_by("id", unique=True)
    children = tree.index_by("parent")
    tree.sort(by="name", reverse=True)
    del tree[tree.index(by_id[3])]

    def path(node) -> list[str]:
        names = [node.name]
        while node.parent is not None:
            node = by_id[node.parent]
            names.append(node.name)
        return names[::-1]

    assert path(by_id[4]) == ["root", "a", "a1"]
    assert [c.name for c in children.rows(1)] == ["a"]


# The state machine of test_model, with indexes alive through every operation, and sorts.
Base = machine(Rich, RICH_FIELDS, check_rich, rich_values, rich_typed)
C, S, OPT, D = (RICH_FIELDS.index(f) for f in ("c", "s", "o", "d"))


def sort_key_order(rows: list[tuple], field: int, reverse: bool) -> list[tuple]:
    values = [r for r in rows if r[field] is not None]
    nulls = [r for r in rows if r[field] is None]
    return sorted(values, key=lambda r: r[field], reverse=reverse) + nulls


class IndexedMachine(Base):  # type: ignore[valid-type,misc]
    def __init__(self) -> None:
        super().__init__()
        self.by_c = self.table.index_by("c")
        self.by_so = self.table.index_by(("s", "o"))
        self.by_d = self.table.index_by("d", sorted=True)

    @rule(field=st.sampled_from(["s", "o", "d", "c"]), reverse=st.booleans())
    def sort(self, field, reverse):
        self.table.sort(by=field, reverse=reverse)
        self.model = sort_key_order(self.model, RICH_FIELDS.index(field), reverse)

    @invariant()
    def lookups_match_a_scan(self):
        model = self.model
        absent = ("absent", 0.25, "zz", "a", None, None, dt.date(1, 1, 1))
        probes = [*model[:4], absent]
        for p in probes:
            assert [shoal.astuple(r) for r in self.by_c.rows(p[C])] == [
                r for r in model if r[C] == p[C]
            ]
            pair = (p[S], p[OPT])
            assert [shoal.astuple(r) for r in self.by_so.rows(pair)] == [
                r for r in model if (r[S], r[OPT]) == pair
            ]
            assert (pair in self.by_so) == any((r[S], r[OPT]) == pair for r in model)
        if model:
            lo, hi = min(r[D] for r in model), model[0][D]
            got = [shoal.astuple(r) for r in self.by_d.range(lo, hi)]
            assert got == sorted([r for r in model if lo <= r[D] < hi], key=lambda r: r[D])


test_indexes_match_a_scan_through_every_change = IndexedMachine.TestCase


def test_batch_lookups_agree_with_one_key_at_a_time():
    import numpy as np

    class K(shoal.Record):
        id: int
        maybe: int | None
        group: int

    t = shoal.Table(K)
    rng = np.random.default_rng(5)
    ids = rng.permutation(5_000) * 3
    for i, k in enumerate(ids):
        t.append(int(k), None if i == 0 else int(k), i % 10)  # one null: None == None
    probe = rng.choice(ids, size=2_000)
    where = {int(k): i for i, k in enumerate(ids)}
    for field in ("id", "maybe"):
        ix = t.index_by(field, unique=True)
        keys = [int(k) for k in probe if field == "id" or k in ix]
        got = ix.positions(np.array(keys))
        assert isinstance(got, np.ndarray) and got.dtype == np.int64
        assert got.tolist() == ix.positions(keys) == [where[k] for k in keys]
        with pytest.raises(KeyError, match="no row has the key 1"):
            ix.positions(np.array([keys[0], 1]))
    groups = t.index_by("group")
    assert groups.positions(np.array([3, 1])).tolist() == [
        *range(3, len(t), 10),
        *range(1, len(t), 10),
    ]


def test_sizeof_a_table_counts_its_indexes():
    t = events(10_000)
    before = shoal.sizeof(t).total
    by_id = t.index_by("rid", unique=True)
    by_ts = t.index_by("ts", sorted=True)
    assert by_id.nbytes >= 8 * 10_000 and by_ts.nbytes == 4 * 10_000
    assert shoal.sizeof(t).total - before == by_id.nbytes + by_ts.nbytes
    del by_id, by_ts
    gc.collect()
    assert shoal.sizeof(t).total == before  # dropped indexes are not counted
