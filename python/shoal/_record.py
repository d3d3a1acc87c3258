"""``shoal.Record``: declare a record type the way you declare a dataclass.

The metaclass reads the annotations and the dataclass options (``field(...)``, ``KW_ONLY``,
``InitVar``, ``frozen``/``eq``/``order``/``unsafe_hash``/``kw_only``/``repr``/``match_args``),
checks that shoal can store each type, and hands the fields and the constructor's parameters
to the Rust ``Schema``; each field becomes a ``Field`` descriptor on the class. Instances have
no ``__dict__``: a standalone record keeps its values in Rust, and a table row reads and writes
the table's columns. The methods dataclasses generate (``__repr__``, ``__eq__``, ordering,
``__hash__``) are generated here by the same rules, and a class's own are kept.
"""

from __future__ import annotations

import abc
import dataclasses
import inspect
import operator
import sys
import typing
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from shoal import _shoal
from shoal._types import (
    Category,
    f32,
    field_spec,
    i8,
    i16,
    i32,
    i64,
    is_classvar,
    is_initvar,
    is_kw_only_marker,
    tz,
    u8,
    u16,
    u32,
    u64,
)

if TYPE_CHECKING:
    from typing_extensions import Self, dataclass_transform

    _Meta = abc.ABCMeta
else:
    # typing.Protocol's metaclass is an ABCMeta: deriving from it lets abc.ABC and protocols
    # be bases of a record class without a metaclass conflict.
    _Meta = type(typing.Protocol)

    try:
        from typing import dataclass_transform
    except ImportError:  # CPython 3.10: the marker only matters to type checkers

        def dataclass_transform(**_kwargs: Any) -> Any:
            return lambda cls: cls


__all__ = [
    "KW_ONLY",
    "Category",
    "InitVar",
    "Record",
    "asdict",
    "astuple",
    "f32",
    "field",
    "fields",
    "i8",
    "i16",
    "i32",
    "i64",
    "is_record",
    "replace",
    "tz",
    "u8",
    "u16",
    "u32",
    "u64",
]

_T = TypeVar("_T")
_MISSING: Any = dataclasses.MISSING
#: Fields after ``_: shoal.KW_ONLY`` are keyword-only (it is ``dataclasses.KW_ONLY``).
KW_ONLY = dataclasses.KW_ONLY
#: ``scale: shoal.InitVar[float]`` is passed to ``__post_init__``, not stored.
InitVar = dataclasses.InitVar


@overload
def field(
    *,
    default: _T,
    init: bool = True,
    repr: bool = True,
    hash: bool | None = None,
    compare: bool = True,
    metadata: Mapping[Any, Any] | None = None,
    kw_only: bool = ...,
) -> _T: ...
@overload
def field(
    *,
    default_factory: Callable[[], _T],
    init: bool = True,
    repr: bool = True,
    hash: bool | None = None,
    compare: bool = True,
    metadata: Mapping[Any, Any] | None = None,
    kw_only: bool = ...,
) -> _T: ...
@overload
def field(
    *,
    init: bool = True,
    repr: bool = True,
    hash: bool | None = None,
    compare: bool = True,
    metadata: Mapping[Any, Any] | None = None,
    kw_only: bool = ...,
) -> Any: ...
def field(
    *,
    default: Any = _MISSING,
    default_factory: Any = _MISSING,
    init: bool = True,
    repr: bool = True,
    hash: bool | None = None,
    compare: bool = True,
    metadata: Mapping[Any, Any] | None = None,
    kw_only: Any = _MISSING,
) -> Any:
    """Per-field options, exactly as ``dataclasses.field`` takes them (whose result a record
    class also accepts): ``tags: str = shoal.field(default_factory=str, repr=False)``.

    ``default_factory`` is called for each record or row that is given no value."""
    return dataclasses.field(
        default=default,
        default_factory=default_factory,
        init=init,
        repr=repr,
        hash=hash,
        compare=compare,
        metadata=metadata,
        kw_only=kw_only,
    )


