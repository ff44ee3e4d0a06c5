"""`claimline scrub FILE.837`: an 837P written here is read, each claim scrubbed with the payer type of
its filing indicator, and the holds and warnings printed per line as text or JSON lines; the exit code
says whether anything is held (1), nothing is (0) or the file could not be read (2)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from claimline.scrub import EXIT_CLEAN, EXIT_HELD, EXIT_UNREADABLE, main, scrub_file
from services.denials.domain.rulepack import load_rulepack
from tests.support.x837 import billing, claim, interchange, line, subscriber, transaction

PACK = load_rulepack()


def facet_with_trigger_points(
    claim_id: str = "PCN1", place: str = "11", tpi_modifiers: tuple[str, ...] = ()
) -> list[str]:
    return claim(
        claim_id,
        line(1, "64493", "900", modifiers=("50",)),
        line(2, "64494", "500", modifiers=("50",)),
        line(3, "20552", "150", modifiers=tpi_modifiers),
        place=place,
    )


def clean_facet(claim_id: str = "PCN2") -> list[str]:
    return claim(
        claim_id,
        line(1, "64493", "900", modifiers=("50", "KX")),
        line(2, "64494", "500", modifiers=("50", "KX")),
    )


def file_of(
    tmp_path: Path, *claims: list[str], filing_indicator: str = "MB", name: str = "claims.837"
) -> Path:
    loops = [*billing()]
    for index, segs in enumerate(claims):
        loops += subscriber(str(index + 2), member=f"1EG4TE5MK7{index}") + segs
    text = interchange(transaction("0001", loops))
    text = text.replace("SBR*P*18*******MB~", f"SBR*P*18*******{filing_indicator}~")
    path = tmp_path / name
    path.write_text(text)
    return path


def run(path: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(path), *args], out, err)
    return code, out.getvalue(), err.getvalue()


def records(output: str) -> list[dict[str, Any]]:
    return [json.loads(text) for text in output.splitlines()]


def test_a_clean_claim_exits_0(tmp_path: Path):
    code, out, _ = run(file_of(tmp_path, clean_facet()))
    assert code == EXIT_CLEAN
    assert out == "claim PCN2 (payer 04412, medicare, place of service 11): clean, nothing held\n"


def test_a_held_claim_exits_1_and_prints_each_line_with_rule_message_fix_and_citation(tmp_path: Path):
    code, out, err = run(file_of(tmp_path, facet_with_trigger_points(place="24")))
    assert code == EXIT_HELD
    lines = out.splitlines()
    assert (
        lines[0] == "claim PCN1 (payer 04412, medicare, place of service 24): 3 line(s) held, 2 with warnings"
    )
    assert lines[1] == (
        "  line 1 64493-50: HOLD PAIN-BIL-001: Line 1 bills 64493 with modifier 50 at place of service 24 "
        "(ASC); the ASC convention is one line per side."
    )
    assert lines[2] == (
        "      fix: Replace the line with two lines of 64493: one with RT and one with LT, 1 unit each, "
        "without 50."
    )
    assert lines[3].startswith("      source: Bilateral representation is payer- and setting-specific")
    assert lines[4].startswith(
        "  line 1 64493-50: WARN PAIN-KX-002: Line 1 bills facet injection 64493 to Medicare"
    )
    assert [text.split(":")[0:2] for text in lines if text.startswith("  line")] == [
        ["  line 1 64493-50", " HOLD PAIN-BIL-001"],
        ["  line 1 64493-50", " WARN PAIN-KX-002"],
        ["  line 2 64494-50", " HOLD PAIN-BIL-001"],
        ["  line 2 64494-50", " WARN PAIN-KX-002"],
        ["  line 3 20552", " HOLD PAIN-PAIR-001"],
    ]
    assert "no NCCI PTP or MUE table given: those edits were not checked" in err


def test_json_lines_give_one_record_per_line_finding_and_one_per_claim(tmp_path: Path):
    code, out, _ = run(file_of(tmp_path, facet_with_trigger_points(), clean_facet()), "--json")
    assert code == EXIT_HELD
    found = records(out)
    findings = [
        (r["claim_id"], r["line_number"], r["rule_id"], r["severity"])
        for r in found
        if r["record"] == "finding"
    ]
    assert findings == [
        ("PCN1", 1, "PAIN-KX-002", "warn"),
        ("PCN1", 2, "PAIN-KX-002", "warn"),
        ("PCN1", 3, "PAIN-PAIR-001", "hold"),
    ]
    pair = next(r for r in found if r.get("rule_id") == "PAIN-PAIR-001")
    assert pair["procedure_code"] == "20552"
    assert pair["citation"].startswith("NCCI PTP pairs 64490-64495 / 20552-20553")
    assert pair["fix"].endswith("add XS or XU to 20552; otherwise remove the 20552 line.")
    claims = [
        (r["claim_id"], r["status"], r["held_lines"], r["warned_lines"])
        for r in found
        if r["record"] == "claim"
    ]
    assert claims == [("PCN1", "held", [3], [1, 2]), ("PCN2", "clean", [], [])]


def test_the_payer_type_comes_from_the_filing_indicator(tmp_path: Path):
    commercial = file_of(tmp_path, facet_with_trigger_points(tpi_modifiers=("XS",)), filing_indicator="CI")
    code, out, _ = run(commercial, "--json")
    assert code == EXIT_CLEAN
    [finding, summary] = records(out)
    assert (finding["rule_id"], finding["severity"]) == ("PAIN-PAIR-001", "warn")  # commercial prefers 59
    assert "prefers 59" in finding["message"]
    assert summary["payer_type"] == "commercial"


def test_the_payer_type_option_is_used_when_the_filing_indicator_says_nothing(tmp_path: Path):
    unknown = file_of(tmp_path, facet_with_trigger_points(tpi_modifiers=("59",)), filing_indicator="ZZ")
    code, out, _ = run(unknown, "--json")
    assert records(out)[-1]["payer_type"] == "other"
    code, out, _ = run(unknown, "--json", "--payer-type", "medicare")
    assert records(out)[-1]["payer_type"] == "medicare"
    assert ("PAIN-PAIR-001", "warn") in [(r.get("rule_id"), r.get("severity")) for r in records(out)]
    assert code == EXIT_CLEAN


def test_a_line_place_of_service_overrides_the_claim(tmp_path: Path):
    mixed = claim(
        "PCN3",
        line(1, "64483", "700", modifiers=("50",)),
        line(2, "64493", "900", modifiers=("50", "KX"), place="24"),
    )
    code, out, _ = run(file_of(tmp_path, mixed), "--json")
    assert code == EXIT_HELD
    assert [(r["line_number"], r["rule_id"]) for r in records(out) if r["record"] == "finding"] == [
        (2, "PAIN-BIL-001")
    ]


def test_the_diagnostic_flag_holds_a_facet_block_without_kx(tmp_path: Path):
    path = file_of(tmp_path, claim("PCN4", line(1, "64493", "900")))
    assert run(path)[0] == EXIT_CLEAN
    code, out, _ = run(path, "--flag", "diagnostic")
    assert code == EXIT_HELD
    assert "HOLD PAIN-KX-001" in out


def test_ncci_tables_given_on_the_command_line_are_checked(tmp_path: Path):
    ptp = tmp_path / "ptp.txt"
    ptp.write_text(
        "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date *=no data\t"
        "Modifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale\n"
        "64635\t64493\t\t20210101\t*\t1\tStandards of medical / surgical practice\n"
    )
    mue = tmp_path / "mue.csv"
    mue.write_text(
        "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale\n"
        "64635,1,2 Date of Service Edit: Policy,CMS Policy\n"
    )
    path = file_of(
        tmp_path,
        claim("PCN5", line(1, "64635", "1200", units="2"), line(2, "64493", "900", modifiers=("KX",))),
    )
    code, out, err = run(path, "--ptp", str(ptp), "--mue", str(mue), "--json")
    assert code == EXIT_HELD
    assert [(r["line_number"], r["rule_id"]) for r in records(out) if r["record"] == "finding"] == [
        (1, "NCCI-MUE-001"),
        (2, "NCCI-PTP-001"),
    ]
    assert "NCCI" not in err


def test_a_file_that_cannot_be_read_exits_2(tmp_path: Path):
    code, out, err = run(tmp_path / "missing.837")
    assert (code, out) == (EXIT_UNREADABLE, "")
    assert "cannot read" in err
    not_x12 = tmp_path / "notes.837"
    not_x12.write_text("hello\n")
    code, _, err = run(not_x12)
    assert code == EXIT_UNREADABLE
    assert "file problem at segment 1: file does not start with an ISA interchange header" in err
    assert "no 837P claim could be read" in err


def test_a_claim_that_cannot_be_read_makes_the_file_unreadable_but_the_others_are_scrubbed(tmp_path: Path):
    broken = claim("PCN6", line(1, "64493", "900"))
    broken = [s.replace("SV1*HC:64493", "SV1*ZZ:64493") for s in broken]
    path = file_of(tmp_path, clean_facet(), broken)
    code, out, err = run(path)
    assert code == EXIT_UNREADABLE
    assert out.startswith("claim PCN2 ")
    assert "SV101-1 is not a procedure code qualifier" in err
    assert "1 claim(s) could not be read and were not scrubbed" in err


def test_a_broken_rule_pack_is_refused_with_its_file_and_line(tmp_path: Path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nrules:\n  - id: TEST-001\n    title: x\n")
    code, _, err = run(file_of(tmp_path, clean_facet()), "--rules", str(rules))
    assert code == EXIT_UNREADABLE
    assert f"{rules} line 3: rule TEST-001: condition: Field required" in err


def test_scrub_file_can_be_called_with_a_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert scrub_file(file_of(tmp_path, facet_with_trigger_points()), PACK, False) == EXIT_HELD
    assert "HOLD PAIN-PAIR-001" in capsys.readouterr().out


def test_segments_of_a_second_subscriber_keep_their_own_filing_indicator(tmp_path: Path):
    text = interchange(
        transaction(
            "0001",
            billing()
            + subscriber("2")
            + facet_with_trigger_points("MCR", tpi_modifiers=("59",))
            + subscriber("3", member="W123456789", payer_id="87726", payer_name="UHC")
            + facet_with_trigger_points("UHC", tpi_modifiers=("59",)),
        )
    )
    second_sbr = text.rfind("SBR*P*18*******MB~")
    text = text[:second_sbr] + "SBR*P*18*******CI~" + text[second_sbr + len("SBR*P*18*******MB~") :]
    path = tmp_path / "two.837"
    path.write_text(text)
    code, out, _ = run(path, "--json")
    summaries = {r["claim_id"]: r["payer_type"] for r in records(out) if r["record"] == "claim"}
    assert summaries == {"MCR": "medicare", "UHC": "commercial"}
    assert code == EXIT_CLEAN
