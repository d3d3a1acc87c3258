"""Standalone records: declaration, construction, dataclass-like behaviour, errors."""

import copy
import dataclasses
import enum
import gc
import pickle
from typing import ClassVar

import pytest
import shoal
from records import Point, Sized


def test_construction_defaults_and_keywords():
    assert Point(1.0, 2.0).x == 1.0
    assert Point(1.0).y == 0.0
    assert Point(y=3.0, x=1.0) == Point(1.0, 3.0)
    assert Point(1) == Point(1.0, 0.0)  # int -> float
    assert type(Point(1).x) is float


def test_user_methods_and_no_dict():
    p = Point(3.0, 4.0)
    assert p.norm() == 5.0
    assert not hasattr(p, "__dict__")
    with pytest.raises(AttributeError):
        p.z = 1.0  # type: ignore[attr-defined]


def test_repr_eq_hash():
    assert repr(Point(1.0, 2.0)) == "Point(x=1.0, y=2.0)"
    assert Point(1.0, 2.0) != Point(1.0, 3.0)
    assert Point(1.0, 2.0) != (1.0, 2.0)
    with pytest.raises(TypeError):
        hash(Point(1.0))


def test_frozen_records_hash_and_refuse_writes():
    class Key(shoal.Record, frozen=True):
        a: int
        b: int = 0

    k = Key(1, 2)
    assert hash(k) == hash(Key(1, 2))
    assert {k: "v"}[Key(1, 2)] == "v"
    with pytest.raises(shoal.FrozenInstanceError, match=r"'a'.*Key is frozen"):
        k.a = 5
    assert isinstance(shoal.FrozenInstanceError("x"), AttributeError)


def test_fields_asdict_astuple():
    fs = shoal.fields(Point)
    assert [f.name for f in fs] == ["x", "y"]
    assert [f.storage for f in fs] == ["float", "float"]
    assert fs[0].default is dataclasses.MISSING
    assert fs[1].default == 0.0
    assert shoal.fields(Point(1.0)) == fs
    assert shoal.asdict(Point(1.0, 2.0)) == {"x": 1.0, "y": 2.0}
    assert shoal.astuple(Point(1.0, 2.0)) == (1.0, 2.0)
    assert Point.x is fs[0]
    assert "Point.x: float" in repr(Point.x)


def test_match_args():
    match Point(1.0, 2.0):
        case Point(x, y):
            assert (x, y) == (1.0, 2.0)
        case _:
            pytest.fail("no match")


def test_sized_types_round_trip_and_ranges():
    s = Sized(1.5, -128, -32768, -(2**31), -(2**63), 255, 65535, 2**32 - 1, 2**64 - 1, True)
    assert shoal.astuple(s) == (
        1.5,
        -128,
        -32768,
        -(2**31),
        -(2**63),
        255,
        65535,
        2**32 - 1,
        2**64 - 1,
        True,
    )
    base = list(shoal.astuple(s))
    for i, bad in [
        (1, 128),
        (2, -32769),
        (3, 2**31),
        (4, 2**63),
        (5, -1),
        (6, 65536),
        (7, 2**32),
        (8, 2**64),
        (4, 10**30),
    ]:
        args = base.copy()
        args[i] = bad
        with pytest.raises(OverflowError, match=str(bad)):
            Sized(*args)


def test_f32_rounds_and_rejects_out_of_range():
    class F(shoal.Record):
        v: shoal.f32

    assert F(0.1).v == pytest.approx(0.1, rel=1e-7)
    assert F(float("inf")).v == float("inf")
    with pytest.raises(OverflowError, match="f32"):
        F(1e300)


@pytest.mark.parametrize(
    ("value", "error"),
    [("a", TypeError), (None, TypeError), (True, TypeError), ([1.0], TypeError)],
)
def test_float_field_rejects(value, error):
    with pytest.raises(error, match=r"field 'x' of Point (expects float|is not optional)"):
        Point(value)


