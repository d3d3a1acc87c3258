"""Real structures to measure, each built fresh by a function: the corpus `shoal.sizeof` is held
to against tracemalloc (tests/measure/test_corpus.py; `python tests/measure/corpus.py` prints
the table that docs/measure.md quotes).

Data comes from packages that ship it (botocore's EC2 service model, a real multi-MB JSON
document) or is generated here from it (the XML tree); nothing is invented to suit a number.
"""

from __future__ import annotations

import array
import collections
import dataclasses
import datetime
import enum
import gc
import gzip
import json
import os
import random
import sys
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import shoal

N = 20_000


def ec2_model_text() -> str:
    """botocore's EC2 service model: ~5 MB of real JSON."""
    import botocore

    path = os.path.join(
        os.path.dirname(botocore.__file__), "data", "ec2", "2016-11-15", "service-2.json.gz"
    )
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return f.read()


def to_xml(value: Any, tag: str = "item") -> ET.Element:
    """The JSON document as an XML tree: objects become elements, scalars attributes or text."""
    el = ET.Element(tag)
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                el.append(to_xml(v, "field"))
                el[-1].set("name", str(k))
            else:
                el.set(str(k), str(v))
    elif isinstance(value, list):
        for v in value:
            el.append(to_xml(v))
    else:
        el.text = str(value)
    return el


class Plain:
    def __init__(self, x: float, name: str) -> None:
        self.x = x
        self.name = name


@dataclasses.dataclass
class DataPlain:
    x: float
    n: int


@dataclasses.dataclass(slots=True)
class DataSlots:
    x: float
    n: int


if sys.version_info >= (3, 11):

    @dataclasses.dataclass(slots=True, weakref_slot=True)
    class DataSlotsWeakref:
        x: float
        n: int

else:

    class DataSlotsWeakref:
        __slots__ = ("__weakref__", "n", "x")

        def __init__(self, x: float, n: int) -> None:
            self.x, self.n = x, n


class SlotsWithDict:
    __slots__ = ("__dict__", "x")

    def __init__(self, x: float) -> None:
        self.x = x
        self.extra = [x]


class Pair(NamedTuple):
    a: float
    b: str


class Colour(enum.Enum):
    RED = 1
    GREEN = 2


class TaggedList(list[Any]):
    def __init__(self, items: list[Any], tag: str) -> None:
        super().__init__(items)
        self.tag = tag
        self.meta = {"tag": tag}


class TaggedDict(dict[str, Any]):
    pass


class TaggedTuple(tuple[Any, ...]):
    pass


class TaggedOrderedDict(collections.OrderedDict[str, int]):
    def __init__(self, items: Any) -> None:
        super().__init__(items)
        self.tag = make_text(len(self))


class TaggedDeque(collections.deque[int]):
    def __init__(self, items: Any) -> None:
        super().__init__(items)
        self.tag = [len(self)]


class Ticker:
    def __init__(self, n: int) -> None:
        self.n = n

    def tick(self) -> int:
        return self.n


