"""Saving and opening files: `t.save`, `shoal.open`, `t.batches`, read-only and copy-on-write."""

import copy
import datetime as dt
import enum
import gc
import hashlib
import os
import tracemalloc
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import shoal
from crash import killed_mid_action
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from records import Point, Rec, Sized, rec_values


def rec_table(n: int) -> shoal.Table[Rec]:
    t = shoal.Table(Rec)
    t.extend(rec_values(i) for i in range(n))
    return t


def sized_table(n: int) -> shoal.Table[Sized]:
    t = shoal.Table(Sized)
    for i in range(n):
        t.append(
            i / 8, -(i % 100), i * 3, -i, i * 1000, i % 256, i % 65536, i, 2**63 + i, i % 2 == 0
        )
    return t


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("make", [rec_table, sized_table], ids=["rich", "sized"])
@pytest.mark.parametrize("n", [0, 1, 517])
def test_a_saved_table_opens_with_equal_rows(tmp_path, make, n):
    t = make(n)
    path = tmp_path / "t.arrow"
    t.save(path)
    u = shoal.open(path, t.record_type)
    assert len(u) == n
    assert list(u) == list(t)
    assert u == t
    assert u.is_mapped == (n > 0 or len(pa.ipc.open_file(path).schema) > 0) or not u.is_mapped
    assert sorted(os.listdir(tmp_path)) == ["t.arrow"]


def test_the_file_is_read_in_place_by_pyarrow_and_polars(tmp_path):
    t = rec_table(300)
    path = tmp_path / "t.arrow"
    t.save(str(path))
    before = pa.total_allocated_bytes()
    read = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    assert pa.total_allocated_bytes() == before  # every buffer points into the map
    assert read.num_rows == 300
    assert read.column("name").to_pylist() == [r.name for r in t]
    meta = read.schema.metadata
    assert meta[b"shoal.record"] == b"records.Rec"
    assert pl.read_ipc(path)["score"].to_list() == [r.score for r in t]


def test_numbers_and_text_read_the_map_without_a_copy(tmp_path):
    t = shoal.Table(Point)
    t.extend((i * 0.5, -i) for i in range(100_000))
    path = tmp_path / "p.arrow"
    t.save(path)
    u = shoal.open(path, Point)
    assert u.is_mapped
    x = np.asarray(u["x"].to_numpy())
    with open(path, "rb") as f:
        data = f.read()
    # The array's bytes are in the file: the column is the map, not a copy of it.
    start = data.find(x[:4].tobytes())
    assert start > 0 and start % 64 == 0
    assert data[start : start + x.nbytes] == x.tobytes()


class Event(shoal.Record):
    id: int
    latency: float
    name: str
    service: shoal.Category


def test_opening_allocates_nothing_per_row(tmp_path):
    t = shoal.Table(Event)
    t.extend((i, i / 7, f"event {i}", ("api", "db", "auth")[i % 3]) for i in range(200_000))
    path = tmp_path / "e.arrow"
    t.save(path)
    tracemalloc.start()
    u = shoal.open(path, Event)
    allocated = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Numbers, text and category codes all read the map: what is allocated is per column.
    assert allocated < 64_000, allocated
    assert u == t and u.is_mapped


def test_views_outlive_the_table_and_a_save_that_replaces_the_file(tmp_path):
    path = tmp_path / "p.arrow"
    t = shoal.Table(Point)
    t.extend((i * 0.25, 1.0) for i in range(10_000))
    t.save(path)
    u = shoal.open(path, Point)
    x = u["x"].to_numpy()
    arrow = pa.table(u)
    del u
    gc.collect()
    shoal.Table(Point).save(path)  # the file is replaced by an empty one
    assert len(shoal.open(path, Point)) == 0
    assert x[4321] == 4321 * 0.25 and x.sum() == sum(i * 0.25 for i in range(10_000))
    assert arrow.column("x")[9999].as_py() == 9999 * 0.25


