"""`read_835_tables`: an 835 as columns, with the same values as the items of the Python parser.

The Python parser (`parse_835_file(path, native=False)`) stays the reference. For every file, the
tables are either refused (None from `read_835_tables`, or `Unsupported` while reading the batches)
or hold exactly what the reference's items hold: every service line, claim, adjustment, other
AMT/QTY/REF, provider adjustment and transaction, in the same order, with the same values. A file
the reference reports any problem in is always refused, so no table is ever made of a bad file.
"""

from __future__ import annotations

import importlib
import itertools
import struct
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import services.ingest.domain.remit835 as remit835
from claimline.x12gen import Envelope, render
from services.ingest.domain.remit835 import (
    ProviderAdjustment,
    RemitLine,
    RemittanceRead,
    parse_835_file,
    read_835_tables,
)
from services.ingest.domain.x12 import Problem
from tests.support.strict import unavailable
from tests.unit.test_remit835 import REMIT, SAMPLE
from tests.unit.test_remit835_native import (
    BROKEN,
    EXTRA_CLAIM,
    EXTRA_LINE,
    EXTRA_PLB,
    MUTABLE,
    read_natively,
    remittances,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "samples" / "835").glob("*.835"))
REFUSED = "refused"


@pytest.fixture(autouse=True)
def _native_module() -> None:
    if remit835.NATIVE is None:
        unavailable("claimline_x12 is not built: .venv/bin/pip install ./services/ingest/native")


def write(tmp_path: Path, text: str, name: str = "remit.835") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def bench_file(tmp_path: Path, lines: int, claims_per_transaction: int) -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        gen835 = importlib.import_module("gen835")
    finally:
        sys.path.remove(str(ROOT / "bench"))
    path = tmp_path / "bench.835"
    gen835.write_835(path, lines=lines, claims_per_transaction=claims_per_transaction, seed=11)
    return path


# ---------------------------------------------------------------- the tables as plain rows


def rows_of(table: Any) -> list[dict[str, Any]]:
    columns = {name: table.column(name) for name in table.column_names}
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def read_tables(path: Path) -> Any:
    """Every row of every table, with row references made file-wide; REFUSED when refused."""
    tables = read_835_tables(path)
    if tables is None:
        return REFUSED
    out: dict[str, Any] = {
        "contexts": tables.contexts,
        "services": [],
        "claims": [],
        "adjustments": [],
        "extras": [],
        "provider_adjustments": [],
        "transactions": [],
        "batches": 0,
    }
    try:
        for batch in tables.batches:
            out["batches"] += 1
            claims_before, services_before = len(out["claims"]), len(out["services"])
            shift = {"claim": claims_before, "service": services_before}
            for name in (
                "services",
                "claims",
                "adjustments",
                "extras",
                "provider_adjustments",
                "transactions",
            ):
                for row in rows_of(getattr(batch, name)):
                    for key, offset in shift.items():
                        if key in row and row[key] is not None and name != "claims":
                            row[key] += offset
                    out[name].append(row)
    except remit835.NATIVE.Unsupported:  # type: ignore[union-attr]
        return REFUSED
    return out


# ---------------------------------------------------------------- the same rows from the reference


def _person(prefix: str, person: Any) -> dict[str, Any]:
    return {
        f"{prefix}_last_name": person.last_name if person else None,
        f"{prefix}_first_name": person.first_name if person else None,
        f"{prefix}_member_id": person.member_id if person else None,
    }


def adjustment_row(claim: int, service: int | None, a: Any) -> dict[str, Any]:
    return {
        "claim": claim,
        "service": service,
        "group": a.group,
        "reason": a.reason,
        "amount": a.amount,
        "quantity": a.quantity,
    }


