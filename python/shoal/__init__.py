"""shoal: too many Python objects, stored at the cost of their data.

>>> import shoal
>>> class Point(shoal.Record):
...     x: float
...     y: float = 0.0
>>> t = shoal.Table(Point)
>>> t.append(1.0, 2.0)
>>> t[0]
Point(x=1.0, y=2.0)
"""

from shoal._census import Advice, CensusReport, census
from shoal._dataset import Dataset, open_dataset
from shoal._files import open, open_batches, record_class_of, recover
from shoal._measure import SizeReport, register_sizer, sizeof
from shoal._record import (
    KW_ONLY,
    InitVar,
    Record,
    asdict,
    astuple,
    field,
    fields,
    is_record,
    replace,
)
from shoal._shoal import (
    Batches,
    Column,
    Field,
    FileBatches,
    FrozenInstanceError,
    Index,
    StaleRowError,
    Table,
    Writer,
    concat,
)
from shoal._types import Category, f32, i8, i16, i32, i64, tz, u8, u16, u32, u64

__all__ = [
    "KW_ONLY",
    "Advice",
    "Batches",
    "Category",
    "CensusReport",
    "Column",
    "Dataset",
    "Field",
    "FileBatches",
    "FrozenInstanceError",
    "Index",
    "InitVar",
    "Record",
    "SizeReport",
    "StaleRowError",
    "Table",
    "Writer",
    "asdict",
    "astuple",
    "census",
    "concat",
    "f32",
    "field",
    "fields",
    "i8",
    "i16",
    "i32",
    "i64",
    "is_record",
    "open",
    "open_batches",
    "open_dataset",
    "record_class_of",
    "recover",
    "register_sizer",
    "replace",
    "sizeof",
    "tz",
    "u8",
    "u16",
    "u32",
    "u64",
]
__version__ = "0.1.0"
