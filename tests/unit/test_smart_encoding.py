"""Smart encoding's coverage (contract §9 and §10): at least every look-alike that the industry's
published table replaces (Twilio's segment calculator, twilio_smart_encoding.json), each to GSM-7 text
a reader sees as the same; most of ours derived from Unicode's decompositions, and what reads
differently (superscripts, enclosed forms, combining marks) left as it is."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from sms_pipeline.segments import GSM7, UCS2, look_alike, parts, smart_encoded

# Their table as published, with its source and licence beside the entries.
TWILIO_TABLE = json.loads(Path(__file__).with_name("twilio_smart_encoding.json").read_text(encoding="utf-8"))
TWILIO_SMART_ENCODING: dict[str, str] = {entry["character"]: entry["replacement"] for entry in TWILIO_TABLE["entries"]}

COMBINING_MARKS = "\u0302\u0303\u0313\u0314\u0326\u0330\u0332\u0334\u0337\u0338\u0347\u1dcd\u20d2\u20d3\u20e5"
SPACES = "\u00a0\u2000\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
C1_CONTROLS = "\x80\x8d\x90\x9b\x9f"

# Where ours differs from their table, on purpose: character -> (what ours gives, None for "left as
# it is", and why).
DIFFERENCES: dict[str, tuple[str | None, str]] = {
    **dict.fromkeys(
        COMBINING_MARKS,
        (
            None,
            "a combining mark is drawn on the character before it (x̂, n̲, ≠ is ≠): a spacing ^ _ / "
            "after that character is other text. The text is composed first (NFC), so n with a "
            "combining tilde becomes ñ, which is GSM-7",
        ),
    ),
    **dict.fromkeys(SPACES, (" ", "a space reads as one space; theirs gives two here (one for U+2001)")),
    **dict.fromkeys(C1_CONTROLS, ("", "a control character shows nothing; theirs gives two spaces")),
    "\t": (" ", "a tab reads as a gap between words: one space, not seven septets"),
    **dict.fromkeys("\u2028\u2029", ("\n", "a line or paragraph separator breaks the line; a space would join lines")),
    **dict.fromkeys(
        "‹›",
        (
            "'",
            "single guillemets are quotation marks (‹oui›), as « » are, which both tables make a double "
            "quote; < and > read as less and greater than",
        ),
    ),
    "‚": ("'", 'the single low-9 quotation mark opens a quote (‚so‘), as „ does, which both tables make "'),
    "•": ("*", "'-' before a number reads as a minus ('• 5 left' would be '- 5 left'); '*' is plain text's bullet"),
    **dict.fromkeys(
        "\ufe10\ufe11",
        (",", "presentation forms of a comma for vertical text (Unicode maps them to , and 、): not an apostrophe"),
    ),
}


def test_their_table_is_what_this_test_was_written_against() -> None:
    assert len(TWILIO_SMART_ENCODING) == 271
    assert set(DIFFERENCES) <= set(TWILIO_SMART_ENCODING)
    assert all(parts(character).encoding == UCS2 for character in TWILIO_SMART_ENCODING)


@pytest.mark.parametrize(
    ("character", "theirs"), TWILIO_SMART_ENCODING.items(), ids=[f"U+{ord(c):04X}" for c in TWILIO_SMART_ENCODING]
)
def test_every_entry_of_the_published_table_is_replaced_as_a_reader_sees_it(character: str, theirs: str) -> None:
    ours, _why = DIFFERENCES.get(character, (theirs, ""))
    replaced = smart_encoded(f"a{character}b")
    assert replaced == (None if ours is None else f"a{ours}b")
    assert replaced is None or parts(replaced).encoding == GSM7


def test_ours_replaces_all_of_their_table_but_the_combining_marks() -> None:
    replaced = [character for character in TWILIO_SMART_ENCODING if smart_encoded(f"a{character}b") is not None]
    assert len(replaced) == len(TWILIO_SMART_ENCODING) - len(COMBINING_MARKS)


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("ＴＥＬ：０８００－１２３ （ｆｒｅｅ）", "TEL:0800-123 (free)"),  # fullwidth forms
        ("ﾊ", None),  # halfwidth katakana: not GSM-7 in any form
        ("ﬁnal ﬂight ﬀ", "final flight ff"),  # ligatures
        ("𝐒𝐀𝐋𝐄 𝟓𝟎% 𝘰𝘧𝘧", "SALE 50% off"),  # mathematical bold and italic: SMS has no font
        ("ᴄᴏᴅᴇ ǫ", None),  # small capitals are, ǫ (o with ogonek) is not
        ("ᴄᴏᴅᴇ", "CODE"),
        ("Ⅻ ⑴ ⒈ ‼ ⁉ ‥", "XII (1) 1. !! !? .."),
        ("﹙small﹚ ︵vertical︶", "(small) (vertical)"),
        ("½ kg, ¾ h", "1/2 kg, 3/4 h"),  # the fraction slash is /
        ("1½ kg", "1 1/2 kg"),  # after a digit, set apart: not "11/2"
        ("1⁄4 cup", "1/4 cup"),
        ("a\u200bb\u200cc\u200dd\u2060e\ufeff\u00adf\u200eg", "abcdefg"),  # zero-width and invisible: nothing
        ("line\u2028next", "line\nnext"),
        ("a\tb", "a b"),
        ("Man\u0303ana", "Mañana"),  # composed first: n + combining tilde is ñ
        ("\u2126 \u212b \u212a", "Ω Å K"),  # the ohm, angstrom and kelvin signs are those letters
        ("№ 5 ℅ ℡", "No 5 c/o TEL"),
        ("It’s “fine” – really…", 'It\'s "fine" - really...'),
    ],
)
def test_derived_look_alikes_read_the_same(text: str, sent: str | None) -> None:
    assert smart_encoded(text) == sent


@pytest.mark.parametrize(
    "text",
    [
        "m²",  # superscripts: m2 is not m²
        "H₂O",  # subscripts
        "ª",  # the feminine ordinal is a superscript a
        "™",
        "①",  # circled and squared forms are signs of their own
        "🄰",
        "㎏",
        "ℹ info",  # an emoji, though Unicode's decomposition is a letter i in a font
        "x\u0302",  # x̂: a combining mark that composes with nothing in GSM-7
        "\u060012",  # the Arabic number sign is drawn over the digits
        "\u200b",  # nothing visible would be left
    ],
)
def test_what_reads_differently_is_sent_as_it_is(text: str) -> None:
    assert smart_encoded(text) is None


SCANNED = [*range(0x10000), *range(0x1D400, 0x1D800), *range(0x1F100, 0x1F200)]  # BMP, math, enclosed


def test_every_replacement_is_gsm7_and_none_comes_from_a_form_that_reads_differently() -> None:
    derive = look_alike.__wrapped__  # uncached: the scan would only churn the cache
    for code_point in SCANNED:
        character = chr(code_point)
        replacement = derive(character)
        if replacement is not None:
            assert replacement == "" or parts(replacement).encoding == GSM7, repr(character)
        tag = unicodedata.decomposition(character).split(" ")[0]
        if tag in ("<super>", "<sub>", "<circle>", "<square>"):
            assert replacement is None, repr(character)