CHANGES = {
    "append": lambda u: u.append(Point(1.0, 2.0)),
    "extend": lambda u: u.extend([Point(1.0, 2.0)]),
    "insert": lambda u: u.insert(0, Point(1.0, 2.0)),
    "setitem": lambda u: u.__setitem__(0, Point(1.0, 2.0)),
    "set column": lambda u: u.__setitem__("x", [0.0] * len(u)),
    "delitem": lambda u: u.__delitem__(0),
    "del slice": lambda u: u.__delitem__(slice(0, 2)),
    "pop": lambda u: u.pop(),
    "remove": lambda u: u.remove(u[0]),
    "clear": lambda u: u.clear(),
    "sort": lambda u: u.sort(key=lambda p: -p.x),
    "sort by": lambda u: u.sort(by="x", reverse=True),
    "row write": lambda u: setattr(u[0], "x", 9.0),
    "iterated row write": lambda u: setattr(next(iter(u)), "y", 9.0),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_a_read_only_table_refuses_every_change_and_the_file_stays(tmp_path, change):
    path = tmp_path / "p.arrow"
    t = shoal.Table(Point)
    t.extend((i, -i) for i in range(5))
    t.save(path)
    before = digest(path)
    u = shoal.open(path, Point)
    with pytest.raises(ValueError, match=r"read-only memory map of '.*p\.arrow'.*mode=\"c\""):
        change(u)
    assert list(u) == list(t)
    assert digest(path) == before
    # mode="c": the same change runs, in memory only.
    c = shoal.open(path, Point, mode="c")
    change(c)
    assert digest(path) == before
    assert list(shoal.open(path, Point)) == list(t)
    assert list(copy.copy(u)) == list(t)  # a copy is an ordinary table
    copy.copy(u).append(Point(0.0))


def test_batches_cover_the_rows_in_order(tmp_path):
    t = rec_table(1000)
    path = tmp_path / "t.arrow"
    t.save(path)
    u = shoal.open(path, Rec)
    for source in (u, t, shoal.open(path, Rec, mode="c")):
        parts = source.batches(300)
        assert len(parts) == 4
        tables = list(parts)
        assert [len(b) for b in tables] == [300, 300, 300, 100]
        assert [r for b in tables for r in b] == list(t)
    mapped = list(u.batches(128))
    assert all(b.is_mapped for b in mapped)
    with pytest.raises(ValueError, match="read-only"):
        mapped[0].append(*rec_values(1))
    with pytest.raises(ValueError, match="at least 1"):
        u.batches(0)


def test_file_errors_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.arrow"):
        shoal.open(tmp_path / "missing.arrow", Point)
    junk = tmp_path / "junk.arrow"
    junk.write_bytes(b"not arrow at all" * 10)
    with pytest.raises(ValueError, match=r"junk\.arrow' is not a readable Arrow IPC file"):
        shoal.open(junk, Point)
    path = tmp_path / "p.arrow"
    shoal.Table(Point).save(path)
    with pytest.raises(ValueError, match=r"p\.arrow' does not fit.*no column named 'name'"):
        shoal.open(path, Rec)

    class Wrong(shoal.Record):
        x: str
        y: float

    with pytest.raises(TypeError, match=r"column 'x' has Arrow type float64.*the field is str"):
        shoal.open(path, Wrong)
    with pytest.raises(ValueError, match="mode must be"):
        shoal.open(path, Point, mode="w")
    with pytest.raises(ValueError, match='"lz4" or "zstd", not "gzip"'):
        shoal.Table(Point).save(path, compression="gzip")
    with pytest.raises(FileNotFoundError):
        shoal.Table(Point).save(tmp_path / "no" / "dir" / "p.arrow")
    with pytest.raises(IsADirectoryError):
        shoal.open(tmp_path, Point)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ValueError, match="not a regular file"):
        shoal.open(tmp_path / "fifo", Point)


