"""Check timers over the fakes: who starts them, what the scheduled run leaves to them, what a
timer's own check does, and the check queue's message (issue #24, contract §13)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import FakeCheckTimers, FakeProvider, FakePublisher, FakeStore, make_sender, make_tracker

from sms_pipeline import check_queue
from sms_pipeline.job import Delivery, Origin, State
from sms_pipeline.outcomes import Outcome, ProviderStatus, Verdict
from sms_pipeline.sending import Incoming, Result
from sms_pipeline.timed_checks import check_timers
from sms_pipeline.timers import TIMER_LIMIT_SECONDS, Timer, timer_after

NOW = 1_800_000_000.0
SENT_AT = NOW - 60
DELIVERED = Verdict(Outcome.DELIVERED, "Successful.", provider_status=ProviderStatus("DONE", "SUC_FIN"))


def sent(store: FakeStore, request_id: str, *, first_check_at: float = SENT_AT + 30, timer: bool = True) -> Timer:
    """A request as the send use case leaves it, with its first check's timer on its way."""
    origin = Origin(request_id, "+4917*******78", None, {}, SENT_AT, "f", "GSM-7", 1)
    store.claim(origin, Delivery("m", "t", SENT_AT + 60), now=SENT_AT, requested_after=0.0)
    store.record_sent(request_id, f"J-{request_id}", submitted_at=SENT_AT, first_check_at=first_check_at, timer=timer)
    return Timer(request_id, int(first_check_at * 1000))


def tracker(store: FakeStore, provider: FakeProvider, timers: FakeCheckTimers, **overrides: Any) -> Any:
    return make_tracker(store, provider, FakePublisher(), clock=lambda: NOW, timers=timers, **overrides)


def test_a_check_that_finds_the_job_open_starts_its_next_checks_timer() -> None:
    store, provider, timers = FakeStore(), FakeProvider(), FakeCheckTimers()
    sent(store, "r", timer=False)

    summary = tracker(store, provider, timers).run(300)

    assert summary.still_tracked == 1 and summary.timers_started == 1
    assert timers.started == [Timer("r", int((NOW + 60) * 1000))]  # the second delay, 60 s
    assert store.items["r"]["timerAt"] == store.items["r"]["dueAt"] == int((NOW + 60) * 1000)


def test_a_check_due_beyond_a_timers_reach_or_at_every_run_gets_no_timer() -> None:
    timers = FakeCheckTimers()
    assert timer_after("r", NOW, TIMER_LIMIT_SECONDS, timers) == Timer("r", int((NOW + TIMER_LIMIT_SECONDS) * 1000))
    assert timer_after("r", NOW, TIMER_LIMIT_SECONDS + 1, timers) is None
    assert timer_after("r", NOW, 0, timers) is None  # "check at every run" stays the schedule's
    assert timer_after("r", NOW, 30, FakeCheckTimers(reach_seconds=20)) is None  # CheckTimerMaxDelaySeconds
    assert timer_after("r", NOW, 30, None) is None
    store, provider, timers = FakeStore(), FakeProvider(), FakeCheckTimers()
    sent(store, "r")

    summary = tracker(store, provider, timers, check_delays=(30, 1800), timer_margin_seconds=0).run(300)

    assert summary.checked == 1 and timers.started == [] and "timerAt" not in store.items["r"]


def test_the_scheduled_run_leaves_a_due_job_to_its_timer_until_the_timer_is_overdue() -> None:
    store, provider, timers = FakeStore(), FakeProvider(), FakeCheckTimers()
    sent(store, "on-time", first_check_at=NOW - 10)  # its timer is 10 s late: still on its way
    sent(store, "lost", first_check_at=NOW - 61)  # more than the margin late: lost
    sent(store, "untimed", first_check_at=NOW - 10, timer=False)

    summary = tracker(store, provider, timers, timer_margin_seconds=60).run(300)

    assert (summary.due, summary.timer_in_flight, summary.checked) == (2, 1, 2)
    assert sorted(provider.reports) == ["J-lost", "J-untimed"]


def test_a_timer_checks_its_job_and_starts_the_next_one() -> None:
    store, provider, timers = FakeStore(), FakeProvider(), FakeCheckTimers()
    first = sent(store, "r")

    run = check_timers(tracker(store, provider, timers), [first], 300)

    assert provider.reports == ["J-r"] and run.stale == 0 and run.failed == frozenset()
    assert timers.started == [Timer("r", int((NOW + 60) * 1000))]
    provider.verdicts["J-r"] = DELIVERED
    publisher = FakePublisher()
    done = check_timers(
        make_tracker(store, provider, publisher, clock=lambda: NOW + 60, timers=timers), timers.started, 300
    )
    assert done.summary.published == 1 and [event.outcome for event in publisher.events] == [Outcome.DELIVERED]
    assert store.items["r"]["state"] == State.DONE


