"""Bulk paths in and out (issue #17): paired process-time ratios against the nearest peer, on
the rich record (three floats, an int id, a unique 12-character name, a category of 8 values).

    python benches/bulk.py [--n 1000000] [--repeat 9] [--only from_arrow,pickle,...]
    python benches/bulk.py --memory [--n 1000000]     # peak memory of each shoal operation

Each case times shoal and its peer alternately, ``--repeat`` times; the ratio is the median over
back-to-back pairs (a noisy neighbour slows both sides of a pair alike), the ns/row figures the
best of each side. Both sides start from the same data, built once before timing. Prints
markdown. Not part of the tests.

``--memory`` runs each shoal operation once in a fresh process, after building its input:
RSS from the OS (VmHWM reset through /proc/self/clear_refs just before), as the peak above
the RSS before the operation and the RSS the result keeps.
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import shoal  # noqa: E402
from rich_case import CATEGORIES  # noqa: E402


class Rich(shoal.Record):
    """rich_case's record, at module level so that pickle finds it."""

    x: float
    y: float
    z: float
    id: int
    name: str
    kind: shoal.Category


#: name -> (goal ratio, description, peer description)
GOALS = {
    "from_arrow": (2.0, "`Table.from_arrow(at)`", "`polars.from_arrow(at)`"),
    "pickle": (1.5, "`pickle.loads` (protocol 5)", "pyarrow `pickle.loads`"),
    "extend": (1.0, "`t.extend(tuples)`", "list of `msgspec.Struct(gc=False)`"),
    "sort": (1.2, "`t.sort(key=lambda r: r.x)`", "`list.sort` on `__slots__` objects"),
    "to_pandas": (1.2, "`t.to_pandas()`", "`pa.Table.to_pandas()`"),
    "column_iter": (1.2, '`for x in t["x"]`', "`for p in slots: p.x`"),
}


def paired(ours: Callable[[], object], theirs: Callable[[], object], repeat: int):
    mine, peer, ratios = [], [], []
    for _ in range(repeat):
        t0 = time.process_time()
        ours()
        t1 = time.process_time()
        theirs()
        t2 = time.process_time()
        mine.append(t1 - t0)
        peer.append(t2 - t1)
        ratios.append((t1 - t0) / (t2 - t1))
    return min(mine), min(peer), statistics.median(ratios)


def data(n: int) -> list[tuple[Any, ...]]:
    rnd = random.Random(1).random
    return [(rnd(), rnd(), rnd(), i, f"user{i:08d}", CATEGORIES[i % 8]) for i in range(n)]


def cases(n: int) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    import msgspec
    import polars as pl
    import pyarrow as pa

    rec = Rich
    tuples = data(n)
    t = shoal.Table(rec)
    t.extend(tuples)
    names = [f.name for f in shoal.fields(rec)]
    # The Arrow table as pyarrow builds it (its own memory, as after reading a Parquet file).
    at = pa.table({k: [r[i] for r in tuples] for i, k in enumerate(names)})
    at = at.set_column(5, "kind", at.column("kind").dictionary_encode())
    arrow_blob = pickle.dumps(at, protocol=5)
    blob = pickle.dumps(t, protocol=5)

    class M(msgspec.Struct, gc=False):
        x: float
        y: float
        z: float
        id: int
        name: str
        kind: str

    class Slot:
        __slots__ = tuple(names)

        def __init__(self, *values: Any) -> None:
            for k, v in zip(names, values, strict=True):
                setattr(self, k, v)

    slots = [Slot(*r) for r in tuples]
    column = t["x"]

    def shoal_extend() -> object:
        u = shoal.Table(rec)
        u.extend(tuples)
        return u

    def shoal_sort() -> object:
        u = t[:]
        u.sort(key=lambda r: r.x)
        return u

    def slots_sort() -> None:
        u = slots[:]
        u.sort(key=lambda r: r.x)

    def column_iter() -> None:
        for _x in column:
            pass

    def slots_iter() -> None:
        for p in slots:
            p.x  # noqa: B018

    return {
        "from_arrow": (lambda: shoal.Table.from_arrow(rec, at), lambda: pl.from_arrow(at)),
        "pickle": (lambda: pickle.loads(blob), lambda: pickle.loads(arrow_blob)),
        "extend": (shoal_extend, lambda: [M(*r) for r in tuples]),
        "sort": (shoal_sort, slots_sort),
        "to_pandas": (t.to_pandas, at.to_pandas),
        "column_iter": (column_iter, slots_iter),
    }


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def memory_case(name: str, n: int) -> dict[str, float]:
    """Runs shoal's side of case `name` once; RSS before, peak during, kept after."""
    ours, _ = cases(n)[name]
    gc.collect()
    before = status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    result = ours()
    peak = status_kb("VmHWM")
    kept = status_kb("VmRSS")
    del result
    return {"peak": peak - before, "kept": kept - before}


def memory_table(n: int, names: list[str]) -> None:
    print(f"{n:,} rows, CPython {sys.version.split()[0]}, RSS from the OS, one process per row")
    print()
    print("| operation | peak above the input (MB) | kept by the result (MB) |")
    print("|---|---:|---:|")
    for name in names:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-case", name, "--n", str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {GOALS[name][1]} | {r['peak'] / 1e6:.1f} | {r['kept'] / 1e6:.1f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--only", default=",".join(GOALS))
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--memory-case")
    args = ap.parse_args()
    if args.memory_case:
        print(json.dumps(memory_case(args.memory_case, args.n)))
        return
    if args.memory:
        memory_table(args.n, args.only.split(","))
        return
    built = cases(args.n)
    print(f"{args.n:,} rows, CPython {sys.version.split()[0]}, process time, {args.repeat} pairs")
    print()
    print("| operation | shoal ns/row | peer | peer ns/row | ratio (median) | goal |")
    print("|---|---:|---|---:|---:|---:|")
    for name in args.only.split(","):
        goal, ours_name, peer_name = GOALS[name]
        ours, theirs = built[name]
        mine, peer, ratio = paired(ours, theirs, args.repeat)
        print(
            f"| {ours_name} | {mine / args.n * 1e9:.1f} | {peer_name} "
            f"| {peer / args.n * 1e9:.1f} | {ratio:.2f} | ≤ {goal} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
