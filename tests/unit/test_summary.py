"""`claimline summary`: the totals of an 835 from its tables equal the totals from its items."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import services.ingest.domain.remit835 as remit835
from claimline.cli import main
from claimline.summary import RemitSummary, as_json, summarize_835, summarize_835_items
from claimline.x12gen import render
from tests.support.strict import unavailable
from tests.unit.test_remit835 import SAMPLE
from tests.unit.test_remit835_native import remittances
from tests.unit.test_remit835_tables import SAMPLES, bench_file, write

EXIT_REJECTED = 2


@pytest.fixture(autouse=True)
def _native_module() -> None:
    if remit835.NATIVE is None:
        unavailable("claimline_x12 is not built: .venv/bin/pip install ./services/ingest/native")


def same_totals(a: RemitSummary, b: RemitSummary) -> None:
    """Equal, and printed alike: the JSON of both readers is the same text but for `read_by`."""
    fields = [f for f in a.__dataclass_fields__ if f not in ("read_by", "reasons")]
    for name in fields:
        assert getattr(a, name) == getattr(b, name), name
    assert a.reasons == b.reasons
    left, right = as_json(a), as_json(b)
    left.pop("read_by"), right.pop("read_by")
    assert json.dumps(left, default=str) == json.dumps(right, default=str)


def bpr02_total(text: str) -> Decimal:
    segments = [s.strip() for s in text.split("~")]
    return sum((Decimal(s.split("*")[2]) for s in segments if s.startswith("BPR*")), Decimal(0))


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_a_sample_file_sums_the_same_from_tables_and_items(path: Path):
    fast, reference = summarize_835(path), summarize_835_items(path)

    assert fast.read_by == "tables" and reference.read_by == "items"
    same_totals(fast, reference)
    # what the payer sent: BPR02 = sum of CLP04 - sum of PLB, and every line here balances
    assert fast.paid - fast.provider_adjustment_total == bpr02_total(path.read_text())
    assert fast.lines == sum(t.lines for t in fast.transactions) > 0
    assert all(t.balanced for t in fast.transactions)


def test_the_unit_sample_sums_what_its_lines_say(tmp_path):
    path = write(tmp_path, SAMPLE)

    s = summarize_835(path)

    assert s.read_by == "tables" and s.problems == 0
    assert (s.claims, s.lines) == (5, 6)
    # billed 1200 + 600 + 2000 + 900 - 800 + 800; paid 600.24 + 300.12 + 0 + 410.5 - 400 + 440
    assert s.charge == Decimal("4700")
    assert s.paid == Decimal("1350.86")
    assert (s.lines_paid_nothing, s.charge_paid_nothing) == (1, Decimal("2000"))
    same_totals(s, summarize_835_items(path))


def test_a_large_file_in_several_batches_sums_the_same(tmp_path):
    path = bench_file(tmp_path, lines=30_000, claims_per_transaction=15_000)

    fast = summarize_835(path)

    assert fast.read_by == "tables" and fast.lines == 30_000
    same_totals(fast, summarize_835_items(path))


def test_a_file_with_a_problem_is_summed_from_the_items_with_its_problems(tmp_path):
    path = write(tmp_path, SAMPLE.replace("CAS*CO*45*449.7", "CAS*ZZ*45*449.7", 1))

    s = summarize_835(path)

    assert s.read_by == "items"
    assert s.problems >= 1
    assert s.lines < 6  # the claim with the problem is not posted


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(generated=remittances())
def test_every_generated_remittance_sums_the_same(tmp_path, generated):
    envelope, _ = generated
    path = write(tmp_path, render(envelope), "generated.835")

    fast = summarize_835(path)

    same_totals(fast, summarize_835_items(path))
    held = sum(t.lines for t in fast.transactions if not t.balanced)
    assert fast.lines_on_hold >= held


def test_the_command_prints_the_totals_and_exits_by_the_problems(tmp_path, capsys):
    good = write(tmp_path, SAMPLE, "good.835")
    bad = write(tmp_path, SAMPLE.replace("CAS*CO*45*449.7", "CAS*ZZ*45*449.7", 1), "bad.835")

    assert main(["summary", str(good)]) == 0
    out = capsys.readouterr().out
    assert "read as tables; 0 problem(s)" in out
    assert "billed $4,700.00" in out and "paid $1,350.86" in out
    assert "CO-45" in out and "fee schedule" in out

    assert main(["summary", "--json", str(good), str(bad)]) == EXIT_REJECTED
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["read_by"] for r in records] == ["tables", "items"]
    assert records[1]["problems"] >= 1
    assert Decimal(records[0]["paid"]) == Decimal("1350.86")
    assert {(r["group"], r["reason"]) for r in records[0]["reasons"]} >= {("CO", "45")}

    assert main(["summary", str(tmp_path / "missing.835")]) == EXIT_REJECTED