@dataclasses.dataclass(frozen=True)
class FieldDecl:
    """One field as the extension reads it (by attribute) to build a ``Schema``; its
    ``Field`` keeps it for the dataclass options (``Field.type``, ``Field.compare``, ...)."""

    name: str
    storage: str
    default: object
    default_factory: Callable[[], object] | None
    optional: bool
    choices: tuple[str, ...] | None
    enum_type: type | None
    tzinfo: Any
    tz_name: str | None
    type: Any
    init: bool
    repr: bool
    hash: bool | None
    compare: bool
    kw_only: bool
    metadata: Mapping[Any, Any]


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of the record class's constructor, in signature order: a field (by
    index) or an ``InitVar`` (by its place among them)."""

    name: str
    field: int | None
    initvar: int | None
    kw_only: bool
    default: object  # an InitVar's default, else MISSING (fields keep theirs in the Schema)


@dataclasses.dataclass(frozen=True)
class _Options:
    frozen: bool
    eq: bool = True
    order: bool = False
    unsafe_hash: bool = False
    kw_only: bool = False
    repr: bool = True
    match_args: bool = True


@dataclasses.dataclass
class _Declared:
    """What one class body declares, in declaration order."""

    fields: list[FieldDecl]
    initvars: list[tuple[str, Any, object, bool]]  # name, type, default, kw_only
    order: list[str]  # the names of fields and InitVars, as declared


_NAME_ERROR_HINT = (
    "a record cannot hold itself or a class defined after it; refer to another record by "
    "key (store `parent_id: int | None`, find it with `t.index_by('id')`), see docs/types.md"
)


@dataclass_transform(eq_default=True, frozen_default=False, field_specifiers=(field,))
class RecordMeta(_Meta):
    """Builds the schema of every ``shoal.Record`` subclass."""

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        *,
        frozen: bool | None = None,
        eq: bool = True,
        order: bool = False,
        unsafe_hash: bool = False,
        kw_only: bool = False,
        repr: bool = True,
        match_args: bool = True,
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
        _check_bases(cls)
        inherited = any(getattr(b, "__shoal_frozen__", False) for b in bases)
        if frozen is False and inherited:
            raise TypeError(f"{name}: cannot make a mutable subclass of a frozen record")
        if order and not eq:
            raise ValueError(f"{name}: eq must be true if order is true")
        options = _Options(
            bool(frozen) or inherited, eq, order, unsafe_hash, kw_only, repr, match_args
        )
        frame = sys._getframe(1)
        try:
            declared = _declared(cls, options, None)
        except NameError:
            # String annotations (PEP 563) may name things local to the function defining
            # the class, as dataclasses users expect to work; resolve them in that frame too.
            # Only then: reading `f_locals` snapshots every local of the frame, and before
            # CPython 3.13 the frame keeps that snapshot (and so every object a local then
            # held, even after `del`) until it returns.
            try:
                declared = _declared(cls, options, dict(frame.f_locals))
            except NameError as e:
                raise TypeError(
                    f"{name}: an annotation names {e.name!r}, which is not defined when the "
                    f"class is made; {_NAME_ERROR_HINT}"
                ) from None
        finally:
            del frame
        _install(cls, namespace, options, declared)
        return cls


def _check_bases(cls: type) -> None:
    """A base without ``__slots__`` would give every record a ``__dict__``; say which."""
    for base in cls.__mro__[1:]:
        if "__dict__" not in base.__dict__ and "__weakref__" not in base.__dict__:
            continue
        raise TypeError(
            f"{cls.__name__}: its base {base.__qualname__} has no __slots__, so its instances "
            f"would carry a __dict__; add `__slots__ = ()` to {base.__qualname__}"
        )


def _declared(cls: type, options: _Options, localns: dict[str, Any] | None) -> _Declared:
    hints = typing.get_type_hints(cls, localns=localns, include_extras=True)
    own = list(inspect.get_annotations(cls))
    marker = next((n for n in own if n in hints and is_kw_only_marker(hints[n])), None)
    after_marker = set(own[own.index(marker) + 1 :]) if marker else set()
    declared = _Declared([], [], [])
    for fname, hint in hints.items():
        if fname.startswith("__") or is_classvar(hint) or is_kw_only_marker(hint):
            continue
        kw_default = options.kw_only or fname in after_marker
        raw = getattr(cls, fname, _MISSING)
        if is_initvar(hint):
            default = raw.default if isinstance(raw, dataclasses.Field) else raw
            declared.initvars.append((fname, hint, default, kw_default))
        else:
            declared.fields.append(_field_decl(cls, fname, hint, raw, fname in own, kw_default))
        declared.order.append(fname)
    return declared


def _field_decl(
    cls: type, fname: str, hint: Any, raw: Any, own: bool, kw_default: bool
) -> FieldDecl:
    spec = field_spec(cls.__name__, fname, hint)
    if isinstance(raw, _shoal.Field):  # inherited: keep the base's options
        base = raw.options
        return dataclasses.replace(
            base, kw_only=kw_default if own else base.kw_only, type=hint, storage=spec.storage
        )
    options = raw if isinstance(raw, dataclasses.Field) else field(default=raw)
    factory: Any = options.default_factory
    if not options.init and options.default is _MISSING and factory is _MISSING:
        raise TypeError(
            f"{cls.__name__}: field '{fname}' has init=False and no default; give it a "
            "default or a default_factory (every row needs a value)"
        )
    kw_only = kw_default if options.kw_only is _MISSING else bool(options.kw_only)
    return FieldDecl(
        name=fname,
        storage=spec.storage,
        default=options.default,
        default_factory=None if factory is _MISSING else factory,
        optional=spec.optional,
        choices=spec.choices,
        enum_type=spec.enum_type,
        tzinfo=spec.tz.tzinfo if spec.tz else None,
        tz_name=spec.tz.name if spec.tz else None,
        type=hint,
        init=options.init,
        repr=options.repr,
        hash=options.hash,
        compare=options.compare,
        kw_only=kw_only,
        metadata=options.metadata,
    )


def _params(cls: type, declared: _Declared) -> list[Param]:
    """The constructor's parameters: positional ones in declaration order, then keyword-only
    ones; a positional one without a default may not follow one with a default."""
    by_name = {f.name: (i, f) for i, f in enumerate(declared.fields)}
    initvars = {v[0]: (j, v) for j, v in enumerate(declared.initvars)}
    params = []
    for name in declared.order:
        if name in by_name:
            i, f = by_name[name]
            if f.init:
                params.append(Param(name, i, None, f.kw_only, _MISSING))
        else:
            j, (_, _, default, kw_only) = initvars[name]
            params.append(Param(name, None, j, kw_only, default))
    params.sort(key=lambda p: p.kw_only)  # stable: declaration order within each kind
    seen_default = None
    for p in params:
        if p.kw_only:
            break
        if _has_default(p, declared):
            seen_default = p.name
        elif seen_default is not None:
            raise TypeError(
                f"{cls.__name__}: field '{p.name}' without a default follows "
                f"field '{seen_default}' with one"
            )
    return params


def _has_default(p: Param, declared: _Declared) -> bool:
    if p.field is None:
        return p.default is not _MISSING
    f = declared.fields[p.field]
    return f.default is not _MISSING or f.default_factory is not None


class _Factory:
    """Stands for a default_factory in signatures and docs, as dataclasses shows it."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()