def test_int_field_type_rules():
    class N(shoal.Record):
        n: int

    assert N(5).n == 5
    with pytest.raises(TypeError, match="float is not accepted"):
        N(3.0)
    with pytest.raises(TypeError, match="got bool True"):
        N(True)
    with pytest.raises(TypeError):
        N("3")


def test_bool_field_rules():
    class B(shoal.Record):
        b: bool

    assert B(True).b is True
    with pytest.raises(TypeError):
        B(1)


def test_numpy_scalars_are_accepted():
    np = pytest.importorskip("numpy")

    class M(shoal.Record):
        x: float
        n: int
        b: bool

    m = M(np.float32(1.5), np.int64(7), np.bool_(True))
    assert shoal.astuple(m) == (1.5, 7, True)
    with pytest.raises(TypeError):
        M(1.0, np.float64(2.0), True)


def test_arity_and_name_errors():
    with pytest.raises(TypeError, match="takes 2 values"):
        Point(1.0, 2.0, 3.0)
    with pytest.raises(TypeError, match="missing value for field 'x'"):
        Point()
    with pytest.raises(TypeError, match="unknown field str 'z'"):
        Point(1.0, z=2.0)
    with pytest.raises(TypeError, match="two values for field 'x'"):
        Point(1.0, x=2.0)


def test_declaration_errors():
    with pytest.raises(TypeError, match="cannot store"):

        class Bad(shoal.Record):
            s: list[int]

    with pytest.raises(TypeError, match="__slots__"):

        class Slotted(shoal.Record):
            __slots__ = ("a",)
            a: int

    with pytest.raises(TypeError, match="without a default follows"):

        class Order(shoal.Record):
            a: int = 0
            b: int

    with pytest.raises(TypeError, match="default"):

        class BadDefault(shoal.Record):
            a: int = 1.5  # type: ignore[assignment]

    with pytest.raises(TypeError, match="no fields"):
        shoal.Record()


def test_classvar_and_inheritance():
    class Base(shoal.Record):
        a: int
        kind: ClassVar[str] = "base"

    class Child(Base):
        b: float = 1.0

    c = Child(1)
    assert shoal.astuple(c) == (1, 1.0)
    assert isinstance(c, Base)
    assert Child.kind == "base"
    assert [f.name for f in shoal.fields(Child)] == ["a", "b"]


def test_string_annotations(tmp_path, monkeypatch):
    (tmp_path / "lazy_mod.py").write_text(
        "from __future__ import annotations\n"
        "import shoal\n"
        "class P(shoal.Record):\n"
        "    x: float\n"
        "    n: shoal.u8 = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import lazy_mod

    assert shoal.astuple(lazy_mod.P(1.0)) == (1.0, 1)
    assert [f.storage for f in shoal.fields(lazy_mod.P)] == ["float", "u8"]


def test_pickle_and_copy():
    p = Point(1.0, 2.0)
    assert pickle.loads(pickle.dumps(p)) == p
    assert copy.copy(p) == p
    assert copy.deepcopy(p) == p
    assert copy.copy(p) is not p


def test_defining_a_record_in_a_function_keeps_none_of_its_locals_alive():
    # Reading the defining frame's f_locals (for PEP 563 string annotations) snapshots every
    # local, and before CPython 3.13 the frame keeps the snapshot until it returns: a table
    # deleted after a class definition stayed in memory. Now only a NameError reads them.
    import weakref

    class Big:
        pass

    big = Big()
    alive = weakref.ref(big)

    class Local(shoal.Record):
        x: float

    del big
    gc.collect()
    assert alive() is None
    assert Local(1.0).x == 1.0


def test_string_annotations_may_still_name_the_functions_locals():
    class Inner(enum.Enum):
        A = "a"

    class Uses(shoal.Record):
        kind: "Inner"  # a string, as under `from __future__ import annotations`

    assert Uses(Inner.A).kind is Inner.A
