"""The claimline command as operators use it, without the stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def claimline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claimline.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_codes_prints_meaning_action_and_category_and_fails_for_unknown_codes():
    known = claimline("codes", "CARC", "97")
    assert known.returncode == 0
    assert (
        "Bundled" in known.stdout and "category: bundling" in known.stdout and "next action:" in known.stdout
    )
    assert claimline("codes", "RARC", "N362").returncode == 0
    assert "Contractual obligation" in claimline("codes", "GROUP", "CO").stdout
    unknown = claimline("codes", "CARC", "ZZ9")
    assert unknown.returncode == 1
    assert "unknown" in unknown.stdout


def test_the_denials_service_refuses_to_start_with_a_broken_routing_file(tmp_path: Path):
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "version: 1\nappeal_days: {default: 120}\nrules:\n  - name: x\n    queue: Not A Queue\n"
    )
    started = claimline("run", "denials", "--port", "1", env={"CLAIMLINE_ROUTING_FILE": str(routing)})
    assert started.returncode == 1
    assert f"{routing} line 5: rules.0.queue" in started.stderr
    assert "Traceback" not in started.stderr


def test_parse_prints_json_lines_and_exits_2_when_a_part_is_rejected(tmp_path: Path):
    good = Path(__file__).resolve().parent.parent / "samples" / "835" / "desert-spine-2026-10-20.835"
    read = claimline("parse", str(good))
    assert read.returncode == 0
    assert read.stdout.count('"kind": "remit_line"') == 6
    broken = tmp_path / "broken.835"
    broken.write_text(good.read_text().replace("SVC*HC:62323*1200*0", "SVC*HC:62323*12x0*0"))
    rejected = claimline("parse", str(broken))
    assert rejected.returncode == 2
    assert '"reason": "SVC02 is not a number"' in rejected.stdout
    assert rejected.stdout.count('"kind": "remit_line"') == 4  # the broken claim had 2 of the 6 lines
