"""Is this the same patient? Recognize one person across practices from member id, date of birth and name.

Medicare frequency limits count per beneficiary, not per provider (domain.md 3.7), so a session billed by
another practice of the billing company counts too. Practices spell names differently and a patient may
carry another member id at another practice, so identity is decided by rules (docs/auths.md, section 4):

1. Different dates of birth: never the same patient (even with the same member id: a family sharing a
   subscriber id, or a typo; either way not safe to merge). A missing date of birth: not the same.
2. Same member id and same date of birth: the same patient (strong), whatever the names say (a name
   changes at marriage, a practice may misspell it).
3. Same date of birth, same normalized last name and the same first name: the same patient; the same
   first initial when one side gives only an initial: the same patient, weaker.
4. Anything less is not the same patient; the score and fields say how close it came.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from shared.schemas import PersonRef

SUFFIXES = frozenset({"JR", "SR", "II", "III", "IV", "V", "2ND", "3RD", "4TH", "ESQ"})
"""Generational suffixes dropped from names (only after another word: a last name `V` stays)."""

_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`\u00b4")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")


@dataclass(frozen=True)
class PatientKey:
    """What identifies a patient on a claim or an authorization: all parts optional (data is patchy)."""

    member_id: str | None = None
    birth_date: date | None = None
    last_name: str | None = None
    first_name: str | None = None

    @classmethod
    def from_person(cls, person: PersonRef, birth_date: date | None) -> PatientKey:
        """From a claim's patient (shared.schemas.PersonRef) and its birth date."""
        return cls(person.member_id, birth_date, person.last_name, person.first_name)


@dataclass(frozen=True)
class Match:
    same: bool
    score: int
    """0-100: 100 member id, birth date and name all agree; 0 dates of birth differ."""
    fields: tuple[str, ...]
    """Which of member_id, birth_date, last_name, first_name, first_initial agreed."""
    explanation: str


def normalize_name(text: str | None) -> str:
    """Capitals, no accents, no apostrophes, other punctuation and hyphens as spaces, suffixes dropped.

    `O'Neil-Smith Jr` -> `ONEIL SMITH`; `José  de la Cruz` -> `JOSE DE LA CRUZ`."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = _NOT_ALNUM.sub(" ", plain.upper().translate(_APOSTROPHES)).split()
    while len(words) > 1 and words[-1] in SUFFIXES:
        words.pop()
    return " ".join(words)


def normalize_member_id(text: str | None) -> str:
    """Capitals, no spaces, dashes or other separators: `1eg4-te5-mk73` -> `1EG4TE5MK73`."""
    return _NOT_ALNUM.sub("", (text or "").upper())


def _squeezed(name: str) -> str:
    return name.replace(" ", "")


def _first_names(a: str, b: str) -> str | None:
    """`first_name` when the first names agree, `first_initial` when one side is an initial that agrees."""
    if not a or not b:
        return None
    if _squeezed(a) == _squeezed(b) or a.split()[0] == b.split()[0]:
        return "first_name"
    first_a, first_b = a.split()[0], b.split()[0]
    if (len(first_a) == 1 or len(first_b) == 1) and first_a[0] == first_b[0]:
        return "first_initial"
    return None


def match(a: PatientKey, b: PatientKey) -> Match:
    """Whether `a` and `b` are the same patient, by the rules in the module docstring."""
    fields: list[str] = []
    member_a, member_b = normalize_member_id(a.member_id), normalize_member_id(b.member_id)
    if member_a and member_a == member_b:
        fields.append("member_id")
    last_a, last_b = normalize_name(a.last_name), normalize_name(b.last_name)
    last_same = bool(last_a) and _squeezed(last_a) == _squeezed(last_b)
    first = _first_names(normalize_name(a.first_name), normalize_name(b.first_name))

    if a.birth_date is None or b.birth_date is None:
        names = (["last_name"] if last_same else []) + ([first] if first else [])
        return Match(
            False,
            min(30, 10 * len(fields + names)),
            tuple(fields + names),
            "Not the same patient: a date of birth is missing, and none of the rules can apply without it.",
        )
    if a.birth_date != b.birth_date:
        why = (
            " although the member ids agree (a family sharing a subscriber id, or a typo)"
            if "member_id" in fields
            else ""
        )
        return Match(False, 0, tuple(fields), f"Never the same patient: the dates of birth differ{why}.")
    fields.append("birth_date")
    if last_same:
        fields.append("last_name")
    if first:
        fields.append(first)

    if "member_id" in fields:
        if last_same and first:
            return Match(True, 100, tuple(fields), "Same patient: member id, date of birth and name agree.")
        return Match(
            True,
            90,
            tuple(fields),
            "Same patient: member id and date of birth agree (the names differ or are missing: a name change "
            "or a spelling at one practice).",
        )
    differ = " (member ids differ: another plan or payer)" if member_a and member_b else ""
    if last_same and first == "first_name":
        return Match(True, 80, tuple(fields), f"Same patient: date of birth and full name agree{differ}.")
    if last_same and first == "first_initial":
        return Match(
            True,
            70,
            tuple(fields),
            f"Same patient (weaker): date of birth, last name and first initial agree{differ}.",
        )
    if last_same:
        return Match(
            False,
            40,
            tuple(fields),
            "Not the same patient: date of birth and last name agree, first names do not.",
        )
    if first:
        return Match(
            False,
            30,
            tuple(fields),
            "Not the same patient: date of birth and first name agree, last names do not.",
        )
    return Match(False, 20, tuple(fields), "Not the same patient: only the date of birth agrees.")
