"""How the network will carry a text: its encoding and its number of SMS parts (contract §9, 3GPP TS
23.038), computed before sending, and smart encoding.

The provider bills per part, and one typographic apostrophe turns a 100-character GSM-7 text into
a two-part UCS-2 message: a producer learns of it on the outcome event and can cap it per request.

The GSM 03.38 default alphabet and its extension table come from the gsm0338 codec (a character
it encodes to one septet is in the default alphabet, to two, an escape pair of the extension
table); the splitting rules are ours: 160 septets or 70 UTF-16 units in one SMS, parts of at most
153 septets or 67 units in a longer one, never splitting an escape pair or a surrogate pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from gsm0338 import Codec

GSM7 = "GSM-7"
UCS2 = "UCS-2"
SINGLE = {GSM7: 160, UCS2: 70}  # septets / UTF-16 units in a text of one part
PART = {GSM7: 153, UCS2: 67}  # in each part of a longer one (the rest of 140 octets is the UDH)

_codec = Codec()
_ESCAPE = "\x1b"  # in the default alphabet, but the escape to the extension table, not a character

# Smart encoding (contract §9): typographic look-alikes and their GSM-7 equivalents. Applied only
# when the whole text then is GSM-7; docs/contract.md lists the same table for producers.
LOOK_ALIKES: dict[str, str] = {
    **dict.fromkeys("‘’‚‛′‹›`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    "…": "...",
    **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "),
    "ˆ": "^",
    "˜": "~",
    "•": "*",
}


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
    sent as it is). A text already GSM-7 needs no replacement: None too."""
    if is_gsm7(text):
        return None
    replaced = "".join(LOOK_ALIKES.get(character, character) for character in text)
    return replaced if is_gsm7(replaced) else None
