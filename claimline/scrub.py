"""`claimline scrub FILE.837`: check an 837P file against the pain coding rule pack before it is sent.

Every claim is read with `parse_837p`, its payer type taken from the operators' routing file (payer id
first, then the claim filing indicator SBR09), or from `--payer-type` when neither says, and checked
with `scrub`. For each claim line the holds and warnings are printed with rule id, message, fix and
citation, as text or as JSON lines (`--json`).

Exit codes: 0 nothing held, 1 something held, 2 the file (or a claim in it), the rule pack, an NCCI
table or the routing file could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from services.denials.domain.ncci import NcciFileError, load_mue, load_ptp
from services.denials.domain.routing import PAYER_TYPES, RoutingConfig, RoutingError, load_routing
from services.denials.domain.rulepack import (
    DEFAULT_RULES_DIR,
    PURPOSE_FLAGS,
    RuleFinding,
    RulePack,
    RulePackError,
    ScrubClaim,
    load_rulepack,
    scrub,
)
from services.ingest.domain.claim837 import SubmittedClaim, TransactionSet, parse_837p, transaction_sets
from services.ingest.domain.x12 import Problem, X12SyntaxError, decode

EXIT_CLEAN = 0
EXIT_HELD = 1
EXIT_UNREADABLE = 2

_ClaimKey = tuple[str | None, str | None, str, int]


def _filing_indicators(text: str) -> dict[_ClaimKey, str | None]:
    """SBR09 of the subscriber loop above each CLM, keyed like `SubmittedClaim` (interchange, group,
    transaction control and claim ordinal). Its length is the number of CLM segments in the file."""
    found: dict[_ClaimKey, str | None] = {}
    for item in transaction_sets(text):
        if not isinstance(item, TransactionSet):
            continue
        ordinal, indicator, in_claim = 0, None, False
        for seg in item.body:
            if seg.id == "HL":
                in_claim = False
                if seg.get(3) == "22":
                    indicator = None
            elif seg.id == "SBR" and not in_claim:
                indicator = seg.get(9) or None
            elif seg.id == "CLM":
                ordinal += 1
                in_claim = True
                found[(item.interchange_control, item.group_control, item.control, ordinal)] = indicator
    return found


@dataclass(frozen=True)
class _Scrubbed:
    claim: SubmittedClaim
    payer_type: str
    findings: list[RuleFinding]

    @property
    def held_lines(self) -> list[int]:
        return sorted({n for f in self.findings if f.held for n in f.line_numbers})

    @property
    def warned_lines(self) -> list[int]:
        return sorted({n for f in self.findings if not f.held for n in f.line_numbers})


def _payer_type(
    claim: SubmittedClaim, indicator: str | None, routing: RoutingConfig, fallback: str | None
) -> str:
    known = routing.payer_types.get(claim.payer_id) or (
        routing.filing_indicators.get(indicator) if indicator else None
    )
    return known or fallback or "other"


def _line_label(claim: SubmittedClaim, line_number: int) -> str:
    line = next((ln for ln in claim.lines if ln.line_number == line_number), None)
    if line is None:
        return f"line {line_number}"
    return f"line {line_number} {'-'.join((line.procedure_code, *line.modifiers))}"


def _problem_text(problem: Problem) -> str:
    where = []
    if problem.segment_position is not None:
        where.append(f"segment {problem.segment_position}")
    if problem.segment_id:
        where.append(f"({problem.segment_id})")
    if problem.element_position is not None:
        where.append(f"element {problem.element_position}")
    detail = f" (expected {problem.expected}, found {problem.found})" if problem.expected else ""
    return f"{problem.scope} problem at {' '.join(where) or 'file'}: {problem.reason}{detail}"


def _print_text(result: _Scrubbed, out: TextIO) -> None:
    claim = result.claim
    held, warned = result.held_lines, result.warned_lines
    state = (
        f"{len(held)} line(s) held, {len(warned)} with warnings" if result.findings else "clean, nothing held"
    )
    print(
        f"claim {claim.claim_id} (payer {claim.payer_id}, {result.payer_type}, "
        f"place of service {claim.place_of_service}): {state}",
        file=out,
    )
    for line in claim.lines:
        for finding in result.findings:
            if line.line_number not in finding.line_numbers:
                continue
            print(
                f"  {_line_label(claim, line.line_number)}: {finding.severity.upper()} {finding.rule_id}: "
                f"{finding.message}",
                file=out,
            )
            print(f"      fix: {finding.fix}", file=out)
            print(f"      source: {finding.citation}", file=out)


def _json_records(result: _Scrubbed) -> list[dict[str, Any]]:
    claim = result.claim
    records: list[dict[str, Any]] = []
    for line in claim.lines:
        for finding in result.findings:
            if line.line_number in finding.line_numbers:
                records.append(
                    {
                        "record": "finding",
                        "claim_id": claim.claim_id,
                        "line_number": line.line_number,
                        "procedure_code": line.procedure_code,
                        "modifiers": list(line.modifiers),
                        **finding.as_dict(),
                    }
                )
    status = "held" if result.held_lines else "warnings" if result.findings else "clean"
    records.append(
        {
            "record": "claim",
            "claim_id": claim.claim_id,
            "payer_id": claim.payer_id,
            "payer_type": result.payer_type,
            "place_of_service": claim.place_of_service,
            "status": status,
            "held_lines": result.held_lines,
            "warned_lines": result.warned_lines,
        }
    )
    return records


def scrub_file(
    path: Path,
    pack: RulePack,
    as_json: bool,
    *,
    payer_type: str | None = None,
    routing: RoutingConfig | None = None,
    flags: Collection[str] = (),
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Scrub every claim of an 837P file and print what is held or warned, per claim line.

    `payer_type` is used for a claim whose payer id and filing indicator the routing file does not
    map; `flags` (e.g. "diagnostic") apply to every claim of the file."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        text = decode(path.read_bytes())
    except OSError as exc:
        print(f"claimline scrub: cannot read {path}: {exc.strerror or exc}", file=err)
        return EXIT_UNREADABLE
    except X12SyntaxError as exc:
        print(f"claimline scrub: {path} cannot be read as X12: {exc.reason}", file=err)
        return EXIT_UNREADABLE
    if routing is None:
        try:
            routing = load_routing()
        except RoutingError as exc:
            print(f"claimline scrub: {exc}", file=err)
            return EXIT_UNREADABLE
    indicators = _filing_indicators(text)
    results: list[_Scrubbed] = []
    problems: list[Problem] = []
    for item in parse_837p(text):
        if isinstance(item, Problem):
            problems.append(item)
            continue
        key = (item.interchange_control, item.group_control, item.transaction_control, item.claim_ordinal)
        kind = _payer_type(item, indicators.get(key), routing, payer_type)
        findings = scrub(ScrubClaim.from_submitted_claim(item, flags), pack, payer_type=kind)
        results.append(_Scrubbed(item, kind, findings))
    for result in results:
        if as_json:
            for record in _json_records(result):
                print(json.dumps(record), file=out)
        else:
            _print_text(result, out)
    for problem in problems:
        if as_json:
            print(
                json.dumps({"record": "problem", "file": str(path), "text": _problem_text(problem)}), file=out
            )
        else:
            print(f"claimline scrub: {path}: {_problem_text(problem)}", file=err)
    missing = [name for name, table in (("PTP", pack.ptp), ("MUE", pack.mue)) if table is None]
    if missing:
        print(
            f"claimline scrub: no NCCI {' or '.join(missing)} table given: those edits were not checked",
            file=err,
        )
    unread = len(indicators) - len(results)
    if unread > 0:
        print(f"claimline scrub: {path}: {unread} claim(s) could not be read and were not scrubbed", file=err)
        return EXIT_UNREADABLE
    if not results:
        print(f"claimline scrub: {path}: no 837P claim could be read", file=err)
        return EXIT_UNREADABLE
    return EXIT_HELD if any(r.held_lines for r in results) else EXIT_CLEAN


# ---------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `claimline scrub`, for wiring it as a subcommand."""
    parser.add_argument("file", type=Path, help="an 837P file")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    parser.add_argument(
        "--rules", type=Path, default=DEFAULT_RULES_DIR, help="rule pack directory or file (default: shipped)"
    )
    parser.add_argument(
        "--payer-type",
        choices=PAYER_TYPES,
        default=None,
        help="payer type of claims whose payer id and filing indicator the routing file does not map",
    )
    parser.add_argument("--ptp", type=Path, action="append", default=[], help="CMS NCCI PTP file or ZIP")
    parser.add_argument("--mue", type=Path, action="append", default=[], help="CMS NCCI MUE file or ZIP")
    parser.add_argument("--routing", type=Path, default=None, help="routing file that maps payer types")
    parser.add_argument(
        "--flag",
        action="append",
        choices=PURPOSE_FLAGS,
        default=[],
        help="mark every claim of the file, e.g. diagnostic (facet blocks and nerve-root blocks)",
    )


