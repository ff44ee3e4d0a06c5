"""The sample remittances of the demo: two interventional pain practices, one Medicare remittance each.

`python -m claimline.samples` rewrites `samples/835/` from these definitions.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

from claimline.x12gen import Claim, Envelope, Line, Remit, render

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"

PRACTICES = (
    # practice id, name, payee NPI, payee TIN
    ("desert-spine", "Desert Spine & Pain Institute", "1245319599", "861234567"),
    ("lakeside-pain", "Lakeside Interventional Pain", "1679576722", "391234567"),
)


def desert_spine() -> Envelope:
    dos = date(2026, 9, 14)
    claims = (
        Claim(
            "DSP10001",
            (
                Line(
                    "64493",
                    D("850"),
                    D("412.18"),
                    ("50",),
                    service_date=dos,
                    control="DSP10001-1",
                    allowed=D("412.18"),
                    adjustments=(("CO", "45", D("437.82")),),
                ),
                Line(
                    "64494",
                    D("400"),
                    D("0"),
                    ("50",),
                    service_date=dos,
                    control="DSP10001-2",
                    adjustments=(("CO", "4", D("400")),),
                    remarks=("N822",),
                ),
            ),
            member_id="1EG4TE5MK73",
            patient_last="RIVERA",
            patient_first="ANA",
        ),
        Claim(
            "DSP10002",
            (
                Line(
                    "62323",
                    D("1200"),
                    D("0"),
                    service_date=dos,
                    control="DSP10002-1",
                    adjustments=(("CO", "197", D("1200")),),
                    remarks=("N54",),
                ),
                Line(
                    "77003",
                    D("150"),
                    D("0"),
                    service_date=dos,
                    control="DSP10002-2",
                    adjustments=(("CO", "97", D("150")),),
                    remarks=("M15",),
                ),
            ),
            member_id="2FH5UF6NL84",
            patient_last="NGUYEN",
            patient_first="BAO",
        ),
        Claim(
            "DSP10003",
            (
                Line(
                    "20552",
                    D("180"),
                    D("61.92"),
                    service_date=dos,
                    control="DSP10003-1",
                    allowed=D("77.40"),
                    adjustments=(("CO", "45", D("102.60")), ("PR", "2", D("15.48"))),
                ),
            ),
            member_id="3GJ6VG7PM95",
            patient_last="OKAFOR",
            patient_first="CHIDI",
        ),
        Claim(
            "DSP10004",
            (
                Line(
                    "64635",
                    D("2100"),
                    D("0"),
                    ("RT",),
                    service_date=dos,
                    control="DSP10004-1",
                    adjustments=(("CO", "151", D("2100")),),
                    remarks=("N412",),
                ),
            ),
            member_id="1EG4TE5MK73",
            patient_last="RIVERA",
            patient_first="ANA",
        ),
    )
    remit = Remit("EFT2026102001", "1245319599", "DESERT SPINE AND PAIN", claims, payee_tin="861234567")
    return Envelope(interchange_control=101, remits=[remit])


def lakeside_pain() -> Envelope:
    dos = date(2026, 9, 21)
    claims = (
        Claim(
            "LIP20001",
            (
                Line(
                    "64483",
                    D("1100"),
                    D("498.27"),
                    ("LT",),
                    service_date=dos,
                    control="LIP20001-1",
                    allowed=D("498.27"),
                    adjustments=(("CO", "45", D("601.73")),),
                ),
                Line(
                    "64484",
                    D("350"),
                    D("131.04"),
                    ("LT",),
                    service_date=dos,
                    control="LIP20001-2",
                    allowed=D("131.04"),
                    adjustments=(("CO", "45", D("218.96")),),
                ),
            ),
            member_id="4HK7WH8QN06",
            patient_last="SCHMIDT",
            patient_first="KARL",
            rendering_npi="1932107654",
        ),
        Claim(
            "LIP20002",
            (
                Line(
                    "80307",
                    D("220"),
                    D("0"),
                    service_date=dos,
                    control="LIP20002-1",
                    adjustments=(("CO", "18", D("220")),),
                    remarks=("N522",),
                ),
            ),
            member_id="5JL8XJ9RP17",
            patient_last="PATEL",
            patient_first="MEERA",
            rendering_npi="1932107654",
        ),
        Claim(
            "LIP20003",
            (
                Line(
                    "64490",
                    D("900"),
                    D("0"),
                    service_date=dos,
                    control="LIP20003-1",
                    adjustments=(("CO", "50", D("900")),),
                    remarks=("N115",),
                ),
            ),
            member_id="6KM9YK0SQ28",
            patient_last="JOHNSON",
            patient_first="LEE",
            rendering_npi="1932107654",
        ),
    )
    remit = Remit(
        "EFT2026102002", "1679576722", "LAKESIDE INTERVENTIONAL PAIN", claims, payee_tin="391234567"
    )
    return Envelope(interchange_control=202, remits=[remit])


def write_samples(directory: Path = SAMPLES_DIR / "835") -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, envelope in (
        ("desert-spine-2026-10-20.835", desert_spine()),
        ("lakeside-pain-2026-10-20.835", lakeside_pain()),
    ):
        path = directory / name
        path.write_text(render(envelope))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_samples():
        print(path)
