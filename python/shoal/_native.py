"""Memory that other libraries keep in their own pools, outside any Python object: Arrow
buffers (pyarrow arrays, tables, record batches, and pandas' Arrow-backed columns through
them) and polars frames and series.

Each sizer returns the allocations an object keeps alive as (key, bytes) pairs; ``sizeof``
counts each key once, so a table, its columns and a pandas frame wrapping them add their
buffers once. They run after the walk, never during it, and only for libraries already
imported (a library not imported has made no objects).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

Allocations = Iterable[tuple[Hashable, int]]


def _arrow_array_buffers(arr: Any) -> Iterator[tuple[Hashable, int]]:
    """An Arrow array's buffers (children included), and its dictionary's."""
    for buf in arr.buffers():
        if buf is not None and buf.size:
            yield buf.address, buf.size
    dictionary = getattr(arr, "dictionary", None)
    if dictionary is not None:
        yield from _arrow_array_buffers(dictionary)


def _arrow_allocations(obj: Any) -> Iterator[tuple[Hashable, int]]:
    pa = sys.modules["pyarrow"]
    if isinstance(obj, pa.Array):
        yield from _arrow_array_buffers(obj)
    elif isinstance(obj, pa.ChunkedArray):
        for chunk in obj.chunks:
            yield from _arrow_array_buffers(chunk)
    else:  # Table, RecordBatch
        for column in obj.columns:
            yield from _arrow_allocations(column)


def _polars_allocations(obj: Any) -> Iterator[tuple[Hashable, int]]:
    """polars' buffers, as it exports them to Arrow without copying (string views included):
    their addresses let a frame and the series taken from it count them once. polars'
    ``estimated_size()`` counts string bytes rather than the 16-byte views that hold them."""
    pl = sys.modules["polars"]
    try:
        exported = obj.to_arrow(compat_level=pl.CompatLevel.newest())
    except Exception:  # an older polars, or a dtype Arrow cannot take: polars' own estimate
        yield ("polars", id(obj)), int(obj.estimated_size())
        return
    yield from _arrow_allocations(exported)


def native_sizers() -> dict[type, Callable[[Any], Allocations]]:
    """The built-in sizers for the libraries imported now."""
    out: dict[type, Callable[[Any], Allocations]] = {}
    pa = sys.modules.get("pyarrow")
    if pa is not None and hasattr(pa, "Array"):
        for cls in (pa.Array, pa.ChunkedArray, pa.Table, pa.RecordBatch):
            out[cls] = _arrow_allocations
    pl = sys.modules.get("polars")
    if pl is not None and hasattr(pl, "DataFrame"):
        for cls in (pl.DataFrame, pl.Series):
            out[cls] = _polars_allocations
    return out