def test_a_file_written_by_pyarrow_opens(tmp_path):
    path = tmp_path / "pa.arrow"
    data = pa.table({"x": [1.5, 2.5, None], "y": [0.0, -1.0, 2.0]})
    with pa.ipc.new_file(str(path), data.schema) as w:
        w.write_table(data.slice(0, 2))
        w.write_table(data.slice(2))
    with pytest.raises(ValueError, match="null"):
        shoal.open(path, Point)
    with pa.ipc.new_file(str(path), data.schema) as w:
        w.write_table(data.slice(0, 2), max_chunksize=1)
    u = shoal.open(path, Point)
    assert list(u) == [Point(1.5, 0.0), Point(2.5, -1.0)]
    assert not u.is_mapped  # two record batches: joined in memory
    assert [len(b) for b in u.batches(5)] == [2]  # batches slice the table, not the file


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    damage=st.lists(
        st.tuples(st.integers(0, 10**9), st.integers(1, 255), st.booleans()), min_size=1, max_size=6
    )
)
def test_a_damaged_file_is_an_error_or_rows_never_a_crash(tmp_path, damage):
    path = tmp_path / "d.arrow"
    rec_table(20).save(path)
    data = bytearray(path.read_bytes())
    for at, xor, truncate in damage:
        if truncate and at % 7 == 0:
            del data[at % len(data) :]
            if not data:
                break
        else:
            data[at % len(data)] ^= xor
    path.write_bytes(bytes(data))
    try:
        u = shoal.open(path, Rec)
    except (ValueError, TypeError, OverflowError) as e:
        assert "d.arrow" in str(e)
        return
    # Whatever opens reads back as valid records.
    assert len(list(u)) == len(u)
    for b in u.batches(7):
        assert len(list(b)) == len(b)


def test_a_save_killed_at_any_moment_leaves_the_old_file_or_the_new(tmp_path):
    path = tmp_path / "t.arrow"
    old = shoal.Table(Point)
    old.extend((i, 0.0) for i in range(1000))
    new = shoal.Table(Point)
    new.extend((i, 1.0) for i in range(100_000))

    def restore_old() -> None:
        old.save(path)
        for leftover in tmp_path.glob(".t.arrow.*.shoal-tmp"):
            leftover.unlink()

    outcomes = set()
    for _ in killed_mid_action(lambda: new.save(path), 200, restore_old):
        u = shoal.open(path, Point)
        assert len(u) in (1000, 100_000)
        assert u[len(u) - 1].y == (0.0 if len(u) == 1000 else 1.0)
        outcomes.add(len(u))
        del u
    assert outcomes == {1000, 100_000}  # kills landed both before and after a rename


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_a_compressed_file_is_smaller_and_opens_decompressed_into_memory(tmp_path, compression):
    t = rec_table(3000)
    plain, small = tmp_path / "plain.arrow", tmp_path / "small.arrow"
    t.save(plain)
    t.save(small, compression=compression)
    assert small.stat().st_size < plain.stat().st_size
    u = shoal.open(small, Rec)
    assert not u.is_mapped
    assert list(u) == list(t)
    size = shoal.sizeof(u)
    assert size.mapped == 0 and size.total > 0  # decompressed: the heap's, not the map's
    assert pa.ipc.open_file(small).read_all().equals(pa.ipc.open_file(plain).read_all())
    assert pl.read_ipc(small).equals(pl.read_ipc(plain))
    with shoal.Writer(tmp_path / "w.arrow", Rec, batch_rows=700, compression=compression) as w:
        w.extend(t)
    batches = shoal.open_batches(tmp_path / "w.arrow", Rec)
    assert [b.is_mapped for b in batches] == [False] * 5
    assert [r for b in batches for r in b] == list(t)


def test_without_a_class_the_file_s_schema_makes_one(tmp_path):
    t = rec_table(50)
    path = tmp_path / "t.arrow"
    t.save(path)
    u = shoal.open(path)
    cls = u.record_type
    assert cls.__name__ == "Rec" and issubclass(cls, shoal.Record)
    assert [f.name for f in shoal.fields(cls)] == [f.name for f in shoal.fields(Rec)]
    for mine, theirs in zip(u, t, strict=True):
        # Enums and Literals come back as the categories' names.
        expected = tuple(v.name if isinstance(v, enum.Enum) else v for v in shoal.astuple(theirs))
        assert shoal.astuple(mine) == expected
    assert shoal.record_class_of(path).__name__ == "Rec"


