"""The code catalog covers the codes that matter: the full CARC list, a broad RARC list, every code the
domain research names, and every CARC and RARC that appears in the shared X12 corpus.

The corpus is read in place from ../shared/corpus/x12 with each file's own delimiters: the element
separator is the character after "ISA" (after an optional UTF-8 byte order mark) and the segment
terminator is the character right after ISA16. Files without an ISA envelope and UTF-16 files are
skipped. Template placeholders in the fixtures ('resnCode', 'remark_code1', 'XX99') are not codes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.denials.domain.catalog import Catalog, load_catalog
from tests.support.strict import unavailable

SHARED = Path(__file__).resolve().parents[3] / "shared"
CORPUS = SHARED / "corpus" / "x12"
DOMAIN = SHARED / "reference" / "domain.md"

CATALOG = load_catalog()

ALLOWED_CATEGORIES = frozenset(
    {
        "patient_responsibility",
        "contractual",
        "coding_modifiers",
        "credentialing",
        "medical_necessity",
        "authorization",
        "documentation_requested",
        "duplicate",
        "eligibility_cob",
        "timely_filing",
        "bundling",
        "frequency",
        "review",
        "underpayment",
        "payer_error",
    }
)
ALLOWED_APPEALABLE = frozenset({"yes", "no", "correctable"})

# domain.md section 1.6 (CARCs most relevant to interventional pain) and 1.7 (RARCs).
DOMAIN_CARCS = (
    "1",
    "2",
    "3",
    "4",
    "5",
    "8",
    "11",
    "15",
    "16",
    "18",
    "22",
    "23",
    "26",
    "27",
    "29",
    "31",
    "45",
    "50",
    "55",
    "58",
    "59",
    "96",
    "97",
    "109",
    "119",
    "146",
    "151",
    "167",
    "170",
    "181",
    "182",
    "185",
    "189",
    "197",
    "198",
    "204",
    "208",
    "226",
    "234",
    "236",
    "242",
    "243",
    "252",
    "253",
    "272",
    "273",
    "284",
    "288",
    "296",
    "A1",
    "B7",
    "B13",
    "B15",
)
DOMAIN_RARCS = (
    "M15",
    "M20",
    "M51",
    "M53",
    "M76",
    "M77",
    "M80",
    "M81",
    "M86",
    "M90",
    "M119",
    "M127",
    "MA04",
    "MA130",
    "N4",
    "N19",
    "N20",
    "N54",
    "N56",
    "N95",
    "N115",
    "N122",
    "N130",
    "N356",
    "N357",
    "N362",
    "N386",
    "N390",
    "N412",
    "N414",
    "N425",
    "N428",
    "N430",
    "N431",
    "N432",
    "N435",
    "N640",
    "N522",
    "N569",
    "N657",
    "N674",
    "N702",
    "N703",
    "N704",
    "N706",
    "N758",
    "N822",
    "N823",
)

CARC_SHAPE = re.compile(r"^[A-Z0-9]{1,3}$")
RARC_SHAPE = re.compile(r"^(M|MA|N)[0-9]{1,4}$")
CAS_REASON_POSITIONS = (2, 5, 8, 11, 14, 17)
MOA_REMARK_POSITIONS = range(3, 8)  # MOA03-MOA07
ISA_ELEMENTS = 16


def _require(path: Path) -> None:
    if not path.exists():
        unavailable(f"{path} is missing")


# ---------------------------------------------------------------- catalog shape


def test_the_catalog_is_broad():
    assert len(CATALOG.carcs) >= 250
    assert len(CATALOG.rarcs) >= 400


def test_every_carc_has_an_allowed_category_a_known_appeal_status_and_words():
    for code, entry in CATALOG.carcs.items():
        assert entry.kind == "carc"
        assert entry.code == code
        assert CARC_SHAPE.match(code), code
        assert entry.category in ALLOWED_CATEGORIES, (code, entry.category)
        assert entry.appealable in ALLOWED_APPEALABLE, (code, entry.appealable)
        assert entry.meaning.strip(), code
        assert entry.action and entry.action.strip(), code


def test_underpayment_is_not_a_carc_category():
    assert not [code for code, entry in CATALOG.carcs.items() if entry.category == "underpayment"]


def test_every_rarc_has_a_meaning():
    for code, entry in CATALOG.rarcs.items():
        assert entry.kind == "rarc"
        assert RARC_SHAPE.match(code), code
        assert entry.meaning.strip(), code


def test_the_carc_ranges_are_covered_retired_numbers_included():
    numeric = {str(n) for n in range(1, 301)}
    lettered = {f"A{n}" for n in (0, 1, 5, 6, 8)} | {f"B{n}" for n in (1, 4, 7, 8, 9, 10, 11, 12)}
    lettered |= {f"B{n}" for n in (13, 14, 15, 16, 20, 22, 23)} | {f"P{n}" for n in range(1, 33)}
    missing = sorted((numeric | lettered) - set(CATALOG.carcs))
    assert missing == []


def test_a_retired_code_says_so_and_no_d_code_is_listed():
    assert "(retired code)" in CATALOG.carcs["15"].meaning
    assert "(retired code)" in CATALOG.carcs["A2"].meaning
    assert "(retired code)" not in CATALOG.carcs["197"].meaning
    assert not [code for code in CATALOG.carcs if code.startswith("D")]


# ---------------------------------------------------------------- the domain research's codes


@pytest.mark.parametrize("code", DOMAIN_CARCS)
def test_every_carc_the_domain_research_names_is_catalogued(code: str):
    entry = CATALOG.carc(code)

    assert entry is not None, code
    assert entry.meaning.strip()
    assert entry.action and entry.action.strip()


@pytest.mark.parametrize("code", DOMAIN_RARCS)
def test_every_rarc_the_domain_research_names_is_catalogued(code: str):
    entry = CATALOG.rarc(code)

    assert entry is not None, code
    assert entry.meaning.strip()


def _table_codes(text: str, start: str, end: str) -> set[str]:
    section = text.split(start, 1)[1].split(end, 1)[0]
    codes: set[str] = set()
    for line in section.splitlines():
        if line.startswith("|"):
            first_cell = line.split("|")[1]
            codes.update(re.findall(r"\b[A-Z]{0,2}\d+\b", first_cell))
    return codes


def test_the_domain_code_lists_here_match_domain_md():
    _require(DOMAIN)
    text = DOMAIN.read_text(encoding="utf-8")

    assert _table_codes(text, "### 1.6", "### 1.7") == set(DOMAIN_CARCS)
    assert _table_codes(text, "### 1.7", "### 1.8") == set(DOMAIN_RARCS)


# ---------------------------------------------------------------- the shared X12 corpus


def _is_utf16(raw: bytes) -> bool:
    return raw[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in raw[:8]


def _segments(raw: bytes) -> tuple[str, list[list[str]]] | None:
    """The file's segments split into elements, or None for a file this scan does not read."""
    if _is_utf16(raw):
        return None
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    if not text.startswith("ISA") or len(text) < 4:
        return None
    separator = text[3]
    isa = text.split(separator, ISA_ELEMENTS)
    if len(isa) <= ISA_ELEMENTS or len(isa[ISA_ELEMENTS]) < 2:
        return None
    terminator = isa[ISA_ELEMENTS][1]  # ISA16 is one character; the terminator follows it
    segments = [seg.strip("\r\n\t ").split(separator) for seg in text.split(terminator)]
    return separator, [seg for seg in segments if seg and seg[0]]


