"""Phone numbers: the clean-up the contract asks for, and the mask used everywhere a number is shown.

A full number is personal data; it is only ever sent to the provider. Logs, events and exception
texts carry the masked form.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-.()]")
_SPACES = re.compile(r"\s")
_VALID = re.compile(r"^(\+|00)?[0-9]{3,20}$")
# "+49 (0)170 1234567": the national trunk prefix, written in parentheses after the country code
# for readers who dial from inside the country. Dialled internationally it must go.
_TRUNK_AFTER_COUNTRY_CODE = re.compile(r"^\s*(\+|00)\s*([1-9][0-9]{0,2})[\s\-.]*\(0\)")


def clean(raw: str) -> str | None:
    """The number with separators removed, or None when what is left is not a phone number.

    A `(0)` right after an international prefix and a country code is the trunk prefix and is
    dropped; a `(0)` anywhere else makes the number invalid (which digits were meant is unclear)."""
    raw = _TRUNK_AFTER_COUNTRY_CODE.sub(r"\1\2", raw, count=1)
    if "(0)" in _SPACES.sub("", raw):
        return None
    number = _SEPARATORS.sub("", raw)
    return number if _VALID.match(number) else None


def mask(number: str | None) -> str | None:
    """The international prefix, the first digits, stars, the last two digits: `+4917*******67`.

    Never more than half of the digits are shown (the prefix `+` or `00` not counted), and at most
    six: the first ones (country code and network prefix) only when the number is long enough to
    keep most of the rest hidden. A number of four digits or fewer is all stars.
    """
    if not number:
        return number
    prefix = ""
    digits = number
    if digits.startswith("+"):
        prefix, digits = "+", digits[1:]
    elif digits.startswith("00"):
        prefix, digits = "00", digits[2:]
    if len(digits) <= 4:
        return prefix + "*" * len(digits)
    shown = min(4, len(digits) // 2 - 2)
    return prefix + digits[:shown] + "*" * (len(digits) - shown - 2) + digits[-2:]
