"""Model-based test: random sequences of operations on a Table and on a plain list of tuples,
including invalid values, must agree after every step."""

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
rows = st.tuples(values, values, values, values)


def model_row(row: tuple) -> tuple:
    return tuple(check(f, v) for f, v in zip(FIELDS, row, strict=True))


class TableMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.table = shoal.Table(Rec)
        self.model: list[tuple] = []

    def apply(self, op_table, op_model) -> None:
        try:
            expected = op_model()
        except (TypeError, OverflowError) as e:
            with pytest.raises(type(e)):
                op_table()
            return
        assert op_table() == expected

    @rule(row=rows)
    def append(self, row):
        def model():
            self.model.append(model_row(row))

        self.apply(lambda: self.table.append(*row), model)

    @rule(batch=st.lists(rows, max_size=5))
    def extend(self, batch):
        def model():
            checked = [model_row(r) for r in batch]
            self.model.extend(checked)

        self.apply(lambda: self.table.extend(batch), model)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), field=st.sampled_from(FIELDS), value=values)
    def set_field(self, data, field, value):
        i = data.draw(st.integers(-len(self.model), len(self.model) - 1))

        def model():
            row = list(self.model[i])
            row[FIELDS.index(field)] = check(field, value)
            self.model[i] = tuple(row)

        self.apply(lambda: setattr(self.table[i], field, value), model)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), row=rows)
    def set_row(self, data, row):
        i = data.draw(st.integers(0, len(self.model) - 1))

        def model():
            self.model[i] = model_row(row)

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
            self.model.insert(i, model_row(row))

        self.apply(lambda: self.table.insert(i, *row), model)

    @rule()
    def clear(self):
        self.table.clear()
        self.model.clear()

    @invariant()
    def same_contents(self):
        assert len(self.table) == len(self.model)
        assert [shoal.astuple(r) for r in self.table] == self.model
        for idx, name in enumerate(FIELDS):
            assert self.table[name].to_list() == [r[idx] for r in self.model]


TableMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_table_matches_list_model = TableMachine.TestCase
