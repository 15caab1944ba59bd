"""What the pipeline refuses to send (contract §10): the four rules, in the contract's order.

Whoever can write to the request queue can spend the account's money, so a valid request passes
these rules before its claim: destination prefixes, the opt-out list, the per-number rate and the
day's SMS parts. A request a rule refuses ends BLOCKED, never sent, with a reason that names the
rule. This module is the policy alone; the counters and the opt-out list are ports
(protection_store.py holds their DynamoDB side, the tests' fakes another).

The promise is "nothing spent that the rules refuse", under any fault, so every count errs on the
side of sending less:
- The rate counts request ids, not deliveries: a retry of a request (after a 5xx), a redelivered
  duplicate, or a delivery after a kill finds its id already counted and takes nothing more. An id
  once counted keeps its place in the window, sent or not (it may have been: a kill or an unknown
  result), so the rate is never passed.
- The day's parts are taken before the claim and given back (`Admission.give_back`) when this
  delivery certainly did not hand the request to the provider: a duplicate, a 5xx or 429, a
  refused connection, a configuration fault, a 400, a request past its validity. They are kept
  when it was sent or may have been (no answer in time). A delivery killed between the count and
  the give-back keeps its count: the day may then end a few parts short of its limit, never over.
- The day's parts are taken first and the rate second, so a request the rate refuses gives its
  parts back and counts for nothing; the reason still follows the contract's order (a request both
  would refuse is told it is the rate).
- A rule that is off costs nothing: no call to a port at all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sms_pipeline.limits import Rules as Rules  # the policy's settings, checked by config.py

# E.164 country codes are prefix-free: 1 and 7 are one digit, these are two, all others three.
_TWO_DIGIT_CODES = frozenset(
    {20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58}
    | {60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98}
)


class Rule(StrEnum):
    PREFIX = "BlockedByPrefix"
    OPT_OUT = "BlockedByOptOut"
    RATE = "BlockedByRate"
    SPEND = "BlockedBySpend"

    @property
    def metric(self) -> str:
        return self.value


@dataclass(frozen=True)
class Block:
    rule: Rule
    reason: str


class Counters(Protocol):
    """The rate and the day's parts, each one conditional write (protection_store.py)."""

    def take_parts(self, day: str, parts: int, *, limit: int, expires_at: int) -> int | None:
        """Add `parts` to the day's count unless that passes `limit`, atomically: the new count,
        or None (refused, nothing added)."""
        ...

    def give_back_parts(self, day: str, parts: int) -> None: ...

    def take_rate(self, number: str, request_id: str, *, limit: int, now: float, window_seconds: int) -> bool:
        """Count `request_id` among the SMS to `number` unless `limit` of other ids are counted
        within the window before `now`, atomically; True also when the id is counted already."""
        ...

    def rate_refuses(self, number: str, request_id: str, *, limit: int, now: float, window_seconds: int) -> bool:
        """What take_rate would answer, read only (for the reason of a request the day refuses)."""
        ...


class OptOuts(Protocol):
    def contains(self, number: str) -> bool: ...


def number_key(to: str) -> str:
    """The number as the pipeline sends it, with a leading `00` written `+`: the opt-out list's
    and the rate's key (`0049 170…` and `+49 170…` are one number)."""
    return "+" + to[2:] if to.startswith("00") else to


def country_code(number: str) -> str | None:
    """`+7` of `+79161234567`; None for a number without a country code."""
    if not number.startswith("+"):
        return None
    digits = number[1:]
    if digits[:1] in ("1", "7"):
        return "+" + digits[:1]
    return "+" + (digits[:2] if digits[:2].isdigit() and int(digits[:2]) in _TWO_DIGIT_CODES else digits[:3])


def utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%d")


def day_expiry(now: float) -> int:
    """The day's count is kept a day past its end (to be looked at), then DynamoDB's TTL deletes it."""
    start = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((start + timedelta(days=2)).timestamp())


class Admission:
    """A request the rules let through, and the day's parts it took: given back once, when this
    delivery certainly did not hand the request to the provider."""

    NOTHING: Admission

    def __init__(self, counters: Counters | None = None, day: str = "", parts: int = 0, used: float = 0) -> None:
        self._counters = counters
        self._day = day
        self._parts = parts
        self.used_percent = used  # of the day's limit, after this request (0 when the limit is off)

    def give_back(self) -> None:
        counters, self._counters = self._counters, None
        if counters is not None and self._parts:
            counters.give_back_parts(self._day, self._parts)


Admission.NOTHING = Admission()


class Protection:
    def __init__(
        self,
        rules: Rules,
        *,
        counters: Counters | None,
        opt_outs: OptOuts | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if counters is None and (rules.max_per_number or rules.daily_segment_limit):
            raise ValueError("a per-number rate or a daily limit needs the counters")
        self.rules = rules
        self._counters = counters
        self._opt_outs = opt_outs
        self._clock = clock
        self._prefixes: Sequence[str] = rules.allowed_prefixes

    @property
    def counts(self) -> bool:
        return bool(self.rules.max_per_number or self.rules.daily_segment_limit)

    def admit(self, request_id: str, to: str, parts: int) -> Admission | Block:
        """The rules in the contract's order; an Admission holds what the request took."""
        rules = self.rules
        number = number_key(to)
        if self._prefixes and number.startswith("+") and not number.startswith(tuple(self._prefixes)):
            return Block(Rule.PREFIX, f"blocked: {self._shown_prefix(number)} is not an allowed destination prefix")
        if self._opt_outs is not None and self._opt_outs.contains(number):
            return Block(Rule.OPT_OUT, "blocked: opted out")
        if not self.counts:
            return Admission.NOTHING
        assert self._counters is not None
        now = self._clock()
        admission = Admission.NOTHING
        limit = rules.daily_segment_limit
        if limit:
            day = utc_day(now)
            total = None
            if parts <= limit:  # a request larger than the whole day's limit is refused without a call
                total = self._counters.take_parts(day, parts, limit=limit, expires_at=day_expiry(now))
            if total is None:
                if self._rate_refuses(number, request_id, now):
                    return self._rate_block()
                return Block(Rule.SPEND, f"blocked: the day's limit of {limit} SMS parts is reached")
            admission = Admission(self._counters, day, parts, used=100 * total / limit)
        if rules.max_per_number and not self._counters.take_rate(
            number, request_id, limit=rules.max_per_number, now=now, window_seconds=rules.window_seconds
        ):
            admission.give_back()
            return self._rate_block()
        return admission

    def _rate_refuses(self, number: str, request_id: str, now: float) -> bool:
        rules = self.rules
        if not rules.max_per_number:
            return False
        assert self._counters is not None
        return self._counters.rate_refuses(
            number, request_id, limit=rules.max_per_number, now=now, window_seconds=rules.window_seconds
        )

    def _rate_block(self) -> Block:
        rules = self.rules
        return Block(
            Rule.RATE, f"blocked: more than {rules.max_per_number} SMS to this number within {rules.window_seconds} s"
        )

    def _shown_prefix(self, number: str) -> str:
        """The country code (`+7`), or as many digits as the longest allowed prefix of that
        country (`+4176` where `+4179` is allowed), never more than the masked number shows."""
        code = country_code(number) or number[:2]
        same_country = [len(prefix) for prefix in self._prefixes if prefix.startswith(code)]
        return number[: min(max([len(code), *same_country]), 5)]


def window_cutoff_ms(now: float, window_seconds: int) -> int:
    """The rate's sliding window, in the store's milliseconds: an SMS counted at or before this
    instant is out of the window."""
    return math.floor((now - window_seconds) * 1000)
