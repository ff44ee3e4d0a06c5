"""What the parts of claimline's 835 parse cost, each timed alone on the same file (no profiler).

    cd /work/main && .venv/bin/python bench/parts_835.py --lines 100000

A profiler adds a cost to every Python call, so it over-weights small functions called millions of
times. This script times the big parts of a parse in isolation, best of --repeat runs, to put
plain seconds next to the profile:

* the whole parse of the Python parser (parse_835_file(native=False) consumed to the end), for
  reference: the parts below are its parts (the compiled fast path has its own split in
  bench/README.md);
* one tokenizing pass (SegmentReader: bytes -> Segment objects); a parse makes two;
* pass one as it is (scan_totals over a SegmentReader);
* a prototype of pass one on raw bytes, splitting only the segments it needs (BPR, CLP, PLB, ST, SE);
  it gives the same totals on this file, which is checked;
* building again every pydantic model the parse built (RemitServiceLine, Adjustment, RemitClaim,
  PersonRef, and whatever other contract models a RemitClaim holds), with the same field values;
  RemitServiceLine also with only its non-empty fields passed;
* `_number` (regex check + Decimal) over every amount of SVC, CAS, AMT and CLP, and the same
  behind a dict cache (the hit rate on real remittances will be lower than on this generated file).

Shares are of the whole parse measured in the same process; the parts overlap with each other's
callers, so they do not add up to exactly 100%.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from gen835 import cached_835  # noqa: E402
from parse_835 import code_version  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from services.ingest.domain.remit835 import (  # noqa: E402
    RemitLine,
    _number,
    parse_835_file,
    scan_totals,
)
from services.ingest.domain.x12 import SegmentReader  # noqa: E402

DATA_DIR = ROOT / ".cache" / "bench"


def best_of(repeat: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def bytes_totals(path: Path) -> dict[int, tuple[Decimal | None, Decimal, int]]:
    """Prototype of pass one without Segment objects: (BPR02, sum CLP04 - PLB, lines) per ST."""
    data = path.read_bytes()
    element, terminator = data[3:4], data[105:106]  # fixed-width ISA, as the generator writes it
    st, se = b"ST" + element, b"SE" + element
    totals: dict[int, tuple[Decimal | None, Decimal, int]] = {}
    ordinal, payment, paid, lines = 0, None, Decimal(0), 0
    for raw in data.split(terminator):
        tag = raw[:6].lstrip()[:3]  # copies a few bytes, never the segment
        if tag == b"SVC":
            lines += 1
        elif tag == b"CLP":
            paid += Decimal(raw.split(element, 5)[4].decode())
        elif tag == b"BPR":
            if payment is None:
                payment = Decimal(raw.split(element, 3)[2].decode())
        elif tag == b"PLB":
            parts = raw.split(element)
            paid -= sum((Decimal(p.decode()) for p in parts[4:15:2] if p), Decimal(0))
        elif tag == st:
            ordinal, payment, paid, lines = ordinal + 1, None, Decimal(0), 0
        elif tag == se:
            totals[ordinal] = (payment, paid, lines)
    return totals


def build(calls: list[tuple[type[BaseModel], dict[str, Any]]]) -> None:
    """Each model built and dropped at once, as in a streaming parse (nothing piles up for the GC)."""
    for model, values in calls:
        model(**values)


def fields_of(model: BaseModel) -> dict[str, Any]:
    """The model's field values as given to its constructor (nested models stay instances)."""
    return {name: getattr(model, name) for name in type(model).model_fields}


def main() -> None:
    parser = argparse.ArgumentParser(description="cost of the parts of claimline's 835 parse")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path, stats, _ = cached_835(DATA_DIR, args.lines)
    print(f"claimline at commit {code_version()}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"file {path.relative_to(ROOT)}: {stats.lines:,} lines, {stats.claims:,} claims\n")

    # The whole parse first, in a fresh process: the objects the setup below keeps alive slow a
    # parse run after it by about a third.
    whole = best_of(args.repeat, lambda: sum(1 for _ in parse_835_file(path, native=False)))
    items = [item for item in parse_835_file(path, native=False) if isinstance(item, RemitLine)]
    lines = [item.line for item in items]
    claims = list({id(item.claim): item.claim for item in items}.values())
    models: dict[str, list[BaseModel]] = {"RemitServiceLine": list(lines), "RemitClaim": list(claims)}
    for model in [*lines, *claims]:  # every contract model nested in them, by type
        for value in fields_of(model).values():
            for inner in value if isinstance(value, tuple) else (value,):
                if isinstance(inner, BaseModel):
                    models.setdefault(type(inner).__name__, []).append(inner)
    amounts = [
        value
        for seg in SegmentReader(path.open("rb"))
        if seg.id in ("SVC", "CAS", "AMT", "CLP")
        for value in seg.elements
        if value[:1].isdigit() and "." in value
    ]
    del items
    gc.collect()
    gc.freeze()  # the setup's objects stay out of the timed runs' garbage collections

    rows: list[tuple[str, float]] = []
    rows.append(
        (
            "one tokenizing pass (SegmentReader -> Segment)",
            best_of(args.repeat, lambda: sum(1 for _ in SegmentReader(path.open("rb")))),
        )
    )
    rows.append(
        (
            "pass one as it is (scan_totals)",
            best_of(args.repeat, lambda: scan_totals(SegmentReader(path.open("rb")))),
        )
    )
    rows.append(("pass one prototype on raw bytes", best_of(args.repeat, lambda: bytes_totals(path))))
    for name, instances in models.items():
        calls = [(type(m), fields_of(m)) for m in instances]
        rows.append(
            (f"{len(instances):,} x {name}(**all fields)", best_of(args.repeat, partial(build, calls)))
        )
        if name == "RemitServiceLine":
            sparse = [(c, {k: v for k, v in f.items() if v not in (None, (), {})}) for c, f in calls]
            label = f"{len(instances):,} x {name}(**non-empty fields)"
            rows.append((label, best_of(args.repeat, partial(build, sparse))))
    rows.append(
        (
            f"{len(amounts):,} x _number (regex + Decimal)",
            best_of(args.repeat, lambda: [_number(a) for a in amounts].clear()),
        )
    )
    cache: dict[str, Decimal | None] = {}

    def cached(raw: str) -> Decimal | None:
        value = cache.get(raw)
        if value is None:
            value = cache[raw] = _number(raw)
        return value

    rows.append(
        (
            f"{len(amounts):,} x _number behind a dict cache",
            best_of(args.repeat, lambda: [cached(a) for a in amounts].clear()),
        )
    )

    ours = {
        k: (v.payment, v.claims_paid - v.provider_adjustments, v.lines)
        for k, v in scan_totals(SegmentReader(path.open("rb"))).items()
    }
    same = "same totals" if ours == bytes_totals(path) else "DIFFERENT totals"
    label = "whole parse (parse_835_file, Python path)"
    print(f"{label:<52} {whole:7.2f} s   100%   {stats.lines / whole:,.0f} lines/s")
    for label, seconds in rows:
        print(f"{label:<52} {seconds:7.2f} s   {seconds / whole:4.0%}")
    print(f"\nbytes prototype vs scan_totals: {same}")
    print(f"dict cache: {len(cache):,} distinct values among {len(amounts):,} amounts")


if __name__ == "__main__":
    main()
