"""Provider outages and validity (contract §8): the retry delay of each attempt, and the EXPIRED end
of a request that could not be sent in time, over the in-memory fakes and a clock the test moves."""

from __future__ import annotations

import json

import pytest
from fakes import FakeClock, FakeProvider, FakePublisher, FakeStore, make_sender

from sms_pipeline.job import State
from sms_pipeline.outcomes import Outcome
from sms_pipeline.ports import ConfigurationFault, TransientError
from sms_pipeline.request import SmsRequest
from sms_pipeline.retry import MAX_DELAY_SECONDS, expired_reason, retry_delay
from sms_pipeline.sending import Incoming, Result, RetryLater

DELAYS = (10, 30, 60, 120, 300, 600, 900)
T0 = 1_800_000_000.0


@pytest.mark.parametrize(
    ("receive_count", "delay"), [(0, 10), (1, 10), (2, 30), (3, 60), (4, 120), (5, 300), (6, 600), (7, 900), (50, 900)]
)
def test_each_attempt_waits_the_next_delay_and_the_last_repeats(receive_count: int, delay: int) -> None:
    assert retry_delay(DELAYS, receive_count, seconds_left=1e9) == delay


def test_the_delay_is_exactly_the_configured_one_every_time() -> None:
    """Contract §8: the visibility is set to the next of RetryDelaysSeconds, nothing taken off."""
    assert {retry_delay(DELAYS, 7, seconds_left=1e9) for _ in range(100)} == {900}
    assert {retry_delay((7, 13), 2, seconds_left=1e9) for _ in range(100)} == {13}


def test_a_delay_that_would_end_after_the_validity_is_cut_short_to_its_end() -> None:
    assert retry_delay(DELAYS, 7, seconds_left=42.2) == 43  # rounded up: back once it has ended
    assert retry_delay(DELAYS, 7, seconds_left=0.4) == 1


def test_past_the_validity_the_delay_is_not_cut_to_nothing() -> None:
    """A request already past its validity fails only while another delivery holds its claim: it
    waits its delay, instead of spinning through its receives with a delay of 0."""
    assert retry_delay(DELAYS, 2, seconds_left=0.0) == 30
    assert retry_delay(DELAYS, 2, seconds_left=-5.0) == 30


def test_no_delay_exceeds_what_sqs_accepts() -> None:
    assert retry_delay((43_200,), 1, seconds_left=1e9) == MAX_DELAY_SECONDS < 43_200


def test_the_reason_names_the_validity_and_the_last_failure() -> None:
    assert expired_reason(300, "provider answered 503") == (
        "not sent within its validity of 300 s; last error: provider answered 503"
    )
    assert expired_reason(300, None) == "not sent within its validity of 300 s"


# --- the send use case ----------------------------------------------------------------------------


class Outage(FakeProvider):
    """A provider that answers 503 (or refuses the credentials) until `down` is cleared."""

    def __init__(self, fault: Exception | None = None) -> None:
        super().__init__()
        self.down = True
        self.fault = fault or TransientError("provider answered 503", call="POST /sms")
        self.posts: list[bool] = []  # per POST: whether the client could retry it at once

    def ready(self) -> None:
        if self.down and isinstance(self.fault, ConfigurationFault):
            raise self.fault

    def send(self, sms: SmsRequest, *, deadline: float | None = None, retries: bool = True) -> str:
        self.posts.append(retries)
        if self.down:
            raise self.fault
        return super().send(sms, deadline=deadline, retries=retries)


class World:
    def __init__(self, provider: FakeProvider | None = None, validity: int = 300) -> None:
        self.clock = FakeClock(T0)
        self.store, self.publisher = FakeStore(), FakePublisher()
        self.provider = provider or Outage()
        self.sender = make_sender(
            self.store,
            self.provider,
            self.publisher,
            default_validity_seconds=validity,
            retry_delays=DELAYS,
            clock=self.clock,
        )

    @property
    def outage(self) -> Outage:
        assert isinstance(self.provider, Outage)
        return self.provider

    def deliver(self, body: dict[str, object], *, receive_count: int, sent_at: float = T0) -> Result:
        incoming = Incoming("m-1", json.dumps(body), sent_at=sent_at, receive_count=receive_count)
        return self.sender.batch(30).handle(incoming)


REQUEST = {"id": "otp-1", "to": "+4917012345678", "text": "Your code is 123456", "validitySeconds": 300}


def test_during_an_outage_each_attempt_asks_for_the_next_delay_then_the_request_expires_on_time() -> None:
    world = World()
    waits = []
    for receive_count in range(1, 10):
        try:
            result = world.deliver(REQUEST, receive_count=receive_count)
        except RetryLater as retry:
            waits.append(retry.after_seconds)
            world.clock.now += retry.after_seconds
            continue
        break
    # 10 + 30 + 60 + 120 = 220 s; the next delay (300) would end after the validity: cut to 80 s.
    assert waits == [10, 30, 60, 120, 80]
    assert result is Result.EXPIRED and world.clock.now == T0 + 300
    [event] = world.publisher.events
    assert event.outcome is Outcome.EXPIRED and event.job_id is None and event.provider_status is None
    assert event.reason == "not sent within its validity of 300 s; last error: provider answered 503"
    assert event.requested_at == T0
    assert len(world.outage.posts) == 5  # one attempt per delay, none after the validity ended
    assert world.outage.posts == [True, False, False, False, False]  # only the first retries at once


