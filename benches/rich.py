"""The rich-record benchmark (issue #3): three floats, an int id, a unique 12-character name and
a category of 8 values; N rows built one at a time from a Python loop. Not part of the tests.

    python benches/rich.py [--n 1000000] [--repeat 7]

Memory: each approach in a fresh process (rich_case.py); RSS from the OS (kept = VmRSS added,
peak = VmHWM while building). Speed: ns per operation, best of --repeat runs, and the median
ratio over back-to-back pairs against the peer named in the goal.
"""

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from rich_case import APPROACHES, rows, shoal_record  # noqa: E402
from run import machine, paired  # noqa: E402


def memory_table(n: int, optional: bool) -> None:
    print("| approach | RSS kept (MB) | peak while building (MB) | bytes/record | build (s) |")
    print("|---|---:|---:|---:|---:|")
    for name in APPROACHES:
        flag = ["--optional"] if optional else []
        out = subprocess.run(
            [sys.executable, str(HERE / "rich_case.py"), name, str(n), *flag],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  measured {name}", file=sys.stderr)
        if "skipped" in r:
            print(f"| {name} | — | — | — | skipped: {r['skipped']} |")
            continue
        print(
            f"| {name} | {r['kept'] / 1e6:.1f} | {r['peak'] / 1e6:.1f} "
            f"| {r['kept'] / n:.1f} | {r['seconds']:.2f} |"
        )


def speed_table(n: int, repeat: int) -> None:
    import msgspec
    import shoal

    Rec = shoal_record(optional=False)

    class M(msgspec.Struct, gc=False):
        x: float
        y: float
        z: float
        id: int
        name: str
        kind: str

    class Slot:
        __slots__ = ("id", "kind", "name", "x", "y", "z")

        def __init__(self, x, y, z, id, name, kind):
            self.x, self.y, self.z, self.id, self.name, self.kind = x, y, z, id, name, kind

    data = list(rows(n))
    rng = random.Random(0)
    idx = [rng.randrange(n) for _ in range(n)]

    def shoal_append():
        t = shoal.Table(Rec)
        append = t.append
        for r in data:
            append(*r)
        return t

    def msgspec_build():
        out = []
        append = out.append
        for r in data:
            append(M(*r))
        return out

    t = shoal_append()
    objs = [Slot(*r) for r in data]

    def iter_table():
        for r in t:
            r.name  # noqa: B018 - the read is what is timed

    def iter_slots():
        for o in objs:
            o.name  # noqa: B018

    def get_table():
        for i in idx:
            t[i].name  # noqa: B018

    def get_slots():
        for i in idx:
            objs[i].name  # noqa: B018

    def cat_table():
        for r in t:
            r.kind  # noqa: B018

    def cat_slots():
        for o in objs:
            o.kind  # noqa: B018

    print("| operation | peer | shoal (ns) | peer (ns) | ratio | goal | met |")
    print("|---|---|---:|---:|---:|---:|:-:|")
    cases = [
        ("append loop (rich record)", "msgspec Struct(gc=False)", 1.2, shoal_append, msgspec_build),
        ("for r in t: r.name", "list of __slots__ objects", 2.0, iter_table, iter_slots),
        ("t[i].name at random i", "objs[i].name, __slots__", 2.0, get_table, get_slots),
        ("for r in t: r.kind (category)", "list of __slots__ objects", None, cat_table, cat_slots),
    ]
    for name, peer, goal, ours, theirs in cases:
        a, b, ratio = paired(ours, theirs, repeat)
        goal_text = f"≤ {goal}" if goal else "—"
        met = "—" if goal is None else ("yes" if ratio <= goal else "**no**")
        print(
            f"| {name} | {peer} | {a / n * 1e9:.1f} | {b / n * 1e9:.1f} | {ratio:.2f} "
            f"| {goal_text} | {met} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--skip-memory", action="store_true")
    args = ap.parse_args()
    print(f"# shoal rich-record benchmark — {time.strftime('%Y-%m-%d')}\n")
    command = f"python benches/rich.py --n {args.n}"
    print(f"Machine: {machine()}  \nN = {args.n:,}; command: `{command}`\n")
    if not args.skip_memory:
        print("## Memory (RSS from the OS)\n")
        memory_table(args.n, optional=False)
        print(
            "\nRaw data: 3 floats + an int (32 B) + a 12-byte name + its 4-byte offset + a 1-byte "
            "code = 49 B/record. Goal for shoal.Table: kept ≤ 52 MB, peak ≤ 60 MB.\n"
        )
        print("## Memory with an optional float as well (None in one row of ten)\n")
        memory_table(args.n, optional=True)
        print("\nRaw data: 49 B + 8 B for the float + 1 bit of validity = 57.1 B/record.\n")
    print("## Speed\n")
    speed_table(args.n, args.repeat)


if __name__ == "__main__":
    main()