def test_a_timer_whose_job_moved_on_or_ended_publishes_nothing_and_asks_nothing() -> None:
    store, provider, timers = FakeStore(), FakeProvider(), FakeCheckTimers()
    first = sent(store, "r")
    provider.verdicts["J-r"] = DELIVERED
    publisher = FakePublisher()
    tracker_ = make_tracker(store, provider, publisher, clock=lambda: NOW, timers=timers)
    assert check_timers(tracker_, [first], 300).summary.published == 1

    again = check_timers(tracker_, [first, first, Timer("gone", first.due_at)], 300)  # a repeat, an unknown id

    assert again.stale == 3 and again.summary.checked == 0
    assert provider.reports == ["J-r"] and len(publisher.events) == 1


def test_a_timer_whose_check_failed_on_storage_comes_back() -> None:
    class Throttled(FakeStore):
        def reschedule(self, job: Any, *, next_check_at: float, timer: bool = False) -> bool:
            raise RuntimeError("ProvisionedThroughputExceededException")

    store, provider, timers = Throttled(), FakeProvider(), FakeCheckTimers()
    first, second = sent(store, "r1"), sent(store, "r2")
    provider.verdicts["J-r2"] = DELIVERED

    run = check_timers(tracker(store, provider, timers), [first, second], 300)

    assert run.failed == frozenset({"r1"}) and run.summary.published == 1


def test_timers_that_cannot_be_started_fail_neither_the_run_nor_the_send() -> None:
    store, provider, timers = FakeStore(), FakeProvider(), FakeCheckTimers()
    timers.fail = True
    sent(store, "r", timer=False)
    summary = tracker(store, provider, timers).run(300)
    assert summary.still_tracked == 1 and summary.timers_started == 0
    assert store.items["r"]["timerAt"] == store.items["r"]["dueAt"]  # overdue by the margin, the run takes it

    class Broken(FakeCheckTimers):
        def start(self, timers: Any) -> int:
            raise RuntimeError("a defect in the adapter")

    batch = make_sender(FakeStore(), FakeProvider(), clock=lambda: NOW, timers=Broken()).batch(30)
    body = json.dumps({"id": "s", "to": "+4917012345678", "text": "hi"})
    assert batch.handle(Incoming("m-1", body, NOW)) is Result.SENT
    batch.start_timers()  # logged and counted, not raised


def test_a_sent_sms_starts_its_first_checks_timer_after_the_batch() -> None:
    store, timers = FakeStore(), FakeCheckTimers()
    batch = make_sender(store, FakeProvider(), clock=lambda: NOW, timers=timers).batch(30)
    for index in range(3):
        body = json.dumps({"id": f"s{index}", "to": "+4917012345678", "text": "hi"})
        assert batch.handle(Incoming(f"m-{index}", body, NOW)) is Result.SENT
    assert timers.started == []

    batch.start_timers()

    assert timers.started == [Timer(f"s{index}", int((NOW + 30) * 1000)) for index in range(3)]
    assert all(store.items[f"s{index}"]["timerAt"] == store.items[f"s{index}"]["dueAt"] for index in range(3))
    batch.start_timers()
    assert len(timers.started) == 3  # each once


def test_a_timer_message_round_trips_and_a_wrong_one_names_its_field() -> None:
    timer = Timer("r-1", 1_800_000_030_000)
    assert check_queue.timer(check_queue.body(timer)) == timer
    for text, field in [
        ("[]", "object"),
        ("not json", "JSON"),
        ('{"dueAt": 1}', "id"),
        ('{"id": "r", "dueAt": "soon"}', "dueAt"),
        ('{"id": "r", "dueAt": true}', "dueAt"),
    ]:
        with pytest.raises(check_queue.NotATimer, match=field):
            check_queue.timer(text)


def test_a_timer_is_delayed_until_its_check_is_due_never_earlier_and_at_most_fifteen_minutes() -> None:
    class Sqs:
        def __init__(self) -> None:
            self.entries: list[dict[str, Any]] = []

        def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.entries.extend(Entries)
            return {"Successful": [], "Failed": [{"Id": "1", "Code": "InternalError"}]}

    sqs = Sqs()
    adapter = check_queue.SqsCheckTimers(lambda: sqs, "url", clock=lambda: NOW)  # type: ignore[arg-type, return-value]
    due = [NOW + 29.2, NOW + 30, NOW - 5, NOW + 2000] + [NOW + 1] * 8
    not_started = adapter.start([Timer(f"r{index}", int(at * 1000)) for index, at in enumerate(due)])

    assert [entry["DelaySeconds"] for entry in sqs.entries] == [30, 30, 0, 900] + [1] * 8
    assert not_started == 2  # one Failed entry in each of the two calls
