"""What each annotation stores as: ``float`` a float64 column, ``shoal.u8`` a uint8 one,
``shoal.Category`` a dictionary-encoded string, ``Annotated[datetime, shoal.tz("UTC")]`` a
tz-aware timestamp, and so on (see docs/types.md).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import types
import typing
import zoneinfo
from typing import Annotated, Any, ClassVar, Literal, NoReturn, Union


class _Storage:
    """Marks an annotation with a sized storage type (``Annotated[int, _Storage("u8")]``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"shoal.{self.name}"


f32 = Annotated[float, _Storage("f32")]
i8 = Annotated[int, _Storage("i8")]
i16 = Annotated[int, _Storage("i16")]
i32 = Annotated[int, _Storage("i32")]
i64 = Annotated[int, _Storage("i64")]
u8 = Annotated[int, _Storage("u8")]
u16 = Annotated[int, _Storage("u16")]
u32 = Annotated[int, _Storage("u32")]
u64 = Annotated[int, _Storage("u64")]
#: A dictionary-encoded string: each row stores a small code, each distinct value is kept once.
Category = Annotated[str, _Storage("category")]


class _Tz:
    """Marks a datetime annotation with its column's time zone (see ``shoal.tz``)."""

    __slots__ = ("name", "tzinfo")

    def __init__(self, zone: str | datetime.tzinfo) -> None:
        self.tzinfo = zoneinfo.ZoneInfo(zone) if isinstance(zone, str) else zone
        self.name = _tz_name(self.tzinfo)

    def __repr__(self) -> str:
        return f"shoal.tz({self.name!r})"

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        # Callable only so that CPython 3.10's typing accepts the bare ``shoal.tz("UTC")``
        # annotation under ``from __future__ import annotations`` (it checks ``callable``).
        raise TypeError(f"{self!r} marks a datetime annotation; it is not called")


def _tz_name(tz: datetime.tzinfo) -> str:
    """The zone's name as Arrow spells it: an IANA key, ``UTC`` or ``+HH:MM``."""
    if isinstance(tz, zoneinfo.ZoneInfo):
        return tz.key
    if tz is datetime.timezone.utc:
        return "UTC"
    if isinstance(tz, datetime.timezone):
        offset = tz.utcoffset(None)
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    raise TypeError(
        f"shoal.tz takes an IANA zone name, a zoneinfo.ZoneInfo or a datetime.timezone, got {tz!r}"
    )


def tz(zone: str | datetime.tzinfo) -> Any:
    """Marks a datetime field tz-aware: ``created: Annotated[datetime, shoal.tz("UTC")]``
    (what type checkers understand), or just ``created: shoal.tz("UTC")``.

    Values are stored as UTC microseconds and read back in this zone; any aware datetime is
    accepted (converted), a naive one is refused.
    """
    return _Tz(zone)


_PLAIN = {
    float: "float",
    int: "int",
    bool: "bool",
    str: "str",
    bytes: "bytes",
    datetime.datetime: "datetime",
    datetime.date: "date",
    datetime.timedelta: "timedelta",
}
_SUPPORTED = (
    "float, int, bool, str, bytes, datetime, date, timedelta, shoal.Category, an Enum, "
    "a Literal of strings, shoal.f32, shoal.i8 ... shoal.i64, shoal.u8 ... shoal.u64, "
    "shoal.tz(...), and any of these | None"
)


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    storage: str
    optional: bool = False
    choices: tuple[str, ...] | None = None
    enum_type: type[enum.Enum] | None = None
    tz: _Tz | None = None


def _optional_inner(hint: Any) -> Any | None:
    """``T`` for ``T | None`` / ``Optional[T]``, else None."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
    return None


def field_spec(owner: str, name: str, hint: Any) -> FieldSpec:
    inner = _optional_inner(hint)
    if inner is not None:
        return dataclasses.replace(field_spec(owner, name, inner), optional=True)
    if isinstance(hint, _Tz):
        return FieldSpec("datetime", tz=hint)
    if typing.get_origin(hint) is Annotated:
        for meta in hint.__metadata__:
            if isinstance(meta, _Storage):
                return FieldSpec(meta.name)
            if isinstance(meta, _Tz):
                return FieldSpec("datetime", tz=meta)
        hint = typing.get_args(hint)[0]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        names = tuple(m.name for m in hint)
        return FieldSpec("category", choices=names, enum_type=hint)
    if typing.get_origin(hint) is Literal:
        values = typing.get_args(hint)
        if all(type(v) is str for v in values):
            return FieldSpec("category", choices=tuple(dict.fromkeys(values)))
    if hint in _PLAIN:
        return FieldSpec(_PLAIN[hint])
    raise TypeError(
        f"field '{name}' of {owner}: shoal cannot store {hint!r}; supported types are {_SUPPORTED}"
    )


def is_classvar(hint: Any) -> bool:
    return hint is ClassVar or typing.get_origin(hint) is ClassVar


def is_initvar(hint: Any) -> bool:
    return hint is dataclasses.InitVar or isinstance(hint, dataclasses.InitVar)


def is_kw_only_marker(hint: Any) -> bool:
    return hint is dataclasses.KW_ONLY