def expected_rows(items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "services": [],
        "claims": [],
        "adjustments": [],
        "extras": [],
        "provider_adjustments": [],
        "transactions": [],
    }
    contexts: dict[int, Any] = {}
    claim_rows: dict[tuple[int, int], int] = {}
    pending: list[RemitLine] = []

    def close_claim() -> None:
        if not pending:
            return
        claim, index = (
            pending[0].claim,
            claim_rows[(pending[0].remittance.transaction_ordinal, pending[0].claim_ordinal)],
        )
        for amount_kind, pairs in (("AMT", claim.amounts), ("QTY", claim.quantities), ("REF", claim.refs)):
            for qualifier, value in pairs.items():
                out["extras"].append((index, None, amount_kind, qualifier, value))
        for a in claim.adjustments:
            out["adjustments"].append(adjustment_row(index, None, a))
        pending.clear()

    for item in items:
        if isinstance(item, RemitLine):
            key = (item.remittance.transaction_ordinal, item.claim_ordinal)
            contexts[key[0]] = item.remittance
            if key not in claim_rows:
                close_claim()
                claim_rows[key] = len(out["claims"])
                c = item.claim
                out["claims"].append(
                    {
                        "transaction": key[0],
                        "patient_control_number": c.patient_control_number,
                        "status_code": c.status_code,
                        "charge": c.charge,
                        "paid": c.paid,
                        "patient_responsibility": c.patient_responsibility,
                        "filing_indicator": c.filing_indicator,
                        "payer_claim_control_number": c.payer_claim_control_number,
                        "facility_code": c.facility_code,
                        "frequency_code": c.frequency_code,
                        **_person("patient", c.patient),
                        **_person("insured", c.insured),
                        **_person("corrected", c.corrected_patient),
                        "rendering_npi": c.rendering_npi,
                        "rendering_name": c.rendering_name,
                        "statement_from": c.statement_from,
                        "statement_to": c.statement_to,
                        "received_date": c.received_date,
                        "remarks": c.remarks,
                        "imbalance_found": c.imbalance.found if c.imbalance else None,
                        "lines": len(c.lines),
                    }
                )
            pending.append(item)
            line, index, service = item.line, claim_rows[key], len(out["services"])
            out["services"].append(
                {
                    "claim": index,
                    "line_number": line.line_number,
                    "qualifier": line.qualifier,
                    "procedure_code": line.procedure_code,
                    "modifiers": line.modifiers,
                    "submitted_procedure_code": line.submitted_procedure_code,
                    "submitted_modifiers": line.submitted_modifiers,
                    "charge": line.charge,
                    "paid": line.paid,
                    "units_billed": line.units_billed,
                    "units_paid": line.units_paid,
                    "service_date": line.service_date,
                    "service_date_end": line.service_date_end,
                    "line_control_number": line.line_control_number,
                    "allowed": line.allowed,
                    "remarks": line.remarks,
                    "adjustments": len(line.adjustments),
                    "imbalance_found": line.imbalance.found if line.imbalance else None,
                    "transaction": key[0],
                }
            )
            for a in line.adjustments:
                out["adjustments"].append(adjustment_row(index, service, a))
            for amount_kind, pairs in (("AMT", line.amounts), ("REF", line.refs)):
                for qualifier, value in pairs.items():
                    out["extras"].append((index, service, amount_kind, qualifier, value))
        elif isinstance(item, ProviderAdjustment):
            close_claim()
            contexts[item.remittance.transaction_ordinal] = item.remittance
            out["provider_adjustments"].append(
                {
                    "transaction": item.remittance.transaction_ordinal,
                    "provider_id": item.provider_id,
                    "fiscal_period_date": item.fiscal_period_date,
                    "reason_code": item.reason_code,
                    "reference": item.reference,
                    "amount": item.amount,
                }
            )
        elif isinstance(item, RemittanceRead):
            close_claim()
            contexts[item.remittance.transaction_ordinal] = item.remittance
            out["transactions"].append(
                {
                    "transaction": item.remittance.transaction_ordinal,
                    "claims": item.claims,
                    "lines": item.lines,
                    "provider_adjustments": item.provider_adjustments,
                }
            )
    close_claim()
    out["contexts"] = contexts
    return out


