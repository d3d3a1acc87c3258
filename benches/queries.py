"""Selection and sorting on the columns (issue #14): paired process-time ratios against polars
on the same data (1M rich records: three floats, an int id, a 12-character name, a category of
8 values).

    python benches/queries.py [--n 1000000] [--repeat 9]

Each case times shoal and polars alternately; the ratio is the median over back-to-back pairs,
the ns/row figures the best of each side. shoal's sort works in place, so it sorts a fresh copy
(`t[:]`, included in its time) where polars returns a sorted frame. Prints markdown.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bulk import Rich, data, paired  # noqa: E402

GOALS = {
    "sort": (1.5, '`t.sort(by="x")` (on a copy)', '`df.sort("x")`'),
    "sort2": (1.5, '`t.sort(by=["kind", "x"])` (on a copy)', '`df.sort(["kind", "x"])`'),
    "where": (1.5, '`t.where(kind="category-3")`', '`df.filter(pl.col("kind") == ...)`'),
    "mask": (1.5, "`t[mask]` (NumPy bool array)", "`df.filter(mask)`"),
    "take": (1.5, "`t.take(positions)` (100k)", "`df[positions]`"),
}


def cases(n: int) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    import numpy as np
    import polars as pl
    import shoal

    t = shoal.Table(Rich)
    t.extend(data(n))
    df = pl.DataFrame(t)
    df = df.with_columns(pl.col("kind").cast(pl.Categorical))
    rng = np.random.default_rng(0)
    mask = rng.random(n) < 0.5
    series = pl.Series(mask)
    positions = [random.Random(1).randrange(n) for _ in range(100_000)]
    array = np.array(positions)

    def sort_copy(by: str | list[str]) -> Callable[[], object]:
        def run() -> object:
            u = t[:]
            u.sort(by=by)
            return u

        return run

    return {
        "sort": (sort_copy("x"), lambda: df.sort("x")),
        "sort2": (sort_copy(["kind", "x"]), lambda: df.sort(["kind", "x"])),
        "where": (
            lambda: t.where(kind="category-3"),
            lambda: df.filter(pl.col("kind") == "category-3"),
        ),
        "mask": (lambda: t[mask], lambda: df.filter(series)),
        "take": (lambda: t.take(array), lambda: df[array]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--only", default=",".join(GOALS))
    args = ap.parse_args()
    built = cases(args.n)
    print(f"{args.n:,} rows, CPython {sys.version.split()[0]}, process time, {args.repeat} pairs")
    print()
    print("| operation | shoal ns/row | polars | polars ns/row | ratio (median) | goal |")
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
