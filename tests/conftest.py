import pytest
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


@pytest.fixture
def points() -> shoal.Table[Point]:
    t = shoal.Table(Point)
    for i in range(10):
        t.append(float(i), float(-i))
    return t
