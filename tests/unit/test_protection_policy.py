"""The protection policy (contract §10) on fakes of its ports: order, reasons, what each rule costs."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from fakes import FakeRuleState

from sms_pipeline.gathered import Gathered
from sms_pipeline.protection import (
    Admission,
    Block,
    Protection,
    Rule,
    Rules,
    Window,
    _Ask,
    country_code,
    number_key,
)

NOW = 1_764_720_000.0  # 2025-12-03 00:00:00 UTC


def protection(rules: Rules, *opted_out: str, now: float = NOW) -> tuple[Protection, FakeRuleState]:
    state = FakeRuleState(opted_out=set(opted_out))
    return Protection(rules, state=state, clock=lambda: now, gather_seconds=0), state


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
    guard, state = protection(Rules(allowed_prefixes=("+49", "+4179")))
    assert isinstance(guard.admit("a", "+491701234567", 1), Admission)
    assert isinstance(guard.admit("b", "0041791234567", 1), Admission)
    assert isinstance(guard.admit("c", "01701234567", 1), Admission)  # the account's own country
    calls = list(state.calls)
    assert guard.admit("d", "+79161234567", 1) == Block(Rule.PREFIX, "blocked: +7 is not an allowed destination prefix")
    assert guard.admit("e", "+41761234567", 1) == Block(
        Rule.PREFIX, "blocked: +4176 is not an allowed destination prefix"
    )
    assert state.calls == calls  # a prefix block reads nothing
    assert set(calls) == {"look_up"}  # the opt-out list alone: no counter is read or written


def test_the_rules_come_in_the_contracts_order() -> None:
    rules = Rules(allowed_prefixes=("+49",), max_per_number=1, daily_segment_limit=1)
    guard, state = protection(rules, "+441234567890", "+491701234567")
    assert guard.admit("x", "+441234567890", 1).rule is Rule.PREFIX  # type: ignore[union-attr]
    assert state.calls == []  # a prefix block reads nothing
    assert guard.admit("x", "+491701234567", 1) == Block(Rule.OPT_OUT, "blocked: opted out")
    assert state.calls == ["look_up windows"]  # nothing taken or written for an opted-out number
    assert isinstance(guard.admit("first", "+491709999999", 1), Admission)
    # Over both the rate and the day: the rate is named, as the contract orders them.
    assert guard.admit("second", "+491709999999", 1) == Block(
        Rule.RATE, "blocked: more than 1 SMS to this number within 3600 s"
    )
    assert guard.admit("third", "+491708888888", 1) == Block(
        Rule.SPEND, "blocked: the day's limit of 1 SMS parts is reached"
    )
    assert state.counted == {"+491709999999": ["first"]}  # the blocked ones took no slot


def test_a_request_the_rate_refuses_takes_no_parts() -> None:
    guard, state = protection(Rules(max_per_number=1, daily_segment_limit=10))
    guard.admit("a", "+491701234567", 3)
    assert isinstance(guard.admit("b", "+491701234567", 3), Block)
    assert state.parts == {"2025-12-03": 3}


def test_a_request_the_rate_refuses_after_a_concurrent_write_gives_its_parts_back() -> None:
    """The window changed between the round's read and its write (another batch counted an SMS to
    the number): the request is decided again on the window now stored, and gives its parts back."""
    guard, state = protection(Rules(max_per_number=1, daily_segment_limit=10))
    write = state.write_windows

    def raced(writes: Sequence[tuple[str, Window]], *, expires_at: int) -> dict[int, Window]:
        state.windows["+491701234567"] = Window((int(NOW * 1000),), ("other",), 7)
        state.write_windows = write  # type: ignore[method-assign]
        return write(writes, expires_at=expires_at)

    state.write_windows = raced  # type: ignore[method-assign]
    assert guard.admit("b", "+491701234567", 3) == Block(
        Rule.RATE, "blocked: more than 1 SMS to this number within 3600 s"
    )
    assert state.parts == {"2025-12-03": 0} and state.counted == {"+491701234567": ["other"]}


def test_a_request_counted_already_takes_no_slot() -> None:
    """A retry after a 5xx, or a redelivered copy: its id is in the window, so it passes and writes
    nothing, even at the limit."""
    guard, state = protection(Rules(max_per_number=1))
    assert isinstance(guard.admit("a", "+491701234567", 1), Admission)
    calls = len(state.calls)
    assert isinstance(guard.admit("a", "+491701234567", 1), Admission)
    assert state.calls[calls:] == ["look_up windows"] and state.counted == {"+491701234567": ["a"]}


def test_two_sms_to_one_number_in_one_round_are_counted_one_after_the_other() -> None:
    guard, state = protection(Rules(max_per_number=1))
    verdicts = guard._round([_Ask("a", "+491701234567", 1), _Ask("b", "+491701234567", 1)])
    assert isinstance(verdicts[0], Admission) and verdicts[1] == Block(
        Rule.RATE, "blocked: more than 1 SMS to this number within 3600 s"
    )
    assert state.counted == {"+491701234567": ["a"]}


def test_a_round_reads_once_and_writes_its_windows_in_one_call() -> None:
    guard, state = protection(Rules(max_per_number=3, daily_segment_limit=100))
    asks = [_Ask(f"r{n}", f"+4917012345{n:02d}", 1) for n in range(10)]
    assert all(isinstance(verdict, Admission) for verdict in guard._round(asks))
    assert state.calls == ["look_up windows", "take_parts", "write_windows"]
    assert state.parts == {"2025-12-03": 10} and len(state.counted) == 10


def test_a_request_larger_than_the_day_is_refused_without_a_call() -> None:
    guard, state = protection(Rules(daily_segment_limit=5))
    blocked = guard.admit("big", "+491701234567", 6)
    assert blocked == Block(Rule.SPEND, "blocked: the day's limit of 5 SMS parts is reached")
    assert state.calls == ["look_up"]


def test_parts_are_given_back_once() -> None:
    guard, state = protection(Rules(daily_segment_limit=10))
    admission = guard.admit("a", "+491701234567", 4)
    assert isinstance(admission, Admission) and admission.used_percent == 40
    admission.give_back()
    admission.give_back()
    assert state.parts == {"2025-12-03": 0} and state.calls.count("give_back_parts") == 1


def test_a_rule_that_is_off_calls_no_port() -> None:
    """The opt-out list is read for every round (it has no off switch); the counters only for a
    rule that is on."""
    guard, state = protection(Rules())
    assert guard.admit("a", "+491701234567", 1) is Admission.NOTHING and state.calls == ["look_up"]
    guard, state = protection(Rules(max_per_number=2))
    guard.admit("a", "+491701234567", 1)
    assert state.calls == ["look_up windows", "write_windows"]
    guard, state = protection(Rules(daily_segment_limit=2))
    guard.admit("a", "+491701234567", 1)
    assert state.calls == ["look_up", "take_parts"]


def test_the_day_is_the_utc_day() -> None:
    guard, state = protection(Rules(daily_segment_limit=10), now=NOW - 1)
    guard.admit("late", "+491701234567", 1)
    assert state.parts == {"2025-12-02": 1}


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
