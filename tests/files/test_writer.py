"""`shoal.Writer`: files built batch by batch, against the same rows in a list; unfinished files
against "every complete batch, recoverable"."""

import os
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
import shoal
from crash import killed_mid_action
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from records import Point, Rec, rec_values


class Event(shoal.Record):
    x: float
    name: str | None
    kind: shoal.Category


def event(i: int) -> tuple:
    """Row `i`: a new category value every third row, so 800 rows outgrow u8 codes."""
    return (i * 0.5, None if i % 7 == 0 else f"name {i}", f"kind {i // 3}")


def rows_of(t) -> list[tuple]:
    return [shoal.astuple(r) for r in t]


def test_a_closed_writer_leaves_every_row_in_batches_that_every_reader_opens(tmp_path):
    path = tmp_path / "e.arrow"
    expected = [event(i) for i in range(2_000)]
    with shoal.Writer(path, Event, batch_rows=300) as w:
        for row in expected:
            w.append(*row)
        assert len(w) == 2_000
        assert w.partial_path.exists() and not path.exists()
    assert w.closed
    assert sorted(os.listdir(tmp_path)) == ["e.arrow"]
    assert rows_of(shoal.open(path, Event)) == expected
    assert rows_of(shoal.open(path)) == expected  # the class from the file's schema
    reader = ipc.open_file(pa.memory_map(str(path)))
    assert reader.num_record_batches == 7
    table = reader.read_all()
    # The category grew past 256 values mid-stream: u32 codes from the start, one dictionary.
    assert table.schema.field("kind").type == pa.dictionary(pa.uint32(), pa.string())
    assert [tuple(r.values()) for r in table.to_pylist()] == expected
    assert pl.read_ipc(path).rows() == expected


def test_the_rich_record_round_trips(tmp_path):
    path = tmp_path / "r.arrow"
    expected = [rec_values(i) for i in range(500)]
    with shoal.Writer(path, Rec, batch_rows=64) as w:
        w.extend(expected[:100])
        t = shoal.Table(Rec)
        t.extend(expected[100:])
        w.write(t)
    model = shoal.Table(Rec)
    model.extend(expected)
    assert list(shoal.open(path, Rec)) == list(model)
    assert pa.ipc.open_file(path).read_all().num_rows == 500


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    calls=st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(0, 5_000)),
            st.tuples(st.just("extend"), st.lists(st.integers(0, 5_000), max_size=40)),
            st.tuples(st.just("flush"), st.none()),
        ),
        max_size=40,
    ),
    batch_rows=st.integers(1, 50),
)
def test_any_sequence_of_calls_writes_the_rows_a_list_would_hold(tmp_path, calls, batch_rows):
    path = tmp_path / "m.arrow"
    if path.exists():
        path.unlink()
    model: list[tuple] = []
    with shoal.Writer(path, Event, batch_rows=batch_rows) as w:
        for call, arg in calls:
            if call == "append":
                w.append(*event(arg))
                model.append(event(arg))
            elif call == "extend":
                w.extend(event(i) for i in arg)
                model.extend(event(i) for i in arg)
            else:
                w.flush()
            assert len(w) == len(model)
    assert rows_of(shoal.open(path, Event)) == model
    assert pl.read_ipc(path).rows() == model if model else True


def test_an_exception_in_the_block_leaves_the_old_file_and_no_partial(tmp_path):
    path = tmp_path / "e.arrow"
    path.write_bytes(b"yesterday's file")
    with pytest.raises(TypeError, match="field 'x' of Event") as refused:
        with shoal.Writer(path, Event, batch_rows=10) as w:
            for i in range(25):
                w.append(*event(i))
            w.append("not a number", None, "k")
    if sys.version_info >= (3, 11):  # notes are 3.11's
        assert "row 25 of the file (row 5 of its current batch)" in refused.value.__notes__[0]
    assert w.closed
    assert sorted(os.listdir(tmp_path)) == ["e.arrow"]
    assert path.read_bytes() == b"yesterday's file"


