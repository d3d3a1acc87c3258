"""Model-based test: random sequences of operations on a Table and on a plain list of tuples,
including invalid values, must agree after every step. Two records: plain numbers, and every
other field type (text with emoji and lone surrogates, nulls, categories, bytes, datetimes)."""

import datetime as dt
from typing import Literal

import hypothesis.strategies as st
import pytest
import shoal
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule


class Rec(shoal.Record):
    x: float
    n: shoal.u8
    b: bool
    k: shoal.i16 = 0


def check(field: str, v: object) -> object:
    """The documented conversion rules, written independently of shoal; raises on bad input."""
    if field == "x":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError
        return float(v)
    if field == "b":
        if not isinstance(v, bool):
            raise TypeError
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError
    lo, hi = (0, 255) if field == "n" else (-(2**15), 2**15 - 1)
    if not lo <= v <= hi:
        raise OverflowError
    return v


FIELDS = ("x", "n", "b", "k")
values = st.one_of(
    st.floats(allow_nan=False),
    st.integers(-40_000, 40_000),
    st.booleans(),
    st.text(max_size=2),
    st.none(),
)


class Rich(shoal.Record):
    s: str
    o: float | None
    c: shoal.Category
    lit: Literal["a", "b"]
    y: bytes | None
    w: dt.datetime | None
    d: dt.date


RICH_FIELDS = ("s", "o", "c", "lit", "y", "w", "d")


def text(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError from None
    return v


def check_rich(field: str, v: object) -> object:
    """The documented rules for the other field types, written independently of shoal."""
    if v is None:
        if field in ("o", "y", "w"):
            return None
        raise TypeError
    if field == "o":
        return check("x", v)
    if field in ("s", "c"):
        return text(v)
    if field == "lit":
        if text(v) not in ("a", "b"):
            raise ValueError
        return v
    if field == "y":
        if not isinstance(v, (bytes, bytearray)):
            raise TypeError
        return bytes(v)
    if field == "w":
        if not isinstance(v, dt.datetime) or v.tzinfo is not None:
            raise TypeError
        return v
    if not isinstance(v, dt.date) or isinstance(v, dt.datetime):
        raise TypeError
    return v


rich_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "a", "b", "c", "🐟🐠", "\ud800", "x" * 40]),
    st.none(),
    st.floats(allow_nan=False),
    st.integers(-5, 5),
    st.binary(max_size=12),
    st.datetimes(timezones=st.none() | st.just(dt.timezone.utc)),
    st.dates(),
)


def machine(record: type, fields: tuple[str, ...], check_value, values, typed=None) -> type:
    """A state machine running operations on ``shoal.Table(record)`` and on a list of tuples
    whose values ``check_value(field, value)`` converts (or refuses) independently of shoal.
    ``typed`` gives per-field strategies of mostly valid values, mixed with ``values``."""

    def value_for(field: str):
        if typed is None:
            return values
        # One value in 20 from the mixed pool, so most rows are valid and some are not.
        return st.integers(0, 19).flatmap(lambda k: values if k == 0 else typed[field])

    rows = st.tuples(*[value_for(f) for f in fields])

    class TableMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.table = shoal.Table(record)
            self.model: list[tuple] = []

        def model_row(self, row: tuple) -> tuple:
            return tuple(check_value(f, v) for f, v in zip(fields, row, strict=True))

        def apply(self, op_table, op_model) -> None:
            try:
                expected = op_model()
            except (TypeError, OverflowError, ValueError) as e:
                with pytest.raises(type(e)):
                    op_table()
                return
            assert op_table() == expected

        @rule(row=rows)
        def append(self, row):
            def model():
                self.model.append(self.model_row(row))

            self.apply(lambda: self.table.append(*row), model)

        @rule(batch=st.lists(rows, max_size=5))
        def extend(self, batch):
            def model():
                checked = [self.model_row(r) for r in batch]
                self.model.extend(checked)

            self.apply(lambda: self.table.extend(batch), model)

        @precondition(lambda self: self.model)
        @rule(data=st.data(), field=st.sampled_from(fields))
        def set_field(self, data, field):
            i = data.draw(st.integers(-len(self.model), len(self.model) - 1))
            value = data.draw(value_for(field))

            def model():
                row = list(self.model[i])
                row[fields.index(field)] = check_value(field, value)
                self.model[i] = tuple(row)

            self.apply(lambda: setattr(self.table[i], field, value), model)

        @precondition(lambda self: self.model)
        @rule(data=st.data(), row=rows)
        def set_row(self, data, row):
            i = data.draw(st.integers(0, len(self.model) - 1))

            def model():
                self.model[i] = self.model_row(row)

            def table():
                self.table[i] = row

            self.apply(table, model)

        @precondition(lambda self: self.model)
        @rule(data=st.data())
        def delete(self, data):
            i = data.draw(st.integers(-len(self.model), len(self.model) - 1))
            del self.table[i]
            del self.model[i]

        @precondition(lambda self: self.model)
        @rule(data=st.data())
        def pop(self, data):
            i = data.draw(st.integers(-len(self.model), len(self.model) - 1))
            assert shoal.astuple(self.table.pop(i)) == self.model.pop(i)

        @rule(i=st.integers(-5, 30), row=rows)
        def insert(self, i, row):
            def model():
                self.model.insert(i, self.model_row(row))

            self.apply(lambda: self.table.insert(i, *row), model)

        @rule()
        def clear(self):
            self.table.clear()
            self.model.clear()

        @rule()
        def compact(self):
            self.table.compact()

        @invariant()
        def same_contents(self):
            assert len(self.table) == len(self.model)
            assert [shoal.astuple(r) for r in self.table] == self.model
            for idx, name in enumerate(fields):
                assert self.table[name].to_list() == [r[idx] for r in self.model]

    TableMachine.TestCase.settings = settings(
        max_examples=150, stateful_step_count=30, deadline=None
    )
    return TableMachine


test_table_matches_list_model = machine(Rec, FIELDS, check, values).TestCase
rich_typed = {
    "s": st.text(max_size=30),
    "o": st.none() | st.floats(allow_nan=False),
    "c": st.sampled_from(["red", "green", "", "🐟"]) | st.text(max_size=3),
    "lit": st.sampled_from(["a", "b"]),
    "y": st.none() | st.binary(max_size=40),
    "w": st.none() | st.datetimes(),
    "d": st.dates(),
}
test_rich_table_matches_list_model = machine(
    Rich, RICH_FIELDS, check_rich, rich_values, rich_typed
).TestCase