def _procedure_codes(path: Path) -> set[str] | None:
    """The codes billed in the file, so only their PTP pairs are loaded; None when it does not read."""
    try:
        text = decode(path.read_bytes())
    except (OSError, X12SyntaxError):
        return None
    return {
        line.procedure_code
        for item in parse_837p(text)
        if isinstance(item, SubmittedClaim)
        for line in item.lines
    }


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    err = err or sys.stderr
    try:
        pack = load_rulepack(args.rules)
        ptp = load_ptp(args.ptp, codes=_procedure_codes(args.file)) if args.ptp else None
        mue = load_mue(args.mue) if args.mue else None
        routing = load_routing(args.routing) if args.routing else None
    except (RulePackError, NcciFileError, RoutingError) as exc:
        print(f"claimline scrub: {exc}", file=err)
        return EXIT_UNREADABLE
    return scrub_file(
        args.file,
        pack.with_tables(ptp=ptp, mue=mue),
        args.json,
        payer_type=args.payer_type,
        routing=routing,
        flags=args.flag,
        out=out,
        err=err,
    )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="claimline scrub", description="check an 837P file against the pain coding rule pack"
    )
    add_arguments(parser)
    return run(parser.parse_args(argv), out, err)


if __name__ == "__main__":
    sys.exit(main())