def test_files_from_pyarrow_and_polars_open_without_a_class(tmp_path):
    paris = dt.timezone(dt.timedelta(hours=1))
    data = pa.table(
        {
            "x": pa.array([1.5, None], pa.float64()),
            "n": pa.array([1, 2], pa.int32()),
            "s": ["a", "b"],
            "when": pa.array(
                [dt.datetime(2024, 1, 1, tzinfo=paris)] * 2, pa.timestamp("us", "+01:00")
            ),
            "day": pa.array([dt.date(2020, 1, 1), dt.date(1969, 7, 20)]),
            "kind": pa.array(["p", "q"]).dictionary_encode(),
        }
    )
    path = tmp_path / "pa.arrow"
    with pa.ipc.new_file(str(path), data.schema) as w:
        w.write_table(data)
    u = shoal.open(path)
    assert u[0].x == 1.5 and u[1].x is None and u[1].n == 2 and u[0].s == "a"
    assert u[0].when == dt.datetime(2024, 1, 1, tzinfo=paris) and u[1].day == dt.date(1969, 7, 20)
    assert [r.kind for r in u] == ["p", "q"]
    frame = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    frame.write_ipc(tmp_path / "pl.arrow", compression="uncompressed")
    assert [(r.a, r.b) for r in shoal.open(tmp_path / "pl.arrow")] == list(frame.iter_rows())


def test_a_column_shoal_cannot_store_is_named(tmp_path):
    path = tmp_path / "lists.arrow"
    data = pa.table({"ok": [1.0], "tags": pa.array([[1, 2]], pa.list_(pa.int64()))})
    with pa.ipc.new_file(str(path), data.schema) as w:
        w.write_table(data)
    with pytest.raises(TypeError, match=r"column 'tags' has Arrow format '\+l'"):
        shoal.open(path)


def test_sizeof_reports_the_map_apart_from_the_heap(tmp_path):
    t = shoal.Table(Event)
    t.extend((i, i / 7, f"event {i}", ("api", "db")[i % 2]) for i in range(100_000))
    path = tmp_path / "e.arrow"
    t.save(path)
    in_memory = shoal.sizeof(t)
    u = shoal.open(path, Event, mode="c")
    mapped = shoal.sizeof(u)
    # The columns' bytes are the file's, not the heap's: reported apart, out of the total.
    assert mapped.total < 10_000 < in_memory.total
    assert 0.9 * path.stat().st_size < mapped.mapped <= path.stat().st_size
    assert "memory-mapped files" in str(mapped) and mapped.to_dict()["mapped"] == mapped.mapped
    u[0].latency = 1.0  # the first change copies that column into the heap
    changed = shoal.sizeof(u)
    assert changed.total >= 8 * 100_000 and changed.mapped == mapped.mapped - 8 * 100_000


def test_batches_share_memory_and_writes_stay_apart():
    t = shoal.Table(Event)
    t.extend((i, i / 7, f"event {i}", ("api", "db")[i % 2]) for i in range(50_000))
    rows = list(t)
    tracemalloc.start()
    batches = list(t.batches(10_000))
    allocated = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # Per batch: text offsets (4 bytes a row) and bookkeeping; no numbers, text or codes.
    assert allocated < 5 * (4 * 10_000 + 20_000), allocated
    assert [r for b in batches for r in b] == rows
    batches[1][0].name = "renamed"
    batches[1].append(Event(-1, 0.0, "new", "db"))
    assert t[10_000].name == "event 10000" and len(t) == 50_000
    t[20_000].latency = -1.0
    assert batches[2][0].latency == 20_000 / 7


def test_batches_follow_the_table_as_it_changes():
    t = shoal.Table(Point)
    t.extend((i, 0.0) for i in range(10))
    it = t.batches(4)
    assert len(it) == 3
    assert [p.x for p in next(it)] == [0, 1, 2, 3]
    t.extend((i, 0.0) for i in range(10, 14))
    assert len(it) == 3
    del t[6:]
    assert [p.x for p in next(it)] == [4, 5]
    assert list(it) == []
