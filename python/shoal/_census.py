"""``shoal.census()``: the whole heap by type, and what each fix would save on this Python."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from shoal import _shoal
from shoal._measure import SizeReport, _apply_sizers, _mb, _sized_types, report_from_raw

__all__ = ["Advice", "CensusReport", "census"]

#: Classes with fewer instances than this get no advice: converting them saves little.
MIN_INSTANCES = 1000
_GC_HEAD = 16
_OBJECT_HEAD = 16
_WORD = 8
_ROW_CAPACITY_START = 8


@dataclass(frozen=True)
class Advice:
    """What one class's instances cost and what they would cost stored otherwise.

    ``bytes`` counts the instances, their ``__dict__``s or inline values, and the attribute
    values they reach (each counted once). ``payload`` is the raw data: 8 bytes per float or
    int, 1 per bool, UTF-8 bytes plus a 4-byte offset per str. Projections use this
    interpreter's object layout: ``slots_bytes`` is the same values held by ``__slots__``
    instances (GC header, object header, one pointer per attribute); ``table_bytes`` is a
    ``shoal.Table`` built by appending (columns grow by doubling; for text the projection is
    approximate, within about 25 %), or ``None`` when some attribute is of a type a column does
    not take (a float, int, bool, str, bytes, datetime, date, timedelta, enum member or ``None``
    in an optional field). ``category_bytes`` is that table with its text in ``shoal.Category``
    columns (one code per row, each distinct text once), offered when the instances' text
    attributes repeat: ten references or more per distinct str.
    """

    type: str
    module: str | None
    count: int
    bytes: int
    payload: int
    attributes: float
    slots_bytes: int
    table_bytes: int | None
    category_bytes: int | None = None

    @property
    def bytes_per_instance(self) -> float:
        return self.bytes / self.count

    def __str__(self) -> str:
        table = _mb(self.table_bytes) if self.table_bytes is not None else "n/a (other types)"
        return (
            f"{self.module}.{self.type}: {self.count:,} instances, {_mb(self.bytes)} "
            f"({self.bytes_per_instance:.0f} B each, payload {_mb(self.payload)}); "
            f"with __slots__: {_mb(self.slots_bytes)}; as a shoal.Table: {table}"
            + (
                f"; with shoal.Category for its text: {_mb(self.category_bytes)}"
                if self.category_bytes is not None
                else ""
            )
        )


def _table_capacity(count: int) -> int:
    cap = _ROW_CAPACITY_START
    while cap < count:
        cap *= 2
    return cap


def advice_for(row: dict[str, Any]) -> Advice:
    count = row["count"]
    attributes = row["attributes"] / count
    value_bytes = row["value_bytes"]
    slot_instance = _GC_HEAD + _OBJECT_HEAD + _WORD * round(attributes)
    storable = row["storable_attributes"] == row["attributes"]
    table = category = None
    if storable:
        per_row = row["payload"] / count
        capacity = _table_capacity(count)
        table = round(per_row * capacity)
        category = _category_projection(row, capacity)
    return Advice(
        type=row["type"],
        module=row["module"],
        count=count,
        bytes=row["instance_bytes"] + value_bytes + row["dict_bytes"],
        payload=row["payload"],
        attributes=attributes,
        slots_bytes=count * slot_instance + value_bytes,
        table_bytes=table,
        category_bytes=category,
    )


def _category_projection(row: dict[str, Any], capacity: int) -> int | None:
    """The table's bytes with text as categories, when the text repeats enough to gain."""
    refs, distinct = int(row["text_refs"]), int(row["distinct_texts"])
    if refs < MIN_INSTANCES or distinct * 10 > refs:
        return None
    code = 1 if distinct <= 256 else 2 if distinct <= 65_536 else 4
    count = int(row["count"])
    other_per_row: float = (row["payload"] - row["text_ref_payload"]) / count
    per_row = other_per_row + code * refs / count
    return round(per_row * capacity) + int(row["distinct_text_payload"])


@dataclass(frozen=True)
class CensusReport(SizeReport):
    """The whole heap (every object the garbage collector tracks and what it reaches)."""

    advice: tuple[Advice, ...] = ()
    seconds: float = 0.0

    def __str__(self) -> str:
        head = f"shoal census (CPython {sys.version.split()[0]}): " + super().__str__()
        lines = [head, "  largest types:"]
        for name, count, size in self.by_type[:10]:
            lines.append(f"    {name:<30} {count:>10,}  {_mb(size):>10}")
        if self.advice:
            lines.append("  advice:")
            lines += [f"    {a}" for a in self.advice]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["advice"] = [
            {
                "type": a.type,
                "module": a.module,
                "count": a.count,
                "bytes": a.bytes,
                "bytes_per_instance": a.bytes_per_instance,
                "payload": a.payload,
                "attributes": a.attributes,
                "slots_bytes": a.slots_bytes,
                "table_bytes": a.table_bytes,
                "category_bytes": a.category_bytes,
            }
            for a in self.advice
        ]
        out["seconds"] = self.seconds
        return out


def census(*, progress: bool = False) -> CensusReport:
    """Walk the whole heap once: bytes by type and category, and advice per numerous class."""
    types, native = _sized_types()
    raw = _shoal._census(progress, types)
    _apply_sizers(raw, native)
    rows = [
        r
        for r in raw["classes"]
        if r["count"] >= MIN_INSTANCES and r["attributes"] and r["module"] != "builtins"
    ]
    advice = tuple(sorted((advice_for(r) for r in rows), key=lambda a: -a.bytes))
    base = report_from_raw(raw, include_shared=True)
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    return CensusReport(**fields, advice=advice, seconds=raw["seconds"])