def test_a_request_that_waited_past_its_validity_in_a_backlog_is_never_sent() -> None:
    world = World(FakeProvider())
    world.clock.now = T0 + 301
    result = world.deliver(REQUEST, receive_count=1)
    assert result is Result.EXPIRED and world.provider.sent == []
    [event] = world.publisher.events
    assert event.reason == "not sent within its validity of 300 s"


def test_a_request_without_validity_gets_the_deployments_default() -> None:
    world = World(FakeProvider(), validity=60)
    request = {key: value for key, value in REQUEST.items() if key != "validitySeconds"}
    world.clock.now = T0 + 59
    assert world.deliver(request, receive_count=1) is Result.SENT
    world2 = World(FakeProvider(), validity=60)
    world2.clock.now = T0 + 60
    assert world2.deliver(request, receive_count=1) is Result.EXPIRED
    assert world2.publisher.events[0].reason == "not sent within its validity of 60 s"


def test_a_request_sent_after_failed_attempts_is_sent_once_when_the_provider_is_back() -> None:
    world = World()
    with pytest.raises(RetryLater):
        world.deliver(REQUEST, receive_count=1)
    world.clock.now += 10
    world.outage.down = False
    assert world.deliver(REQUEST, receive_count=2) is Result.SENT
    assert world.store.items["otp-1"]["state"] == State.TRACKING and world.store.items["otp-1"]["attempts"] == 2
    assert world.publisher.events == []


def test_a_redelivered_expired_message_gives_no_second_outcome() -> None:
    world = World()
    world.clock.now = T0 + 400
    assert world.deliver(REQUEST, receive_count=1) is Result.EXPIRED
    assert world.deliver(REQUEST, receive_count=2) is Result.DUPLICATE
    assert len(world.publisher.events) == 1


def test_a_message_redriven_from_the_dlq_keeps_the_validity_of_its_first_attempt() -> None:
    """A redriven message is a new SQS message (new SentTimestamp); the store remembers the first."""
    world = World()
    with pytest.raises(RetryLater):
        world.deliver(REQUEST, receive_count=1)
    world.clock.now = T0 + 3600  # the fix took an hour; the message is redriven and received anew
    assert world.deliver(REQUEST, receive_count=1, sent_at=T0 + 3590) is Result.EXPIRED
    [event] = world.publisher.events
    assert event.requested_at == T0
    assert event.reason.endswith("last error: provider answered 503")


def test_a_message_redriven_while_still_valid_is_sent_once() -> None:
    world = World()
    with pytest.raises(RetryLater):
        world.deliver(REQUEST, receive_count=1)
    world.clock.now = T0 + 100
    world.outage.down = False
    assert world.deliver(REQUEST, receive_count=1, sent_at=T0 + 90) is Result.SENT
    assert len(world.provider.sent) == 1


def test_a_configuration_fault_keeps_requests_waiting_until_their_validity_ends_naming_the_fault() -> None:
    fault = ConfigurationFault("401, the provider refused the credentials; fix the user/password", call="POST /sms")
    world = World(Outage(fault))
    with pytest.raises(RetryLater) as first:
        world.deliver(REQUEST, receive_count=1)
    assert first.value.after_seconds == 10 and world.outage.posts == []
    world.clock.now = T0 + 300
    assert world.deliver(REQUEST, receive_count=6) is Result.EXPIRED
    [event] = world.publisher.events
    assert event.reason == (
        "not sent within its validity of 300 s; last error: 401, the provider refused the credentials; "
        "fix the user/password"
    )


def test_records_after_the_circuit_opened_wait_too_and_remember_the_fault() -> None:
    fault = ConfigurationFault("401, the provider refused the credentials", call="POST /sms")
    world = World(Outage(fault))
    batch = world.sender.batch(30)
    for index in range(3):
        body = json.dumps({**REQUEST, "id": f"otp-{index}"})
        with pytest.raises(RetryLater) as retry:
            batch.handle(Incoming(f"m-{index}", body, sent_at=T0, receive_count=3))
        assert retry.value.after_seconds == 60
    assert batch.circuit_open
    assert {item["lastError"] for item in world.store.items.values()} == {"401, the provider refused the credentials"}


def test_an_expired_request_whose_earlier_send_was_interrupted_ends_unknown_not_expired() -> None:
    """The claim of a dead invocation: the POST may have happened, so EXPIRED would be a lie."""
    world = World(FakeProvider())
    world.store.items["otp-1"] = {"state": State.SENDING, "claimUntil": 0.0, "messageId": "m-0", "claimToken": "x"}
    world.clock.now = T0 + 400
    assert world.deliver(REQUEST, receive_count=2) is Result.UNKNOWN
    assert world.provider.sent == []
