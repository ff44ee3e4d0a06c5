"""Write a large, valid, balanced 005010X221A1 835 to disk, one transaction set at a time.

Only the standard library is used, so this module runs under any Python 3.11 (the project's .venv or
the benchmark venv). Memory stays flat: a transaction set (by default 2,000 claims, about 7,000
service lines) is built as text, written, and dropped before the next one is built; BPR02 has to be
known before the claims are written, which is why one transaction set is held at a time.

What a file holds, all seeded and deterministic:

* one ISA/GS interchange, transaction sets of `claims_per_transaction` claims each (the last one
  holds the remainder), ST02 numbered from 0001;
* per transaction: BPR (BPR02 = sum of CLP04, there is no PLB), TRN, DTM*405, payer N1/N3/N4/REF*2U/PER*BL,
  payee N1*PE (NPI) /N3/N4/REF*TJ, LX*1;
* per claim (1-6 service lines): CLP (CLP03 = sum SVC02, CLP04 = sum SVC03, CLP05 = sum PR),
  NM1*QC, NM1*82, DTM*050;
* per service line: SVC with interventional pain codes (64493 64494 64483 62323 77003 20552; the
  facet and transforaminal codes carry modifier 50, LT or RT), DTM*472, CAS triplets (CO-45
  contractual and PR-2 coinsurance on paid lines, CO-197 on denied lines), REF*6R, AMT*B6 on paid
  lines, LQ*HE remarks on some lines;
* every line balances (SVC02 - CAS = SVC03), every claim balances, every transaction balances.

Money is computed in integer cents and written the way x12gen writes it (no trailing zeros).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

GENERATOR_VERSION = 1  # bump when the output changes, so cached files are rebuilt

# code: (charge in cents, Medicare-like allowed in cents, modifiers to pick from)
PROCEDURES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "64493": (85000, 21762, ("50", "LT", "RT")),
    "64494": (45000, 9587, ("50", "LT", "RT")),
    "64483": (95000, 24115, ("50", "LT", "RT")),
    "62323": (110000, 26140, ()),
    "77003": (25000, 6012, ()),
    "20552": (22000, 5531, ()),
}
# Plausible claim shapes for a pain practice (a primary procedure, add-on levels, guidance).
EPISODES: tuple[tuple[str, ...], ...] = (
    ("64493",),
    ("64493", "64494"),
    ("64493", "64494", "77003"),
    ("64483",),
    ("64483", "77003"),
    ("62323",),
    ("62323", "77003"),
    ("20552",),
    ("64493", "64494", "64494", "77003"),
    ("64483", "64483", "77003", "20552"),
    ("64493", "64494", "64483", "77003", "20552"),
    ("64493", "64494", "64494", "64483", "77003", "20552"),
)
LAST_NAMES = ("RIVERA", "NGUYEN", "OKAFOR", "SMITH", "JOHNSON", "GARCIA", "MILLER", "DAVIS", "LOPEZ")
FIRST_NAMES = ("ANA", "BAO", "CHIDI", "JOHN", "MARY", "LUIS", "EMMA", "NOAH", "OLIVIA")
PAID_REMARKS = ("N130", "M15", "N381")
DENIED_REMARKS = ("M62", "N54")


def money(cents: int) -> str:
    """Cents to an X12 R value: 85000 -> '850', 21762 -> '217.62', 15480 -> '154.8'."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    if frac == 0:
        return f"{sign}{whole}"
    if frac % 10 == 0:
        return f"{sign}{whole}.{frac // 10}"
    return f"{sign}{whole}.{frac:02d}"


@dataclass
class Stats:
    lines: int = 0
    claims: int = 0
    transactions: int = 0
    segments: int = 0  # ISA through IEA
    bytes: int = 0
    paid_cents: int = 0
    seconds: float = 0.0


def _episodes(total_lines: int, rng: random.Random) -> list[tuple[str, ...]]:
    """The procedure codes of each claim (1-6 lines), adding up to exactly `total_lines` lines."""
    claims: list[tuple[str, ...]] = []
    left = total_lines
    while left > 0:
        episode = rng.choice(EPISODES)[:left]
        claims.append(episode)
        left -= len(episode)
    return claims


