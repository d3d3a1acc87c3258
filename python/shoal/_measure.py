"""``shoal.sizeof``: where the memory of a structure goes, measured without disturbing it."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shoal import _shoal
from shoal._native import native_sizers

__all__ = ["SizeReport", "register_sizer", "sizeof"]

#: type -> function(obj) -> bytes the object owns beyond its Python object (see register_sizer)
_SIZERS: dict[type, Callable[[Any], int]] = {}


def register_sizer(cls: type, sizer: Callable[[Any], int]) -> None:
    """Tell ``sizeof`` and ``census`` how much memory instances of ``cls`` own outside the
    Python object itself (a C extension's private buffers, say). ``sizer(obj)`` returns bytes;
    it is called after the walk, never during it, and its bytes count as "buffers".
    Registering ``None`` as the sizer removes a registration.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_sizer expects a type, got {type(cls).__name__}")
    if sizer is None:
        _SIZERS.pop(cls, None)
    elif not callable(sizer):
        raise TypeError("the sizer must be callable: sizer(obj) -> bytes")
    else:
        _SIZERS[cls] = sizer


def _sized_types() -> tuple[list[type], dict[type, Callable[[Any], Any]]]:
    """The types whose objects the walk defers to a sizer: the user's, then the built-in ones
    for libraries with memory of their own (``shoal._native``)."""
    native = native_sizers()
    return [*_SIZERS, *native], native


def _apply_sizers(raw: dict[str, Any], native: dict[type, Callable[[Any], Any]]) -> None:
    """Adds sizers' bytes for the objects the walk deferred to them: the user's sizers' bytes
    per object, the built-in ones' allocations once each by key."""
    extra_by_type: dict[str, int] = {}
    seen: set[Any] = set()
    for obj in raw.pop("deferred", []):
        name = type(obj).__name__
        sizer = next((f for t, f in _SIZERS.items() if isinstance(obj, t)), None)
        if sizer is not None:
            extra = int(sizer(obj))
            if extra < 0:
                raise ValueError(f"the sizer for {name} returned {extra} bytes")
        else:
            allocations = next((f for t, f in native.items() if isinstance(obj, t)), None)
            if allocations is None:
                continue
            extra = 0
            for key, size in allocations(obj):
                if key not in seen:
                    seen.add(key)
                    extra += size
        extra_by_type[name] = extra_by_type.get(name, 0) + extra
    for name, extra in extra_by_type.items():
        raw["total"] += extra
        raw["allocated"] += extra
        raw["categories"]["buffers"] = raw["categories"].get("buffers", 0) + extra
        key = ("buffers", name)
        raw["by_category_type"][key] = raw["by_category_type"].get(key, 0) + extra
        raw["by_type"] = [(t, c, b + extra if t == name else b) for t, c, b in raw["by_type"]]


_ORDER = (
    "object headers",
    "instance dicts",
    "inline values",
    "attribute values",
    "containers",
    "buffers",
)


@dataclass(frozen=True)
class SizeReport:
    """The deep size of an object graph, counted once per object.

    ``total`` is bytes requested from the allocators (what tracemalloc counts); ``allocated``
    adds the allocators' rounding. ``categories`` splits ``total``; "attribute values" is split
    further by type in ``values_by_type``. Objects the graph only points at (types, modules,
    functions, interned strings, small ints, singletons) are ``shared`` and left out of
    ``total`` unless ``include_shared=True``.
    """

    total: int
    allocated: int
    objects: int
    categories: dict[str, int]
    values_by_type: dict[str, int]
    by_type: list[tuple[str, int, int]]
    shared: int = 0
    shared_objects: int = 0
    include_shared: bool = False
    #: Bytes of memory-mapped files the structure reads in place (``shoal.open``): not heap
    #: and not in ``total``; resident only as far as pages are touched, and the kernel's to drop.
    mapped: int = 0
    _raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "total": self.total,
            "allocated": self.allocated,
            "objects": self.objects,
            "categories": dict(self.categories),
            "values_by_type": dict(self.values_by_type),
            "by_type": [{"type": t, "count": c, "bytes": b} for t, c, b in self.by_type],
            "shared": {"bytes": self.shared, "objects": self.shared_objects},
            "mapped": self.mapped,
        }

    def _lines(self) -> list[tuple[str, int]]:
        rows: list[tuple[str, int]] = []
        for name in _ORDER:
            if name == "attribute values":
                rows += self._value_lines()
            elif self.categories.get(name):
                rows.append((name, self.categories[name]))
        return rows

    def _value_lines(self) -> list[tuple[str, int]]:
        """Attribute values by type, those under 1 % of the total grouped into one line."""
        rows, other, others = [], 0, 0
        for t, b in sorted(self.values_by_type.items(), key=lambda kv: -kv[1]):
            if b * 100 >= self.total or len(self.values_by_type) <= 3:
                rows.append((f"attribute values: {t}", b))
            else:
                other, others = other + b, others + 1
        if others:
            rows.append((f"attribute values: {others} other types", other))
        return rows

    def __str__(self) -> str:
        total = max(self.total, 1)
        out = [f"{_mb(self.total)} in {self.objects:,} objects ({_mb(self.allocated)} allocated)"]
        for name, b in self._lines():
            out.append(f"  {name:<32} {_mb(b):>10}  {100 * b / total:5.1f} %")
        shared = "included" if self.include_shared else "not included"
        out.append(f"  shared ({shared}): {_mb(self.shared)} in {self.shared_objects:,} objects")
        if self.mapped:
            out.append(f"  memory-mapped files (not included, not heap): {_mb(self.mapped)}")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        total = max(self.total, 1)
        rows = "".join(
            f"<tr><td>{html.escape(n)}</td><td style='text-align:right'>{_mb(b)}</td>"
            f"<td><div style='background:#4a90d9;height:0.8em;width:{200 * b / total:.0f}px'>"
            f"</div></td><td>{100 * b / total:.1f} %</td></tr>"
            for n, b in self._lines()
        )
        return f"<p><b>{_mb(self.total)}</b> in {self.objects:,} objects</p><table>{rows}</table>"


def _mb(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    if n >= 1_000:
        return f"{n / 1e3:.1f} kB"
    return f"{n} B"


def sizeof(obj: object, *, include_shared: bool = False) -> SizeReport:
    """Measure everything reachable from ``obj``, each object once.

    The walk runs in Rust over ``tp_traverse`` with an explicit stack; it never reads
    ``__dict__`` (which would create dicts on CPython 3.11+) and calls no Python code, so it
    leaves the heap as it was.
    """
    types, native = _sized_types()
    raw = _shoal._sizeof(obj, include_shared, types)
    _apply_sizers(raw, native)
    return report_from_raw(raw, include_shared=include_shared)


def report_from_raw(raw: dict[str, Any], *, include_shared: bool) -> SizeReport:
    values = {
        t: b for (cat, t), b in raw["by_category_type"].items() if cat == "attribute values" and b
    }
    return SizeReport(
        total=raw["total"],
        allocated=raw["allocated"],
        objects=raw["objects"],
        categories={k: v for k, v in raw["categories"].items() if v},
        values_by_type=values,
        by_type=[tuple(r) for r in raw["by_type"]],
        shared=raw["shared_bytes"],
        shared_objects=raw["shared_objects"],
        include_shared=include_shared,
        mapped=raw.get("mapped_bytes", 0),
        _raw=raw,
    )
