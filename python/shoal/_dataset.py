"""``shoal.open_dataset``: a folder of Parquet files in hive-style partitions, opened lazily.

The folder is listed when the dataset is opened; each file's footer is read when its row count
is asked for, and its rows only when its batch is. Filters on partition values skip whole
files without opening them.
"""

from __future__ import annotations

import datetime
import json
import os
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import Any, Generic, TypeVar, overload

from shoal import _shoal
from shoal._files import build_record_class, hint_of
from shoal._record import Record, fields

_R = TypeVar("_R", bound=Record)

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def _is_data_file(name: str) -> bool:
    # What Spark, pyarrow and Dask skip: their markers (_SUCCESS, _metadata) and hidden files
    # (.crc checksums, shoal's own temporary folders).
    return not name.startswith(("_", "."))


def _walk(
    root: str,
    folder: str,
    found: list[tuple[str, tuple[tuple[str, str | None], ...]]],
    keys: tuple[tuple[str, str | None], ...],
) -> None:
    with os.scandir(folder) as entries:
        listed = sorted(entries, key=lambda e: e.name)
    for entry in listed:
        if not _is_data_file(entry.name):
            continue
        if entry.is_dir(follow_symlinks=False):
            key, sep, value = entry.name.partition("=")
            if not sep:
                raise ValueError(
                    f"shoal.open_dataset('{root}'): the folder '{entry.path}' is not a "
                    "partition folder (key=value)"
                )
            decoded = None if value == NULL_PARTITION else urllib.parse.unquote(value)
            _walk(root, entry.path, found, (*keys, (urllib.parse.unquote(key), decoded)))
        elif entry.is_file():
            found.append((entry.path, keys))


def _list_files(root: str) -> tuple[list[str], list[dict[str, str | None]], tuple[str, ...]]:
    """Every data file under ``root`` (sorted), the partition folders' values of each, and the
    partition keys, outermost first — the same for every file, or it is an error."""
    if not os.path.isdir(root):
        if os.path.exists(root):
            raise NotADirectoryError(20, "a dataset is a folder of Parquet files", root)
        raise FileNotFoundError(2, "no dataset", root)
    found: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []
    _walk(root, root, found, ())
    keys = tuple(k for k, _ in found[0][1]) if found else ()
    for path, values in found:
        if tuple(k for k, _ in values) != keys:
            raise ValueError(
                f"shoal.open_dataset('{root}'): '{path}' is in partitions "
                f"{[k for k, _ in values]}, other files in {list(keys)}"
            )
    return [p for p, _ in found], [dict(v) for _, v in found], keys


_TYPE_NAMES: dict[str, str] = {
    "float": "g", "f32": "f", "int": "l", "i32": "i", "i16": "s", "i8": "c", "u64": "L",
    "u32": "I", "u16": "S", "u8": "C", "bool": "b", "str": "u", "bytes": "z", "date": "tdD",
}  # fmt: skip


def _inferred_hint(values: Iterable[str | None]) -> Any:
    """A partition field's type for files shoal did not write: ``int`` if every value is an
    integer (as Spark and pyarrow infer), else ``str``."""
    present = [v for v in values if v is not None]
    try:
        for v in present:
            int(v)
    except ValueError:
        return str
    return int if present else str


def _record_of(
    root: str, files: list[str], partitions: list[dict[str, str | None]], keys: tuple[str, ...]
) -> type[Record]:
    if not files:
        raise ValueError(
            f"shoal.open_dataset('{root}'): the folder holds no file to build a record class "
            "from; pass the record class"
        )
    _rows, columns, metadata = _shoal._parquet_info(files[0])
    saved = {f["name"]: f for f in json.loads(metadata.get("shoal.fields", "[]"))}
    extra: dict[str, Any] = {}
    for key in keys:
        values = [p[key] for p in partitions]
        hint: Any
        if key in saved:
            kind = saved[key]["type"]
            hint = hint_of(key, _TYPE_NAMES.get(kind, "u"), "u" if kind == "category" else None)
            optional = saved[key]["optional"]
        else:
            hint, optional = _inferred_hint(values), None in values
        extra[key] = hint | None if optional else hint
    order = list(saved) if saved else None
    return build_record_class(f"shoal.open_dataset('{root}')", columns, metadata, extra, order)


def _typed(kind: str, text: str) -> Any:
    """A folder value as its field's Python value (``kind`` is the field's type name)."""
    base = kind.removesuffix(" | None")
    if base in ("int", "i8", "i16", "i32", "u8", "u16", "u32", "u64"):
        return int(text)
    if base == "bool":
        return text.lower() == "true"
    if base == "date":
        return datetime.date.fromisoformat(text)
    return text


