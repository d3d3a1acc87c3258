"""The dataclass API, behaviour by behaviour.

Each case is one class body, declared once as a ``dataclasses.dataclass`` and once as a
``shoal.Record``, and probed the same way on the dataclass, on a standalone record and on a
table row (``t[0]`` after ``t.append(K(...))``). The outcomes (a value, or the exception's type)
must agree: shoal may raise a subclass of what dataclasses raise. Where shoal differs on
purpose, the case names its outcome and the phrase of docs/types.md that explains why.
Many cases follow CPython's own Lib/test/test_dataclasses.
"""

import abc
import copy
import dataclasses
import inspect
import itertools
import sys
import textwrap
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shoal

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "types.md").read_text()

_NAMESPACES = {
    "dataclass": {
        "field": dataclasses.field,
        "KW_ONLY": dataclasses.KW_ONLY,
        "InitVar": dataclasses.InitVar,
        "replace": dataclasses.replace,
        "fields": dataclasses.fields,
        "asdict": dataclasses.asdict,
        "astuple": dataclasses.astuple,
        "is_it": dataclasses.is_dataclass,
    },
    "record": {
        "field": shoal.field,
        "KW_ONLY": shoal.KW_ONLY,
        "InitVar": shoal.InitVar,
        "replace": shoal.replace,
        "fields": shoal.fields,
        "asdict": shoal.asdict,
        "astuple": shoal.astuple,
        "is_it": shoal.is_record,
    },
}
_COMMON = {"ClassVar": typing.ClassVar, "itertools": itertools, "abc": abc, "Any": Any}

#: The case's own outcome for shoal is the same as dataclasses'.
SAME = object()


@dataclasses.dataclass
class Case:
    id: str
    body: str
    probe: Callable[[type, Callable[..., Any], dict[str, Any]], Any]
    options: str = ""
    setup: str = ""
    bases: str = ""
    #: What shoal does instead, and the phrase of docs/types.md that says why.
    shoal: Any = SAME
    why: str = ""
    rows: bool = True
    #: `bases` is a record class of the set-up (so `shoal.Record` is not added).
    inherits: bool = False


def declare(kind: str, case: Case) -> tuple[type, dict[str, Any]]:
    ns: dict[str, Any] = {**_COMMON, **_NAMESPACES[kind]}
    if case.setup:
        exec(textwrap.dedent(case.setup), ns)
    body = textwrap.indent(textwrap.dedent(case.body).strip() + "\n", "    ")
    if kind == "dataclass":
        src = f"@dataclasses.dataclass({case.options})\nclass K({case.bases}):\n{body}"
        ns["dataclasses"] = dataclasses
    else:
        root = "" if case.inherits else "shoal.Record"
        bases = ", ".join(b for b in (root, case.bases, case.options) if b)
        src = f"class K({bases}):\n{body}"
        ns["shoal"] = shoal
    exec(src, ns)
    return ns["K"], ns


def standalone(cls: type) -> Callable[..., Any]:
    return cls


def row(cls: type) -> Callable[..., Any]:
    def make(*args: Any, **kwargs: Any) -> Any:
        t = shoal.Table(cls)
        t.append(cls(*args, **kwargs))
        return t[0]

    return make


def outcome(kind: str, case: Case, maker: Callable[[type], Callable[..., Any]]) -> tuple:
    try:
        cls, ns = declare(kind, case)
        return ("ok", case.probe(cls, maker(cls), ns))
    except Exception as e:
        return ("raise", type(e))


def assign(r: Any, name: str, value: Any) -> Any:
    setattr(r, name, value)
    return getattr(r, name)


def delete(r: Any, name: str) -> None:
    delattr(r, name)


def matched(r: Any) -> Any:
    cls = type(r)
    match r:
        case cls(a, b):
            return (a, b)
    return None


OWN_HASH = "x: int\ndef __hash__(self):\n    return 7"

