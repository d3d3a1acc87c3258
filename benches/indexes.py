"""Indexes (issue #14): memory per key, single and batch lookups, and building, against a dict
and a pandas Index on the same keys (1M rich records: unique int64 ids and unique 12-character
names).

    python benches/indexes.py [--n 1000000] [--repeat 7]

Times are process time, the ratio the median over back-to-back pairs (see bulk.paired).
Memory is tracemalloc's count of what building each structure allocates (the keys are already
in the table's column, or in the list the dict and pandas are built from, and are not
counted); shoal's index reports its own allocation (`Index.nbytes`), which tracemalloc sees
too. Prints markdown.
"""

from __future__ import annotations

import argparse
import random
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bulk import Rich, data, paired  # noqa: E402


def allocated(build: Callable[[], object]) -> tuple[int, object]:
    """Bytes that `build()` leaves allocated (tracemalloc, its result kept alive)."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, kept


class Slots:
    __slots__ = ("id", "kind", "name", "x", "y", "z")

    def __init__(self, x, y, z, id, name, kind):
        self.x, self.y, self.z, self.id, self.name, self.kind = x, y, z, id, name, kind


def run(n: int, repeat: int) -> None:
    import numpy as np
    import pandas as pd
    import shoal

    rows = data(n)
    # Keys in no particular order (as request ids are): a sorted Index would let pandas
    # binary-search instead of hashing.
    random.Random(3).shuffle(rows)
    t = shoal.Table(Rich)
    t.extend(rows)
    objs = [Slots(*r) for r in rows]
    rng = random.Random(2)
    print(f"{n:,} rows, CPython {sys.version.split()[0]}, pandas {pd.__version__}")
    print()
    print("| keys | measure | shoal | peer | peer value | ratio | goal |")
    print("|---|---|---:|---|---:|---:|---:|")
    for field, col in (("id", 3), ("name", 4)):
        keys = [r[col] for r in rows]
        goal_bytes = 12 if field == "id" else 16
        ours, index = allocated(lambda: t.index_by(field, unique=True))  # noqa: B023
        as_dict, _ = allocated(lambda: {k: i for i, k in enumerate(keys)})  # noqa: B023

        def pandas_index() -> object:
            ix = pd.Index(np.array(keys) if field == "id" else keys)  # noqa: B023
            ix.get_loc(keys[0])  # noqa: B023  (builds the hash table)
            return ix

        as_pandas, pindex = allocated(pandas_index)
        assert index.nbytes <= ours + 4096, (index.nbytes, ours)
        print(
            f"| {field} | bytes/key | {ours / n:.1f} | dict key→row | {as_dict / n:.1f} | "
            f"{ours / as_dict:.2f} | ≤ {goal_bytes} B |"
        )
        print(
            f"| {field} | bytes/key | {ours / n:.1f} | pandas Index | {as_pandas / n:.1f} | "
            f"{ours / as_pandas:.2f} | |"
        )

        by_obj = {o.id if field == "id" else o.name: o for o in objs}
        probe = [keys[rng.randrange(n)] for _ in range(100_000)]

        def ours_single() -> float:
            s = 0.0
            for k in probe:  # noqa: B023
                s += index[k].x  # noqa: B023
            return s

        def dict_single() -> float:
            s = 0.0
            for k in probe:  # noqa: B023
                s += by_obj[k].x  # noqa: B023
            return s

        a, b, r = paired(ours_single, dict_single, repeat)
        print(
            f"| {field} | `ix[k].x` ns | {a / len(probe) * 1e9:.0f} | dict of slots | "
            f"{b / len(probe) * 1e9:.0f} | {r:.2f} | ≤ 1.3 |"
        )
        # The same input for both: a NumPy array of ints, a list of str.
        probe_array = np.array(probe) if field == "id" else probe
        a, b, r = paired(
            lambda: index.positions(probe_array),  # noqa: B023
            lambda: pindex.get_indexer(probe_array),  # noqa: B023
            repeat,
        )
        print(
            f"| {field} | batch of 100k, ns/key | {a / len(probe) * 1e9:.0f} | "
            f"`pd.Index.get_indexer` | {b / len(probe) * 1e9:.0f} | {r:.2f} | ≤ 0.5 |"
        )
        column = t[field]
        a, b, r = paired(
            lambda: t.index_by(field),  # noqa: B023
            lambda: {k: i for i, k in enumerate(column)},  # noqa: B023
            max(3, repeat // 2),
        )
        print(
            f"| {field} | build, ns/key | {a / n * 1e9:.0f} | dict from the column | "
            f"{b / n * 1e9:.0f} | {r:.2f} | ≤ 1.0 |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    run(args.n, args.repeat)


if __name__ == "__main__":
    main()
