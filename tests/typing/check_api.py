"""Checked by mypy (not run by pytest): the public API's static types."""

import shoal
from typing_extensions import assert_type


class Point(shoal.Record):
    x: float
    y: float = 0.0
    n: shoal.u8 = 0

    def norm(self) -> float:
        return float(self.x * self.x + self.y * self.y)


t = shoal.Table(Point)
assert_type(t, shoal.Table[Point])
t.append(1.0, 2.0)
assert_type(t[0], Point)
assert_type(t[0].x, float)
assert_type(t[0].n, int)
assert_type(t[0].norm(), float)
assert_type(t[1:3], shoal.Table[Point])
assert_type(t["x"], shoal.Column)
assert_type(t[[0, 1]], shoal.Table[Point])
assert_type(t.where(x=1.0), shoal.Table[Point])
assert_type(t.take([0]), shoal.Table[Point])
assert_type(t.head(), shoal.Table[Point])
assert_type(t.filter(lambda p: p.x > 0), shoal.Table[Point])
assert_type(t.index(Point(1.0, 2)), int)
by_n = t.index_by("n", unique=True)
assert_type(by_n, shoal.Index[Point])
assert_type(by_n[3], Point)
assert_type(by_n.get(3), Point | None)
assert_type(by_n.rows(3), list[Point])
assert_type(by_n.take([3]), shoal.Table[Point])
assert_type(t.index_by(("x", "n"), sorted=True).range(1.0, 2.0), shoal.Table[Point])
t.sort(by="x")
t.sort(by=["x", "n"], reverse=True)
assert_type(t.pop(), Point)
for p in t:
    assert_type(p, Point)
p = Point(1.0, 2.0, n=3)
assert_type(p.y, float)
u = shoal.Table.from_columns(Point, x=[1.0], y=[2.0])
assert_type(u, shoal.Table[Point])
assert_type(shoal.fields(Point), tuple[shoal.Field, ...])
Point("a")  # type: ignore[arg-type]


import datetime as dt  # noqa: E402
import enum  # noqa: E402
import pathlib  # noqa: E402
from typing import Annotated, Any, Literal  # noqa: E402


class Color(enum.Enum):
    RED = 1


class Rich(shoal.Record):
    name: str
    tag: shoal.Category
    color: Color
    size: Literal["S", "M"]
    at: Annotated[dt.datetime, shoal.tz("UTC")]
    score: float | None = None


r = shoal.Table(Rich)
r.append("a", "t", Color.RED, "S", dt.datetime.now(dt.timezone.utc))
assert_type(r[0].name, str)
assert_type(r[0].tag, str)
assert_type(r[0].color, Color)
assert_type(r[0].at, dt.datetime)
assert_type(r[0].score, float | None)
assert_type(r.compact(), int)


def files(path: str) -> None:
    r.save(path)
    opened = shoal.open(path, Rich)
    assert_type(opened, shoal.Table[Rich])
    assert_type(shoal.open(path, Rich, mode="c")[0].tag, str)
    assert_type(opened.is_mapped, bool)
    for batch in opened.batches(1000):
        assert_type(batch, shoal.Table[Rich])
    assert_type(shoal.open(path), shoal.Table[Any])
    with shoal.Writer(path, Rich, batch_rows=100) as w:
        assert_type(w, shoal.Writer[Rich])
        w.append("a", "t", Color.RED, "S", dt.datetime.now(dt.timezone.utc))
        w.extend(r)
        w.write(r)
        assert_type(len(w), int)
        assert_type(w.partial_path, pathlib.Path)
    assert_type(shoal.recover(path), int)
    batches = shoal.open_batches(path, Rich)
    assert_type(batches, shoal.FileBatches[Rich])
    assert_type(batches[0], shoal.Table[Rich])
    for t in batches:
        assert_type(t, shoal.Table[Rich])
    assert_type(shoal.open_batches(path), shoal.FileBatches[Any])
    r.save_dataset(path, ["tag"], compression="zstd", overwrite=True)
    d = shoal.open_dataset(path, Rich)
    assert_type(d, shoal.Dataset[Rich])
    assert_type(d.filter(tag=["a", "b"]), shoal.Dataset[Rich])
    assert_type(d.to_table(), shoal.Table[Rich])
    assert_type(len(d), int)
    for part in d.batches(1_000):
        assert_type(part, shoal.Table[Rich])
    assert_type(shoal.open_dataset(path), shoal.Dataset[Any])


class Version(shoal.Record, frozen=True, order=True):
    """The dataclass API as type checkers see it (mypy and pyright, by dataclass_transform)."""

    major: int
    minor: int = shoal.field(default=0)
    tags: str = shoal.field(default_factory=str, compare=False)
    _: shoal.KW_ONLY
    label: str = ""


def check_dataclass_api() -> None:
    v = Version(1, 2, label="x")
    assert_type(v.minor, int)
    assert_type(v < Version(2), bool)
    assert_type(hash(v), int)
    assert_type(shoal.replace(v, minor=3), Version)
    assert_type(shoal.is_record(v), bool)
    assert_type(shoal.fields(Version)[0].type, Any)
    assert_type(shoal.fields(Version)[0].storage, str)
    assert_type(shoal.Table.from_columns(Version, major=[1, 2]), shoal.Table[Version])
    assert_type(shoal.Table.from_arrow(Version, object()), shoal.Table[Version])
