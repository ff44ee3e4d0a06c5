"""CPU per service line of each step of the hot path, in one process, without Kafka or PostgreSQL.

The steps are what denials and queues do with every line. They run on the events of a generated 835,
in batches of 500 as the consumers see them. Each garbage-collector setting runs in its own process:
Python's defaults, and what a started service uses (`tune_gc` in shared/runtime/service.py, with
CLAIMLINE_GC_THRESHOLD). Both are printed side by side.

    .venv/bin/python bench/line_cpu.py --lines 20000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

BATCH = 500
SETTINGS = {"python-default": 0, "service (tune_gc)": 50_000}


def measure(lines: int, threshold: int) -> dict[str, float]:
    import gen835

    from services.denials.app import decide
    from services.denials.main import load_rules
    from services.ingest.app import line_event
    from services.ingest.domain.remit835 import RemitLine, parse_835_file
    from shared.runtime.db import json_text
    from shared.runtime.service import tune_gc
    from shared.runtime.settings import Settings
    from shared.schemas import LineDecision, RemitLineReceived

    directory = REPO / ".cache" / "bench"
    directory.mkdir(parents=True, exist_ok=True)
    path, _, _ = gen835.cached_835(directory, lines, claims_per_transaction=500)
    items = [item for item in parse_835_file(path) if isinstance(item, RemitLine)]
    raw_events = [line_event(item, "p1", "f1").model_dump_json().encode() for item in items]
    del items
    rules = load_rules(Settings())
    today = date(2026, 11, 27)
    tune_gc(threshold)  # after loading, as a service does once it has started

    steps: list[tuple[str, Callable[[list[Any]], list[Any]]]] = [
        ("json.loads of the event (FastStream's default decoder)", lambda b: [json.loads(r) for r in b]),
        (
            "validate RemitLineReceived (denials)",
            lambda b: [RemitLineReceived.model_validate_json(r) for r in b],
        ),
        ("decide (classify, rule pack, LineDecision)", lambda b: [decide(rules, e, today) for e in b]),
        (
            "model_dump(mode=json) + encode (before)",
            lambda b: [json_text(d.model_dump(mode="json")) for d in b],
        ),
        ("model_dump_json (now)", lambda b: [d.model_dump_json().encode() for d in b]),
        ("validate LineDecision (queues)", lambda b: [LineDecision.model_validate_json(r) for r in b]),
    ]
    # which step's output the next step reads: the raw events, the events, the decisions, their JSON
    reads = [None, None, 1, 2, 2, 4]
    spent = dict.fromkeys((name for name, _ in steps), 0.0)
    for start in range(0, len(raw_events), BATCH):  # one batch alive at a time, as in a consumer
        outputs: list[list[Any]] = []
        for (name, step), source in zip(steps, reads, strict=True):
            inputs = raw_events[start : start + BATCH] if source is None else outputs[source]
            started = time.process_time()
            outputs.append(step(inputs))
            spent[name] += time.process_time() - started
    return {name: 1e6 * seconds / len(raw_events) for name, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--child-threshold", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_threshold is not None:
        print(json.dumps(measure(args.lines, args.child_threshold)))
        return
    columns = {}
    for label, threshold in SETTINGS.items():
        done = subprocess.run(
            [sys.executable, __file__, "--lines", str(args.lines), "--child-threshold", str(threshold)],
            check=True,
            capture_output=True,
            text=True,
        )
        columns[label] = json.loads(done.stdout.strip().splitlines()[-1])
    steps = list(next(iter(columns.values())))
    print(f"CPU per line, µs ({args.lines:,} lines of a generated 835, batches of {BATCH})")
    print(f"{'step':58s}" + "".join(f"{label:>20s}" for label in columns))
    for step in steps:
        print(f"{step:58s}" + "".join(f"{columns[label][step]:20.1f}" for label in columns))


if __name__ == "__main__":
    main()
