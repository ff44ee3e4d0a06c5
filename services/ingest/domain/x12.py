"""X12 segment reading: delimiters from the ISA header, any line breaks, positions for precise errors."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

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


@dataclass(frozen=True)
class Problem:
    """Something in a file that could not be read, and exactly where. Positions are 1-based."""

    scope: str  # file | interchange | transaction | claim
    reason: str
    segment_position: int | None = None
    segment_id: str | None = None
    element_position: int | None = None
    expected: str | None = None
    found: str | None = None
    interchange_control: str | None = None
    group_control: str | None = None
    transaction_control: str | None = None
    payee_npi: str | None = None
    payee_tin: str | None = None


class Defect(ValueError):
    """One thing wrong in one segment; becomes a `Problem` once its transaction is known."""

    def __init__(
        self,
        reason: str,
        segment: Segment,
        element: int | None = None,
        expected: str | None = None,
        found: str | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.segment = segment
        self.element = element
        self.expected = expected
        self.found = found


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


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF8_BOM = b"\xef\xbb\xbf"
ISA_SCAN = 512  # an ISA header, however sloppy, fits in this many characters


def _refuse_binary(head: bytes) -> None:
    if head.startswith(UTF16_BOMS) or b"\x00" in head[:200]:
        raise X12SyntaxError(
            "file is not ASCII/UTF-8 text (looks like UTF-16 or binary)",
            segment_position=1,
            expected="ASCII or UTF-8",
            found="UTF-16 or binary bytes",
        )


def _bad_utf8(exc: UnicodeDecodeError, offset: int, data: bytes) -> X12SyntaxError:
    """`offset` is where `data` starts in the file. An incremental decoder puts the bytes it carried over
    from the previous chunk in front of `data`, and counts `exc.start` from there."""
    decoded = exc.object if isinstance(exc.object, bytes | bytearray) else data
    carried = len(decoded) - len(data)
    return X12SyntaxError(
        f"file is not valid UTF-8 at byte {offset - carried + exc.start}",
        expected="ASCII or UTF-8",
        found=f"byte 0x{decoded[exc.start]:02x}",
    )


def decode(data: bytes) -> str:
    """X12 is ASCII or UTF-8 in practice; a BOM is dropped, UTF-16 and binary are refused."""
    if data.startswith(UTF8_BOM):
        data = data[3:]
    _refuse_binary(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad_utf8(exc, 0, data) from exc


def read_delimiters(text: str) -> tuple[Delimiters, int]:
    """Delimiters from the ISA header. Returns them and the offset where ISA starts.

    ISA is meant to be 106 characters with fixed offsets, but some senders pad or trim its elements;
    the delimiters are therefore read by structure: the character after "ISA" separates elements,
    ISA16 (after the 16th separator) is the component separator, and the next character ends the
    segment. ISA11 is the repetition separator in 5010 and the standards id "U" in 4010.
    """
    start = text.find("ISA")
    if start < 0 or text[:start].strip("\r\n\t \ufeff"):
        found = text[:start].strip()[:20] if start > 0 else text.strip()[:20]
        raise X12SyntaxError(
            "file does not start with an ISA interchange header",
            segment_position=1,
            expected="ISA",
            found=found or "(empty file)",
        )
    if len(text) < start + 4:
        raise X12SyntaxError(
            "ISA header is truncated",
            segment_position=1,
            segment_id="ISA",
            expected=f"{ISA_LENGTH} characters",
            found=f"{len(text) - start} characters",
        )
    element = text[start + 3]
    if element.isalnum() or element.isspace():
        raise X12SyntaxError(
            "the character after ISA is not an element separator",
            segment_position=1,
            segment_id="ISA",
            expected="a punctuation character such as *",
            found=repr(element),
        )
    cursor = start + 3
    for _ in range(15):
        cursor = text.find(element, cursor + 1, start + ISA_SCAN)
        if cursor < 0:
            head = text[start : start + ISA_SCAN]
            raise X12SyntaxError(
                "ISA header does not have 16 elements"
                if len(head) >= ISA_LENGTH
                else "ISA header is truncated",
                segment_position=1,
                segment_id="ISA",
                expected="16 elements",
                found=f"{head.count(element)} elements",
            )
    # cursor is now at the separator before ISA16
    if len(text) < cursor + 3:
        raise X12SyntaxError(
            "ISA header is truncated",
            segment_position=1,
            segment_id="ISA",
            element_position=16,
            expected="ISA16 and a segment terminator",
            found="end of file",
        )
    component = text[cursor + 1]
    segment = text[cursor + 2]
    isa11 = text[start:cursor].split(element)[11] if text[start:cursor].count(element) >= 11 else ""
    if segment.isalnum() or segment in (element, component) or segment == " ":
        raise X12SyntaxError(
            "segment terminator in ISA is not a delimiter",
            segment_position=1,
            segment_id="ISA",
            element_position=16,
            expected="a punctuation or control character after ISA16",
            found=repr(segment),
        )
    if len(isa11) == 1 and not isa11.isalnum() and isa11 not in (element, component, segment):
        repetition: str | None = isa11
    else:
        repetition = None  # 4010 style: ISA11 is the standards id "U"
    return Delimiters(element, component, repetition, segment), start


def _split(chunks: Iterator[str], delimiters: Delimiters) -> Iterator[Segment]:
    terminator, element = delimiters.segment, delimiters.element
    position = 0
    pending = ""
    for chunk in chunks:
        if not chunk:
            continue
        pieces = (pending + chunk).split(terminator)
        pending = pieces.pop()
        for raw in pieces:
            raw = raw.strip("\r\n\t ")
            if raw:
                position += 1
                parts = raw.split(element)
                yield Segment(position, parts[0], tuple(parts[1:]))
    raw = pending.strip("\r\n\t ")
    if raw:
        position += 1
        parts = raw.split(element)
        yield Segment(position, parts[0], tuple(parts[1:]))


def segments(text: str) -> Iterator[Segment]:
    """Yield the segments of an X12 text. Line breaks and indentation between segments are ignored."""
    delimiters, start = read_delimiters(text)
    yield from _split(iter((text[start:],)), delimiters)


class SegmentReader:
    """Segments of an X12 byte stream, read in chunks so memory does not grow with the file.

    The first chunk is checked for encoding and gives the delimiters; `bytes_read` tells progress.
    """

    def __init__(self, source: BinaryIO, chunk_size: int = 1 << 20):
        self.source = source
        self.chunk_size = chunk_size
        self.bytes_read = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        first = self._read_raw()
        if first.startswith(UTF8_BOM):
            first = first[3:]
        _refuse_binary(first)
        self._first_text = self._decode(first, 0)
        while len(self._first_text) < ISA_SCAN:
            more = self._read_raw()
            if not more:
                break
            self._first_text += self._decode(more, self.bytes_read - len(more))
        self.delimiters, start = read_delimiters(self._first_text)
        self._first_text = self._first_text[start:]

    def _read_raw(self) -> bytes:
        data = self.source.read(self.chunk_size)
        self.bytes_read += len(data)
        return data

    def _decode(self, data: bytes, offset: int, final: bool = False) -> str:
        try:
            return str(self._decoder.decode(data, final))
        except UnicodeDecodeError as exc:
            raise _bad_utf8(exc, offset, data) from exc

    def _chunks(self) -> Iterator[str]:
        yield self._first_text
        while True:
            data = self._read_raw()
            if not data:
                yield self._decode(b"", self.bytes_read, final=True)
                return
            yield self._decode(data, self.bytes_read - len(data))

    def __iter__(self) -> Iterator[Segment]:
        return _split(self._chunks(), self.delimiters)


def components(value: str, delimiters: Delimiters) -> list[str]:
    return value.split(delimiters.component)
