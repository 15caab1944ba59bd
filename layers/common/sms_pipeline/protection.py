"""What the pipeline refuses to send (contract §10): the four rules, in the contract's order.

Whoever can write to the request queue can spend the account's money, so a valid request passes
these rules before its claim: destination prefixes, the opt-out list, the per-number rate and the
day's SMS parts. A request a rule refuses ends BLOCKED, never sent, with a reason that names the
rule. This module is the policy; the opt-out list and the counters are one port (`RuleState`:
protection_store.py holds its DynamoDB side, the tests' fakes another).

What the rules cost is what a batch costs, not what each SMS costs: the records of a batch ask at
about the same moment, and one round answers them all (one read of the opt-out list and the
numbers' rate windows, one conditional write of the day's parts, one transaction of the windows:
docs/performance.md has the figures).

The promise is "nothing spent that the rules refuse", under any fault, so every count errs on the
side of sending less:
- The rate counts request ids, not deliveries: a retry of a request (after a 5xx), a redelivered
  duplicate, or a delivery after a kill finds its id already counted and takes nothing more. An id
  once counted keeps its place in the window, sent or not (it may have been: a kill or an unknown
  result), so the rate is never passed. A window is written on condition that nobody changed it
  since it was read, so concurrent batches never pass the rate either.
- The rate is decided on the window as read before the day takes anything, so a request the rate
  refuses takes no parts; the day's parts are taken before the window is written, so a request the
  day refuses takes no slot. A window that changed before it could be written is decided again,
  and a request then refused gives its parts back.
- The day's parts are given back (`Admission.give_back`) when this delivery certainly did not hand
  the request to the provider: a duplicate, a 5xx or 429, a refused connection, a configuration
  fault, a 400, a request past its validity. They are kept when it was sent or may have been (no
  answer in time). A delivery killed between the count and the give-back keeps its count: the day
  may then end a few parts short of its limit, never over.
- A rule that is off costs nothing: no read or write of the counters at all (the opt-out list has
  no off switch: it is read for every batch).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sms_pipeline.gathered import Gathered
from sms_pipeline.limits import Rules as Rules  # the policy's settings, checked by config.py

# How long the first record of a batch waits for the others to ask, and the most one round answers:
# BatchGetItem reads at most 100 keys, two for each number (its opt-out entry and its window).
GATHER_SECONDS = 0.003
ROUND_LIMIT = 50
# A window that keeps changing under a round's writes is tried this many times, then the round fails.
WRITE_ATTEMPTS = 5

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


@dataclass(frozen=True)
class Window:
    """The SMS to one number that the rate counted, newest first, at most the limit: their times
    (ms) and request ids. `version` tells the state it was read in, so that a write can be made on
    condition that nobody changed it since (None: no SMS counted, nothing stored)."""

    times: tuple[int, ...] = ()
    ids: tuple[str, ...] = ()
    version: int | None = None

    def counted(self, request_id: str) -> bool:
        return request_id in self.ids

    def full(self, limit: int, cutoff_ms: int) -> bool:
        """`limit` SMS within the window already: the limit-th most recent is after the cutoff."""
        return len(self.times) >= limit and self.times[limit - 1] > cutoff_ms

    def with_sms(self, request_id: str, at_ms: int, limit: int) -> Window:
        return Window((at_ms, *self.times)[:limit], (request_id, *self.ids)[:limit], self.version)

    @property
    def written_version(self) -> int:
        """The version a write of this window stores: one past the version it was read in."""
        return (self.version or 0) + 1


@dataclass(frozen=True)
class Looked:
    """What one read of the rules' state says of a round's numbers."""

    opted_out: frozenset[str]
    windows: dict[str, Window]  # by number; only when the rate is on, a number not there has none


class RuleState(Protocol):
    """The opt-out list and the counters (protection_store.py): one read for a round, and one
    conditional write per rule that is on."""

    def look_up(self, numbers: Collection[str], *, windows: bool) -> Looked:
        """Which of these numbers are opted out and, with `windows`, each one's rate window: one
        strongly consistent read."""
        ...

    def take_parts(self, day: str, parts: int, *, limit: int, expires_at: int) -> int | None:
        """Add `parts` to the day's count unless that passes `limit`, atomically: the new count,
        or None (refused, nothing added)."""
        ...

    def give_back_parts(self, day: str, parts: int) -> None: ...

    def write_windows(self, writes: Sequence[tuple[str, Window]], *, expires_at: int) -> dict[int, Window]:
        """Each number's new window, on condition that its stored one is still the version it was
        read in, all or none: {} when all are written, else nothing is, and the windows now stored
        for the writes whose number changed meanwhile (by their index)."""
        ...


@dataclass(frozen=True)
class _Ask:
    request_id: str
    number: str
    parts: int


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

    def __init__(self, counters: RuleState | None = None, day: str = "", parts: int = 0, used: float = 0) -> None:
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
    """The rules for one container. A batch's records ask on threads of their own at about the same
    moment; their questions are gathered into one round (gathered.py), which reads the opt-out list
    and the rate windows of all its numbers at once, takes the day's parts of those that pass, and
    writes their windows in one transaction."""

    def __init__(
        self,
        rules: Rules,
        *,
        state: RuleState,
        clock: Callable[[], float] = time.time,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        self.rules = rules
        self._state = state
        self._clock = clock
        self._prefixes: Sequence[str] = rules.allowed_prefixes
        self._rounds: Gathered[_Ask, Admission | Block] = Gathered(
            self._round, gather_seconds=gather_seconds, limit=ROUND_LIMIT
        )

    @property
    def counts(self) -> bool:
        return bool(self.rules.max_per_number or self.rules.daily_segment_limit)

    def admit(self, request_id: str, to: str, parts: int) -> Admission | Block:
        """The rules in the contract's order; an Admission holds what the request took."""
        number = number_key(to)
        if self._prefixes and number.startswith("+") and not number.startswith(tuple(self._prefixes)):
            return Block(Rule.PREFIX, f"blocked: {self._shown_prefix(number)} is not an allowed destination prefix")
        return self._rounds.ask(_Ask(request_id, number, parts))

    def _round(self, asks: list[_Ask]) -> list[Admission | Block]:
        """A round's verdicts: one read for all its numbers, then the counting, a pass at a time,
        each pass taking a number once, so that a second SMS to one number in the same batch is
        counted after the first, on the window the first left."""
        looked = self._state.look_up({ask.number for ask in asks}, windows=bool(self.rules.max_per_number))
        windows = dict(looked.windows)
        verdicts: dict[int, Admission | Block] = {}
        waiting: list[tuple[int, _Ask]] = []
        for i, ask in enumerate(asks):
            if ask.number in looked.opted_out:
                verdicts[i] = Block(Rule.OPT_OUT, "blocked: opted out")
            elif not self.counts:
                verdicts[i] = Admission.NOTHING
            else:
                waiting.append((i, ask))
        while waiting:
            numbers: set[str] = set()
            this_pass: list[tuple[int, _Ask]] = []
            later: list[tuple[int, _Ask]] = []
            for i, ask in waiting:
                (later if ask.number in numbers else this_pass).append((i, ask))
                numbers.add(ask.number)
            verdicts.update(self._count(this_pass, windows))
            waiting = later
        return [verdicts[i] for i in range(len(asks))]

    def _count(self, asks: list[tuple[int, _Ask]], windows: dict[str, Window]) -> dict[int, Admission | Block]:
        """The rate, then the day's parts, for asks to distinct numbers: the rate as read refuses
        first (and takes nothing), the day takes the parts of the rest, and the windows of those the
        day let through are written. A blocked request counts towards neither."""
        rules, now = self.rules, self._clock()
        cutoff = window_cutoff_ms(now, rules.window_seconds)
        verdicts: dict[int, Admission | Block] = {}
        passed: list[tuple[int, _Ask]] = []
        for i, ask in asks:
            if rules.max_per_number and self._rate_refuses(windows.get(ask.number, Window()), ask, cutoff):
                verdicts[i] = self._rate_block()
            else:
                passed.append((i, ask))
        if rules.daily_segment_limit:
            admitted = self._take_parts(passed, now, verdicts)
        else:
            admitted = {i: Admission.NOTHING for i, _ in passed}
        verdicts.update(admitted)
        if rules.max_per_number:
            try:
                self._write_windows([(i, ask) for i, ask in passed if i in admitted], windows, now, verdicts)
            except BaseException:
                for admission in admitted.values():
                    admission.give_back()  # not sent: the record fails, and SQS brings it back
                raise
        return verdicts

    def _rate_refuses(self, window: Window, ask: _Ask, cutoff_ms: int) -> bool:
        return not window.counted(ask.request_id) and window.full(self.rules.max_per_number, cutoff_ms)

    def _take_parts(
        self, asks: list[tuple[int, _Ask]], now: float, verdicts: dict[int, Admission | Block]
    ) -> dict[int, Admission]:
        """The day's parts: the round's together in one conditional write when their sum fits,
        else each request's on its own, in order (exactly as many as fit)."""
        limit = self.rules.daily_segment_limit
        day, expires = utc_day(now), day_expiry(now)
        fits = [(i, ask) for i, ask in asks if ask.parts <= limit]  # larger than the whole day: no call
        admitted: dict[int, Admission] = {}
        total = None
        if len(fits) > 1:
            total = self._state.take_parts(day, sum(ask.parts for _, ask in fits), limit=limit, expires_at=expires)
        if total is not None:
            for i, ask in fits:
                admitted[i] = Admission(self._state, day, ask.parts, used=100 * total / limit)
        else:
            for i, ask in fits:
                own = self._state.take_parts(day, ask.parts, limit=limit, expires_at=expires)
                if own is not None:
                    admitted[i] = Admission(self._state, day, ask.parts, used=100 * own / limit)
        for i, _ in asks:
            if i not in admitted:
                verdicts[i] = Block(Rule.SPEND, f"blocked: the day's limit of {limit} SMS parts is reached")
        return admitted

    def _write_windows(
        self,
        asks: list[tuple[int, _Ask]],
        windows: dict[str, Window],
        now: float,
        verdicts: dict[int, Admission | Block],
    ) -> None:
        """One transaction for the windows of the requests let through. When a window changed
        since it was read (another batch counted an SMS to that number), its request is decided
        again on the window now stored, and what is still let through is written again. A request
        counted already (a retry, a redelivered copy) takes no slot."""
        rules = self.rules
        now_ms, cutoff = math.floor(now * 1000), window_cutoff_ms(now, rules.window_seconds)
        expires = math.ceil(now + rules.window_seconds)
        pending = [(i, ask) for i, ask in asks if not windows.get(ask.number, Window()).counted(ask.request_id)]
        for attempt in range(WRITE_ATTEMPTS):
            if not pending:
                return
            if attempt > 1:
                time.sleep(0.01 * 2**attempt)  # a number others write as fast as it is read
            writes = [
                (ask.number, windows.get(ask.number, Window()).with_sms(ask.request_id, now_ms, rules.max_per_number))
                for _, ask in pending
            ]
            changed = self._state.write_windows(writes, expires_at=expires)
            if not changed:
                for number, written in writes:
                    windows[number] = replace(written, version=written.written_version)
                return
            still: list[tuple[int, _Ask]] = []
            for k, (i, ask) in enumerate(pending):
                window = windows[ask.number] = changed.get(k, windows.get(ask.number, Window()))
                if window.counted(ask.request_id):
                    continue  # another copy of this request counted it meanwhile
                if self._rate_refuses(window, ask, cutoff):
                    verdict = verdicts[i]
                    if isinstance(verdict, Admission):
                        verdict.give_back()
                    verdicts[i] = self._rate_block()
                    continue
                still.append((i, ask))
            pending = still
        raise RuntimeError(f"the rate windows of {len(pending)} request(s) kept changing; the records come back")

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