def closures() -> list[Callable[[], int]]:
    def make(values: list[float]) -> Callable[[], int]:
        def count() -> int:
            return len(values)

        return count

    return [make([random.random()]) for _ in range(N // 4)]


def generators() -> list[Iterator[int]]:
    def gen(start: int) -> Iterator[int]:
        total = float(start)
        for i in range(10):
            yield i + int(total)

    out = []
    for i in range(N // 4):
        g = gen(i)
        next(g)
        out.append(g)
    return out


def frames() -> list[Any]:
    def frame(i: int) -> Any:
        local = [i, str(i)]
        del local
        return sys._getframe()

    return [frame(i) for i in range(N // 4)]


def exceptions() -> list[BaseException]:
    def fail(i: int) -> None:
        detail = f"row {i} is bad"
        raise ValueError(detail)

    out = []
    for i in range(N // 4):
        try:
            fail(i)
        except ValueError as e:
            out.append(e)
    return out


def numpy_structures() -> list[Any]:
    np = sys.modules["numpy"]
    a = np.arange(N, dtype=np.float64)
    structured = np.zeros(N, dtype=[("x", "f8"), ("n", "i4"), ("tag", "S8")])
    objects = np.array([f"item-{i}" for i in range(N)], dtype=object)
    return [a, a[::3], a.reshape(100, -1).T, structured, objects, objects[::2]]


def pandas_frame(strings: str) -> Any:
    pd = sys.modules["pandas"]
    dtype = "string[pyarrow]" if strings == "pyarrow" else object
    return pd.DataFrame(
        {
            "x": np_module().arange(N, dtype="float64"),
            "name": pd.Series([f"name-{i % 977}-{i}" for i in range(N)], dtype=dtype),
        }
    )


def np_module() -> Any:
    return sys.modules["numpy"]


def arrow_table() -> Any:
    pa = sys.modules["pyarrow"]
    return pa.table(
        {
            "x": pa.array([float(i) for i in range(N)]),
            "name": pa.array([f"name-{i}" for i in range(N)]),
        }
    )


def polars_frame() -> Any:
    pl = sys.modules["polars"]
    return pl.DataFrame({"x": [float(i) for i in range(N)], "name": [f"n{i}" for i in range(N)]})


def networkx_graph() -> Any:
    nx = sys.modules["networkx"]
    return nx.gnm_random_graph(2_000, 8_000, seed=7)


def shoal_table() -> Any:
    class Row(shoal.Record):
        x: float
        name: str

    t = shoal.Table(Row)
    for i in range(N):
        t.append(float(i), f"row-{i}")
    return t


class Standalone(shoal.Record):
    x: float
    name: str


def standalone_records() -> list[Any]:
    return [Standalone(float(i), f"some text for record {i:06d} " * 3) for i in range(N // 4)]


def make_text(i: int) -> str:
    return f"text-{i}"


CORPUS: dict[str, Callable[[], Any]] = {
    "JSON document (botocore EC2 model)": lambda: json.loads(ec2_model_text()),
    "ElementTree of the EC2 model as XML": lambda: ET.fromstring(
        ET.tostring(to_xml(json.loads(ec2_model_text())["shapes"]))
    ),
    "deque": lambda: collections.deque(random.random() for _ in range(N)),
    "OrderedDict": lambda: collections.OrderedDict((make_text(i), i * 1000) for i in range(N)),
    "OrderedDict and deque subclasses with attributes": lambda: (
        [TaggedOrderedDict((make_text(j), j) for j in range(i % 20)) for i in range(N // 10)]
        + [TaggedDeque(range(i % 70)) for i in range(N // 10)]
    ),
    "defaultdict of lists": lambda: collections.defaultdict(
        list, {i: [make_text(i)] for i in range(N // 4)}
    ),
    "Counter": lambda: collections.Counter(make_text(i % 5000) for i in range(N)),
    "ChainMap, UserDict, UserList": lambda: [
        collections.ChainMap({make_text(i): i for i in range(N // 8)}, {}),
        collections.UserDict({i: make_text(i) for i in range(N // 8)}),
        collections.UserList(make_text(i) for i in range(N // 8)),
    ],
    "namedtuples": lambda: [Pair(random.random(), make_text(i)) for i in range(N // 2)],
    "array.array": lambda: [array.array("d", range(i % 50)) for i in range(N // 4)],
    "bytearray and memoryview": lambda: [
        memoryview(bytearray(b"x" * (i % 300))) for i in range(N // 4)
    ],
    "bytes of every length, 1-char str of every plane": lambda: (
        [bytes([i % 256]) * (i % 3) for i in range(N // 2)]
        + [chr(0x100 + i) for i in range(N // 2)]
    ),
    "datetimes, dates, timedeltas, enums": lambda: [
        (
            datetime.datetime(2020, 1, 1) + datetime.timedelta(seconds=i),
            datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
            datetime.date(2020, 1, 1 + i % 28),
            datetime.timedelta(minutes=i),
            datetime.time(1, 2, i % 60),
            Colour.RED,
        )
        for i in range(N // 4)
    ],
    "ranges": lambda: [range(i * 10**12, i * 10**12 + 10**13, 7) for i in range(N // 4)],
    "NumPy numeric, structured, object arrays and views": numpy_structures,
    "pandas with object strings": lambda: pandas_frame("object"),
    "networkx graph": networkx_graph,
    "plain instances with text": lambda: [Plain(random.random(), make_text(i)) for i in range(N)],
    "dataclasses": lambda: [DataPlain(random.random(), i * 1000) for i in range(N // 2)],
    "dataclasses with slots": lambda: [DataSlots(random.random(), i * 1000) for i in range(N)],
    "dataclasses with slots and weakref": lambda: [
        DataSlotsWeakref(random.random(), i * 1000) for i in range(N)
    ],
    "__slots__ with __dict__": lambda: [SlotsWithDict(random.random()) for i in range(N // 2)],
    "list/dict/tuple subclasses with attributes": lambda: (
        [TaggedList([random.random(), make_text(i)], make_text(i)) for i in range(N // 4)]
        + [TaggedDict(a=random.random()) for _ in range(N // 4)]
        + [TaggedTuple((random.random(),)) for _ in range(N // 4)]
    ),
    "closures over fresh lists": closures,
    "bound methods": lambda: [Ticker(i * 1000).tick for i in range(N // 2)],
    "suspended generators": generators,
    "frames of returned calls": frames,
    "caught exceptions with tracebacks": exceptions,
    "shoal table": shoal_table,
    "standalone shoal records": standalone_records,
}

# Memory kept in Arrow's or polars' own pools, outside tracemalloc: measured apart.
ARROW_CORPUS: dict[str, Callable[[], Any]] = {
    "pyarrow table": arrow_table,
    "pandas with pyarrow strings": lambda: pandas_frame("pyarrow"),
    "polars DataFrame": polars_frame,
}

NEEDS = ("numpy", "pandas", "networkx", "botocore", "pyarrow", "polars")


def import_peers() -> None:
    """Imports what the builders use, outside any traced region."""
    for name in NEEDS:
        __import__(name)
    import pandas  # noqa: F401  (pandas imports pyarrow's pandas glue lazily: do it now)

    ec2_model_text()


def traced(build: Callable[[], Any]) -> tuple[Any, int]:
    """The structure `build()` returns and the bytes tracemalloc sees retained by building it.

    `build` runs once untraced first: what the interpreter keeps after a first run (imports,
    specialised bytecode's caches, type caches) belongs to no structure.
    """
    build()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        obj = build()
        gc.collect()
        return obj, tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()


def arrow_pool_bytes() -> int:
    """Bytes currently allocated by pyarrow's default pool."""
    pa = sys.modules["pyarrow"]
    return int(pa.total_allocated_bytes())


def polars_buffer_bytes(df: Any) -> int:
    """polars keeps no statistics of its allocator: the bytes of the buffers it exports to
    Arrow without copying stand for its memory (a 2M-row frame's RSS growth agrees, see
    docs/measure.md)."""
    pl = sys.modules["polars"]
    table = df.to_arrow(compat_level=pl.CompatLevel.newest())
    buffers = {
        b.address: b.size
        for column in table.columns
        for chunk in column.chunks
        for b in chunk.buffers()
        if b is not None
    }
    return sum(buffers.values())


def measure(name: str) -> tuple[int, int]:
    """(shoal's total, the truth) for the corpus entry `name`."""
    if name == "polars DataFrame":
        obj, py_bytes = traced(ARROW_CORPUS[name])
        truth = py_bytes + polars_buffer_bytes(obj)
    elif name in ARROW_CORPUS:
        before = arrow_pool_bytes()
        obj, py_bytes = traced(ARROW_CORPUS[name])
        truth = py_bytes + arrow_pool_bytes() - before
    else:
        obj, truth = traced(CORPUS[name])
    return shoal.sizeof(obj).total, truth


def main() -> None:
    random.seed(1)
    import_peers()
    print(f"CPython {sys.version.split()[0]}")
    print("| structure | tracemalloc (+pool) | shoal | error |\n|---|---:|---:|---:|")
    for name in [*CORPUS, *ARROW_CORPUS]:
        total, truth = measure(name)
        err = 100.0 * (total - truth) / truth if truth else float("inf")
        print(f"| {name} | {truth:,} | {total:,} | {err:+.2f} % |")


if __name__ == "__main__":
    main()