def _codes_in(segments: list[list[str]]) -> tuple[set[str], set[str]]:
    carcs: set[str] = set()
    rarcs: set[str] = set()
    for elements in segments:
        tag = elements[0]
        if tag == "CAS":
            values = [elements[i] for i in CAS_REASON_POSITIONS if i < len(elements)]
            carcs.update(v.strip() for v in values if CARC_SHAPE.match(v.strip()))
        elif tag == "LQ" and len(elements) > 2 and elements[1] == "HE":
            if RARC_SHAPE.match(elements[2].strip()):
                rarcs.add(elements[2].strip())
        elif tag == "MOA":
            values = [elements[i] for i in MOA_REMARK_POSITIONS if i < len(elements)]
            rarcs.update(v.strip() for v in values if RARC_SHAPE.match(v.strip()))
    return carcs, rarcs


def _missing(catalog: Catalog, found: dict[str, set[str]], kind: str) -> dict[str, list[str]]:
    return {
        code: sorted(files) for code, files in sorted(found.items()) if catalog.lookup(kind, code) is None
    }


@pytest.mark.corpus
def test_every_carc_and_rarc_in_the_corpus_is_catalogued():
    _require(CORPUS)
    carcs: dict[str, set[str]] = {}
    rarcs: dict[str, set[str]] = {}
    scanned = 0
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file()):
        parsed = _segments(path.read_bytes())
        if parsed is None:
            continue
        scanned += 1
        name = path.relative_to(CORPUS).as_posix()
        file_carcs, file_rarcs = _codes_in(parsed[1])
        for code in file_carcs:
            carcs.setdefault(code, set()).add(name)
        for code in file_rarcs:
            rarcs.setdefault(code, set()).add(name)

    assert scanned > 0
    assert carcs, "no CAS reason code was found: the scan is broken"
    assert rarcs, "no remark code was found: the scan is broken"
    assert _missing(CATALOG, carcs, "carc") == {}
    assert _missing(CATALOG, rarcs, "rarc") == {}


def test_the_scan_reads_the_files_own_delimiters():
    raw = (
        b"ISA|00|          |00|          |ZZ|SENDER         |ZZ|RECEIVER       |260101|1200|^|00501|"
        b"000000001|0|P|>!GS|HP|S|R|20260101|1200|1|X|005010X221A1!CAS|CO|45|10||97|5!"
        b"CAS|OA|grp_code|1!LQ|HE|N115!LQ|HE|XX99!MOA||||MA130|remark_code1!IEA|1|000000001!"
    )

    parsed = _segments(b"\xef\xbb\xbf" + raw)

    assert parsed is not None
    separator, segments = parsed
    assert separator == "|"
    assert _codes_in(segments) == ({"45", "97"}, {"N115", "MA130"})


def test_the_scan_skips_files_without_an_isa_and_utf16_files():
    assert _segments(b"ST*835*0001~CAS*CO*45*10~") is None
    assert _segments("ISA*00*".encode("utf-16-le")) is None
    assert _segments("ISA*00*".encode("utf-16")) is None
