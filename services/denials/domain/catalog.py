"""The code catalog: group codes, CARCs and RARCs with our plain-English meaning and next action.

The wording is ours. The official X12 lists are copyrighted and are never shipped; an unknown code is
answered as unknown with its raw value, never dropped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"


@dataclass(frozen=True)
class CodeEntry:
    kind: str  # group | carc | rarc
    code: str
    meaning: str
    action: str | None = None
    category: str | None = None
    appealable: str | None = None


@dataclass(frozen=True)
class Catalog:
    groups: dict[str, CodeEntry]
    carcs: dict[str, CodeEntry]
    rarcs: dict[str, CodeEntry]

    def group(self, code: str) -> CodeEntry | None:
        return self.groups.get(code)

    def carc(self, code: str) -> CodeEntry | None:
        return self.carcs.get(code)

    def rarc(self, code: str) -> CodeEntry | None:
        return self.rarcs.get(code)

    def lookup(self, kind: str, code: str) -> CodeEntry | None:
        table = {"group": self.groups, "carc": self.carcs, "rarc": self.rarcs}[kind]
        return table.get(code.upper())


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=1)
def load_catalog(directory: Path = CATALOG_DIR) -> Catalog:
    groups = {
        r["code"]: CodeEntry("group", r["code"], r["meaning"], r["action"], r["category"])
        for r in _read(directory / "groups.csv")
    }
    carcs = {
        r["code"]: CodeEntry("carc", r["code"], r["meaning"], r["action"], r["category"], r["appealable"])
        for r in _read(directory / "carc.csv")
    }
    rarcs = {r["code"]: CodeEntry("rarc", r["code"], r["meaning"]) for r in _read(directory / "rarc.csv")}
    return Catalog(groups, carcs, rarcs)
