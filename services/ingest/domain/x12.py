"""X12 segment reading: delimiters from the ISA header, any line breaks, positions for precise errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

ISA_LENGTH = 106


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str
    component: str
    repetition: str | None
    segment: str


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment. `position` counts segments from 1 in the whole file, as received."""

    position: int
    id: str
    elements: tuple[str, ...]

    def get(self, index: int) -> str:
        """Element by its X12 position (CLP01 is `get(1)`); empty string when absent."""
        return self.elements[index - 1] if 0 < index <= len(self.elements) else ""


class X12SyntaxError(ValueError):
    """The file cannot be read as X12 at all (no ISA, unreadable header, wrong encoding)."""

    def __init__(
        self,
        reason: str,
        *,
        segment_position: int | None = None,
        segment_id: str | None = None,
        element_position: int | None = None,
        expected: str | None = None,
        found: str | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.segment_position = segment_position
        self.segment_id = segment_id
        self.element_position = element_position
        self.expected = expected
        self.found = found


def decode(data: bytes) -> str:
    """X12 is ASCII or UTF-8 in practice; a BOM is dropped, UTF-16 and binary are refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:200]:
        raise X12SyntaxError(
            "file is not ASCII/UTF-8 text (looks like UTF-16 or binary)",
            expected="ASCII or UTF-8",
            found="UTF-16 or binary bytes",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise X12SyntaxError(
            f"file is not valid UTF-8 at byte {exc.start}",
            expected="ASCII or UTF-8",
            found=f"byte 0x{data[exc.start]:02x}",
        ) from exc


def read_delimiters(text: str) -> tuple[Delimiters, int]:
    """Delimiters from the fixed-length ISA segment. Returns them and the offset where ISA starts."""
    start = text.find("ISA")
    if start < 0 or text[:start].strip():
        found = text[:start].strip()[:20] if start > 0 else text.strip()[:20]
        raise X12SyntaxError(
            "file does not start with an ISA interchange header",
            segment_position=1,
            expected="ISA",
            found=found or "(empty file)",
        )
    header = text[start : start + ISA_LENGTH]
    if len(header) < ISA_LENGTH:
        raise X12SyntaxError(
            "ISA header is truncated",
            segment_position=1,
            segment_id="ISA",
            expected=f"{ISA_LENGTH} characters",
            found=f"{len(header)} characters",
        )
    element = header[3]
    parts = header.split(element)
    if len(parts) < 17:
        raise X12SyntaxError(
            "ISA header does not have 16 elements",
            segment_position=1,
            segment_id="ISA",
            expected="16 elements",
            found=f"{len(parts) - 1} elements",
        )
    if len("".join(parts[:16])) + 16 != ISA_LENGTH - 2 or len(parts[16]) < 1:
        raise X12SyntaxError(
            "ISA header is not fixed length, so its delimiters cannot be trusted",
            segment_position=1,
            segment_id="ISA",
            element_position=16,
            expected="ISA16 at character 105",
            found=f"ISA elements of lengths {[len(p) for p in parts[1:16]]}",
        )
    component = header[104]
    segment = header[105]
    repetition = header[82]
    if repetition.isalnum() or repetition in (element, component, segment):
        repetition_sep: str | None = None  # 4010 style: ISA11 is the standards id "U"
    else:
        repetition_sep = repetition
    if segment.isalnum() or segment == element:
        raise X12SyntaxError(
            "segment terminator in ISA is not a delimiter",
            segment_position=1,
            segment_id="ISA",
            expected="a punctuation or control character after ISA16",
            found=repr(segment),
        )
    return Delimiters(element, component, repetition_sep, segment), start


def segments(text: str) -> Iterator[Segment]:
    """Yield the segments of an X12 text. Line breaks and indentation between segments are ignored."""
    delimiters, start = read_delimiters(text)
    position = 0
    terminator = delimiters.segment
    pos = start
    length = len(text)
    while pos < length:
        end = text.find(terminator, pos)
        if end < 0:
            end = length
        raw = text[pos:end].strip("\r\n\t ")
        pos = end + 1
        if not raw:
            continue
        position += 1
        parts = raw.split(delimiters.element)
        yield Segment(position, parts[0], tuple(parts[1:]))


def components(value: str, delimiters: Delimiters) -> list[str]:
    return value.split(delimiters.component)
