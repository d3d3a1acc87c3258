"""A record class that changed after its data was written: pickles (tables and records) and
files are matched to the class's fields by name. A field added with a default (or factory) is
filled; a changed type, a dropped field, nulls in a field no longer optional and an added
field without a default are errors that name the field and say what to do — never a silent
reinterpretation of the bytes."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
import shoal
from shoal._shoal import _table_from_buffers


class Evolving(shoal.Record):
    """Stands in for the class as pickled; each test swaps in the class as it is now."""

    x: float
    name: str | None


def now_declared(monkeypatch: pytest.MonkeyPatch, cls: type) -> type:
    """Makes ``cls`` the one pickles of ``Evolving`` find: the class as changed since."""
    cls.__qualname__ = "Evolving"
    cls.__module__ = __name__
    monkeypatch.setattr(sys.modules[__name__], "Evolving", cls)
    return cls


AS_FIRST_DECLARED = Evolving


def written() -> shoal.Table[Evolving]:
    t = shoal.Table(AS_FIRST_DECLARED)
    t.extend([(1.5, "a"), (2.5, None), (3.5, "c")])
    return t


ROWS = [(1.5, "a"), (2.5, None), (3.5, "c")]
#: Pickled by the class as first declared, before any test swaps it.
OLD_TABLE = pickle.dumps(written(), protocol=5)
OLD_RECORD = pickle.dumps(Evolving(1.0, "a"))


def saved(tmp_path: Path) -> Path:
    path = tmp_path / "old.arrow"
    written().save(path)
    return path


def with_added_fields() -> type:
    calls: list[int] = []

    class Evolving(shoal.Record):  # type: ignore[no-redef]
        kind: int = shoal.field(default=7, kw_only=True)
        name: str | None  # reordered: matched by name, not position
        x: float
        note: str = shoal.field(default_factory=lambda: calls.append(1) or f"n{len(calls)}")

    return Evolving


def values(t: Any) -> list[tuple[Any, ...]]:
    return [(r.x, r.name, r.kind, r.note) for r in t]


EXPECTED = [(1.5, "a", 7, "n1"), (2.5, None, 7, "n2"), (3.5, "c", 7, "n3")]


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_table_pickled_before_fields_were_added_loads_them_from_their_defaults(
    monkeypatch: pytest.MonkeyPatch, protocol: int
):
    data = pickle.dumps(written(), protocol=protocol)
    now_declared(monkeypatch, with_added_fields())
    t = pickle.loads(data)
    assert values(t) == EXPECTED  # the factory is called once per row, in order
    t.append(x=9.0, name="z")  # and the table is a normal one
    assert len(t) == 4 and t[3].kind == 7


def test_a_record_pickled_before_fields_were_added_loads_them_from_their_defaults(
    monkeypatch: pytest.MonkeyPatch,
):
    data = pickle.dumps([Evolving(1.5, "a"), Evolving(2.5, None)])
    now_declared(monkeypatch, with_added_fields())
    loaded = pickle.loads(data)
    assert [(r.x, r.name, r.kind, r.note) for r in loaded] == [
        (1.5, "a", 7, "n1"),
        (2.5, None, 7, "n2"),
    ]


def test_a_file_saved_before_fields_were_added_opens_with_them_filled(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    path = saved(tmp_path)
    assert values(shoal.open(path, with_added_fields())) == EXPECTED
    (batch,) = shoal.open_batches(path, with_added_fields())
    assert values(batch) == EXPECTED


def test_a_dataset_saved_before_fields_were_added_opens_with_them_filled(tmp_path: Path):
    written().save_dataset(tmp_path / "ds", "name")  # a partition column and a plain one
    table = shoal.open_dataset(tmp_path / "ds", with_added_fields()).to_table()
    rows = sorted(values(table), key=lambda v: v[0])
    assert [v[:3] for v in rows] == [v[:3] for v in EXPECTED]
    assert sorted(v[3] for v in rows) == ["n1", "n2", "n3"]  # once per row, files in turn


def test_pickles_made_before_names_were_kept_still_load_by_position():
    """The format of earlier versions: (buffers, validity, length) per field, in order."""
    _, (cls, columns) = written().__reduce_ex__(4)
    legacy = [c[2:] for c in columns]
    assert [type(c[0]) for c in columns] == [str, str]  # the current format names them
    t = _table_from_buffers(cls, legacy)
    assert [(r.x, r.name) for r in t] == ROWS
    with pytest.raises(ValueError, match="1 columns, expected 2"):
        _table_from_buffers(cls, legacy[:1])


def refused(monkeypatch: pytest.MonkeyPatch, cls: type, data: bytes) -> str:
    now_declared(monkeypatch, cls)
    with pytest.raises((ValueError, TypeError)) as info:
        pickle.loads(data)
    return str(info.value)


def test_a_field_whose_type_changed_is_refused_naming_it(monkeypatch: pytest.MonkeyPatch):
    class Evolving(shoal.Record):  # type: ignore[no-redef]
        x: int  # 8 bytes like the float: read as it is it would be garbage
        name: str | None

    message = refused(monkeypatch, Evolving, OLD_TABLE)
    assert "column 'x' was pickled as float, but Evolving.x is int" in message


def test_a_dropped_field_is_refused_rather_than_lost(monkeypatch: pytest.MonkeyPatch):
    class Evolving(shoal.Record):  # type: ignore[no-redef]
        x: float

    assert "a column 'name', which Evolving no longer declares" in refused(
        monkeypatch, Evolving, OLD_TABLE
    )
    assert "unknown field str 'name'; the fields are x" in refused(
        monkeypatch, Evolving, OLD_RECORD
    )


def test_an_added_field_without_a_default_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    class Evolving(shoal.Record):  # type: ignore[no-redef]
        x: float
        name: str | None
        z: int

    assert "no column for field 'z', which has no default" in refused(
        monkeypatch, Evolving, OLD_TABLE
    )
    assert "missing value for field 'z'" in refused(monkeypatch, Evolving, OLD_RECORD)
    with pytest.raises(ValueError, match="no column named 'z'"):
        shoal.open(saved(tmp_path), Evolving)


def test_nulls_in_a_field_no_longer_optional_are_refused_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
):
    class Evolving(shoal.Record):  # type: ignore[no-redef]
        x: float
        name: str

    message = refused(monkeypatch, Evolving, OLD_TABLE)
    assert "column 'name' may hold nulls, but Evolving.name is not optional" in message
    assert "`str | None`" in message


def test_a_table_pickled_by_the_same_class_is_matched_without_change():
    t = written()
    assert [(r.x, r.name) for r in pickle.loads(pickle.dumps(t, protocol=5))] == ROWS
    assert pickle.loads(pickle.dumps(t[1])) == t[1]