def _signature(params: list[Param], declared: _Declared) -> inspect.Signature:
    out = []
    for p in params:
        kind = (
            inspect.Parameter.KEYWORD_ONLY if p.kw_only else inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        if p.field is None:
            hint = declared.initvars[p.initvar or 0][1]
            default = p.default
        else:
            f = declared.fields[p.field]
            hint = f.type
            default = _FACTORY if f.default_factory is not None else f.default
        empty = inspect.Parameter.empty
        out.append(
            inspect.Parameter(
                p.name, kind, default=empty if default is _MISSING else default, annotation=hint
            )
        )
    return inspect.Signature(out, return_annotation=None)


def _install(cls: type, ns: dict[str, Any], options: _Options, declared: _Declared) -> None:
    params = _params(cls, declared)
    own_init = "__init__" in ns
    if own_init:
        _set(cls, "__init__", _kept_init(ns["__init__"]))
    elif cls.__init__ is not object.__init__:  # type: ignore[misc]
        # As dataclasses do, a class without its own __init__ gets the fields' one, not an
        # inherited one (which would be called with the fields' arguments).
        _set(cls, "__init__", object.__init__)
    if options.frozen and "__setattr__" not in ns and "__delattr__" not in ns:
        # Frozen records need no fast write path; the generic one lets `__post_init__` and
        # `__init__` set fields with `object.__setattr__`, as frozen dataclasses do (CPython
        # refuses it on a type whose C base overrides tp_setattro, which both names share).
        _set(cls, "__setattr__", object.__setattr__)
        _set(cls, "__delattr__", object.__delattr__)
    post_init = hasattr(cls, "__post_init__")
    schema = _shoal.Schema(cls, declared.fields, options.frozen, params, post_init, own_init)
    for f in schema.fields:
        setattr(cls, f.name, f)
    cls.__shoal_schema__ = schema  # type: ignore[attr-defined]
    cls.__shoal_frozen__ = options.frozen  # type: ignore[attr-defined]
    sig = _signature(params, declared)
    type.__setattr__(cls, "__signature__", sig)
    if ns.get("__doc__") is None:
        cls.__doc__ = cls.__name__ + str(sig).replace(" -> None", "")
    if options.match_args and "__match_args__" not in ns:
        names = tuple(p.name for p in params if not p.kw_only)
        type.__setattr__(cls, "__match_args__", names)
    _install_methods(cls, ns, options, declared.fields)


def _kept_init(user_init: Callable[..., None]) -> Callable[..., None]:
    """A class's own ``__init__``, run so that it may set every field (even of a frozen
    record) and checked to have done so."""

    def __init__(self: Record, *args: Any, **kwargs: Any) -> None:
        _shoal.run_init(self, user_init, args, kwargs)

    __init__.__wrapped__ = user_init  # type: ignore[attr-defined]
    __init__.__qualname__ = user_init.__qualname__
    __init__.__doc__ = user_init.__doc__
    return __init__


def _set(cls: type, name: str, value: Any) -> None:
    type.__setattr__(cls, name, value)


def _key(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of these fields' values (what ==, < and hash compare)."""
    if len(names) >= 2:
        return operator.attrgetter(*names)
    if len(names) == 1:
        one = operator.attrgetter(names[0])
        return lambda r: (one(r),)
    return lambda r: ()


def _install_methods(
    cls: type, ns: dict[str, Any], options: _Options, decls: list[FieldDecl]
) -> None:
    if options.repr and "__repr__" not in ns:
        _set(cls, "__repr__", _repr_method(tuple(f.name for f in decls if f.repr)))
    compared = tuple(f.name for f in decls if f.compare)
    key = _key(compared)
    if options.eq and "__eq__" not in ns:
        _set(cls, "__eq__", _compare_method("__eq__", operator.eq, key))
    if options.order:
        for name, op in (
            ("__lt__", operator.lt),
            ("__le__", operator.le),
            ("__gt__", operator.gt),
            ("__ge__", operator.ge),
        ):
            if name in ns:
                raise TypeError(
                    f"Cannot overwrite attribute {name} in class {cls.__name__}. "
                    "Consider using functools.total_ordering"
                )
            _set(cls, name, _compare_method(name, op, key))
    _install_hash(cls, ns, options, decls)


def _install_hash(cls: type, ns: dict[str, Any], options: _Options, decls: list[FieldDecl]) -> None:
    """dataclasses' rules: whether ``__hash__`` is added, set to None or left alone."""
    class_hash = ns.get("__hash__", _MISSING)
    explicit = not (class_hash is _MISSING or (class_hash is None and "__eq__" in ns))
    if options.unsafe_hash and explicit:
        raise TypeError(f"Cannot overwrite attribute __hash__ in class {cls.__name__}")
    if explicit:
        return
    if options.unsafe_hash or (options.eq and options.frozen):
        hashed = tuple(f.name for f in decls if (f.compare if f.hash is None else f.hash))
        key = _key(hashed)
        _set(cls, "__hash__", lambda self: hash(key(self)))
    elif options.eq:
        _set(cls, "__hash__", None)


def _repr_method(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__qualname__}({inner})"

    return __repr__


def _compare_method(
    name: str, op: Callable[[Any, Any], bool], key: Callable[[Any], tuple[Any, ...]]
) -> Callable[[Any, Any], Any]:
    def method(self: Any, other: Any) -> Any:
        if type(other) is type(self):
            return op(key(self), key(other))
        return NotImplemented

    method.__name__ = method.__qualname__ = name
    return method


class Record(_shoal.RecordBase, metaclass=RecordMeta):
    """Base class of shoal records: ``class Point(shoal.Record): x: float; y: float = 0.0``.

    Records behave like dataclasses (``__init__`` from the fields, ``repr``, ``==``; ``hash``
    when declared ``frozen=True``; ``shoal.field``, ``__post_init__``, ``InitVar``, ``order``,
    ``kw_only``) but have no ``__dict__`` and keep their values in Rust.
    ``shoal.Table(Point)`` stores many of them as columns.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        cls = type(self)
        return (_rebuild, (cls, astuple(self), _field_names(cls)))

    def __copy__(self) -> Self:
        return _rebuild(type(self), astuple(self))

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self.__copy__()

    def __replace__(self, /, **changes: Any) -> Self:
        return replace(self, **changes)


_R = TypeVar("_R", bound=Record)


def _rebuild(cls: type[_R], values: tuple[Any, ...], names: tuple[str, ...] | None = None) -> _R:
    """A record of every field's value in order, as pickling and copying make one: checked
    like a table row, without calling ``__init__`` or ``__post_init__`` (as dataclasses'
    copies and unpickling do not). ``names``: the fields' names when pickled (pickles made
    before they were kept have none), matched by name so that a class that gained a field
    with a default still loads its older pickles."""
    return _schema_of(cls).record_of(values, names)  # type: ignore[no-any-return]


def _field_names(cls: type) -> tuple[str, ...]:
    """The names of ``cls``'s fields, one tuple per class (a pickle of many records keeps it
    once)."""
    names: tuple[str, ...] | None = cls.__dict__.get("__shoal_field_names__")
    if names is None:
        names = tuple(f.name for f in _schema_of(cls).fields)
        type.__setattr__(cls, "__shoal_field_names__", names)
    return names


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


def is_record(obj: object) -> bool:
    """Whether ``obj`` is a record class with fields or an instance of one (as
    ``dataclasses.is_dataclass``)."""
    cls = obj if isinstance(obj, type) else type(obj)
    return isinstance(getattr(cls, "__shoal_schema__", None), _shoal.Schema)


def replace(record: _R, /, **changes: Any) -> _R:
    """A new record like ``record`` with ``changes``, made by calling its class (so
    ``__post_init__`` runs), as ``dataclasses.replace`` (and ``copy.replace`` on 3.13)."""
    cls = type(record)
    plan = _REPLACE_PLANS.get(cls)
    if plan is None:
        plan = _REPLACE_PLANS[cls] = _replace_plan(_schema_of(cls))
    init_fields, not_init, required_initvars = plan
    for name in not_init.intersection(changes):
        raise _REPLACE_ERROR(
            f"field {name} is declared with init=False, it cannot be specified with replace()"
        )
    for name in required_initvars:
        if name not in changes:
            raise _REPLACE_ERROR(f"InitVar {name!r} must be specified with replace()")
    values = {name: getattr(record, name) for name in init_fields}
    values.update(changes)
    return cls(**values)


def _replace_plan(schema: Any) -> tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]:
    """What `replace` needs of a class: the fields its constructor takes, those it does not,
    and the InitVars without a default."""
    params = schema.params
    return (
        tuple(p.name for p in params if p.field is not None),
        frozenset(f.name for f in schema.fields if not f.init),
        tuple(p.name for p in params if p.field is None and p.default is _MISSING),
    )


#: What dataclasses.replace raises for an init=False field: a TypeError since 3.13.
_REPLACE_ERROR = TypeError if sys.version_info >= (3, 13) else ValueError

#: Per class, made on the first `replace` (weak: a class defined in a function may go).
_REPLACE_PLANS: weakref.WeakKeyDictionary[type, Any] = weakref.WeakKeyDictionary()
