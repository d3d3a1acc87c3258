"""Row loops in wall time: paired ratios against ``__slots__`` objects, and the values paths
against pyarrow and polars (issue #12).

    python benches/loops_time.py [--n 1000000] [--repeat 15]

The loops are those of ``loops_ir.py`` (same records, same code), timed with
``time.process_time`` alternately with their peer; the ratio is the median over back-to-back
pairs, so a noisy neighbour slows both sides of a pair alike. Prints markdown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loops_ir


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


def values_peers(t, n: int) -> list[tuple[str, str, Callable[[], object], Callable[[], object]]]:
    """The values paths against pyarrow's and polars' own (each side from its own storage)."""
    import polars as pl
    import pyarrow as pa

    at = pa.table({"x": t["x"].to_list(), "name": t["name"].to_list()})
    df = pl.from_arrow(at)

    def shoal_pairs():
        for _x, _name in t.iter("x", "name"):
            pass

    def polars_pairs():
        for _x, _name in df.iter_rows():
            pass

    def arrow_pairs():
        for _row in at.to_pylist():
            pass

    return [
        (
            '`for x, name in t.iter("x", "name")`',
            "polars `df.iter_rows()`",
            shoal_pairs,
            polars_pairs,
        ),
        (
            '`for x, name in t.iter("x", "name")`',
            "pyarrow `Table.to_pylist()`",
            shoal_pairs,
            arrow_pairs,
        ),
        (
            '`t["name"].to_list()`',
            "pyarrow `to_pylist()`",
            lambda: t["name"].to_list(),
            lambda: at["name"].to_pylist(),
        ),
        (
            '`t["name"].to_list()`',
            "polars `Series.to_list()`",
            lambda: t["name"].to_list(),
            lambda: df["name"].to_list(),
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    loops_ir.N = args.n
    t, objs = loops_ir.build("shoal"), loops_ir.build("slots")
    print(f"CPython {sys.version.split()[0]}, {args.n:,} rows, process time per row\n")
    print("| loop | shoal (ns) | peer | peer (ns) | ratio |")
    print("|---|---:|---|---:|---:|")
    rows = [
        (title, "`__slots__` list", lambda f=f: f(t, 1), lambda f=f: f(objs, 1))
        for title, f, _goal in loops_ir.CASES.values()
    ]
    try:
        rows += values_peers(t, args.n)
    except ImportError as e:
        print(f"(values peers skipped: {e})\n")
    for title, peer, ours, theirs in rows:
        a, b, ratio = paired(ours, theirs, args.repeat)
        print(
            f"| {title} | {a / args.n * 1e9:.1f} | {peer} | {b / args.n * 1e9:.1f} | {ratio:.2f} |"
        )


if __name__ == "__main__":
    main()
