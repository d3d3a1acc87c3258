"""``shoal.Record``: declare a record type the way you declare a dataclass.

The metaclass reads the annotations, checks that shoal can store each type, and hands the fields
to the Rust ``Schema``; each field becomes a ``Field`` descriptor on the class. Instances have no
``__dict__``: a standalone record keeps its values in Rust, and a table row reads and writes the
table's columns.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import sys
import types
import typing
import zoneinfo
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, NoReturn, Union

if TYPE_CHECKING:
    from typing_extensions import Self, dataclass_transform
else:
    try:
        from typing import dataclass_transform
    except ImportError:  # CPython 3.10: the marker only matters to type checkers

        def dataclass_transform(**_kwargs: Any) -> Any:
            return lambda cls: cls


from shoal import _shoal

__all__ = [
    "Category",
    "Record",
    "asdict",
    "astuple",
    "f32",
    "fields",
    "i8",
    "i16",
    "i32",
    "i64",
    "tz",
    "u8",
    "u16",
    "u32",
    "u64",
]


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
class _FieldSpec:
    storage: str
    optional: bool = False
    choices: tuple[str, ...] | None = None
    enum_type: type[enum.Enum] | None = None
    tz: _Tz | None = None


@dataclasses.dataclass(frozen=True)
class FieldDecl:
    """One field as the extension reads it (by attribute) to build a ``Schema``."""

    name: str
    storage: str
    default: object
    optional: bool
    choices: tuple[str, ...] | None
    enum_type: type[enum.Enum] | None
    tzinfo: datetime.tzinfo | None
    tz_name: str | None


def _optional_inner(hint: Any) -> Any | None:
    """``T`` for ``T | None`` / ``Optional[T]``, else None."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
    return None


def _field_spec(owner: str, name: str, hint: Any) -> _FieldSpec:
    inner = _optional_inner(hint)
    if inner is not None:
        return dataclasses.replace(_field_spec(owner, name, inner), optional=True)
    if isinstance(hint, _Tz):
        return _FieldSpec("datetime", tz=hint)
    if typing.get_origin(hint) is Annotated:
        for meta in hint.__metadata__:
            if isinstance(meta, _Storage):
                return _FieldSpec(meta.name)
            if isinstance(meta, _Tz):
                return _FieldSpec("datetime", tz=meta)
        hint = typing.get_args(hint)[0]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        names = tuple(m.name for m in hint)
        return _FieldSpec("category", choices=names, enum_type=hint)
    if typing.get_origin(hint) is Literal:
        values = typing.get_args(hint)
        if all(type(v) is str for v in values):
            return _FieldSpec("category", choices=tuple(dict.fromkeys(values)))
    if hint in _PLAIN:
        return _FieldSpec(_PLAIN[hint])
    raise TypeError(
        f"field '{name}' of {owner}: shoal cannot store {hint!r}; supported types are {_SUPPORTED}"
    )


def _is_classvar(hint: Any) -> bool:
    return hint is ClassVar or typing.get_origin(hint) is ClassVar


@dataclass_transform(eq_default=True, frozen_default=False)
class RecordMeta(type):
    """Builds the schema of every ``shoal.Record`` subclass."""

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        *,
        frozen: bool | None = None,
        **kwargs: Any,
    ) -> RecordMeta:
        slots = namespace.get("__slots__", ())
        if tuple(slots) != ():
            raise TypeError(
                f"{name}: shoal.Record classes cannot declare __slots__; "
                "declare fields as annotations (x: float)"
            )
        namespace["__slots__"] = ()
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if not any(isinstance(b, RecordMeta) for b in bases):
            return cls  # shoal.Record itself: no fields
        inherited = any(getattr(b, "__shoal_frozen__", False) for b in bases)
        if frozen is False and inherited:
            raise TypeError(f"{name}: cannot make a mutable subclass of a frozen record")
        is_frozen = bool(frozen) or inherited
        frame = sys._getframe(1)
        try:
            _install_schema(cls, is_frozen, None)
        except NameError:
            # String annotations (PEP 563) may name things local to the function defining
            # the class, as dataclasses users expect to work; resolve them in that frame too.
            # Only then: reading `f_locals` snapshots every local of the frame, and before
            # CPython 3.13 the frame keeps that snapshot (and so every object a local then
            # held, even after `del`) until it returns.
            _install_schema(cls, is_frozen, dict(frame.f_locals))
        finally:
            del frame
        return cls


def _install_schema(cls: type, frozen: bool, localns: dict[str, Any] | None) -> None:
    hints = typing.get_type_hints(cls, localns=localns, include_extras=True)
    specs = []
    seen_default = None
    for fname, hint in hints.items():
        if fname.startswith("__") or _is_classvar(hint):
            continue
        spec = _field_spec(cls.__name__, fname, hint)
        default = getattr(cls, fname, dataclasses.MISSING)
        if isinstance(default, _shoal.Field):
            default = default.default  # inherited field
        if default is dataclasses.MISSING and seen_default is not None:
            raise TypeError(
                f"{cls.__name__}: field '{fname}' without a default follows "
                f"field '{seen_default}' with one"
            )
        if default is not dataclasses.MISSING:
            seen_default = fname
        tzinfo = spec.tz.tzinfo if spec.tz else None
        tz_name = spec.tz.name if spec.tz else None
        specs.append(
            FieldDecl(
                name=fname,
                storage=spec.storage,
                default=default,
                optional=spec.optional,
                choices=spec.choices,
                enum_type=spec.enum_type,
                tzinfo=tzinfo,
                tz_name=tz_name,
            )
        )
    schema = _shoal.Schema(cls, specs, frozen)
    for field in schema.fields:
        setattr(cls, field.name, field)
    cls.__shoal_schema__ = schema  # type: ignore[attr-defined]
    cls.__shoal_frozen__ = frozen  # type: ignore[attr-defined]
    type.__setattr__(cls, "__match_args__", tuple(f.name for f in schema.fields))
    cls.__hash__ = _hash_record if frozen else None  # type: ignore[assignment,method-assign]


def _hash_record(self: Record) -> int:
    return hash((type(self), astuple(self)))


class Record(_shoal.RecordBase, metaclass=RecordMeta):
    """Base class of shoal records: ``class Point(shoal.Record): x: float; y: float = 0.0``.

    Records behave like dataclasses (``__init__`` from the fields, ``repr``, ``==``; ``hash``
    when declared ``frozen=True``) but have no ``__dict__`` and keep their values in Rust.
    ``shoal.Table(Point)`` stores many of them as columns.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return astuple(self) == astuple(other)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), astuple(self))

    def __copy__(self) -> Self:
        return type(self)(*astuple(self))

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self.__copy__()


def _schema_of(obj: Any) -> Any:
    cls = obj if isinstance(obj, type) else type(obj)
    schema = getattr(cls, "__shoal_schema__", None)
    if schema is None:
        raise TypeError(f"{cls.__name__} is not a shoal.Record class with fields")
    return schema


def fields(record_or_class: Record | type[Record]) -> tuple[_shoal.Field, ...]:
    """The fields of a record class or instance, in declaration order."""
    return tuple(_schema_of(record_or_class).fields)


def asdict(record: Record) -> dict[str, Any]:
    """The record's values as a new ``dict``."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def astuple(record: Record) -> tuple[Any, ...]:
    """The record's values as a tuple, in field order."""
    return tuple(getattr(record, f.name) for f in fields(record))
