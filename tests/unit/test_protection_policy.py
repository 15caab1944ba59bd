"""The protection policy (contract §10) on fakes of its ports: order, reasons, what each rule costs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from sms_pipeline.protection import Admission, Block, Protection, Rule, Rules, country_code, number_key
from sms_pipeline.protection_store import Gathered


@dataclass
class FakeCounters:
    """The store's semantics in memory: the day's parts, and each number's counted ids and times."""

    parts: dict[str, int] = field(default_factory=dict)
    sent: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def take_parts(self, day: str, parts: int, *, limit: int, expires_at: int) -> int | None:
        self.calls.append("take_parts")
        if self.parts.get(day, 0) + parts > limit:
            return None
        self.parts[day] = self.parts.get(day, 0) + parts
        return self.parts[day]

    def give_back_parts(self, day: str, parts: int) -> None:
        self.calls.append("give_back_parts")
        self.parts[day] -= parts

    def take_rate(self, number: str, request_id: str, *, limit: int, now: float, window_seconds: int) -> bool:
        self.calls.append("take_rate")
        if self.rate_refuses(number, request_id, limit=limit, now=now, window_seconds=window_seconds):
            return False
        if request_id not in {counted for counted, _ in self.sent.get(number, [])}:
            self.sent.setdefault(number, []).append((request_id, now))
        return True

    def rate_refuses(self, number: str, request_id: str, *, limit: int, now: float, window_seconds: int) -> bool:
        entries = self.sent.get(number, [])
        if request_id in {counted for counted, _ in entries}:
            return False
        return sum(1 for _, at in entries if at > now - window_seconds) >= limit


class FakeOptOuts:
    def __init__(self, *numbers: str) -> None:
        self.numbers = set(numbers)
        self.calls = 0

    def contains(self, number: str) -> bool:
        self.calls += 1
        return number in self.numbers


NOW = 1_764_720_000.0  # 2025-12-03 00:00:00 UTC


def protection(rules: Rules, *opted_out: str, now: float = NOW) -> tuple[Protection, FakeCounters, FakeOptOuts]:
    counters, opt_outs = FakeCounters(), FakeOptOuts(*opted_out)
    return Protection(rules, counters=counters, opt_outs=opt_outs, clock=lambda: now), counters, opt_outs


@pytest.mark.parametrize(
    ("number", "code"),
    [("+79161234567", "+7"), ("+12125550100", "+1"), ("+491701234567", "+49"), ("+4179123", "+41"),
     ("+3531234567", "+353"), ("+8613812345678", "+86"), ("+8521234567", "+852"), ("01701234567", None)],
)  # fmt: skip
def test_country_codes_are_read_as_e164_assigns_them(number: str, code: str | None) -> None:
    assert country_code(number) == code


def test_the_key_is_the_number_as_sent_with_00_written_plus() -> None:
    assert number_key("00491701234567") == number_key("+491701234567") == "+491701234567"
    assert number_key("01701234567") == "01701234567"


def test_prefixes_block_numbers_with_a_country_code_outside_them_and_cost_nothing() -> None:
    guard, counters, _ = protection(Rules(allowed_prefixes=("+49", "+4179")))
    assert isinstance(guard.admit("a", "+491701234567", 1), Admission)
    assert isinstance(guard.admit("b", "0041791234567", 1), Admission)
    assert isinstance(guard.admit("c", "01701234567", 1), Admission)  # the account's own country
    assert guard.admit("d", "+79161234567", 1) == Block(Rule.PREFIX, "blocked: +7 is not an allowed destination prefix")
    assert guard.admit("e", "+41761234567", 1) == Block(
        Rule.PREFIX, "blocked: +4176 is not an allowed destination prefix"
    )
    assert counters.calls == []


def test_the_rules_come_in_the_contracts_order() -> None:
    rules = Rules(allowed_prefixes=("+49",), max_per_number=1, daily_segment_limit=1)
    guard, counters, opt_outs = protection(rules, "+441234567890", "+491701234567")
    assert guard.admit("x", "+441234567890", 1).rule is Rule.PREFIX  # type: ignore[union-attr]
    assert opt_outs.calls == 0  # a prefix block reads nothing
    assert guard.admit("x", "+491701234567", 1) == Block(Rule.OPT_OUT, "blocked: opted out")
    assert counters.calls == []
    assert isinstance(guard.admit("first", "+491709999999", 1), Admission)
    # Over both the rate and the day: the rate is named, as the contract orders them.
    assert guard.admit("second", "+491709999999", 1) == Block(
        Rule.RATE, "blocked: more than 1 SMS to this number within 3600 s"
    )
    assert guard.admit("third", "+491708888888", 1) == Block(
        Rule.SPEND, "blocked: the day's limit of 1 SMS parts is reached"
    )