CASES = [
    # Construction, defaults and the signature.
    Case("positional", "x: int\ny: int = 2", lambda K, make, ns: repr(make(1))),
    Case("positional-both", "x: int\ny: int = 2", lambda K, make, ns: repr(make(1, 3))),
    Case("keywords", "x: int\ny: int = 2", lambda K, make, ns: repr(make(y=5, x=1))),
    Case("missing", "x: int\ny: int = 2", lambda K, make, ns: make()),
    Case("too-many", "x: int\ny: int = 2", lambda K, make, ns: make(1, 2, 3)),
    Case("unknown-keyword", "x: int", lambda K, make, ns: make(1, z=3)),
    Case("twice", "x: int", lambda K, make, ns: make(1, x=2)),
    Case("default-before-required", "x: int = 1\ny: int", lambda K, make, ns: K),
    Case("field-default", "x: int = field(default=3)", lambda K, make, ns: repr(make())),
    Case(
        "factory",
        "x: str = field(default_factory=lambda: 'a')",
        lambda K, make, ns: (make().x, make("b").x),
    ),
    Case(
        "factory-each-time",
        "x: int = field(default_factory=itertools.count().__next__)",
        lambda K, make, ns: (make().x, make().x, make(9).x, make().x),
        rows=False,  # the row maker makes one record more per call
    ),
    Case(
        "default-and-factory",
        "x: int = field(default=1, default_factory=int)",
        lambda K, make, ns: K,
    ),
    Case(
        "init-false",
        "x: int\ny: int = field(init=False, default=7)",
        lambda K, make, ns: (repr(make(1)), str(inspect.signature(K))),
    ),
    Case(
        "init-false-refused",
        "x: int\ny: int = field(init=False, default=7)",
        lambda K, make, ns: make(1, 2),
    ),
    Case(
        "init-false-no-default",
        "x: int\ny: int = field(init=False)",
        lambda K, make, ns: make(1).x,
        shoal=("raise", TypeError),
        why="`init=False` needs a default",
    ),
    Case(
        "kw-only-field",
        "x: int = field(kw_only=True)\ny: int",
        lambda K, make, ns: (repr(make(2, x=1)), str(inspect.signature(K))),
    ),
    Case(
        "kw-only-field-positional",
        "x: int = field(kw_only=True)\ny: int",
        lambda K, make, ns: make(1, 2),
    ),
    Case(
        "kw-only-class",
        "x: int\ny: int = 0",
        lambda K, make, ns: repr(make(x=1)),
        options="kw_only=True",
    ),
    Case("kw-only-class-positional", "x: int", lambda K, make, ns: make(1), options="kw_only=True"),
    Case(
        "kw-only-marker",
        "x: int\n_: KW_ONLY\ny: int = 0\nz: int",
        lambda K, make, ns: (repr(make(1, z=3)), str(inspect.signature(K))),
    ),
    Case(
        "kw-only-allows-required-after-default",
        "x: int = 0\n_: KW_ONLY\ny: int",
        lambda K, make, ns: repr(make(y=1)),
    ),
    Case(
        "signature",
        "x: int\ny: str = 'a'\nz: float = field(default_factory=float)",
        lambda K, make, ns: str(inspect.signature(K)),
    ),
    Case("doc-generated", "x: int\ny: int = 2", lambda K, make, ns: K.__doc__),
    Case("doc-kept", '"""Its own doc."""\nx: int', lambda K, make, ns: K.__doc__),
    Case(
        "match-args",
        "x: int\ny: int\n_: KW_ONLY\nz: int = 0",
        lambda K, make, ns: K.__match_args__,
    ),
    Case("match", "x: int\ny: int", lambda K, make, ns: matched(make(1, 2))),
    Case(
        "match-args-off",
        "x: int",
        lambda K, make, ns: hasattr(K, "__match_args__"),
        options="match_args=False",
    ),
    Case(
        "classvar",
        "x: int\nc: ClassVar[int] = 5",
        lambda K, make, ns: ([f.name for f in ns["fields"](K)], K.c, make(1).c),
    ),
    # __post_init__ and InitVar.
    Case(
        "post-init-validates",
        "x: int\ndef __post_init__(self):\n    if self.x < 0: raise ValueError('x < 0')",
        lambda K, make, ns: (make(1).x, make(-1)),
    ),
    Case(
        "post-init-computes",
        "x: int\ny: int = field(init=False, default=0)\n"
        "def __post_init__(self):\n    self.y = self.x * 2",
        lambda K, make, ns: repr(make(3)),
    ),
    Case(
        "initvar",
        "x: int\nscale: InitVar[int]\ndef __post_init__(self, scale):\n    self.x *= scale",
        lambda K, make, ns: (repr(make(2, 3)), [f.name for f in ns["fields"](K)]),
    ),
    Case(
        "initvar-default",
        "x: int\nscale: InitVar[int] = 10\n"
        "def __post_init__(self, scale):\n    self.x = self.x * scale",
        lambda K, make, ns: (repr(make(2)), repr(make(2, scale=2))),
    ),
    Case(
        "initvar-missing",
        "x: int\nscale: InitVar[int]\ndef __post_init__(self, scale):\n    pass",
        lambda K, make, ns: make(2),
    ),
    Case(
        "initvar-without-post-init",
        "x: int\nscale: InitVar[int] = 1",
        lambda K, make, ns: repr(make(2, 3)),
        shoal=("raise", TypeError),
        why="an `InitVar` needs a `__post_init__` to receive it",
    ),
    Case(
        "frozen-post-init-object-setattr",
        "x: int\ny: int = field(init=False, default=0)\n"
        "def __post_init__(self):\n    object.__setattr__(self, 'y', self.x + 1)",
        lambda K, make, ns: (repr(make(1)), hash(make(1)) == hash(make(1))),
        options="frozen=True",
    ),
    Case(
        "frozen-post-init-plain-assignment",
        "x: int\ny: int = field(init=False, default=0)\n"
        "def __post_init__(self):\n    self.y = self.x + 1",
        lambda K, make, ns: repr(make(1)),
        options="frozen=True",
        shoal=("ok", "K(x=1, y=2)"),
        why="a frozen record's `__post_init__` may also assign its fields directly",
    ),
    # Frozen records, assignment and deletion.
    Case(
        "frozen-assign",
        "x: int",
        lambda K, make, ns: assign(make(1), "x", 2),
        options="frozen=True",
    ),
    Case(
        "frozen-delete",
        "x: int",
        lambda K, make, ns: delete(make(1), "x"),
        options="frozen=True",
        shoal=("raise", TypeError),
        why="deleting a field is refused with a `TypeError`",
    ),
    Case("mutable-assign", "x: int", lambda K, make, ns: assign(make(1), "x", 5)),
    # Hashing: dataclasses' table of rules.
    Case(
        "frozen-hash", "x: int\ny: int", lambda K, make, ns: hash(make(1, 2)), options="frozen=True"
    ),
    Case("mutable-unhashable", "x: int", lambda K, make, ns: hash(make(1))),
    Case("unsafe-hash", "x: int", lambda K, make, ns: hash(make(1)), options="unsafe_hash=True"),
    Case(
        "unsafe-hash-with-own-hash",
        OWN_HASH,
        lambda K, make, ns: K,
        options="unsafe_hash=True",
    ),
    Case(
        "own-hash-kept",
        OWN_HASH,
        lambda K, make, ns: hash(make(1)),
    ),
    Case(
        "own-hash-kept-frozen",
        OWN_HASH,
        lambda K, make, ns: hash(make(1)),
        options="frozen=True",
    ),
    Case(
        "hash-false-field",
        "x: int\ny: int = field(hash=False)",
        lambda K, make, ns: (hash(make(1, 2)) == hash(make(1, 3)), make(1, 2) == make(1, 3)),
        options="frozen=True",
    ),
    Case(
        "compare-false-not-hashed",
        "x: int\ny: int = field(compare=False)",
        lambda K, make, ns: hash(make(1, 2)),
        options="frozen=True",
    ),
    Case(
        "eq-false-identity",
        "x: int",
        lambda K, make, ns: (make(1) == make(1), type(hash(make(1)))),
        options="eq=False",
    ),
    Case(
        "own-eq-kept",
        "x: int\ndef __eq__(self, other):\n    return True",
        lambda K, make, ns: (make(1) == make(2), K.__hash__),
    ),
    # Equality and ordering.
    Case(
        "eq",
        "x: int\ny: int = 0",
        lambda K, make, ns: (make(1) == make(1), make(1) == make(1, 1), make(1) != make(2)),
    ),
    Case("eq-other-type", "x: int", lambda K, make, ns: (make(1) == (1,), make(1) == 1)),
    Case(
        "compare-false",
        "x: int\ny: int = field(compare=False)",
        lambda K, make, ns: make(1, 2) == make(1, 3),
    ),
    Case(
        "order",
        "x: int\ny: int = 0",
        lambda K, make, ns: (
            make(1) < make(2),
            make(1, 5) < make(2, 0),
            make(2) >= make(2),
            make(3) > make(2, 9),
            make(1) <= make(1, 0),
        ),
        options="order=True",
    ),
    Case(
        "order-sorts",
        "x: int",
        lambda K, make, ns: [r.x for r in sorted([make(3), make(1), make(2)])],
        options="order=True",
    ),
    Case("order-other-type", "x: int", lambda K, make, ns: make(1) < 2, options="order=True"),
    Case("unordered", "x: int", lambda K, make, ns: make(1) < make(2)),
    Case("order-needs-eq", "x: int", lambda K, make, ns: K, options="order=True, eq=False"),
    Case(
        "order-own-lt",
        "x: int\ndef __lt__(self, other):\n    return True",
        lambda K, make, ns: K,
        options="order=True",
    ),
    # repr.
    Case(
        "own-repr-kept",
        "x: int\ndef __repr__(self):\n    return 'mine'",
        lambda K, make, ns: repr(make(1)),
    ),
    Case(
        "repr-false-class",
        "x: int",
        lambda K, make, ns: repr(make(1)).startswith("<"),
        options="repr=False",
    ),
    Case(
        "repr-false-field",
        "x: int\ny: int = field(repr=False, default=0)",
        lambda K, make, ns: repr(make(1)),
    ),
    # The module functions.
    Case("replace", "x: int\ny: int = 0", lambda K, make, ns: repr(ns["replace"](make(1, 2), y=5))),
    Case("replace-unknown", "x: int", lambda K, make, ns: ns["replace"](make(1), z=5)),
    Case(
        "replace-init-false",
        "x: int\ny: int = field(init=False, default=0)",
        lambda K, make, ns: ns["replace"](make(1), y=5),
    ),
    Case(
        "replace-initvar-required",
        "x: int\nscale: InitVar[int]\ndef __post_init__(self, scale):\n    pass",
        lambda K, make, ns: ns["replace"](make(1, 2), x=3),
    ),
    Case(
        "replace-runs-post-init",
        "x: int\ndef __post_init__(self):\n    if self.x < 0: raise ValueError('x < 0')",
        lambda K, make, ns: ns["replace"](make(1), x=-1),
    ),
    Case(
        "asdict-astuple",
        "x: int\ny: str = 'a'",
        lambda K, make, ns: (ns["asdict"](make(1)), ns["astuple"](make(1))),
    ),
    Case(
        "is-dataclass",
        "x: int",
        lambda K, make, ns: (ns["is_it"](K), ns["is_it"](make(1)), ns["is_it"](1)),
    ),
    Case(
        "fields-options",
        "x: int = field(default=1, repr=False, compare=False, hash=True, "
        "metadata={'unit': 'm'}, kw_only=True)\ny: str = field(default_factory=str)",
        lambda K, make, ns: [
            (
                f.name,
                f.type,
                f.default,
                f.default_factory is dataclasses.MISSING,
                f.init,
                f.repr,
                f.compare,
                f.hash,
                f.kw_only,
                dict(f.metadata),
            )
            for f in ns["fields"](K)
        ],
    ),
    Case(
        "copy",
        "x: int\ny: int = 0",
        lambda K, make, ns: (copy.copy(make(1, 2)) == make(1, 2), repr(copy.deepcopy(make(1, 2)))),
    ),
    Case(
        "copy-skips-post-init",
        "x: int\nn: ClassVar[list] = []\ndef __post_init__(self):\n    type(self).n.append(1)",
        lambda K, make, ns: (copy.copy(make(1)), len(K.n))[1],
        rows=False,
    ),  # the row maker copies the record into the table
    # Classes: inheritance, own __init__, abstract bases.
    Case(
        "inherit-fields",
        "z: int = 0",
        lambda K, make, ns: (repr(make(1, 2, 3)), str(inspect.signature(K))),
        setup="@DECORATE\nclass B(BASE):\n    x: int\n    y: int = 5\n",
        bases="B",
        inherits=True,
    ),
    Case(
        "inherit-override-default",
        "y: int = 9",
        lambda K, make, ns: repr(make(1)),
        setup="@DECORATE\nclass B(BASE):\n    x: int\n    y: int = 5\n",
        bases="B",
        inherits=True,
    ),
    Case(
        "inherit-frozen-needs-frozen",
        "z: int = 0",
        lambda K, make, ns: K.__name__,
        shoal=("ok", "K"),
        why="a subclass of a frozen record is frozen",
        setup="@DECORATE_FROZEN\nclass B(BASE_FROZEN):\n    x: int\n",
        bases="B",
        inherits=True,
    ),
    Case(
        "own-init-kept",
        "x: int\ny: str\ndef __init__(self, text):\n    a, b = text.split(':')\n"
        "    self.x = int(a)\n    self.y = b",
        lambda K, make, ns: (repr(make("3:a")), make("4:b") == make("4:b")),
    ),
    Case(
        "own-init-frozen",
        "x: int\ndef __init__(self, v):\n    object.__setattr__(self, 'x', v * 2)",
        lambda K, make, ns: (repr(make(2)), hash(make(2)) == hash(make(2))),
        options="frozen=True",
    ),
    Case(
        "own-init-left-unset",
        "x: int\ny: int\ndef __init__(self):\n    self.x = 1",
        lambda K, make, ns: make().y,
        shoal=("raise", TypeError),
        why="an own `__init__` must set every field without a default",
    ),
    Case(
        "abstract-base",
        "x: int\ndef area(self):\n    return self.x",
        lambda K, make, ns: make(2).area(),
        setup="class A(abc.ABC):\n    __slots__ = ()\n    @abc.abstractmethod\n"
        "    def area(self): ...\n",
        bases="A",
    ),
    Case(
        "abstract-left",
        "x: int",
        lambda K, make, ns: make(2),
        setup="class A(abc.ABC):\n    __slots__ = ()\n    @abc.abstractmethod\n"
        "    def area(self): ...\n",
        bases="A",
    ),
    Case(
        "protocol-base",
        "x: float\ndef __float__(self):\n    return self.x",
        lambda K, make, ns: (float(make(2.5)), isinstance(make(1.0), typing.SupportsFloat)),
        bases="typing.SupportsFloat",
        setup="import typing",
    ),
    Case(
        "mixin-methods",
        "x: int",
        lambda K, make, ns: make(2).twice(),
        setup="class M:\n    __slots__ = ()\n    def twice(self):\n        return self.x * 2\n",
        bases="M",
    ),
    Case(
        "no-dict",
        "x: int",
        lambda K, make, ns: hasattr(make(1), "__dict__"),
        shoal=("ok", False),
        why="records have no `__dict__`",
    ),
]