def extras_as_items_see_them(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The items keep AMT/QTY/REF in dicts (the last of a qualifier wins); the tables keep every one."""
    kept: dict[tuple[Any, ...], Any] = {}
    for r in rows:
        value = r["value"] if r["segment"] == "REF" else Decimal(r["value"])
        kept[(r["claim"], r["service"], r["segment"], r["qualifier"])] = value
    return [(*key, value) for key, value in kept.items()]


def assert_tables_match(path: Path) -> Any:
    items = list(parse_835_file(path, native=False))
    got = read_tables(path)
    if any(isinstance(i, Problem) for i in items):
        assert got == REFUSED, "a file with problems must never be read into tables"
        return got
    if got == REFUSED:
        return got
    want = expected_rows(items)
    for name in ("services", "claims", "adjustments", "provider_adjustments", "transactions"):
        assert len(got[name]) == len(want[name]), name
        for index, (g, w) in enumerate(zip(got[name], want[name], strict=True)):
            assert g == w, f"{name} row {index}"
    assert sorted(extras_as_items_see_them(got["extras"]), key=repr) == sorted(want["extras"], key=repr)
    for ordinal, context in want["contexts"].items():
        assert got["contexts"][ordinal] == context
    return got


# ---------------------------------------------------------------- files


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_the_sample_files_give_the_same_rows_as_the_items(path: Path):
    got = assert_tables_match(path)
    assert got != REFUSED
    assert got["services"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", ""])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_the_unit_test_sample_gives_the_same_rows(tmp_path, newline, bom):
    path = tmp_path / "remit.835"
    path.write_bytes(bom + render(Envelope(interchange_control=77, newline=newline, remits=[REMIT])).encode())

    got = assert_tables_match(path)

    assert got != REFUSED
    assert got["adjustments"] and got["claims"]


UNITS = {
    "no units": "SVC*HC:64490:LT*900*410.5",
    "units paid 0": "SVC*HC:64490:LT*900*410.5**0",
    "units paid 2": "SVC*HC:64490:LT*900*410.5**2",
    "units paid 2, billed 3": "SVC*HC:64490:LT*900*410.5**2**3",
    "billed 3 only": "SVC*HC:64490:LT*900*410.5****3",
    "fractional units": "SVC*HC:64490:LT*900*410.5**1.5**2.25",
}


@pytest.mark.parametrize("svc", UNITS.values(), ids=UNITS.keys())
def test_units_are_the_services_units(tmp_path, svc):
    """Units billed default to SVC05 when SVC07 is absent and SVC05 is not zero, else to 1; units
    paid default to 1: the tables read them exactly as the items do."""
    text = SAMPLE.replace("SVC*HC:64490:LT*900*410.5**1*HC:64493:LT:59", svc + "*HC:64493:LT:59", 1)
    if svc.endswith("410.5"):
        text = SAMPLE.replace("SVC*HC:64490:LT*900*410.5**1*HC:64493:LT:59", svc, 1)
    assert text != SAMPLE

    got = assert_tables_match(write(tmp_path, text))

    assert got != REFUSED
    line = next(r for r in got["services"] if r["procedure_code"] == "64490")
    item = next(
        i.line
        for i in parse_835_file(tmp_path / "remit.835", native=False)
        if isinstance(i, RemitLine) and i.line.procedure_code == "64490"
    )
    assert (line["units_billed"], line["units_paid"]) == (item.units_billed, item.units_paid)


SPLICES = (
    [("CLP*PCN-RFA-2*", s) for s in EXTRA_CLAIM]
    + [("SVC*HC:64635:RT*", s) for s in EXTRA_LINE]
    + [("SE*56*", s) for s in EXTRA_PLB]
)


@pytest.mark.parametrize(("anchor", "segment"), SPLICES, ids=[s for _, s in SPLICES])
def test_every_other_segment_kind_reads_as_the_items(tmp_path, anchor, segment):
    """A segment x12gen does not write, after a CLP, after an SVC or before SE (SE01 kept right)."""
    lines = SAMPLE.split("~")
    at = next(i for i, seg in enumerate(lines) if seg.strip().startswith(anchor))
    lines.insert(at if anchor.startswith("SE") else at + 1, "\n" + segment)
    text = "~".join(lines).replace("SE*56*", "SE*57*", 1)

    got = assert_tables_match(write(tmp_path, text))

    if got == REFUSED:  # only what the reference reports a problem in, or the fast path never takes
        assert not read_natively(tmp_path / "remit.835")


def test_a_large_file_comes_in_several_batches_of_whole_claims(tmp_path):
    path = bench_file(tmp_path, lines=40_000, claims_per_transaction=20_000)

    got = assert_tables_match(path)

    assert got != REFUSED
    assert len(got["services"]) == 40_000
    assert got["batches"] >= 3  # two transactions, the first of about 53,000 lines... split in batches
    per_claim: dict[int, int] = {}
    for row in got["services"]:
        per_claim[row["claim"]] = per_claim.get(row["claim"], 0) + 1
    assert [per_claim[i] for i in range(len(got["claims"]))] == [c["lines"] for c in got["claims"]]


@pytest.mark.parametrize("change", BROKEN.values(), ids=BROKEN.keys())
def test_a_file_with_anything_unsure_is_refused(tmp_path, change):
    old, new = change
    path = write(tmp_path, SAMPLE.replace(old, new, 1))

    assert assert_tables_match(path) == REFUSED


def test_a_bad_claim_after_good_ones_is_refused_while_reading(tmp_path):
    """Pass one of the tables reads only the envelopes and totals: a claim it cannot vouch for is
    found in pass two, which then raises instead of handing over anything of that claim."""
    text = SAMPLE.replace("CAS*CO*45*449.7", "CAS*ZZ*45*449.7", 1)
    assert text != SAMPLE
    path = write(tmp_path, text)

    tables = read_835_tables(path)
    assert tables is not None
    with pytest.raises(remit835.NATIVE.Unsupported):  # type: ignore[union-attr]
        list(tables.batches)
    assert any(isinstance(i, Problem) for i in parse_835_file(path, native=False))


def test_the_buffers_hold_the_same_values_as_the_columns(tmp_path):
    path = write(tmp_path, SAMPLE)
    tables = read_835_tables(path)
    assert tables is not None
    batch = next(tables.batches)
    services = batch.services

    kind, ends, data, is_set = services.buffers("procedure_code")
    assert kind == "text"
    offsets = [0, *struct.unpack(f"<{services.num_rows}I", ends)]
    texts = [
        data[a:b].decode() if is_set[i] else None for i, (a, b) in enumerate(itertools.pairwise(offsets))
    ]
    assert texts == services.column("procedure_code")

    kind, values, is_set = services.buffers("charge")
    assert kind == "money"
    micros = struct.unpack(f"<{services.num_rows}q", values)
    assert [Decimal(m).scaleb(-6) for m in micros] == services.column("charge")

    kind, days = services.buffers("service_date")
    assert kind == "date"
    raw = struct.unpack(f"<{services.num_rows}I", days)
    assert [date(d // 10000, d // 100 % 100, d % 100) if d else None for d in raw] == services.column(
        "service_date"
    )

    kind, ends, data = services.buffers("modifiers")
    assert kind == "list"
    with pytest.raises(KeyError):
        services.column("no_such_column")


def test_without_the_compiled_module_there_are_no_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(remit835, "NATIVE", None)
    assert read_835_tables(write(tmp_path, SAMPLE)) is None


# ---------------------------------------------------------------- generated and mutated files


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(generated=remittances())
def test_every_generated_remittance_gives_the_same_rows(tmp_path, generated):
    envelope, _ = generated
    assert_tables_match(write(tmp_path, render(envelope), "generated.835"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(MUTABLE) - 1),
            st.text(alphabet="*:~^0123456789-.E ABCDLPSTVX\n", max_size=3),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_mutated_remittance_gives_the_same_rows_or_is_refused(tmp_path, edits: list[tuple[int, str]]):
    text = MUTABLE
    for index, replacement in edits:
        text = text[:index] + replacement + text[index + 1 :]
    assert_tables_match(write(tmp_path, text, "mutated.835"))