def test_a_request_the_rate_refuses_gives_its_parts_back() -> None:
    guard, counters, _ = protection(Rules(max_per_number=1, daily_segment_limit=10))
    guard.admit("a", "+491701234567", 3)
    assert isinstance(guard.admit("b", "+491701234567", 3), Block)
    assert counters.parts == {"2025-12-03": 3}


def test_a_request_larger_than_the_day_is_refused_without_a_call() -> None:
    guard, counters, _ = protection(Rules(daily_segment_limit=5))
    blocked = guard.admit("big", "+491701234567", 6)
    assert blocked == Block(Rule.SPEND, "blocked: the day's limit of 5 SMS parts is reached")
    assert counters.calls == []


def test_parts_are_given_back_once() -> None:
    guard, counters, _ = protection(Rules(daily_segment_limit=10))
    admission = guard.admit("a", "+491701234567", 4)
    assert isinstance(admission, Admission) and admission.used_percent == 40
    admission.give_back()
    admission.give_back()
    assert counters.parts == {"2025-12-03": 0} and counters.calls.count("give_back_parts") == 1


def test_a_rule_that_is_off_calls_no_port() -> None:
    guard, counters, _ = protection(Rules())
    assert guard.admit("a", "+491701234567", 1) is Admission.NOTHING and counters.calls == []
    guard, counters, _ = protection(Rules(max_per_number=2))
    guard.admit("a", "+491701234567", 1)
    assert counters.calls == ["take_rate"]
    guard, counters, _ = protection(Rules(daily_segment_limit=2))
    guard.admit("a", "+491701234567", 1)
    assert counters.calls == ["take_parts"]


def test_the_day_is_the_utc_day() -> None:
    guard, counters, _ = protection(Rules(daily_segment_limit=10), now=NOW - 1)
    guard.admit("late", "+491701234567", 1)
    assert counters.parts == {"2025-12-02": 1}


@pytest.mark.parametrize(
    "rules",
    [
        {"allowed_prefixes": ("49",)},
        {"allowed_prefixes": ("+049",)},
        {"max_per_number": 51},
        {"window_seconds": 0},
        {"daily_segment_limit": -1},
    ],
)
def test_rules_out_of_range_are_refused(rules: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Rules(**rules)  # type: ignore[arg-type]


def test_look_ups_made_together_are_answered_by_one_fetch() -> None:
    """The opt-out list's look-ups of a batch's records: one BatchGetItem for all of them."""
    fetched: list[set[str]] = []
    everyone = threading.Barrier(10)

    def fetch(numbers: list[str]) -> list[bool]:
        fetched.append(set(numbers))
        return [number.endswith("7") for number in numbers]

    gathered = Gathered(fetch, gather_seconds=0.5, limit=100)  # generous: the test never waits it out
    answers: dict[str, bool] = {}

    def look_up(n: int) -> None:
        everyone.wait()
        answers[f"+4917012345{n:02d}"] = gathered.ask(f"+4917012345{n:02d}")

    threads = [threading.Thread(target=look_up, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(numbers) for numbers in fetched) == 10 and len(fetched) <= 2
    assert answers == {f"+4917012345{n:02d}": n == 7 for n in range(10)}


def test_a_full_round_starts_the_next_and_a_failed_fetch_fails_its_look_ups() -> None:
    rounds: list[list[str]] = []

    def answer(numbers: list[str]) -> list[bool]:
        rounds.append(numbers)
        return [True] * len(numbers)

    gathered = Gathered(answer, gather_seconds=0.0, limit=1)
    assert gathered.ask("+491") and gathered.ask("+492") and rounds == [["+491"], ["+492"]]

    def broken(numbers: list[str]) -> list[bool]:
        raise RuntimeError("throttled")

    with pytest.raises(RuntimeError, match="throttled"):
        Gathered(broken, gather_seconds=0.0, limit=10).ask("+491")