def _prepare(kind: str, case: Case) -> Case:
    """Base-class set-ups name the decorator and base of their kind."""
    if "DECORATE" not in case.setup:
        return case
    plain = {"dataclass": ("@dataclasses.dataclass", ""), "record": ("", "shoal.Record")}
    frozen = {
        "dataclass": ("@dataclasses.dataclass(frozen=True)", ""),
        "record": ("", "shoal.Record, frozen=True"),
    }
    setup = case.setup
    for marker, table in (("_FROZEN", frozen), ("", plain)):
        decorate, base = table[kind]
        setup = setup.replace(f"@DECORATE{marker}\n", decorate + "\n" if decorate else "")
        setup = setup.replace(f"BASE{marker}", base)
    prelude = "import dataclasses\nimport shoal\n"
    return dataclasses.replace(case, setup=prelude + setup, bases=case.bases)


@pytest.mark.parametrize("maker", [standalone, row], ids=["standalone", "row"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_record_behaves_as_the_dataclass_does(case: Case, maker: Callable) -> None:
    if maker is row and not case.rows:
        pytest.skip("the case counts constructions; rows make one more")
    expected = outcome("dataclass", _prepare("dataclass", case), standalone)
    got = outcome("record", _prepare("record", case), maker)
    if case.shoal is not SAME:
        assert case.why and case.why in DOCS, f"docs/types.md must explain: {case.why}"
        expected = case.shoal
    if expected[0] == "raise":
        assert got[0] == "raise" and issubclass(got[1], expected[1]), (expected, got)
    else:
        assert got == expected


def test_the_cases_cover_sixty_behaviours() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.skipif(sys.version_info < (3, 13), reason="copy.replace is new in 3.13")
def test_copy_replace_on_313() -> None:
    class K(shoal.Record):
        x: int
        y: int = 0

    assert copy.replace(K(1, 2), y=5) == K(1, 5)  # type: ignore[attr-defined]
