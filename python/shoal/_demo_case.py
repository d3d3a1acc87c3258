"""One approach of the demo, measured in a fresh process: ``python -m shoal._demo_case NAME N``.

The N values are produced one at a time in a Python loop, as the classic experiment does, so
transient float objects are part of the picture. Memory is RSS from /proc/self/status: *kept*
is VmRSS after building minus VmRSS before; *peak* is VmHWM (reset just before building) minus
the same baseline. Prints one JSON line.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any


def status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def build_plain(n: int, rnd: Callable[[], float]) -> Any:
    class Point:
        def __init__(self, x: float) -> None:
            self.x = x

    return [Point(rnd()) for _ in range(n)]


def build_slots(n: int, rnd: Callable[[], float]) -> Any:
    class Point:
        __slots__ = ("x",)

        def __init__(self, x: float) -> None:
            self.x = x

    return [Point(rnd()) for _ in range(n)]


def build_dict_of_lists(n: int, rnd: Callable[[], float]) -> Any:
    d: dict[str, list[float]] = {"x": []}
    for _ in range(n):
        d["x"].append(rnd())
    return d


def build_array(n: int, rnd: Callable[[], float]) -> Any:
    import array

    a = array.array("d")
    for _ in range(n):
        a.append(rnd())
    return a


def build_numpy(n: int, rnd: Callable[[], float]) -> Any:
    import numpy as np

    return np.array([rnd() for _ in range(n)])


def build_pandas(n: int, rnd: Callable[[], float]) -> Any:
    import pandas as pd

    return pd.DataFrame({"x": [rnd() for _ in range(n)]})


def build_polars(n: int, rnd: Callable[[], float]) -> Any:
    import polars as pl

    return pl.DataFrame({"x": [rnd() for _ in range(n)]})


def build_pyarrow(n: int, rnd: Callable[[], float]) -> Any:
    import pyarrow as pa

    return pa.table({"x": [rnd() for _ in range(n)]})


def build_msgspec(n: int, rnd: Callable[[], float]) -> Any:
    import msgspec  # pyright: ignore[reportMissingImports]

    point = msgspec.defstruct("Point", [("x", float)], gc=False)
    return [point(rnd()) for _ in range(n)]


def build_recordclass(n: int, rnd: Callable[[], float]) -> Any:
    from recordclass import dataobject  # pyright: ignore[reportMissingImports]

    class Point(dataobject):
        x: float

    return [Point(rnd()) for _ in range(n)]


def build_shoal(n: int, rnd: Callable[[], float]) -> Any:
    import shoal

    class Point(shoal.Record):
        x: float

    t = shoal.Table(Point)
    for _ in range(n):
        t.append(rnd())
    return t


#: name -> (builder, module it needs or None)
APPROACHES: dict[str, tuple[Callable[[int, Callable[[], float]], Any], str | None]] = {
    "plain class": (build_plain, None),
    "__slots__": (build_slots, None),
    "dict of lists": (build_dict_of_lists, None),
    "array('d')": (build_array, None),
    "numpy": (build_numpy, "numpy"),
    "shoal.Table": (build_shoal, "shoal"),
    "pandas": (build_pandas, "pandas"),
    "polars": (build_polars, "polars"),
    "pyarrow": (build_pyarrow, "pyarrow"),
    "msgspec Struct": (build_msgspec, "msgspec"),
    "recordclass": (build_recordclass, "recordclass"),
}


def measured(
    name: str, module: str | None, build: Callable[[], Any], warm_up: Callable[[], Any]
) -> dict[str, Any]:
    """RSS kept and peak (VmHWM) while `build()` runs, or why it was skipped. Imports are not
    part of the data, nor what a first small build loads lazily (`pa.table(dict)` imports
    pandas to check for its objects: 56 MB): `warm_up()` runs first."""
    if module:
        try:
            __import__(module)
        except ImportError:
            return {"approach": name, "skipped": f"{module} is not installed"}
    warm_up()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = status("VmRSS")
    start = time.perf_counter()
    built = build()
    seconds = time.perf_counter() - start
    kept, peak = status("VmRSS") - before, status("VmHWM") - before
    assert built is not None
    return {"approach": name, "kept": kept, "peak": peak, "seconds": seconds}


def measure(name: str, n: int) -> dict[str, Any]:
    build, module = APPROACHES[name]
    rnd = random.Random(1).random
    return measured(name, module, lambda: build(n, rnd), lambda: build(10, rnd))


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
