"""Phone numbers: the clean-up the contract asks for, and the mask used everywhere a number is shown.

A full number is personal data; it is only ever sent to the provider. Logs, events and exception
texts carry the masked form.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s\-.()]")
_VALID = re.compile(r"^(\+|00)?[0-9]{3,20}$")


def clean(raw: str) -> str | None:
    """The number with separators removed, or None when what is left is not a phone number."""
    number = _SEPARATORS.sub("", raw)
    return number if _VALID.match(number) else None


def mask(number: str | None) -> str | None:
    """Country code and first digits, stars, the last two digits: `+49170*****67`.

    Keeps about the first third of the digits (at most six, the `+` or `00` prefix not counted),
    so short numbers still hide most of their digits.
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
    shown = min(6, len(digits) // 3 + 1)
    return prefix + digits[:shown] + "*" * (len(digits) - shown - 2) + digits[-2:]