def test_a_writer_refuses_misuse_clearly(tmp_path):
    path = tmp_path / "e.arrow"
    with pytest.raises(ValueError, match="batch_rows must be at least 1"):
        shoal.Writer(path, Event, batch_rows=0)
    with pytest.raises(FileNotFoundError):
        shoal.Writer(tmp_path / "missing" / "e.arrow", Event)
    w = shoal.Writer(path, Event)
    with pytest.raises(FileExistsError):
        shoal.Writer(path, Event)  # never overwrites an unfinished file
    with pytest.raises(TypeError, match="writes Event rows, the table holds Point"):
        w.write(shoal.Table(Point))
    w.append(1.0, "a", "b")
    w.close()
    w.close()  # closing twice does nothing
    with pytest.raises(ValueError, match="is closed"):
        w.append(1.0, "a", "b")
    with pytest.raises(ValueError, match="is closed"):
        w.extend([])
    v = shoal.Writer(tmp_path / "v.arrow", Event)
    v.abort()
    with pytest.raises(ValueError, match="is aborted"):
        v.close()
    assert not (tmp_path / "v.arrow.partial").exists()
    assert "closed" in repr(w) and "aborted" in repr(v)


def test_a_dropped_writer_leaves_its_batches_recoverable(tmp_path):
    path = tmp_path / "e.arrow"
    w = shoal.Writer(path, Event, batch_rows=100)
    for i in range(350):
        w.append(*event(i))
    del w
    with pytest.raises(FileNotFoundError, match=r"shoal\.recover\("):
        shoal.open(path, Event)
    with pytest.raises(ValueError, match="300 rows in 3 complete batches can be recovered"):
        shoal.open(str(path) + ".partial", Event)
    # pyarrow reads the unfinished file as the stream it is, after the 8-byte magic.
    with open(str(path) + ".partial", "rb") as f:
        f.seek(8)
        assert ipc.open_stream(f).read_all().num_rows == 300
    assert shoal.recover(str(path) + ".partial") == 300
    assert rows_of(shoal.open(path, Event)) == [event(i) for i in range(300)]
    assert sorted(os.listdir(tmp_path)) == ["e.arrow"]


def test_a_writer_killed_at_any_moment_leaves_a_prefix_of_whole_batches(tmp_path):
    """SIGKILL at random moments (200 times): the file at `path` is complete, or the partial
    one recovers to the first k whole batches — never garbage rows, never a crash."""
    path = tmp_path / "e.arrow"
    partial = str(path) + ".partial"
    n, batch = 20_000, 1_000
    expected = [event(i) for i in range(n)]

    def write_all() -> None:  # row by row, as a program would
        with shoal.Writer(path, Event, batch_rows=batch) as w:
            for row in expected:
                w.append(*row)

    def start_afresh() -> None:
        for left in (path, Path(partial)):
            left.unlink(missing_ok=True)

    recovered = set()
    for _ in killed_mid_action(write_all, 200, start_afresh):
        if os.path.exists(partial):
            try:
                rows = shoal.recover(partial)
            except ValueError as e:  # killed before the schema was written
                assert "nothing to recover" in str(e)
                rows = 0
            assert rows % batch == 0
            recovered.add(rows)
        u = shoal.open(path, Event) if path.exists() else []
        got = rows_of(u)
        assert got == expected[: len(got)]
        del u
    assert len(recovered) > 3  # kills landed at many points


def test_sizes_of_batches_follow_batch_rows_and_flush(tmp_path):
    path = tmp_path / "e.arrow"
    with shoal.Writer(path, Event, batch_rows=4) as w:
        w.extend(event(i) for i in range(10))
        w.flush()
        w.append(*event(10))
        w.flush()
        w.flush()  # nothing buffered: no empty batch
    reader = ipc.open_file(str(path))
    sizes = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
    assert sizes == [4, 4, 2, 1]


def test_recover_rewrites_a_complete_file_as_it_is(tmp_path):
    path = tmp_path / "e.arrow"
    with shoal.Writer(path, Event, batch_rows=7) as w:
        w.extend(event(i) for i in range(50))
    assert shoal.recover(path) == 50
    assert rows_of(shoal.open(path, Event)) == [event(i) for i in range(50)]
    with pytest.raises(ValueError, match="no 'ARROW1' magic"):
        (tmp_path / "junk").write_bytes(b"x" * 100)
        shoal.recover(tmp_path / "junk")


