import pytest
import shoal
from records import Point


@pytest.fixture
def points() -> shoal.Table[Point]:
    t = shoal.Table(Point)
    for i in range(10):
        t.append(float(i), float(-i))
    return t
