"""Encoding and segments (contract §9, 3GPP TS 23.038): every boundary, and any text against a small
reference of our own, written from the standard's tables independently of segments.py."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_pipeline.request import Defaults, InvalidRequest, parse
from sms_pipeline.segments import GSM7, LOOK_ALIKES, UCS2, Parts, parts, smart_encoded

# The reference: the GSM 03.38 default alphabet (escape 0x1B left out) and extension table, as the
# standard lists them, and a splitter that fills parts unit by unit.
REFERENCE_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
REFERENCE_EXTENSION = "\f^{}\\[~]|€"


def reference(text: str) -> Parts:
    if all(char in REFERENCE_BASIC or char in REFERENCE_EXTENSION for char in text):
        units = [[char] if char in REFERENCE_BASIC else ["\x1b", char] for char in text]
        single, part, encoding = 160, 153, GSM7
    else:
        units = [["unit"] * (len(char.encode("utf-16-le")) // 2) for char in text]  # 1 or 2 code units
        single, part, encoding = 70, 67, UCS2
    total = sum(len(unit) for unit in units)
    if total <= single:
        return Parts(encoding, 1)
    pieces: list[list[str]] = [[]]
    for unit in units:
        if len(pieces[-1]) + len(unit) > part:
            pieces.append([])
        pieces[-1].extend(unit)
    return Parts(encoding, len(pieces))


EMOJI = "😀"  # beyond the BMP: a surrogate pair in UTF-16


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x" * 160, Parts(GSM7, 1)),
        ("x" * 161, Parts(GSM7, 2)),
        ("x" * 306, Parts(GSM7, 2)),  # 2 × 153
        ("x" * 307, Parts(GSM7, 3)),
        ("x" * 153 * 10, Parts(GSM7, 10)),
        ("x" * (153 * 10 + 1), Parts(GSM7, 11)),
        ("€" * 80, Parts(GSM7, 1)),  # 160 septets: an extension character takes two
        ("€" * 80 + "x", Parts(GSM7, 2)),
        ("x" * 152 + "€" + "x" * 153, Parts(GSM7, 3)),  # the escape pair does not split over 153|154
        ("x" * 151 + "€" + "x" * 153, Parts(GSM7, 2)),  # it ends the first part exactly
        ("\f" * 80, Parts(GSM7, 1)),  # form feed is in the extension table
        ("^{}\\[~]|€" + "x" * 142, Parts(GSM7, 1)),  # 9 × 2 + 142 = 160
        ("^{}\\[~]|€" + "x" * 143, Parts(GSM7, 2)),
        ("ж" * 70, Parts(UCS2, 1)),
        ("ж" * 71, Parts(UCS2, 2)),
        ("ж" * 134, Parts(UCS2, 2)),  # 2 × 67
        ("ж" * 135, Parts(UCS2, 3)),
        (EMOJI * 35, Parts(UCS2, 1)),  # 70 units
        (EMOJI * 35 + "x", Parts(UCS2, 2)),
        ("ж" * 66 + EMOJI + "ж" * 67, Parts(UCS2, 3)),  # the surrogate pair does not split over 67|68
        ("ж" * 65 + EMOJI + "ж" * 67, Parts(UCS2, 2)),
        ("x" * 100 + "’", Parts(UCS2, 2)),  # one typographic apostrophe: UCS-2, 101 > 70
        ("ç", Parts(UCS2, 1)),  # looks GSM; only Ç (0x09) is in the table
        ("`", Parts(UCS2, 1)),
        ("\x1b", Parts(UCS2, 1)),  # the escape itself is not a character of a text
        ("\t", Parts(UCS2, 1)),
        ("Ünïcode", Parts(UCS2, 1)),  # ï is not in the table
        ("Über Straße €5 [ok]", Parts(GSM7, 1)),
    ],
)
def test_parts_at_every_boundary(text: str, expected: Parts) -> None:
    assert parts(text) == expected == reference(text)


gsm_text = st.text(alphabet=REFERENCE_BASIC + REFERENCE_EXTENSION, min_size=1, max_size=1600)
any_text = st.text(
    alphabet=st.sampled_from(REFERENCE_BASIC + REFERENCE_EXTENSION + "’ç`ж中" + EMOJI + "\x1b\t"),
    min_size=1,
    max_size=800,
)


@settings(max_examples=400)
@given(st.one_of(gsm_text, any_text, st.text(min_size=1, max_size=400)))
def test_any_text_splits_as_the_reference_does(text: str) -> None:
    assert parts(text) == reference(text)


def test_smart_encoding_replaces_look_alikes_only_when_the_whole_text_then_is_gsm7() -> None:
    assert smart_encoded("It’s “fine” – really…") == 'It\'s "fine" - really...'
    assert smart_encoded("It’s 中") is None  # still not GSM-7: sent as it is
    assert smart_encoded("plain") is None  # already GSM-7: nothing to replace
    assert smart_encoded("a\u00a0b\u2009c") == "a b c"


def test_every_look_alike_maps_to_gsm7() -> None:
    for original, replacement in LOOK_ALIKES.items():
        assert parts(original).encoding == UCS2, repr(original)
        assert parts(replacement).encoding == GSM7, repr(original)


def body(**fields: object) -> str:
    return json.dumps({"to": "+4917012345678", "text": "hi", **fields})


def test_a_text_of_more_parts_than_the_limit_is_invalid_naming_count_encoding_and_limit() -> None:
    with pytest.raises(InvalidRequest, match=r"^text: 12 segments \(UCS-2\), more than the limit of 10$"):
        parse(body(text="ж" * (67 * 11 + 1)), "m")
    with pytest.raises(InvalidRequest, match=r"^text: 3 segments \(GSM-7\), more than the limit of 2$"):
        parse(body(text="x" * 307, maxSegments=2), "m")
    assert parse(body(text="x" * 307, maxSegments=3), "m").parts == Parts(GSM7, 3)
    deployment = Defaults(max_segments=2, smart_encoding=False)
    with pytest.raises(InvalidRequest, match="limit of 2"):
        parse(body(text="x" * 307), "m", deployment)


@pytest.mark.parametrize("value", [0, 31, 2.5, "3", True])
def test_max_segments_is_1_to_30(value: object) -> None:
    with pytest.raises(InvalidRequest, match=r"^maxSegments: "):
        parse(body(maxSegments=value), "m")


def test_smart_encoding_by_request_or_by_deployment() -> None:
    text = "It’s 10:00 – see you…"
    off = parse(body(text=text), "m")
    assert off.text == text and off.parts == Parts(UCS2, 1) and not off.smart_encoded
    on = parse(body(text=text, smartEncoding=True), "m")
    assert on.text == "It's 10:00 - see you..." and on.parts == Parts(GSM7, 1) and on.smart_encoded
    deployment = Defaults(max_segments=10, smart_encoding=True)
    assert parse(body(text=text), "m", deployment).smart_encoded
    assert not parse(body(text=text, smartEncoding=False), "m", deployment).smart_encoded
    with pytest.raises(InvalidRequest, match=r"^smartEncoding: must be a boolean"):
        parse(body(smartEncoding="yes"), "m")


def test_the_limit_counts_the_parts_of_what_is_sent() -> None:
    """71 characters with a curly apostrophe are two UCS-2 parts, one GSM-7 part once replaced."""
    text = "’" + "x" * 70
    with pytest.raises(InvalidRequest, match="2 segments"):
        parse(body(text=text, maxSegments=1), "m")
    assert parse(body(text=text, maxSegments=1, smartEncoding=True), "m").parts == Parts(GSM7, 1)
