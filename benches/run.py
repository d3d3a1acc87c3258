"""shoal benchmarks: ratios against peers measured in the same run. Not part of the tests.

    make bench                      # or: python benches/run.py [--n 1000000] [--repeat 5]

Memory: each case builds N records holding one float in a fresh process (memory_case.py);
figures are RSS from the OS (kept = VmRSS added, peak = VmHWM while building).
Speed: best of --repeat runs in this process, in ns per operation, with the ratio to the
peer named in the goal. Goals are the targets of issue #2; a ratio above its goal is reported,
not hidden.
"""

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def memory_rows(n: int) -> list[dict]:
    from memory_case import CASES

    rows = []
    for case in CASES:
        out = subprocess.run(
            [sys.executable, str(HERE / "memory_case.py"), case, str(n)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  measured {case}", file=sys.stderr)
    return rows


def paired(ours, theirs, repeat: int) -> tuple[float, float, float]:
    """Times both alternately `repeat` times: best times, and the median of per-pair ratios
    (pairs run back to back, so a noisy neighbour slows both sides of a pair alike)."""
    mine, peer, ratios = [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        ours()
        t1 = time.perf_counter()
        theirs()
        t2 = time.perf_counter()
        mine.append(t1 - t0)
        peer.append(t2 - t1)
        ratios.append((t1 - t0) / (t2 - t1))
    return min(mine), min(peer), statistics.median(ratios)


def speed_rows(n: int, repeat: int) -> list[tuple[str, str, float, float, float]]:
    import numpy as np
    import shoal

    class Point(shoal.Record):
        x: float

    class Slot:
        __slots__ = ("x",)

        def __init__(self, x: float) -> None:
            self.x = x

    rng = random.Random(0)
    xs = [rng.random() for _ in range(n)]
    idx = [rng.randrange(n) for _ in range(n)]

    def shoal_append():
        t = shoal.Table(Point)
        for x in xs:
            t.append(x)
        return t

    peers = {}
    try:
        import msgspec

        class M(msgspec.Struct, gc=False):
            x: float

        def msgspec_build():
            out = []
            for x in xs:
                out.append(M(x))
            return out

        peers["msgspec"] = msgspec_build
    except ImportError:
        pass

    t = shoal_append()
    objs = [Slot(x) for x in xs]
    arr = np.asarray(xs)

    def it_table():
        s = 0.0
        for p in t:
            s += p.x
        return s

    def it_slots():
        s = 0.0
        for p in objs:
            s += p.x
        return s

    def get_table():
        s = 0.0
        for i in idx:
            s += t[i].x
        return s

    def get_slots():
        s = 0.0
        for i in idx:
            s += objs[i].x
        return s

    def set_table():
        for i in idx:
            t[i].x = 0.5

    def set_slots():
        for i in idx:
            objs[i].x = 0.5

    rows = []

    def add(name, peer_name, goal, ours, theirs, per):
        a, b, ratio = paired(ours, theirs, repeat)
        rows.append((name, peer_name, a / per * 1e9, b / per * 1e9, ratio, goal))

    if "msgspec" in peers:
        add(
            "append loop (1 float)",
            "msgspec Struct(gc=False) creation",
            1.2,
            shoal_append,
            peers["msgspec"],
            n,
        )
    add("for p in t: s += p.x", "list of __slots__ objects", 2.0, it_table, it_slots, n)
    add("t[i].x at random i", "objs[i].x, __slots__", 0.6, get_table, get_slots, n)
    add("t[i].x = v at random i", "objs[i].x = v, __slots__", 2.0, set_table, set_slots, n)
    add('t["x"].sum()', "numpy.sum(array)", 1.2, lambda: t["x"].sum(), lambda: arr.sum(), n)
    add(
        'np.asarray(t["x"]).sum()',
        "numpy.sum(array)",
        1.2,
        lambda: np.asarray(t["x"]).sum(),
        lambda: arr.sum(),
        n,
    )
    return rows


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, CPython {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))

    print(f"# shoal benchmarks — {time.strftime('%Y-%m-%d')}\n")
    print(
        f"Machine: {machine()}  \nN = {args.n:,}; command: `python benches/run.py --n {args.n}`\n"
    )
    if not args.skip_memory:
        print("## Memory: N records holding one float, built one at a time (RSS from the OS)\n")
        print(
            "| approach | RSS kept (MB) | peak while building (MB) | bytes/record "
            "| times raw data | build (s) |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for r in memory_rows(args.n):
            if "skipped" in r:
                print(f"| {r['approach']} | — | — | — | — | skipped: {r['skipped']} |")
                continue
            per = r["kept"] / args.n
            print(
                f"| {r['approach']} | {r['kept'] / 1e6:.1f} | {r['peak'] / 1e6:.1f} | {per:.1f} "
                f"| {per / 8:.1f} | {r['seconds']:.2f} |"
            )
        print(
            "\nRaw data: 8 bytes/record (8.0 MB). "
            "Goal for shoal.Table: kept ≤ 8.4 MB, peak ≤ 9.0 MB.\n"
        )
    print(
        f"## Speed (ns per operation: best of {args.repeat} runs; ratio: median over "
        "back-to-back pairs)\n"
    )
    print("| operation | peer | shoal (ns) | peer (ns) | ratio | goal | met |")
    print("|---|---|---:|---:|---:|---:|:-:|")
    for name, peer, ours, theirs, ratio, goal in speed_rows(args.n, args.repeat):
        met = "yes" if ratio <= goal else "**no**"
        print(f"| {name} | {peer} | {ours:.1f} | {theirs:.1f} | {ratio:.2f} | ≤ {goal} | {met} |")


if __name__ == "__main__":
    main()
