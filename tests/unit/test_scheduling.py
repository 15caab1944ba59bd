"""Scheduled sending in the use cases, over the fakes (contract §11): what the send path does with a
future sendAt and a cancel, and what the status run does with a due SCHEDULED record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import FakeProvider, FakePublisher, FakeRequeue, FakeRuleState, FakeStore, make_sender, make_tracker

from sms_pipeline.job import State
from sms_pipeline.outcomes import Outcome
from sms_pipeline.protection import Protection, Rules
from sms_pipeline.sending import Incoming, Result, RetryLater

NOW = 1_800_000_000.0
LEAD = 900


def body(request_id: str, send_at: float, **fields: Any) -> str:
    send = datetime.fromtimestamp(send_at, tz=UTC).isoformat()
    return json.dumps({"id": request_id, "to": "+4917012345678", "text": "x", "sendAt": send, **fields})


class World:
    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.store = FakeStore()
        self.provider = FakeProvider()
        self.publisher = FakePublisher()
        self.requeue = FakeRequeue()

    def handle(self, text: str, *, message_id: str = "m-1", request_id: str | None = None, **settings: Any) -> Result:
        sender = make_sender(
            self.store, self.provider, self.publisher, clock=lambda: self.now, requeue=self.requeue, **settings
        )
        return sender.batch(30).handle(Incoming(message_id, text, sent_at=NOW, request_id=request_id))

    def status_run(self) -> Any:
        tracker = make_tracker(self.store, self.provider, self.publisher, clock=lambda: self.now, requeue=self.requeue)
        return tracker.run(50)


def test_a_request_due_after_the_lead_waits_in_the_table_for_the_status_run() -> None:
    world = World()
    assert world.handle(body("r", NOW + 3600)) is Result.SCHEDULED

    item = world.store.items["r"]
    assert item["state"] is State.SCHEDULED and item["dueAt"] == (NOW + 3600 - LEAD) * 1000
    assert world.requeue.copies == [] and world.provider.sent == []
    assert world.status_run().put_back == 0  # not due: not read

    world.now = NOW + 3600 - LEAD
    assert world.status_run().put_back == 1
    assert world.requeue.copies == [("r", body("r", NOW + 3600), LEAD)]  # the body as received
    assert world.status_run().put_back == 0  # leased until sendAt + the lead


def test_a_request_due_within_the_lead_is_put_back_by_the_send_function_leased() -> None:
    world = World()
    assert world.handle(body("r", NOW + 10.2)) is Result.SCHEDULED

    assert world.requeue.copies == [("r", body("r", NOW + 10.2), 11)]  # never early
    assert world.store.items["r"]["dueAt"] == int((NOW + 10.2 + LEAD) * 1000)


def test_the_put_back_copy_is_sent_once_at_its_send_at_and_an_early_one_waits() -> None:
    world = World()
    world.handle(body("r", NOW + 10))
    with pytest.raises(RetryLater) as early:
        world.handle(body("r", NOW + 10), message_id="copy", request_id="r")
    assert early.value.after_seconds == 10 and world.provider.sent == []

    world.now = NOW + 10
    assert world.handle(body("r", NOW + 10), message_id="copy", request_id="r") is Result.SENT
    assert world.handle(body("r", NOW + 10), message_id="copy-2", request_id="r") is Result.DUPLICATE
    assert len(world.provider.sent) == 1 and world.store.items["r"]["state"] is State.TRACKING


def test_a_request_without_id_keeps_its_first_message_id_through_the_put_back() -> None:
    world = World()
    text = json.dumps({"to": "+4917012345678", "text": "x", "sendAt": "2027-01-15T08:00:10+00:00"})
    world.now = datetime(2027, 1, 15, 8, 0, tzinfo=UTC).timestamp()
    world.handle(text, message_id="first")
    [(request_id, copy, _)] = world.requeue.copies
    assert request_id == "first"

    world.now += 10
    assert world.handle(copy, message_id="second", request_id=request_id) is Result.SENT
    assert set(world.store.items) == {"first"}


def test_a_producers_duplicate_before_send_at_is_acknowledged_and_changes_nothing() -> None:
    world = World()
    world.handle(body("r", NOW + 3600))
    assert world.handle(body("r", NOW + 3600), message_id="m-2") is Result.DUPLICATE
    assert world.store.items["r"]["state"] is State.SCHEDULED and world.requeue.copies == []


def test_the_validity_counts_from_send_at() -> None:
    """An hour between requestedAt and sendAt, a validity of 60 s: valid until sendAt + 60 s."""
    world = World()
    on_time, late = body("r", NOW + 3600, validitySeconds=60), body("late", NOW + 3600, validitySeconds=60)
    world.handle(on_time)
    world.handle(late, message_id="m-2")

    world.now = NOW + 3600 + 59
    assert world.handle(on_time, message_id="copy", request_id="r") is Result.SENT
    world.now = NOW + 3600 + 60
    assert world.handle(late, message_id="copy-2", request_id="late") is Result.EXPIRED
    assert len(world.provider.sent) == 1
    assert "validity of 60 s" in world.publisher.events[-1].reason


def test_a_cancel_ends_a_waiting_request_canceled_once() -> None:
    world = World()
    world.handle(body("r", NOW + 3600))

    assert world.handle(json.dumps({"cancel": "r"}), message_id="c-1") is Result.CANCELED
    assert world.handle(json.dumps({"cancel": "r"}), message_id="c-2") is Result.IGNORED

    [event] = world.publisher.events
    assert event.outcome is Outcome.CANCELED and event.reason == "cancelled before sending"
    assert event.body()["jobId"] is None and event.request_id == "r"
    world.now = NOW + 3600
    assert world.status_run().put_back == 0
    assert world.handle(body("r", NOW + 3600), message_id="copy", request_id="r") is Result.DUPLICATE
    assert world.provider.sent == []


@pytest.mark.parametrize(
    "message",
    [{"cancel": "nobody"}, {"cancel": ""}, {"cancel": 7}, {"cancel": "r", "text": "x"}],
    ids=["unknown id", "empty id", "not a string", "with request fields"],
)
def test_a_cancel_that_cannot_apply_is_acknowledged_and_makes_no_outcome(message: dict[str, Any]) -> None:
    world = World()
    assert world.handle(json.dumps(message)) is Result.IGNORED
    assert world.publisher.events == [] and world.store.items == {}


def test_a_cancel_after_the_send_changes_nothing() -> None:
    world = World()
    world.handle(json.dumps({"id": "r", "to": "+4917012345678", "text": "x"}))
    assert world.handle(json.dumps({"cancel": "r"}), message_id="c") is Result.IGNORED
    assert world.store.items["r"]["state"] is State.TRACKING and world.publisher.events == []


def test_the_protection_rules_count_at_the_send_and_a_blocked_one_ends_from_scheduled() -> None:
    """Stored while the rules would let it through, blocked when its sendAt comes (the prefixes
    changed meanwhile): BLOCKED, never sent, and not put back again."""
    world = World()
    world.handle(body("r", NOW + 3600))
    only_43 = Protection(Rules(allowed_prefixes=("+43",)), state=FakeRuleState())

    world.now = NOW + 3600
    copy = world.handle(body("r", NOW + 3600), message_id="copy", request_id="r", protection=only_43)

    assert copy is Result.BLOCKED and world.provider.sent == []
    [event] = world.publisher.events
    assert event.outcome is Outcome.BLOCKED and world.store.items["r"]["state"] is State.DONE
    assert world.status_run().put_back == 0
