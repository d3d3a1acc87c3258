"""Stubs for the Rust extension module (private; use the names re-exported by shoal)."""

import datetime as _dt
from typing import Any

from shoal import Column as Column
from shoal import Field as Field
from shoal import FrozenInstanceError as FrozenInstanceError
from shoal import StaleRowError as StaleRowError
from shoal import Table as Table

class RecordBase:
    """C-level storage base of shoal.Record."""

class Schema:
    def __init__(
        self,
        record_type: type,
        fields: list[
            tuple[
                str,
                str,
                Any,
                bool,
                tuple[str, ...] | None,
                type | None,
                _dt.tzinfo | None,
                str | None,
            ]
        ],
        frozen: bool,
    ) -> None: ...
    @property
    def fields(self) -> list[Field]: ...
    @property
    def row_bytes(self) -> int: ...
    @property
    def frozen(self) -> bool: ...

def _table_from_buffers(
    record_type: type, columns: list[tuple[list[Any], Any, int]]
) -> Table[Any]: ...
def _sizeof(
    obj: object, include_shared: bool = False, registered: list[type] = ...
) -> dict[str, Any]: ...
def _census(progress: bool = False, registered: list[type] = ...) -> dict[str, Any]: ...

TRACEMALLOC_DOMAIN: int
