"""``shoal.open``: a file's rows as a table, with the record class given or built from the file."""

from __future__ import annotations

import datetime
import json
import os
import re
import types
from typing import Annotated, Any, Literal, TypeVar, overload

from shoal import _shoal
from shoal._record import Record
from shoal._types import Category, f32, i8, i16, i32, tz, u8, u16, u32, u64

_R = TypeVar("_R", bound=Record)

_FORMATS: dict[str, Any] = {
    "g": float,
    "f": f32,
    "l": int,
    "i": i32,
    "s": i16,
    "c": i8,
    "L": u64,
    "I": u32,
    "S": u16,
    "C": u8,
    "b": bool,
    "u": str,
    "U": str,
    "vu": str,
    "z": bytes,
    "Z": bytes,
    "vz": bytes,
    "tdD": datetime.date,
}
_TEMPORAL = re.compile(r"ts([smun]):(.*)|tD([smun])")
_OFFSET = re.compile(r"([+-])(\d\d):(\d\d)")


def _zone(name: str) -> Any:
    """A file's time zone: an IANA name, or a fixed ``+HH:MM`` offset."""
    fixed = _OFFSET.fullmatch(name)
    if fixed is None:
        return Annotated[datetime.datetime, tz(name)]
    sign, hours, minutes = fixed.groups()
    offset = datetime.timedelta(hours=int(hours), minutes=int(minutes))
    return Annotated[datetime.datetime, tz(datetime.timezone(-offset if sign == "-" else offset))]


def hint_of(name: str, fmt: str, dictionary: str | None) -> Any:
    """The field type of a column of Arrow format ``fmt`` (``dictionary``: its values' format)."""
    if dictionary is not None:
        if dictionary in ("u", "U", "vu"):
            return Category
        raise TypeError(f"column '{name}' is dictionary-encoded {dictionary!r} values")
    if fmt in _FORMATS:
        return _FORMATS[fmt]
    temporal = _TEMPORAL.fullmatch(fmt)
    if temporal is not None:
        if temporal.group(3) is not None:
            return datetime.timedelta
        return _zone(temporal.group(2)) if temporal.group(2) else datetime.datetime
    raise TypeError(f"column '{name}' has Arrow format {fmt!r}, which shoal cannot store")


def record_class_of(path: str | os.PathLike[str]) -> type[Record]:
    """A record class with one field per column of the file at ``path``, typed from the
    file's Arrow schema (optional where a column may hold nulls — or, for files shoal wrote,
    where the saved field was). Named after the class that saved it, else ``Row``."""
    columns, metadata = _shoal._file_schema(path)
    return build_record_class(f"shoal.open('{os.fspath(path)}')", columns, metadata, {}, None)


def build_record_class(
    source: str,
    columns: list[tuple[str, str, str | None, bool]],
    metadata: dict[str, str],
    extra: dict[str, Any],
    order: list[str] | None,
) -> type[Record]:
    """A record class of the file ``columns`` (name, format, dictionary format, nullable) and
    the ``extra`` fields (name: type), in ``order`` where given (else the columns', then the
    extra fields'). ``metadata``: the file's, naming the class and the optional fields;
    ``source``: the call, named in errors."""
    optional = {f["name"]: f["optional"] for f in json.loads(metadata.get("shoal.fields", "[]"))}
    saved = metadata.get("shoal.record", "")
    name = saved.rpartition(".")[2] or "Row"
    annotations: dict[str, Any] = {}
    for column, fmt, dictionary, nullable in columns:
        try:
            hint = hint_of(column, fmt, dictionary)
        except TypeError as e:
            raise TypeError(f"{source}: {e}; pass a record class to read the others") from None
        annotations[column] = hint | None if optional.get(column, nullable) else hint
    annotations.update(extra)
    if order is not None and set(order) == set(annotations):
        annotations = {k: annotations[k] for k in order}
    namespace = {"__annotations__": annotations, "__module__": "shoal.opened"}
    try:
        return types.new_class(name, (Record,), {}, lambda ns: ns.update(namespace))
    except TypeError as e:
        raise TypeError(f"{source}: {e}") from None


@overload
def open(
    path: str | os.PathLike[str], record: type[_R], *, mode: Literal["r", "c"] = "r"
) -> _shoal.Table[_R]: ...
@overload
def open(
    path: str | os.PathLike[str], record: None = None, *, mode: Literal["r", "c"] = "r"
) -> _shoal.Table[Any]: ...
def open(
    path: str | os.PathLike[str], record: type[Record] | None = None, *, mode: str = "r"
) -> _shoal.Table[Any]:
    """Opens an Arrow IPC file (as ``Table.save`` writes it, or pyarrow and polars do) as a
    table of ``record`` rows, memory-mapped: columns of shoal's own layout read the file in
    place. Without ``record``, a class is built from the file's schema (``record_class_of``).

    ``mode="r"`` (the default) refuses changes; ``mode="c"`` allows them in memory only (the
    first change to a column copies it; the file never changes). See docs/files.md.
    """
    try:
        cls = record_class_of(path) if record is None else record
        return _shoal._open(path, cls, mode=mode)
    except FileNotFoundError as e:
        partial = os.fspath(path) + ".partial"
        if not os.path.exists(partial):
            raise
        raise FileNotFoundError(
            e.errno,
            f"{e.strerror}; an unfinished shoal.Writer left {partial!r}: "
            f"shoal.recover({partial!r}) writes its complete batches as {os.fspath(path)!r}",
            e.filename,
        ) from None


@overload
def open_batches(
    path: str | os.PathLike[str],
    record: type[_R],
    *,
    mode: Literal["r", "c"] = "r",
    progress: bool | None = None,
) -> _shoal.FileBatches[_R]: ...
@overload
def open_batches(
    path: str | os.PathLike[str],
    record: None = None,
    *,
    mode: Literal["r", "c"] = "r",
    progress: bool | None = None,
) -> _shoal.FileBatches[Any]: ...
def open_batches(
    path: str | os.PathLike[str],
    record: type[Record] | None = None,
    *,
    mode: str = "r",
    progress: bool | None = None,
) -> _shoal.FileBatches[Any]:
    """The record batches of an Arrow IPC file as a sequence of tables, each read from the
    memory map when first asked for (and checked then): for files of many batches — what a
    ``shoal.Writer`` writes — which ``shoal.open`` would join in memory. Iterating hands each
    finished batch's pages back to the system, so a scan's resident size stays about one batch
    whatever the file's size. ``record`` and ``mode`` as for ``shoal.open``; ``progress``: a
    line on stderr for scans over two seconds (``None``: when stderr is a terminal)."""
    cls = record_class_of(path) if record is None else record
    return _shoal._open_batches(path, cls, mode=mode, progress=progress)


def recover(path: str | os.PathLike[str], target: str | os.PathLike[str] | None = None) -> int:
    """Writes the complete record batches of an unfinished Arrow IPC file — what a
    ``shoal.Writer`` stopped before ``close()`` leaves at ``<path>.partial`` — as a complete
    file at ``target`` (default: ``path`` without its ``.partial`` suffix), atomically, removes
    the unfinished file and returns the number of rows recovered. A complete file is rewritten
    as it is. Memory: one batch at a time."""
    source = os.fspath(path)
    if target is None:
        target = source.removesuffix(".partial")
    _batches, rows = _shoal._recover(source, os.fspath(target))
    return rows
