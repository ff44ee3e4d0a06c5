"""Write well-formed 835 remittances from plain data: the sample files, test fixtures and benchmarks.

Totals are computed, never typed: CLP03/CLP04/CLP05 from the lines, BPR02 from the claims less PLB,
SE01/GE01/IEA01 from what was written, so a generated file balances unless a test breaks it on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Line:
    code: str
    charge: Decimal
    paid: Decimal
    modifiers: tuple[str, ...] = ()
    units: int = 1
    service_date: date = date(2026, 10, 1)
    adjustments: tuple[tuple[str, str, Decimal], ...] = ()
    remarks: tuple[str, ...] = ()
    control: str | None = None
    allowed: Decimal | None = None
    submitted_code: str | None = None
    submitted_modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Claim:
    claim_id: str
    lines: tuple[Line, ...]
    status: str = "1"
    payer_claim_control: str | None = None
    patient_last: str = "DOE"
    patient_first: str = "JANE"
    member_id: str = "MBR0001"
    rendering_npi: str | None = "1215049283"
    filing_indicator: str = "MB"


@dataclass(frozen=True)
class Remit:
    trace_number: str
    payee_npi: str
    payee_name: str
    claims: tuple[Claim, ...]
    payer_name: str = "MEDICARE JURISDICTION J"
    payer_id: str = "12502"
    payment_date: date = date(2026, 10, 20)
    payee_tin: str | None = None
    plb: tuple[tuple[str, str, Decimal], ...] = ()
    transaction_control: str = "0001"


@dataclass
class Envelope:
    interchange_control: int = 1
    sender: str = "PAYERSENDER"
    receiver: str = "CLAIMLINE"
    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    terminator: str = "~"
    newline: str = "\n"
    remits: list[Remit] = field(default_factory=list)


def _money(value: Decimal) -> str:
    text = f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ymd(value: date) -> str:
    return value.strftime("%Y%m%d")


def _transaction(remit: Remit, env: Envelope) -> list[list[str]]:
    c = env.component
    segs: list[list[str]] = [["ST", "835", remit.transaction_control, "005010X221A1"]]
    claim_totals = sum((sum((ln.paid for ln in cl.lines), Decimal(0)) for cl in remit.claims), Decimal(0))
    plb_total = sum((amount for _, _, amount in remit.plb), Decimal(0))
    total = claim_totals - plb_total
    segs.append(
        [
            "BPR",
            "I",
            _money(total),
            "C",
            "ACH",
            "CCP",
            "01",
            "999999999",
            "DA",
            "123456",
            "1512345678",
            "",
            "01",
            "888888888",
            "DA",
            "654321",
            _ymd(remit.payment_date),
        ]
    )
    segs.append(["TRN", "1", remit.trace_number, "1512345678"])
    segs.append(["DTM", "405", _ymd(remit.payment_date)])
    segs.append(["N1", "PR", remit.payer_name])
    segs.append(["REF", "2U", remit.payer_id])
    segs.append(["N1", "PE", remit.payee_name, "XX", remit.payee_npi])
    if remit.payee_tin:
        segs.append(["REF", "TJ", remit.payee_tin])
    segs.append(["LX", "1"])
    for claim in remit.claims:
        charge = sum((ln.charge for ln in claim.lines), Decimal(0))
        paid = sum((ln.paid for ln in claim.lines), Decimal(0))
        patient = sum((a for ln in claim.lines for g, _, a in ln.adjustments if g == "PR"), Decimal(0))
        segs.append(
            [
                "CLP",
                claim.claim_id,
                claim.status,
                _money(charge),
                _money(paid),
                _money(patient),
                claim.filing_indicator,
                claim.payer_claim_control or f"ICN{claim.claim_id}",
                "11",
                "1",
            ]
        )
        segs.append(
            ["NM1", "QC", "1", claim.patient_last, claim.patient_first, "", "", "", "MI", claim.member_id]
        )
        if claim.rendering_npi:
            segs.append(["NM1", "82", "1", "RENDERING", "DOC", "", "", "", "XX", claim.rendering_npi])
        for line in claim.lines:
            composite = c.join(("HC", line.code, *line.modifiers))
            svc = ["SVC", composite, _money(line.charge), _money(line.paid), "", str(line.units)]
            if line.submitted_code:
                svc += [c.join(("HC", line.submitted_code, *line.submitted_modifiers))]
            segs.append(svc)
            segs.append(["DTM", "472", _ymd(line.service_date)])
            by_group: dict[str, list[tuple[str, Decimal]]] = {}
            for group, reason, amount in line.adjustments:
                by_group.setdefault(group, []).append((reason, amount))
            for group, pairs in by_group.items():
                cas = ["CAS", group]
                for reason, amount in pairs:
                    cas += [reason, _money(amount), ""]
                while cas and cas[-1] == "":
                    cas.pop()
                segs.append(cas)
            if line.control:
                segs.append(["REF", "6R", line.control])
            if line.allowed is not None:
                segs.append(["AMT", "B6", _money(line.allowed)])
            for remark in line.remarks:
                segs.append(["LQ", "HE", remark])
    if remit.plb:
        plb = ["PLB", remit.payee_npi, _ymd(date(remit.payment_date.year, 12, 31))]
        for reason, reference, amount in remit.plb:
            plb += [f"{reason}{c}{reference}", _money(amount)]
        segs.append(plb)
    segs.append(["SE", str(len(segs) + 1), remit.transaction_control])
    return segs


def render(env: Envelope) -> str:
    e, t, nl = env.element, env.terminator, env.newline
    control = f"{env.interchange_control:09d}"
    isa = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        env.sender.ljust(15),
        "ZZ",
        env.receiver.ljust(15),
        "261020",
        "1200",
        env.repetition,
        "00501",
        control,
        "0",
        "P",
        env.component,
    ]
    out = [e.join(isa) + t]
    out.append(
        e.join(["GS", "HP", env.sender, env.receiver, "20261020", "1200", "1", "X", "005010X221A1"]) + t
    )
    for remit in env.remits:
        for seg in _transaction(remit, env):
            out.append(e.join(seg) + t)
    out.append(e.join(["GE", str(len(env.remits)), "1"]) + t)
    out.append(e.join(["IEA", "1", control]) + t)
    return nl.join(out) + nl


def stream(env: Envelope) -> Iterator[str]:
    """The same file as `render`, yielded a segment at a time (for very large benchmark files)."""
    yield from render(env).splitlines(keepends=True)