def _claim(
    rng: random.Random, number: int, codes: tuple[str, ...], service_date: str
) -> tuple[list[str], int]:
    """Segments of one CLP loop (without terminators) and its paid amount in cents."""
    pcn = f"PCN{number:09d}"
    body: list[str] = []
    charge_total = paid_total = patient_total = 0
    for index, code in enumerate(codes, start=1):
        charge, allowed, modifier_choices = PROCEDURES[code]
        composite = f"HC:{code}:{rng.choice(modifier_choices)}" if modifier_choices else f"HC:{code}"
        roll = rng.random()
        segs: list[str]
        if roll < 0.08:  # denied: no prior authorization
            paid = 0
            segs = [
                f"SVC*{composite}*{money(charge)}*0**1",
                f"DTM*472*{service_date}",
                f"CAS*CO*197*{money(charge)}",
                f"REF*6R*{pcn}-{index}",
                f"LQ*HE*{rng.choice(DENIED_REMARKS)}",
            ]
        else:
            allowed += rng.randint(-150, 150)  # locality adjustments, in cents
            coinsurance = (allowed * 20 + 50) // 100
            paid = allowed - coinsurance
            patient_total += coinsurance
            segs = [
                f"SVC*{composite}*{money(charge)}*{money(paid)}**1",
                f"DTM*472*{service_date}",
                f"CAS*CO*45*{money(charge - allowed)}",
                f"CAS*PR*2*{money(coinsurance)}",
                f"REF*6R*{pcn}-{index}",
                f"AMT*B6*{money(allowed)}",
            ]
            if roll > 0.75:
                segs.append(f"LQ*HE*{rng.choice(PAID_REMARKS)}")
        charge_total += charge
        paid_total += paid
        body.extend(segs)
    status = "1" if paid_total > 0 else "4"
    last, first = rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES)
    head = [
        f"CLP*{pcn}*{status}*{money(charge_total)}*{money(paid_total)}*{money(patient_total)}"
        f"*MB*ICN{number:011d}*11*1",
        f"NM1*QC*1*{last}*{first}****MI*{number % 10_000_000:07d}A",
        "NM1*82*1*RENDERING*DOC****XX*1215049283",
        f"DTM*050*{service_date}",
    ]
    return head + body, paid_total


def write_835(
    path: Path,
    lines: int,
    *,
    claims_per_transaction: int = 2000,
    seed: int = 835,
    terminator: str = "~\n",
    payee_npi: str = "1245319599",
    trace_prefix: str = "EFT",
    interchange_control: int = 835,
) -> Stats:
    """Write the file to `path` (through a temporary file renamed at the end) and return its counts."""
    started = time.perf_counter()
    rng = random.Random(seed)
    stats = Stats()
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    path.parent.mkdir(parents=True, exist_ok=True)
    episodes = _episodes(lines, rng)
    with tmp.open("w", encoding="ascii", newline="") as out:

        def emit(segs: list[str]) -> None:
            text = terminator.join(segs) + terminator
            out.write(text)
            stats.segments += len(segs)
            stats.bytes += len(text)

        emit(
            [
                "ISA*00*          *00*          *ZZ*PAYERSENDER    *ZZ*CLAIMLINE      *261020*1200*^*00501"
                f"*{interchange_control:09d}*0*P*:",
                "GS*HP*PAYERSENDER*CLAIMLINE*20261020*1200*835*X*005010X221A1",
            ]
        )
        claim_number = 0
        for start in range(0, len(episodes), claims_per_transaction):
            stats.transactions += 1
            control = f"{stats.transactions:04d}"
            claims: list[str] = []
            paid = 0
            for codes in episodes[start : start + claims_per_transaction]:
                claim_number += 1
                day = 1 + claim_number % 28
                segs, claim_paid = _claim(rng, claim_number, codes, f"202609{day:02d}")
                claims.extend(segs)
                paid += claim_paid
                stats.lines += len(codes)
                stats.claims += 1
            header = [
                f"ST*835*{control}",  # ST03 is "Not Used" in the X221A1 TR3 (GS08 names the version)
                f"BPR*I*{money(paid)}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*888888888*DA"
                "*654321*20261020",
                f"TRN*1*{trace_prefix}{stats.transactions:010d}*1512345678",
                "DTM*405*20261020",
                "N1*PR*MEDICARE JURISDICTION J",
                "N3*PO BOX 6781",
                "N4*INDIANAPOLIS*IN*462066781",
                "REF*2U*12502",
                "PER*BL*PROVIDER SERVICES*TE*8005551234",
                f"N1*PE*LAKESIDE PAIN INSTITUTE*XX*{payee_npi}",
                "N3*100 LAKESIDE DR",
                "N4*MADISON*WI*537031234",
                "REF*TJ*861234567",
                "LX*1",
            ]
            segs = header + claims
            segs.append(f"SE*{len(segs) + 1}*{control}")
            emit(segs)
            stats.paid_cents += paid
        emit([f"GE*{stats.transactions}*835", f"IEA*1*{interchange_control:09d}"])
    tmp.replace(path)
    stats.seconds = time.perf_counter() - started
    return stats


def cached_835(
    directory: Path, lines: int, *, claims_per_transaction: int = 2000, seed: int = 835
) -> tuple[Path, Stats, bool]:
    """The file for these parameters, written only if it is not there yet; (path, stats, generated)."""
    name = f"835-{lines}l-{claims_per_transaction}c-s{seed}-v{GENERATOR_VERSION}.x12"
    path = directory / name
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        stats = Stats(**json.loads(meta.read_text()))
        if stats.bytes == path.stat().st_size:
            return path, stats, False
    stats = write_835(path, lines, claims_per_transaction=claims_per_transaction, seed=seed)
    meta.write_text(json.dumps(asdict(stats)))
    return path, stats, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--claims-per-transaction", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=835)
    args = parser.parse_args()
    stats = write_835(
        args.path, args.lines, claims_per_transaction=args.claims_per_transaction, seed=args.seed
    )
    print(json.dumps(asdict(stats)))


if __name__ == "__main__":
    main()
