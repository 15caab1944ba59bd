"""The contract's limits that the settings are checked against, and the protection rules' settings.

They live here, apart from the request's validation (request.py) and the protection policy
(protection.py) that enforce them, because config.py checks every function's settings at cold
start: importing those two modules for a few numbers loaded the send path's request parser, its
regular expressions, the GSM 03.38 codec (segments.py) and the policy into the status function's
init, code it never runs (bench/coldstart.py measures that init).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A request may wait for the provider at most this long (contract §1, §8): SQS keeps a message for
# days, and an SMS that arrives days late (a one-time code, an alert) does more harm than none.
MIN_VALIDITY_SECONDS = 5
MAX_VALIDITY_SECONDS = 345_600
MAX_SEGMENTS = 30  # the most a request may allow itself (contract §1); the template's default is 10

# The store keeps a number's window in one item, the time and request id of each SMS it allows
# (protection_store.py): 50 keeps that item, read and written with every batch, small.
MAX_PER_NUMBER_LIMIT = 50
MAX_WINDOW_SECONDS = 30 * 86400
E164_PREFIX = re.compile(r"^\+[1-9][0-9]{0,14}$")


@dataclass(frozen=True)
class Rules:
    """The template's parameters: AllowedDestinationPrefixes, MaxPerNumberPerWindow (0: off),
    NumberWindowSeconds, DailySegmentLimit (0: off)."""

    allowed_prefixes: tuple[str, ...] = ()
    max_per_number: int = 0
    window_seconds: int = 3600
    daily_segment_limit: int = 0

    def __post_init__(self) -> None:
        problems = [
            f"{prefix!r} is not an E.164 prefix (+ and digits)"
            for prefix in self.allowed_prefixes
            if not E164_PREFIX.match(prefix)
        ]
        if not 0 <= self.max_per_number <= MAX_PER_NUMBER_LIMIT:
            problems.append(f"the per-number rate must be 0 (off) to {MAX_PER_NUMBER_LIMIT}")
        if not 1 <= self.window_seconds <= MAX_WINDOW_SECONDS:
            problems.append(f"the per-number window must be 1 to {MAX_WINDOW_SECONDS} s")
        if self.daily_segment_limit < 0:
            problems.append("the daily segment limit must be 0 (off) or more")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def parse_prefixes(cls, raw: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
