"""Deep-size tools on 1,000,000 plain instances: time, reported size, and how much measuring
grew the process (RSS from the OS). Each tool runs in a fresh process.

    python benches/measure.py [--n 1000000]
"""

import argparse
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOLS = ["shoal.sizeof", "objsize", "pympler asizeof", "guppy3"]


def traced_bytes(n: int) -> int:
    sys.path.insert(0, str(HERE))
    import random

    from measure_case import Point

    rnd = random.Random(1).random
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    objs = [Point(rnd()) for _ in range(n)]
    traced = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del objs
    return traced


def census_seconds(objects: int) -> tuple[int, float]:
    """Builds a heap of about `objects` objects (instances, floats, ints) and times a census."""
    import random

    import shoal

    sys.path.insert(0, str(HERE))
    from measure_case import Point

    rnd = random.Random(2).random
    heap = [Point((rnd(), 10_000 + i)) for i in range(objects // 3)]
    report = shoal.census()
    assert heap
    return report.objects, report.seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args()
    truth = traced_bytes(args.n)
    rows = []
    for name in TOOLS:
        out = subprocess.run(
            [sys.executable, str(HERE / "measure_case.py"), name, str(args.n)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    ours = next(r["seconds"] for r in rows if r["tool"] == "shoal.sizeof")
    census_objects, census_time = census_seconds(3_000_000)
    print(f"## Deep size of {args.n:,} plain instances (CPython {sys.version.split()[0]})\n")
    print(f"tracemalloc: the structure's allocations total {truth / 1e6:.1f} MB.\n")
    print("| tool | time (s) | shoal's time / tool's | reported (MB) | RSS grown by measuring |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        if "skipped" in r:
            print(f"| {r['tool']} | — | — | — | skipped: {r['skipped']} |")
            continue
        growth = r["rss_growth"] / 1e6
        share = 100 * r["rss_growth"] / truth
        print(
            f"| {r['tool']} | {r['seconds']:.2f} | {ours / r['seconds']:.3f} "
            f"| {r['reported'] / 1e6:.1f} | {growth:.1f} MB ({share:.0f} %) |"
        )
    print(
        f"\n`shoal.census()` over a heap of {census_objects:,} objects: {census_time:.2f} s "
        "(goal: ≤ 1 s for 3M objects)."
    )


if __name__ == "__main__":
    main()
