"""Builders of 837P text for tests: an interventional pain practice's professional claims."""

from __future__ import annotations

from decimal import Decimal

D = Decimal
GROUP_NPI = "1538267114"
DOCTOR_NPI = "1215049283"
GROUP_TIN = "461234567"


def seg(*elements: str) -> str:
    return "*".join(elements).rstrip("*") + "~"


def isa(control: int) -> str:
    text = (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'CLAIMLINE':15}*ZZ*{'CLEARINGHOUSE':15}"
        f"*261020*1200*^*00501*{control:09d}*0*P*:~"
    )
    assert len(text) == 106
    return text


def billing(hl: str = "1", npi: str = GROUP_NPI, tin: str = GROUP_TIN) -> list[str]:
    return [
        seg("HL", hl, "", "20", "1"),
        seg("PRV", "BI", "PXC", "208VP0014X"),
        seg("NM1", "85", "2", "DESERT PAIN INSTITUTE", "", "", "", "", "XX", npi),
        seg("N3", "100 CAMELBACK RD"),
        seg("N4", "PHOENIX", "AZ", "850161234"),
        seg("REF", "EI", tin),
        seg("NM1", "87", "2"),
        seg("N3", "PO BOX 500"),
        seg("N4", "PHOENIX", "AZ", "850165000"),
    ]


def subscriber(
    hl: str,
    parent: str = "1",
    *,
    member: str = "1EG4TE5MK72",
    last: str = "RIVERA",
    first: str = "ANA",
    birth: str = "19580214",
    payer_id: str = "04412",
    payer_name: str = "NORIDIAN JF PART B",
    has_patient: bool = False,
    filing: str = "MB",
) -> list[str]:
    return [
        seg("HL", hl, parent, "22", "1" if has_patient else "0"),
        seg("SBR", "P", "" if has_patient else "18", "", "", "", "", "", "", filing),
        seg("NM1", "IL", "1", last, first, "", "", "", "MI", member),
        seg("N3", "12 SAGUARO LN"),
        seg("N4", "MESA", "AZ", "85201"),
        seg("DMG", "D8", birth, "F"),
        seg("NM1", "PR", "2", payer_name, "", "", "", "", "PI", payer_id),
    ]


def patient(hl: str, parent: str, *, last: str, first: str, birth: str) -> list[str]:
    return [
        seg("HL", hl, parent, "23", "0"),
        seg("PAT", "19"),
        seg("NM1", "QC", "1", last, first),
        seg("N3", "12 SAGUARO LN"),
        seg("N4", "MESA", "AZ", "85201"),
        seg("DMG", "D8", birth, "M"),
    ]


def line(
    n: int,
    code: str,
    charge: str,
    *,
    modifiers: tuple[str, ...] = (),
    units: str = "1",
    basis: str = "UN",
    pointers: str = "1",
    service: str = "D8*20260914",
    control: str | None = None,
    place: str = "",
    after: tuple[str, ...] = (),
) -> list[str]:
    segs = [
        seg("LX", str(n)),
        seg("SV1", ":".join(("HC", code, *modifiers)), charge, basis, units, place, "", pointers),
        "DTP*472*" + service + "~",
    ]
    if control:
        segs.append(seg("REF", "6R", control))
    return segs + list(after)


def claim(
    claim_id: str,
    *lines: list[str],
    total: str | None = None,
    place: str = "11",
    frequency: str = "1",
    diagnoses: tuple[str, ...] = ("M47816", "M5416"),
    refs: tuple[tuple[str, str], ...] = (),
    rendering: str | None = DOCTOR_NPI,
    extra: tuple[str, ...] = (),
) -> list[str]:
    if total is None:
        charges = [D(s.split("*")[2]) for segs in lines for s in segs if s.startswith("SV1*")]
        total = str(sum(charges, D(0)))
    hi = ["ABK:" + diagnoses[0], *("ABF:" + code for code in diagnoses[1:])] if diagnoses else []
    segs = [seg("CLM", claim_id, total, "", "", f"{place}:B:{frequency}", "Y", "A", "Y", "Y")]
    segs += [seg("REF", qualifier, value) for qualifier, value in refs]
    if hi:
        segs.append(seg("HI", *hi))
    if rendering:
        segs += [
            seg("NM1", "82", "1", "PATEL", "RAVI", "", "", "", "XX", rendering),
            seg("PRV", "PE", "PXC", "208VP0014X"),
        ]
    segs += list(extra)
    for segs_of_line in lines:
        segs += segs_of_line
    return segs


def transaction(
    control: str, *loops: list[str], version: str = "005010X222A1", st_id: str = "837"
) -> list[str]:
    segs = [
        seg("ST", st_id, control, version),
        seg("BHT", "0019", "00", f"BATCH{control}", "20261020", "1200", "CH"),
        seg("NM1", "41", "2", "DESERT PAIN BILLING", "", "", "", "", "46", "S12345"),
        seg("PER", "IC", "BILLING DESK", "TE", "6025550100"),
        seg("NM1", "40", "2", "CLEARINGHOUSE", "", "", "", "", "46", "CH001"),
    ]
    for loop in loops:
        segs += loop
    segs.append(seg("SE", str(len(segs) + 1), control))
    return segs


def interchange(*transactions: list[str], control: int = 905, version: str = "005010X222A1") -> str:
    segs = [
        isa(control),
        seg("GS", "HC", "CLAIMLINE", "CLEARINGHOUSE", "20261020", "1200", "7", "X", version),
    ]
    for tx in transactions:
        segs += tx
    segs += [seg("GE", str(len(transactions)), "7"), seg("IEA", "1", f"{control:09d}")]
    return "\n".join(segs) + "\n"