def rss_file_mb() -> float:
    """File-backed resident memory of this process (RssFile), in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssFile:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssFile in /proc/self/status")


def test_open_batches_gives_each_file_batch_as_a_mapped_table(tmp_path):
    path = tmp_path / "e.arrow"
    expected = [event(i) for i in range(1_000)]
    with shoal.Writer(path, Event, batch_rows=300) as w:
        w.extend(expected)
    batches = shoal.open_batches(path, Event)
    assert (len(batches), batches.batch_rows, batches.rows) == (4, [300, 300, 300, 100], 1_000)
    tables = list(batches)
    assert all(t.is_mapped for t in tables)
    assert [row for t in tables for row in rows_of(t)] == expected
    assert rows_of(batches[-1]) == expected[900:]
    with pytest.raises(IndexError, match="batch 4 of a file of 4 batches"):
        batches[4]
    with pytest.raises(ValueError, match="read-only"):
        tables[0].append(*event(0))
    changed = shoal.open_batches(path, Event, mode="c")[1]
    changed[0].x = -1.0
    assert changed[0].x == -1.0 and shoal.open_batches(path)[1][0].x == expected[300][0]
    assert "4 batches" in repr(batches)


def test_scans_hand_finished_pages_back_and_the_rows_stay_readable(tmp_path):
    """A scan's file-backed resident memory stays about one batch (pages of finished batches
    are handed back), and rows of a finished batch still read right (they fault back in)."""
    path = tmp_path / "e.arrow"
    n = 400_000
    with shoal.Writer(path, Event, batch_rows=20_000) as w:
        w.extend(event(i) for i in range(n))
    size_mb = path.stat().st_size / 1e6
    saved = tmp_path / "one.arrow"
    shoal.open(path, Event).save(saved)
    for batches in (shoal.open_batches(path, Event), shoal.open(saved, Event).batches(20_000)):
        before = rss_file_mb()
        peak, kept = 0.0, []
        for t in batches:
            assert len(t["x"].to_numpy()) == len(t)
            assert len(set(t["name"])) > 1
            peak = max(peak, rss_file_mb() - before)
            kept.append(t)
        assert peak < size_mb / 4, f"{peak:.1f} MB resident of a {size_mb:.1f} MB file"
        assert shoal.astuple(kept[0][5]) == event(5)
        assert shoal.astuple(kept[-1][-1]) == event(n - 1)


def test_long_scans_and_writes_show_progress_on_stderr_when_asked(tmp_path, capfd):
    """Progress (one way for the package: a line on stderr) appears once work has run two
    seconds, when asked or when stderr is a terminal; never otherwise."""
    path = tmp_path / "e.arrow"
    with shoal.Writer(path, Event, batch_rows=100, progress=True) as w:
        for i in range(500):
            w.append(*event(i))
            if i % 100 == 99:
                time.sleep(0.5)
    for _ in shoal.open(path, Event).batches(100, progress=True):
        time.sleep(0.5)
    err = capfd.readouterr().err
    assert "shoal.Writer: 500 rows written" in err
    assert "shoal batches: 500/500 rows (100 %)" in err
    assert err.count("shoal batches") >= 2  # shown while running, then the final line
    assert err.endswith("\n")
    for _ in shoal.open_batches(path, Event):  # stderr is no terminal here: silent
        time.sleep(0.5)
    assert capfd.readouterr().err == ""


def test_append_adds_rows_after_the_file_s_own_and_leaves_it_until_close(tmp_path):
    path = tmp_path / "e.arrow"
    with shoal.Writer(path, Event, batch_rows=100) as w:
        w.extend(event(i) for i in range(250))
    before = path.read_bytes()
    with shoal.Writer(path, Event, batch_rows=100, append=True) as w:
        assert len(w) == 250
        w.extend(event(i) for i in range(250, 400))  # new categories, numbered after the file's
        assert path.read_bytes() == before
    expected = [event(i) for i in range(400)]
    assert rows_of(shoal.open(path, Event)) == expected
    assert pl.read_ipc(path).rows() == expected
    assert pa.ipc.open_file(path).read_all().num_rows == 400
    with pytest.raises(TypeError):
        with shoal.Writer(path, Event, append=True) as w:
            w.append("bad", None, "k")
    assert rows_of(shoal.open(path, Event)) == expected
    with pytest.raises(FileNotFoundError):
        shoal.Writer(tmp_path / "missing.arrow", Event, append=True)


def test_append_needs_a_file_of_the_writer_s_own_schema(tmp_path):
    saved = tmp_path / "saved.arrow"
    t = shoal.Table(Event)
    t.extend(event(i) for i in range(10))
    t.save(saved)  # open categories saved with u8 codes, a Writer's are u32
    with pytest.raises(
        ValueError, match="column 'kind' is Dictionary\\(UInt8, Utf8\\) in the file"
    ):
        shoal.Writer(saved, Event, append=True)
    assert not (tmp_path / "saved.arrow.partial").exists()
    points = tmp_path / "points.arrow"
    p = shoal.Table(Point)
    p.extend((float(i), 1.0) for i in range(5))
    p.save(points)  # no categories: the same schema as a Writer's
    with shoal.Writer(points, Point, append=True) as w:
        w.append(5.0, 1.0)
    assert [r.x for r in shoal.open(points, Point)] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
