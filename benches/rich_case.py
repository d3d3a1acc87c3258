"""One rich-record memory measurement in a fresh process (issue #3's record).

The record: three floats, an int id, a unique 12-character name and a category of 8 values;
with ``--optional``, also an optional float that is None in one row of ten (issue #5's rich
record).
Rows are produced one at a time by a Python loop; each approach stores them its own way
(peers that take columns are built from Python lists, as users do). Memory is RSS from
/proc/self/status (kept: VmRSS added; peak: VmHWM while building). Prints one JSON line.

Usage: python benches/rich_case.py APPROACH N [--optional]
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

from shoal._demo_case import measured

CATEGORIES = [f"category-{k}" for k in range(8)]
#: Whether records carry the optional `score` field (set from the command line).
OPTIONAL = "--optional" in sys.argv
NAMES = ("x", "y", "z", "id", "name", "kind") + (("score",) if OPTIONAL else ())


def rows(n: int) -> Iterator[tuple[Any, ...]]:
    rnd = random.Random(1).random
    for i in range(n):
        row = (rnd(), rnd(), rnd(), i, f"user{i:08d}", CATEGORIES[i % 8])
        yield (*row, None if i % 10 == 0 else rnd()) if OPTIONAL else row


def columns(n: int) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {k: [] for k in NAMES}
    appends = [cols[k].append for k in cols]
    for row in rows(n):
        for append, value in zip(appends, row, strict=True):
            append(value)
    return cols


def build_plain(n: int) -> Any:
    class Rec:
        def __init__(self, *values):
            for name, value in zip(NAMES, values, strict=True):
                setattr(self, name, value)

    return [Rec(*r) for r in rows(n)]


def build_slots(n: int) -> Any:
    class Rec:
        __slots__ = NAMES

        def __init__(self, *values):
            for name, value in zip(NAMES, values, strict=True):
                setattr(self, name, value)

    return [Rec(*r) for r in rows(n)]


def build_msgspec(n: int) -> Any:
    import msgspec

    types = {"x": float, "y": float, "z": float, "id": int, "name": str, "kind": str}
    types["score"] = float | None
    rec = msgspec.defstruct("Rec", [(k, types[k]) for k in NAMES], gc=False)
    return [rec(*r) for r in rows(n)]


def build_pandas(n: int) -> Any:
    import pandas as pd

    df = pd.DataFrame(columns(n))
    df["kind"] = df["kind"].astype("category")
    return df


def build_polars(n: int) -> Any:
    import polars as pl

    return pl.DataFrame(columns(n)).with_columns(pl.col("kind").cast(pl.Categorical))


def build_pyarrow(n: int) -> Any:
    import pyarrow as pa

    t = pa.table(columns(n))
    return t.set_column(5, "kind", t.column("kind").dictionary_encode())


def shoal_record(optional: bool) -> type:
    """The record as a shoal.Record class (with the optional field if asked)."""
    import shoal

    class Rec(shoal.Record):
        x: float
        y: float
        z: float
        id: int
        name: str
        kind: shoal.Category

    class WithScore(Rec):
        score: float | None

    return WithScore if optional else Rec


def build_shoal(n: int) -> Any:
    import shoal

    t = shoal.Table(shoal_record(OPTIONAL))
    append = t.append
    for r in rows(n):
        append(*r)
    return t


#: name -> (builder, module it needs or None)
APPROACHES: dict[str, tuple[Callable[[int], Any], str | None]] = {
    "plain class": (build_plain, None),
    "__slots__": (build_slots, None),
    "msgspec Struct(gc=False)": (build_msgspec, "msgspec"),
    "pandas (from lists)": (build_pandas, "pandas"),
    "polars (from lists)": (build_polars, "polars"),
    "pyarrow (from lists)": (build_pyarrow, "pyarrow"),
    "shoal.Table": (build_shoal, "shoal"),
}


def measure(name: str, n: int) -> dict[str, Any]:
    build, module = APPROACHES[name]
    return measured(name, module, lambda: build(n))


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
