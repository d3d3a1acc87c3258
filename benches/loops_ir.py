"""Row loops in instructions per row (callgrind), shoal against a list of ``__slots__`` objects.

Issue #12's loops, on 100k rows of ``x: float, name: str, kind: Category`` (names 12
characters, 8 kinds). Each case runs under callgrind with one and with two repetitions; the
difference divided by the rows is one row's cost, start-up and the build cancelled out. The
machine's noise does not reach instruction counts, so one run is enough.

    python benches/loops_ir.py            # every case, a table with the ratios
    python benches/loops_ir.py iter_x     # some cases
    python benches/loops_ir.py --case iter_x shoal 2   # one measured process (used internally)

Needs valgrind. Prints markdown.
"""

from __future__ import annotations

import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor

import callgrind
import shoal

N = 100_000
KINDS = [f"kind-{k}" for k in range(8)]


class Row(shoal.Record):
    x: float
    name: str
    kind: shoal.Category


class Slot:
    __slots__ = ("kind", "name", "x")

    def __init__(self, x: float, name: str, kind: str) -> None:
        self.x, self.name, self.kind = x, name, kind


def build(approach: str):
    values = [(i * 0.5, f"user{i:08d}", KINDS[i % 8]) for i in range(N)]
    if approach == "shoal":
        t = shoal.Table(Row)
        t.extend(values)
        return t
    return [Slot(*v) for v in values]


def iter_x(rows, k):
    s = 0.0
    for _ in range(k):
        for p in rows:
            s += p.x
    return s


def iter_name(rows, k):
    n = 0
    for _ in range(k):
        for r in rows:
            n += len(r.name)
    return n


def iter_kind(rows, k):
    for _ in range(k):
        for r in rows:
            r.kind  # noqa: B018 - the read is what is measured


def shuffled() -> list[int]:
    """Row numbers in a fixed random order, made once per size (not part of the loop)."""
    if len(_SHUFFLED) != N:
        _SHUFFLED[:] = range(N)
        random.Random(1).shuffle(_SHUFFLED)
    return _SHUFFLED


_SHUFFLED: list[int] = []


def get_random(rows, k):
    idx = shuffled()
    s = 0.0
    for _ in range(k):
        for i in idx:
            s += rows[i].x
    return s


def set_x(rows, k):
    idx = range(N)
    for _ in range(k):
        for i in idx:
            rows[i].x = 0.25


def values_x(rows, k):
    """The values path: `t.iter("x")` against the same attribute loop over objects."""
    s = 0.0
    for _ in range(k):
        if isinstance(rows, shoal.Table):
            for x in rows.iter("x"):
                s += x
        else:
            for p in rows:
                s += p.x
    return s


def values_x_name(rows, k):
    n = 0
    for _ in range(k):
        if isinstance(rows, shoal.Table):
            for _x, name in rows.iter("x", "name"):
                n += len(name)
        else:
            for p in rows:
                _x, name = p.x, p.name
                n += len(name)
    return n


def column_x(rows, k):
    """`Column.__iter__`: a snapshot's values one at a time, against the attribute loop."""
    s = 0.0
    for _ in range(k):
        if isinstance(rows, shoal.Table):
            for x in rows["x"]:
                s += x
        else:
            for p in rows:
                s += p.x
    return s


CASES = {
    "iter_x": ("`for p in t: s += p.x`", iter_x, 1.5),
    "iter_name": ("`for r in t: n += len(r.name)`", iter_name, 2.0),
    "iter_kind": ("`for r in t: r.kind` (Category)", iter_kind, 1.5),
    "get_random": ("random `t[i].x`", get_random, None),
    "set_x": ("`t[i].x = v`", set_x, 2.0),
    "values_x": ('`for x in t.iter("x"): s += x`', values_x, None),
    "column_x": ('`for x in t["x"]: s += x`', column_x, None),
    "values_x_name": ('`for x, name in t.iter("x", "name")`', values_x_name, None),
}


def instructions(case: str, approach: str, k: int) -> int:
    return callgrind.instructions(__file__, "--case", case, approach, str(k))


def main(cases: list[str]) -> None:
    print(f"CPython {sys.version.split()[0]}, {N:,} rows, instructions per row (callgrind)\n")
    print("| loop | shoal | `__slots__` list | ratio | goal |")
    print("|---|---:|---:|---:|---:|")
    runs = [(c, a, k) for c in cases for a in ("shoal", "slots") for k in (1, 2)]
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        counts = dict(zip(runs, pool.map(lambda r: instructions(*r), runs), strict=True))
    for case in cases:
        title, _, goal = CASES[case]
        ours, theirs = ((counts[case, a, 2] - counts[case, a, 1]) / N for a in ("shoal", "slots"))
        goal_text = f"<= {goal}x" if goal else "-"
        print(f"| {title} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}x | {goal_text} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        case, approach, k = sys.argv[2], sys.argv[3], int(sys.argv[4])
        CASES[case][1](build(approach), k)
    else:
        main(sys.argv[1:] or list(CASES))
