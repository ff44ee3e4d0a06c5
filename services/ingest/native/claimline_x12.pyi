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
    ) -> None: ...
    @property
    def bytes_read(self) -> int: ...
    def __iter__(self) -> Iterator[list[Any]]: ...
    def __next__(self) -> list[Any]: ...
