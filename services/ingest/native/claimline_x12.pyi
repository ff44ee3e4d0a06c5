"""Type stubs of the compiled module (src/lib.rs)."""

from collections.abc import Iterator
from os import PathLike
from typing import Any

class Unsupported(ValueError):
    """The file holds something the fast path is not sure about; read it with the Python parser."""

class Scanner:
    def __init__(
        self,
        path: str | PathLike[str],
        element: str,
        component: str,
        terminator: str,
        start: int,
        emit: bool,
        kit: tuple[object, ...] | None = None,
        tables: bool = False,
        check_claims: bool = True,
    ) -> None: ...
    @property
    def bytes_read(self) -> int: ...
    def __iter__(self) -> Iterator[list[Any]]: ...
    def __next__(self) -> list[Any]: ...

class Table:
    """Named columns of equal length; no Python object per value until a column is asked for."""

    @property
    def num_rows(self) -> int: ...
    def __len__(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    def column(self, name: str) -> list[Any]: ...
    def buffers(self, name: str) -> tuple[Any, ...]: ...

class Tables:
    """One batch of a remittance file as tables (pass two with tables=True)."""

    @property
    def services(self) -> Table: ...
    @property
    def claims(self) -> Table: ...
    @property
    def adjustments(self) -> Table: ...
    @property
    def extras(self) -> Table: ...
    @property
    def provider_adjustments(self) -> Table: ...
    @property
    def transactions(self) -> Table: ...