class Dataset(Generic[_R]):
    """A Parquet dataset opened by ``shoal.open_dataset``: its files listed, none read yet.

    ``len(d)`` reads the files' footers; ``d.batches()`` reads one file at a time (memory: one
    file's table); ``d.filter(year=2013)`` keeps the files of those partitions only;
    ``d.to_table()`` reads them all into one table."""

    def __init__(
        self,
        path: str,
        record: type[_R],
        files: list[str],
        partitions: list[dict[str, str | None]],
        keys: tuple[str, ...],
    ) -> None:
        self.path = path
        self.record = record
        self.files = files
        self.partition_by = keys
        self._raw = partitions
        kinds = {f.name: f.storage for f in fields(record)}
        missing = [k for k in keys if k not in kinds]
        if missing:
            raise TypeError(
                f"shoal.open_dataset('{path}'): the dataset is partitioned by {missing}, "
                f"which {record.__qualname__} has no field for"
            )
        self.partitions: list[dict[str, Any]] = [
            {k: None if v is None else self._value(kinds[k], k, v, f) for k, v in p.items()}
            for p, f in zip(partitions, files, strict=True)
        ]
        self._rows: list[int] | None = None

    def _value(self, kind: str, key: str, text: str, file: str) -> Any:
        try:
            return _typed(kind, text)
        except ValueError:
            raise ValueError(
                f"shoal.open_dataset('{self.path}'): the folder {key}={text} of '{file}' is not "
                f"a value of the field '{key}' ({kind})"
            ) from None

    def __len__(self) -> int:
        if self._rows is None:
            self._rows = [_shoal._parquet_info(f)[0] for f in self.files]
        return sum(self._rows)

    def __repr__(self) -> str:
        return (
            f"<shoal.Dataset of {self.record.__qualname__}: {len(self.files)} files in "
            f"'{self.path}', partitioned by {list(self.partition_by)}>"
        )

    def filter(self, **values: Any) -> Dataset[_R]:
        """The files whose partitions hold the given values: ``year=2013`` or
        ``month=[1, 2]`` (any of them); ``None`` selects the null partition. Only partition
        fields can be filtered — the files of other partitions are never opened."""
        unknown = [k for k in values if k not in self.partition_by]
        if unknown:
            raise ValueError(
                f"filter({unknown[0]}=...): '{unknown[0]}' is not a partition field of this "
                f"dataset (partitioned by {list(self.partition_by)})"
            )
        wanted = {
            k: set(v) if isinstance(v, (list, tuple, set, frozenset)) else {v}
            for k, v in values.items()
        }
        keep = [
            i
            for i, p in enumerate(self.partitions)
            if all(p[k] in allowed for k, allowed in wanted.items())
        ]
        subset = Dataset.__new__(Dataset)
        subset.path, subset.record, subset.partition_by = self.path, self.record, self.partition_by
        subset.files = [self.files[i] for i in keep]
        subset._raw = [self._raw[i] for i in keep]
        subset.partitions = [self.partitions[i] for i in keep]
        subset._rows = None if self._rows is None else [self._rows[i] for i in keep]
        return subset

    def read(self, i: int) -> _shoal.Table[_R]:
        """File ``i`` as a table (decoded into memory), its partition values in every row."""
        constants = list(self._raw[i].items())
        return _shoal._read_parquet(self.files[i], self.record, constants)

    def batches(self, rows: int | None = None) -> Iterator[_shoal.Table[_R]]:
        """The rows, one table per file — or, with ``rows``, tables of at most that many rows
        (slices of each file's table). One file's table is in memory at a time."""
        for i in range(len(self.files)):
            table = self.read(i)
            if rows is None:
                yield table
            else:
                yield from table.batches(rows)

    def to_table(self) -> _shoal.Table[_R]:
        """Every file's rows in one table (in the files' order)."""
        return _shoal.concat(self.read(i) for i in range(len(self.files)))


@overload
def open_dataset(path: str | os.PathLike[str], record: type[_R]) -> Dataset[_R]: ...
@overload
def open_dataset(path: str | os.PathLike[str], record: None = None) -> Dataset[Any]: ...
def open_dataset(path: str | os.PathLike[str], record: type[Record] | None = None) -> Dataset[Any]:
    """Opens a folder of Parquet files — as ``Table.save_dataset`` writes it, or Spark, Dask
    and pyarrow do — lazily: the files are listed (and their hive-style partition folders,
    ``key=value``, read), none is opened. Without ``record``, a class is built from the first
    file's schema and the partition folders (their fields typed as saved, or ``int`` where every
    value is an integer, else ``str``)."""
    root = os.fspath(path)
    files, partitions, keys = _list_files(root)
    cls = _record_of(root, files, partitions, keys) if record is None else record
    return Dataset(root, cls, files, partitions, keys)
