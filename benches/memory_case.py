"""One memory measurement, run in a fresh process by benches/run.py.

Usage: python benches/memory_case.py CASE N  → prints one JSON line.

The N values are produced one at a time in a Python loop (as the classic experiment does), so
transient float objects are part of the picture. RSS comes from /proc/self/status: `kept` is
VmRSS after building minus VmRSS before; `peak` is VmHWM (reset just before building) minus
the same baseline. Both in bytes.
"""

import json
import random
import sys
import time


def status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def build_plain(n, rnd):
    class P:
        def __init__(self, x):
            self.x = x

    return [P(rnd()) for _ in range(n)]


def build_slots(n, rnd):
    class S:
        __slots__ = ("x",)

        def __init__(self, x):
            self.x = x

    return [S(rnd()) for _ in range(n)]


def build_dict_of_lists(n, rnd):
    d = {"x": []}
    for _ in range(n):
        d["x"].append(rnd())
    return d


def build_list(n, rnd):
    return [rnd() for _ in range(n)]


def build_array(n, rnd):
    import array

    a = array.array("d")
    for _ in range(n):
        a.append(rnd())
    return a


def build_numpy(n, rnd):
    import numpy as np

    return np.array([rnd() for _ in range(n)])


def build_pandas(n, rnd):
    import pandas as pd

    return pd.DataFrame({"x": [rnd() for _ in range(n)]})


def build_polars(n, rnd):
    import polars as pl

    return pl.DataFrame({"x": [rnd() for _ in range(n)]})


def build_msgspec(n, rnd):
    import msgspec

    class M(msgspec.Struct, gc=False):
        x: float

    return [M(rnd()) for _ in range(n)]


def build_recordclass(n, rnd):
    from recordclass import dataobject

    class R(dataobject):
        x: float

    return [R(rnd()) for _ in range(n)]


def build_shoal(n, rnd):
    import shoal

    class Point(shoal.Record):
        x: float

    t = shoal.Table(Point)
    for _ in range(n):
        t.append(rnd())
    return t


CASES = {
    "plain class": build_plain,
    "__slots__": build_slots,
    "msgspec Struct(gc=False)": build_msgspec,
    "recordclass dataobject": build_recordclass,
    "dict of lists": build_dict_of_lists,
    "list of floats": build_list,
    "array('d')": build_array,
    "numpy (from a list)": build_numpy,
    "pandas (from a list)": build_pandas,
    "polars (from a list)": build_polars,
    "shoal.Table": build_shoal,
}
MODULES = {
    "numpy (from a list)": "numpy",
    "pandas (from a list)": "pandas",
    "polars (from a list)": "polars",
    "msgspec Struct(gc=False)": "msgspec",
    "recordclass dataobject": "recordclass",
}


def main() -> None:
    case, n = sys.argv[1], int(sys.argv[2])
    module = MODULES.get(case)
    if module:
        try:
            __import__(module)
        except ImportError:
            print(json.dumps({"case": case, "skipped": f"{module} is not installed"}))
            return
    if case == "shoal.Table":
        import shoal  # noqa: F401  (import cost is not part of the data)
    rnd = random.Random(1).random
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    start = time.perf_counter()
    built = CASES[case](n, rnd)
    seconds = time.perf_counter() - start
    kept, peak = status("VmRSS") - before, status("VmHWM") - before
    assert built is not None
    print(json.dumps({"case": case, "kept": kept, "peak": peak, "seconds": seconds}))


if __name__ == "__main__":
    main()
