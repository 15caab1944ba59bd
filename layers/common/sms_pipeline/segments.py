"""How the network will carry a text: its encoding and its number of SMS parts (contract §9, 3GPP TS
23.038), computed before sending, and smart encoding.

The provider bills per part, and one typographic apostrophe turns a 100-character GSM-7 text into
a two-part UCS-2 message: a producer learns of it on the outcome event and can cap it per request.

The GSM 03.38 default alphabet and its extension table come from the gsm0338 codec (a character
it encodes to one septet is in the default alphabet, to two, an escape pair of the extension
table); the splitting rules are ours: 160 septets or 70 UTF-16 units in one SMS, parts of at most
153 septets or 67 units in a longer one, never splitting an escape pair or a surrogate pair.

Smart encoding derives most of its table from Unicode's character database at first use of each
character (look_alike, cached), so that importing this module builds no table of thousands of
entries: a cold start pays nothing for it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from gsm0338 import Codec

GSM7 = "GSM-7"
UCS2 = "UCS-2"
SINGLE = {GSM7: 160, UCS2: 70}  # septets / UTF-16 units in a text of one part
PART = {GSM7: 153, UCS2: 67}  # in each part of a longer one (the rest of 140 octets is the UDH)

_codec = Codec()
_ESCAPE = "\x1b"  # in the default alphabet, but the escape to the extension table, not a character

# Smart encoding (contract §9): each character that is not GSM-7 is replaced by the GSM-7 text a
# reader sees as the same, and only when the whole text then is GSM-7. Most of the table is Unicode's
# own: a character's compatibility decomposition (NFKC) where its kind keeps the text the same
# (_SAME_TEXT), spaces, line separators, invisible format and control characters (look_alike).
# LOOK_ALIKES holds what no Unicode property gives: look-alikes by shape and use.
LOOK_ALIKES: dict[str, str] = {
    **dict.fromkeys("‘’‚‛′‵‹›`´ʹʻʼʽˈˊˋ❛❜", "'"),  # quotes, primes, modifier-letter apostrophes, accents
    **dict.fromkeys("“”„‟″‶«»ʺˮ❝❞〝〞〟", '"'),
    **dict.fromkeys("‐‒–—―−⁃⎼⎽", "-"),  # hyphens, dashes, the minus sign, the hyphen bullet, scan lines
    **dict.fromkeys("÷⁄∕⧸", "/"),  # the division sign, the fraction and division slashes
    **dict.fromkeys("⧵⧹", "\\"),
    "‗": "_",
    **dict.fromkeys("∣⎜⎟⎸⎹⏐", "|"),
    "ǃ": "!",
    "、": ",",
    "。": ".",
    **dict.fromkeys("❨❪⟮⦅", "("),
    **dict.fromkeys("❩❫⟯⦆", ")"),
    **dict.fromkeys("•⁎∗⊛✢✣✤✥✱✲✳✺✻✼✽❃❉❊❋⧆", "*"),  # the bullet, asterisk operators and dingbats
    "˖": "+",
    **dict.fromkeys("ː˸⦂꞉", ":"),
    "⁏": ";",
    "꞊": "=",
    "ˆ": "^",
    "❴": "{",
    "❵": "}",
    **dict.fromkeys("˜˷∼", "~"),
}

# Kinds of compatibility decomposition that keep the text: ligatures and the like (<compat>: ﬁ, …,
# ‼, Ⅻ, ⑴), no-break forms, fullwidth, halfwidth, small and vertical presentation forms, letters in
# a mathematical font (𝐀 is A in bold: SMS carries no font), and vulgar fractions (½ is 1⁄2, whose
# fraction slash becomes /). Left out, as they read differently: superscripts and subscripts (m² is
# not m2, x₂ not x2), and enclosed forms, circled or squared (① and 🄰 are signs of their own).
_SAME_TEXT = frozenset(("<compat>", "<noBreak>", "<wide>", "<narrow>", "<small>", "<vertical>", "<font>", "<fraction>"))
_NOT_THE_SAME = frozenset("\u2139")  # INFORMATION SOURCE: a symbol (an emoji), though Unicode's is <font> i
# Format characters that are visible: the prepended concatenation marks drawn over the digits after
# them (Arabic, Syriac, Kaithi number signs). Every other one is invisible and replaced by nothing.
_VISIBLE_FORMAT = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd")
_CONTROLS = {"\t": " ", "\x85": "\n"}  # a tab reads as a space, NEXT LINE as a line break; others: nothing
_SMALL_CAPITAL = "LATIN LETTER SMALL CAPITAL "  # ᴀ ʙ ᴄ …: capitals a reader reads as the letter
_DIGITS = frozenset("0123456789")  # a fraction after one of them is set apart by a space


@dataclass(frozen=True)
class Parts:
    encoding: str  # GSM7 or UCS2
    segments: int


@lru_cache(maxsize=4096)
def septets(character: str) -> int | None:
    """What the character costs in GSM-7 (1, or 2 for the extension table), or None: not GSM-7."""
    if character == _ESCAPE:
        return None
    try:
        encoded, _ = _codec.encode(character)
    except (UnicodeEncodeError, KeyError):
        return None
    return len(encoded)


def is_gsm7(text: str) -> bool:
    return all(septets(character) is not None for character in text)


def parts(text: str) -> Parts:
    """The encoding the network uses for `text` and the number of SMS parts it takes."""
    costs = [septets(character) for character in text]
    if all(cost is not None for cost in costs):
        return Parts(GSM7, _count([cost or 0 for cost in costs], GSM7))
    # UTF-16: a character beyond the Basic Multilingual Plane (most emoji) is a surrogate pair.
    return Parts(UCS2, _count([2 if ord(character) > 0xFFFF else 1 for character in text], UCS2))


def _count(costs: list[int], encoding: str) -> int:
    """Parts of at most PART units, each character whole in one part (an escape or surrogate pair
    is never split across two)."""
    if sum(costs) <= SINGLE[encoding]:
        return 1
    limit, count, used = PART[encoding], 1, 0
    for cost in costs:
        if used + cost > limit:
            count, used = count + 1, 0
        used += cost
    return count


def smart_encoded(text: str) -> str | None:
    """The text with its look-alikes replaced, when that makes all of it GSM-7; else None (it is
    sent as it is). A text already GSM-7 needs no replacement: None too, and so is a text of
    nothing but invisible characters.

    The text is first composed canonically (NFC: "n" and a combining tilde are "ñ", which is GSM-7):
    the same text by Unicode's definition. A vulgar fraction after a digit is set apart by a space,
    so that 1½ becomes "1 1/2", not "11/2"."""
    if is_gsm7(text):
        return None
    pieces: list[str] = []
    previous = ""
    for character in unicodedata.normalize("NFC", text):
        replacement = look_alike(character)
        if replacement is None:
            return None
        if previous in _DIGITS and replacement[:1] in _DIGITS and _is_fraction(character):
            replacement = " " + replacement
        pieces.append(replacement)
        previous = replacement[-1:] or previous
    replaced = "".join(pieces)
    return replaced or None


def _is_fraction(character: str) -> bool:
    return unicodedata.decomposition(character).startswith("<fraction>")


@lru_cache(maxsize=4096)
def look_alike(character: str) -> str | None:
    """The GSM-7 text a reader sees as the same as `character` (itself when it is GSM-7, "" for an
    invisible one), or None: none."""
    if septets(character) is not None:
        return character
    if character in LOOK_ALIKES:
        return LOOK_ALIKES[character]
    category = unicodedata.category(character)
    if category == "Zs":
        return " "
    if category in ("Zl", "Zp"):
        return "\n"
    if category == "Cf":
        return None if character in _VISIBLE_FORMAT else ""
    if category == "Cc":
        return _CONTROLS.get(character, "")
    name = unicodedata.name(character, "")
    if name.startswith(_SMALL_CAPITAL) and len(name) == len(_SMALL_CAPITAL) + 1:
        return name[-1]
    if character in _NOT_THE_SAME or not unicodedata.decomposition(character) or not _keeps_text(character):
        return None
    decomposed = "".join(LOOK_ALIKES.get(part, part) for part in unicodedata.normalize("NFKC", character))
    return decomposed if is_gsm7(decomposed) else None


def _keeps_text(character: str) -> bool:
    """Whether every step of the character's decomposition is canonical or of a kind in _SAME_TEXT."""
    fields = unicodedata.decomposition(character).split()
    if fields and fields[0].startswith("<"):
        if fields[0] not in _SAME_TEXT:
            return False
        fields = fields[1:]
    return all(_keeps_text(chr(int(field, 16))) for field in fields)
