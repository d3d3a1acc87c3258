"""Record classes shared by the tests (importable: `pythonpath = ["tests"]`)."""

import datetime as dt
import enum
import zoneinfo
from typing import Annotated, Literal, Optional

import shoal


class Point(shoal.Record):
    x: float
    y: float = 0.0

    def norm(self) -> float:
        return float((self.x**2 + self.y**2) ** 0.5)


class Sized(shoal.Record):
    f: shoal.f32
    a: shoal.i8
    b: shoal.i16
    c: shoal.i32
    d: int
    e: shoal.u8
    g: shoal.u16
    h: shoal.u32
    k: shoal.u64
    flag: bool


UTC = dt.timezone.utc
PARIS = zoneinfo.ZoneInfo("Europe/Paris")


class Color(enum.Enum):
    RED = 1
    GREEN = "g"


class Rec(shoal.Record):
    name: str
    score: float | None
    tag: shoal.Category
    color: Color
    size: Literal["S", "M", "L"]
    blob: bytes | None
    when: dt.datetime
    at: Annotated[dt.datetime, shoal.tz("Europe/Paris")]
    day: dt.date
    took: dt.timedelta
    n: Optional[int] = None  # noqa: UP045 - the spelling under test


def rec_values(i: int) -> tuple:
    return (
        f"näme {i} 🐟" * (i % 3),
        None if i % 4 == 2 else i * 1.5,
        "abc"[i % 3],
        Color.RED if i % 2 else Color.GREEN,
        "SML"[i % 3],
        None if i % 5 == 3 else bytes(range(i % 7)),
        dt.datetime(2020, 1, 1, 12) + dt.timedelta(seconds=i, microseconds=i),
        dt.datetime(2024, 3, 31, tzinfo=UTC) + dt.timedelta(hours=i),
        dt.date(1969, 12, 31) + dt.timedelta(days=i * 40),
        dt.timedelta(days=-i, microseconds=7),
        i if i % 2 else None,
    )
