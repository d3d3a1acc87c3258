"""Making records, in instructions per record (callgrind): shoal against dataclasses.

What the dataclass API costs: construction of a plain record, one with a `default_factory`,
one whose `__post_init__` validates, one with its own `__init__`; `shoal.replace` against
`dataclasses.replace`; `t.append(...)` (plain, and for a class with `__post_init__`, which
makes a record) against appending a dataclass instance to a list. Each case runs under
callgrind with one and with two repetitions of 20,000 records; the difference divided by the
records is one record's cost, start-up cancelled out.

    python benches/records.py               # every case, a markdown table with the ratios
    python benches/records.py --case plain shoal 2   # one measured process (used internally)

Needs valgrind.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import callgrind
import shoal

N = 20_000


class Point(shoal.Record):
    x: float
    y: float = 0.0


@dataclasses.dataclass(slots=True)
class DPoint:
    x: float
    y: float = 0.0


class Tagged(shoal.Record):
    x: float
    tag: str = shoal.field(default_factory=str)


@dataclasses.dataclass(slots=True)
class DTagged:
    x: float
    tag: str = dataclasses.field(default_factory=str)


class Checked(shoal.Record):
    x: float

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("x < 0")


@dataclasses.dataclass(slots=True)
class DChecked:
    x: float

    def __post_init__(self) -> None:
        if self.x < 0:
            raise ValueError("x < 0")


class Parsed(shoal.Record):
    x: float

    def __init__(self, x: float) -> None:
        self.x = x


@dataclasses.dataclass(slots=True, init=False)
class DParsed:
    x: float

    def __init__(self, x: float) -> None:
        self.x = x


def making(cls: type):
    def run(k: int) -> None:
        for _ in range(k):
            for i in range(N):
                cls(float(i))

    return run


def replacing(cls: type, replace):
    def run(k: int) -> None:
        r = cls(1.0)
        for _ in range(k):
            for i in range(N):
                replace(r, x=float(i))

    return run


def appending(cls: type, dataclass: bool):
    def run(k: int) -> None:
        for _ in range(k):
            rows = [] if dataclass else shoal.Table(cls)
            append = rows.append
            for i in range(N):
                append(cls(float(i)) if dataclass else float(i))

    return run


CASES = {
    "plain": ("`Point(x)`", making(Point), making(DPoint)),
    "factory": ("`Tagged(x)` (a default_factory)", making(Tagged), making(DTagged)),
    "post_init": ("`Checked(x)` (`__post_init__`)", making(Checked), making(DChecked)),
    "own_init": ("`Parsed(x)` (its own `__init__`)", making(Parsed), making(DParsed)),
    "replace": (
        "`replace(r, x=v)`",
        replacing(Point, shoal.replace),
        replacing(DPoint, dataclasses.replace),
    ),
    "append": (
        "`t.append(x)` / `list.append(P(x))`",
        appending(Point, False),
        appending(DPoint, True),
    ),
    "append_post_init": (
        "`t.append(x)` with `__post_init__` / `list.append(P(x))`",
        appending(Checked, False),
        appending(DChecked, True),
    ),
}


def main(cases: list[str]) -> None:
    print(f"CPython {sys.version.split()[0]}, instructions per record (callgrind)\n")
    print("| making | shoal | dataclass(slots=True) | ratio |")
    print("|---|---:|---:|---:|")
    runs = [(c, a, k) for c in cases for a in ("shoal", "dataclass") for k in (1, 2)]

    def count(run: tuple[str, str, int]) -> int:
        return callgrind.instructions(__file__, "--case", run[0], run[1], str(run[2]))

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        counts = dict(zip(runs, pool.map(count, runs), strict=True))
    for case in cases:
        per = [(counts[case, a, 2] - counts[case, a, 1]) / N for a in ("shoal", "dataclass")]
        print(f"| {CASES[case][0]} | {per[0]:,.0f} | {per[1]:,.0f} | {per[0] / per[1]:.2f}x |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        case, approach, k = sys.argv[2], sys.argv[3], int(sys.argv[4])
        CASES[case][1 if approach == "shoal" else 2](k)
    else:
        main(sys.argv[1:] or list(CASES))
