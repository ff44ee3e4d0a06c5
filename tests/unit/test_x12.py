"""X12 reading: delimiters from the ISA header, tolerant segment splitting, 1-based positions."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.domain.x12 import (
    ISA_LENGTH,
    Delimiters,
    Segment,
    SegmentReader,
    X12SyntaxError,
    components,
    decode,
    read_delimiters,
    segments,
)


def isa(
    element: str = "*",
    component: str = ":",
    repetition: str = "^",
    terminator: str = "~",
    *,
    version: str = "00501",
    sender: str = "PAYERSENDER",
    pad: bool = True,
) -> str:
    """A fixed-length ISA segment (106 characters with its terminator) built from its delimiters."""
    fields = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        sender.ljust(15) if pad else sender,
        "ZZ",
        "CLAIMLINE".ljust(15),
        "261020",
        "1200",
        repetition,
        version,
        "000000123",
        "0",
        "P",
        component,
    ]
    return element.join(fields) + terminator


def body(element: str = "*", terminator: str = "~") -> list[str]:
    """Segments after ISA, already terminated, as a list so tests can join them with any whitespace."""
    e = element
    return [
        e.join(["GS", "HP", "PAYERSENDER", "CLAIMLINE", "20261020", "1200", "1", "X", "005010X221A1"])
        + terminator,
        e.join(["ST", "835", "0001", "005010X221A1"]) + terminator,
        e.join(["SE", "2", "0001"]) + terminator,
        e.join(["GE", "1", "1"]) + terminator,
        e.join(["IEA", "1", "000000123"]) + terminator,
    ]


EXPECTED_IDS = ["ISA", "GS", "ST", "SE", "GE", "IEA"]


def test_the_isa_helper_builds_a_fixed_length_header():
    assert len(isa()) == ISA_LENGTH


# ---------------------------------------------------------------- delimiters


def test_standard_delimiters_are_read_from_the_isa_header():
    delimiters, start = read_delimiters(isa() + "".join(body()))

    assert delimiters == Delimiters(element="*", component=":", repetition="^", segment="~")
    assert start == 0


@pytest.mark.parametrize(
    ("element", "component", "repetition", "terminator"),
    [
        ("|", ">", "^", "~"),
        ("|", "\\", "{", "\n"),
        ("*", ":", "^", "\r"),
        ("!", "+", "`", "'"),
    ],
)
def test_unusual_delimiters_are_taken_from_their_fixed_places(element, component, repetition, terminator):
    text = isa(element, component, repetition, terminator) + "".join(body(element, terminator))

    delimiters, _ = read_delimiters(text)

    assert delimiters == Delimiters(element, component, repetition, terminator)


def test_unusual_delimiters_split_segments_and_elements():
    text = isa("|", ">", "^", "\n") + "".join(body("|", "\n"))

    segs = list(segments(text))

    assert [s.id for s in segs] == EXPECTED_IDS
    assert segs[1].elements == (
        "HP",
        "PAYERSENDER",
        "CLAIMLINE",
        "20261020",
        "1200",
        "1",
        "X",
        "005010X221A1",
    )
    assert segs[0].get(16) == ">"


def test_4010_style_isa11_standards_id_u_means_no_repetition_separator():
    text = isa(repetition="U", version="00401") + "".join(body())

    delimiters, _ = read_delimiters(text)

    assert delimiters.repetition is None
    assert delimiters.element == "*"
    assert delimiters.component == ":"
    assert delimiters.segment == "~"


def test_repetition_equal_to_another_delimiter_is_not_a_repetition_separator():
    delimiters, _ = read_delimiters(isa(repetition=":") + "".join(body()))

    assert delimiters.repetition is None


def test_whitespace_before_isa_is_skipped_and_its_offset_returned():
    text = "\r\n  \n" + isa() + "".join(body())

    delimiters, start = read_delimiters(text)

    assert start == 5
    assert delimiters.segment == "~"
    assert [s.position for s in segments(text)] == [1, 2, 3, 4, 5, 6]


def test_alphanumeric_segment_terminator_is_refused():
    text = isa(terminator="A") + "".join(body(terminator="A"))

    with pytest.raises(X12SyntaxError) as info:
        read_delimiters(text)

    assert info.value.segment_id == "ISA"
    assert info.value.found == "'A'"


def test_segment_terminator_equal_to_the_component_separator_is_refused():
    with pytest.raises(X12SyntaxError):
        read_delimiters(isa(component="~", terminator="~") + "".join(body()))


# ---------------------------------------------------------------- line breaks and indentation


@pytest.mark.parametrize(
    "separator",
    ["\r\n", "\n", "\n\n\n", "\r\n\r\n", "\n    ", "\n\t\t", "  "],
    ids=["crlf", "lf", "blank-lines", "crlf-blank-lines", "indent-spaces", "indent-tabs", "spaces"],
)
def test_line_breaks_blank_lines_and_indentation_between_segments_are_ignored(separator):
    compact = isa() + "".join(body())
    spread = separator.join([isa(), *body()]) + separator

    assert list(segments(spread)) == list(segments(compact))
    assert [s.id for s in segments(spread)] == EXPECTED_IDS


def test_newline_terminated_file_with_blank_lines_counts_only_segments():
    text = isa(terminator="\n") + "\n" + "\n".join(s.rstrip("\n") for s in body(terminator="\n")) + "\n\n"

    segs = list(segments(text))

    assert [s.id for s in segs] == EXPECTED_IDS
    assert [s.position for s in segs] == [1, 2, 3, 4, 5, 6]


def test_carriage_return_terminator_with_crlf_line_endings():
    text = isa(terminator="\r") + "\n" + "\n".join(body(terminator="\r")) + "\n"

    segs = list(segments(text))

    assert [s.id for s in segs] == EXPECTED_IDS
    assert segs[-1].elements == ("1", "000000123")


# ---------------------------------------------------------------- encoding


def test_utf8_bom_is_dropped():
    text = isa() + "".join(body())

    assert decode(b"\xef\xbb\xbf" + text.encode()) == text


def test_a_bom_left_in_the_text_before_isa_is_ignored():
    text = "\ufeff" + isa() + "".join(body())

    delimiters, start = read_delimiters(text)

    assert start == 1
    assert delimiters.segment == "~"
    assert [s.id for s in segments(text)] == EXPECTED_IDS


def test_plain_ascii_is_decoded_unchanged():
    text = isa() + "".join(body())

    assert decode(text.encode("ascii")) == text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_refused(encoding):
    data = (isa() + "".join(body())).encode(encoding)

    with pytest.raises(X12SyntaxError) as info:
        decode(data)

    assert "UTF-16" in info.value.reason
    assert info.value.expected == "ASCII or UTF-8"


def test_invalid_utf8_names_the_byte():
    data = isa().encode() + b"GS*\xff~"

    with pytest.raises(X12SyntaxError) as info:
        decode(data)

    assert info.value.found == "byte 0xff"
    assert str(ISA_LENGTH + 3) in info.value.reason


def test_x12_syntax_error_is_a_value_error():
    assert issubclass(X12SyntaxError, ValueError)


# ---------------------------------------------------------------- broken headers


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("GS*HP*X~ST*835*0001~", "GS*HP*X~ST*835*0001~"),
        ("", "(empty file)"),
        ("   \n\n", "(empty file)"),
        ("HELLO ISA*00*", "HELLO"),
    ],
    ids=["no-isa", "empty", "only-whitespace", "junk-before-isa"],
)
def test_a_file_without_a_leading_isa_is_refused_naming_isa(text, found):
    with pytest.raises(X12SyntaxError) as info:
        read_delimiters(text)

    assert info.value.expected == "ISA"
    assert info.value.segment_position == 1
    assert info.value.found == found


def test_segments_refuses_a_file_without_isa_too():
    with pytest.raises(X12SyntaxError) as info:
        list(segments("ST*835*0001~SE*2*0001~"))

    assert info.value.expected == "ISA"


@pytest.mark.parametrize("length", [3, 4, 60, 105])
def test_truncated_isa_is_refused(length):
    text = isa()[:length]

    with pytest.raises(X12SyntaxError) as info:
        read_delimiters(text)

    assert "truncated" in info.value.reason
    assert info.value.segment_id == "ISA"
    assert info.value.segment_position == 1


def test_isa_cut_right_after_its_last_separator_is_truncated():
    text = isa()[: isa().rindex("*") + 1]

    with pytest.raises(X12SyntaxError) as info:
        read_delimiters(text)

    assert "truncated" in info.value.reason
    assert info.value.element_position == 16


def test_isa_that_is_not_fixed_length_is_read_by_its_structure():
    # the sender id is not padded to 15 characters, so ISA16 is not at character 105
    text = isa(pad=False) + "".join(body())
    assert len(isa(pad=False)) != ISA_LENGTH

    delimiters, start = read_delimiters(text)

    assert delimiters == Delimiters(element="*", component=":", repetition="^", segment="~")
    assert start == 0
    segs = list(segments(text))
    assert [s.id for s in segs] == EXPECTED_IDS
    assert segs[0].get(6) == "PAYERSENDER"
    assert segs[0].get(16) == ":"


def test_isa_not_fixed_length_with_unusual_delimiters():
    text = isa("|", ">", "{", "\n", pad=False) + "".join(body("|", "\n"))

    assert read_delimiters(text)[0] == Delimiters("|", ">", "{", "\n")
    assert [s.id for s in segments(text)] == EXPECTED_IDS


def test_isa_with_too_few_elements_is_refused():
    text = "ISA*" + "0" * 120

    with pytest.raises(X12SyntaxError) as info:
        read_delimiters(text)

    assert "16 elements" in info.value.reason
    assert info.value.segment_id == "ISA"


@pytest.mark.parametrize("separator", ["0", "X", " "])
def test_a_letter_digit_or_space_after_isa_is_not_an_element_separator(separator):
    text = isa(separator) + "".join(body(separator))

    with pytest.raises(X12SyntaxError) as info:
        read_delimiters(text)

    assert info.value.segment_id == "ISA"
    assert info.value.found == repr(separator)


# ---------------------------------------------------------------- positions and elements


def test_segment_positions_count_from_one_in_the_file():
    text = isa() + "\n" + "\n".join(body())

    segs = list(segments(text))

    assert [(s.position, s.id) for s in segs] == list(enumerate(EXPECTED_IDS, start=1))


def test_isa_elements_keep_their_padding():
    isa_segment = next(iter(segments(isa() + "".join(body()))))

    assert isa_segment.id == "ISA"
    assert len(isa_segment.elements) == 16
    assert isa_segment.get(6) == "PAYERSENDER    "
    assert isa_segment.get(13) == "000000123"
    assert isa_segment.get(16) == ":"


def test_segment_get_is_one_based_and_empty_when_absent():
    seg = Segment(position=7, id="CLP", elements=("C1", "1", "500", "", "0"))

    assert seg.get(1) == "C1"
    assert seg.get(3) == "500"
    assert seg.get(4) == ""
    assert seg.get(5) == "0"
    assert seg.get(6) == ""
    assert seg.get(0) == ""
    assert seg.get(-1) == ""


def test_empty_trailing_elements_are_kept():
    text = isa() + "NM1*QC*1*DOE*JANE***~" + "".join(body())

    nm1 = list(segments(text))[1]

    assert nm1.id == "NM1"
    assert nm1.elements == ("QC", "1", "DOE", "JANE", "", "", "")
    assert nm1.get(9) == ""


def test_components_split_on_the_component_separator():
    delimiters = Delimiters(element="|", component=">", repetition=None, segment="\n")

    assert components("HC>64493>50>RT", delimiters) == ["HC", "64493", "50", "RT"]
    assert components("64493", delimiters) == ["64493"]


def test_last_segment_without_terminator_is_still_read():
    text = isa() + "GS*HP*A*B~ST*835*0001"

    segs = list(segments(text))

    assert [s.id for s in segs] == ["ISA", "GS", "ST"]
    assert segs[-1].elements == ("835", "0001")


# ---------------------------------------------------------------- reading a byte stream in chunks

STREAM_TEXT = "\r\n".join([isa(), *body()]) + "\r\n"


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 105, 106, 107, 1 << 20])
def test_segment_reader_gives_the_same_segments_whatever_the_chunk_size(chunk_size):
    reader = SegmentReader(io.BytesIO(STREAM_TEXT.encode()), chunk_size=chunk_size)

    assert reader.delimiters == Delimiters("*", ":", "^", "~")
    assert list(reader) == list(segments(STREAM_TEXT))
    assert reader.bytes_read == len(STREAM_TEXT.encode())


@settings(max_examples=100, deadline=None)
@given(
    chunk_size=st.integers(min_value=1, max_value=300),
    names=st.lists(st.text(alphabet="ABCÉÑü 日本", min_size=1, max_size=12), min_size=1, max_size=8),
)
def test_segment_reader_splits_multibyte_text_like_segments(chunk_size, names):
    text = isa() + "".join(f"NM1*QC*1*{name}~" for name in names) + "".join(body())

    reader = SegmentReader(io.BytesIO(text.encode()), chunk_size=chunk_size)

    assert list(reader) == list(segments(text))


@pytest.mark.parametrize("chunk_size", [1, 2, 16])
def test_segment_reader_drops_a_utf8_bom(chunk_size):
    data = b"\xef\xbb\xbf" + STREAM_TEXT.encode()

    assert list(SegmentReader(io.BytesIO(data), chunk_size=chunk_size)) == list(segments(STREAM_TEXT))


def test_segment_reader_refuses_utf16():
    with pytest.raises(X12SyntaxError) as info:
        SegmentReader(io.BytesIO(STREAM_TEXT.encode("utf-16")))

    assert "UTF-16" in info.value.reason


def test_segment_reader_refuses_a_file_without_isa():
    with pytest.raises(X12SyntaxError) as info:
        SegmentReader(io.BytesIO(b"GS*HP*A*B~ST*835*0001~"))

    assert info.value.expected == "ISA"


def test_segment_reader_reports_invalid_utf8_in_a_later_chunk():
    head = (isa() + "GS*HP*A*B~" + "X" * 600 + "~").encode()
    data = head + b"NM1*QC*1*\xff~"
    reader = SegmentReader(io.BytesIO(data), chunk_size=len(head))

    with pytest.raises(X12SyntaxError) as info:
        list(reader)

    assert info.value.found == "byte 0xff"
    assert str(data.index(b"\xff")) in info.value.reason


def split_character_file(tail: bytes) -> tuple[bytes, int]:
    """A file whose first chunk ends inside the two-byte UTF-8 'é', followed by `tail`."""
    head = (isa() + "GS*HP*A*B~" + "X" * 600 + "~NM1*QC*1*JOS").encode() + b"\xc3"
    return head + b"\xa9" + tail, len(head)


def test_invalid_utf8_at_the_end_of_a_chunk_that_starts_mid_character_is_an_x12_error():
    data, first_chunk = split_character_file(b"B\xff")

    with pytest.raises(X12SyntaxError) as info:
        list(SegmentReader(io.BytesIO(data), chunk_size=first_chunk))

    assert info.value.found == "byte 0xff"


def test_invalid_utf8_after_a_split_character_names_the_right_byte_and_offset():
    data, first_chunk = split_character_file(b"B\xff~")

    with pytest.raises(X12SyntaxError) as info:
        list(SegmentReader(io.BytesIO(data), chunk_size=first_chunk))

    bad = data.index(b"\xff")
    assert info.value.found == "byte 0xff"
    assert f"at byte {bad}" in info.value.reason
