"""The failover rule in the send use case, the fallback's jobs in the status use case and the
delivery events' use case, over the in-memory fakes (contract §12)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes import FakeClock, FakeProvider, FakePublisher, FakeStore, make_sender, make_tracker

from sms_pipeline.delivery import DeliveryOutcomes, Handled, NotRecordedYet
from sms_pipeline.failover import Failover
from sms_pipeline.job import State
from sms_pipeline.outcomes import Outcome, ProviderStatus, Verdict
from sms_pipeline.ports import ConfigurationFault, TransientError, UnknownResult
from sms_pipeline.request import SmsRequest
from sms_pipeline.sending import Incoming, Result, RetryLater, Sender

NOW = 1_800_000_000.0
BODY = json.dumps({"id": "r-1", "to": "+4917012345678", "text": "hi"})
TRACKING_LIMIT = 3600


class Down(FakeProvider):
    """Retarus failing in a given way on every send."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.calls = 0

    def send(self, sms: SmsRequest, *, deadline: float | None = None, retries: bool = True) -> str:
        self.calls += 1
        raise self.error


class FakeFallback:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.sent: list[tuple[str, float]] = []

    def ready(self) -> None:
        pass

    def send(self, sms: SmsRequest, *, seconds_left: float) -> str:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append((sms.id, seconds_left))
        return f"msg-{len(self.sent)}"


def sender(
    store: FakeStore, primary: FakeProvider, fallback: FakeFallback, clock: FakeClock, **overrides: Any
) -> Sender:
    failover = Failover(fallback, after_seconds=60, check_after=TRACKING_LIMIT)
    return make_sender(store, primary, failover=failover, clock=clock, retry_delays=(10,), **overrides)


def attempt(s: Sender, n: int, body: str = BODY) -> Result:
    return s.batch(30).handle(Incoming("m-1", body, sent_at=NOW, receive_count=n))


@pytest.mark.parametrize(
    "error", [TransientError("provider answered 503"), ConfigurationFault("provider answered 401")]
)
def test_a_request_retarus_certainly_did_not_take_fails_over_after_the_delay(error: Exception) -> None:
    store, clock, fallback = FakeStore(), FakeClock(NOW), FakeFallback()
    primary = Down(error)
    with pytest.raises(RetryLater):
        attempt(sender(store, primary, fallback, clock), 1)
    clock.now += 59
    with pytest.raises(RetryLater):
        attempt(sender(store, primary, fallback, clock), 2)
    assert fallback.sent == [] and store.items["r-1"]["provider"] == "retarus"

    clock.now += 1  # 60 s after the first attempt
    assert attempt(sender(store, primary, fallback, clock), 3) is Result.SENT
    assert [request_id for request_id, _ in fallback.sent] == ["r-1"]
    item = store.items["r-1"]
    assert item["state"] == State.TRACKING and item["provider"] == "aws-sms" and item["jobId"] == "msg-1"
    # Its only status check is at the tracking limit: its outcome comes from delivery events.
    assert item["dueAt"] == int((clock.now + TRACKING_LIMIT) * 1000)


def test_an_open_circuit_fails_over_without_another_call_to_retarus() -> None:
    store, clock, fallback = FakeStore(), FakeClock(NOW), FakeFallback()
    primary = Down(ConfigurationFault("provider answered 401"))
    s = sender(store, primary, fallback, clock)
    clock.now += 61
    store.items["r-1"] = {"state": State.RELEASED, "requestedAt": NOW, "firstAttemptAt": NOW, "provider": "retarus"}
    batch = s.batch(30)
    with pytest.raises(RetryLater):  # another request opens the circuit; it is within its delay
        batch.handle(Incoming("m-2", json.dumps({"id": "r-2", "to": "+4917012345678", "text": "x"}), sent_at=clock.now))
    calls = primary.calls
    assert batch.circuit_open
    assert batch.handle(Incoming("m-1", BODY, sent_at=NOW, receive_count=2)) is Result.SENT
    assert primary.calls == calls and store.items["r-1"]["provider"] == "aws-sms"


def test_a_request_whose_validity_ends_before_the_next_retry_fails_over_at_once() -> None:
    store, clock, fallback = FakeStore(), FakeClock(NOW), FakeFallback()
    body = json.dumps({"id": "r-1", "to": "+4917012345678", "text": "hi", "validitySeconds": 8})
    assert attempt(sender(store, Down(TransientError("503")), fallback, clock), 1, body) is Result.SENT
    assert fallback.sent == [("r-1", 8.0)]


def test_an_unknown_retarus_result_never_fails_over() -> None:
    store, clock, fallback = FakeStore(), FakeClock(NOW), FakeFallback()
    assert attempt(sender(store, Down(UnknownResult("read timeout")), fallback, clock), 1) is Result.UNKNOWN
    assert fallback.sent == []

    store, primary = FakeStore(), Down(UnknownResult("read timeout"))
    resend = sender(store, primary, fallback, clock, resend_unconfirmed=True)
    with pytest.raises(RetryLater):
        attempt(resend, 1)
    primary.error = TransientError("503")
    clock.now += 200  # past FailoverAfterSeconds, within the validity
    for n in (2, 3):
        with pytest.raises(RetryLater):
            attempt(resend, n)
    assert fallback.sent == [] and store.items["r-1"]["provider"] == "retarus"


def test_an_accepted_send_without_a_readable_id_is_never_sent_again_nor_failed_over() -> None:
    """Retarus said 201 but its body named no job id: sent for sure (contract §2: at most once), so
    UNKNOWN at once, whatever ResendUnconfirmed says, and never to the fallback."""
    store, clock, fallback, publisher = FakeStore(), FakeClock(NOW), FakeFallback(), FakePublisher()
    primary = Down(UnknownResult("201 with an unexpected body", accepted=True))
    resend = sender(store, primary, fallback, clock, resend_unconfirmed=True, publisher=publisher)
    assert attempt(resend, 1) is Result.UNKNOWN
    [event] = publisher.events
    assert event.outcome is Outcome.UNKNOWN and event.job_id is None and event.provider == "retarus"
    assert "accepted" in event.reason and "job id could not be read" in event.reason
    clock.now += 200  # past FailoverAfterSeconds: a redelivery is a duplicate, nothing is sent
    assert attempt(resend, 2) is Result.DUPLICATE
    assert primary.calls == 1 and fallback.sent == [] and store.items["r-1"]["state"] == State.DONE


def test_a_fallback_send_accepted_without_a_message_id_is_never_sent_again() -> None:
    store, clock, publisher = FakeStore(), FakeClock(NOW), FakePublisher()
    fallback = FakeFallback(UnknownResult("SendTextMessage: answered without a MessageId", accepted=True))
    body = json.dumps({"id": "r-1", "to": "+4917012345678", "text": "hi", "validitySeconds": 8})
    s = sender(store, Down(TransientError("503")), fallback, clock, resend_unconfirmed=True, publisher=publisher)
    assert attempt(s, 1, body) is Result.UNKNOWN
    [event] = publisher.events
    assert event.provider == "aws-sms" and "job id could not be read" in event.reason
    assert attempt(s, 2, body) is Result.DUPLICATE and fallback.sent == []


def test_a_redelivery_after_a_kill_during_the_fallback_call_never_goes_to_retarus() -> None:
    for resend, expected in ((False, Result.UNKNOWN), (True, Result.SENT)):
        store, clock, fallback, primary = FakeStore(), FakeClock(NOW), FakeFallback(), FakeProvider()
        store.items["r-1"] = {  # the claim named the fallback, then its invocation died during the call
            "state": State.SENDING,
            "claimUntil": NOW - 1,
            "messageId": "m-1",
            "claimToken": "dead",
            "provider": "aws-sms",
            "requestedAt": NOW,
        }
        s = sender(store, primary, fallback, clock, resend_unconfirmed=resend)
        assert attempt(s, 2) is expected
        assert primary.sent == []
        assert len(fallback.sent) == (1 if resend else 0)


def test_the_fallbacks_own_failures_are_retried_then_expire() -> None:
    store, clock = FakeStore(), FakeClock(NOW)
    fallback = FakeFallback(TransientError("SendTextMessage: ThrottlingException"))
    primary = Down(TransientError("503"))
    publisher = FakePublisher()
    s = make_sender(
        store,
        primary,
        publisher,
        failover=Failover(fallback, after_seconds=0, check_after=TRACKING_LIMIT),
        clock=clock,
        retry_delays=(10,),
    )
    with pytest.raises(RetryLater):
        attempt(s, 1)
    assert store.items["r-1"]["provider"] == "aws-sms" and store.items["r-1"]["state"] == State.RELEASED
    clock.now += 301
    assert attempt(s, 2) is Result.EXPIRED
    [event] = publisher.events
    assert event.body()["provider"] is None
    assert event.reason == "not sent within its validity of 300 s; last error: SendTextMessage: ThrottlingException"


def test_without_a_fallback_nothing_fails_over_and_no_claim_is_made_while_the_circuit_is_open() -> None:
    store, clock = FakeStore(), FakeClock(NOW)
    s = make_sender(store, Down(ConfigurationFault("401")), clock=clock)
    with pytest.raises(RetryLater):
        attempt(s, 1)
    clock.now += 200
    batch = s.batch(30)
    with pytest.raises(RetryLater):
        batch.handle(Incoming("m-1", BODY, sent_at=clock.now, receive_count=2))
    with pytest.raises(RetryLater):  # the circuit is open: not claimed, as before the fallback existed
        batch.handle(Incoming("m-2", json.dumps({"id": "r-2", "to": "+4917012345678", "text": "x"}), sent_at=clock.now))
    assert store.items["r-2"]["state"] == State.RELEASED and "claimToken" not in store.items["r-2"]


# --- the status use case and the delivery events ----------------------------------------------------


def fallback_job(store: FakeStore) -> None:
    s = sender(store, Down(TransientError("503")), FakeFallback(), FakeClock(NOW))
    body = json.dumps({"id": "r-1", "to": "+4917012345678", "text": "hi", "validitySeconds": 8})
    assert attempt(s, 1, body) is Result.SENT


def test_the_status_run_never_asks_retarus_about_a_fallback_job_and_ends_it_at_the_tracking_limit() -> None:
    store, provider, publisher = FakeStore(), FakeProvider(), FakePublisher()
    fallback_job(store)
    tracker = make_tracker(
        store, provider, publisher, tracking_limit_seconds=TRACKING_LIMIT, clock=lambda: NOW + TRACKING_LIMIT
    )
    summary = tracker.run(60)
    assert provider.reports == [] and summary.outcomes == {"UNKNOWN": 1}
    [event] = publisher.events
    assert event.body()["provider"] == "aws-sms" and event.body()["jobId"] == "msg-1"


DELIVERED = Verdict(Outcome.DELIVERED, "Delivered to the recipient's device.")
PENDING = Verdict(None, "The message is being delivered, but has not been delivered (or failed) yet.")


def test_events_repeated_and_out_of_order_give_one_outcome() -> None:
    store, publisher = FakeStore(), FakePublisher()
    fallback_job(store)
    outcomes = DeliveryOutcomes(store, publisher, publish_lease_seconds=60, clock=lambda: NOW + 5)

    def handle(verdict: Verdict, status: str, message_id: str = "msg-1") -> Handled:
        return outcomes.handle(
            request_id="r-1", message_id=message_id, verdict=verdict, status=ProviderStatus(status, status)
        )

    assert handle(PENDING, "TEXT_PENDING") is Handled.TRACKED
    assert handle(DELIVERED, "TEXT_DELIVERED") is Handled.FINISHED
    assert handle(DELIVERED, "TEXT_DELIVERED") is Handled.SETTLED
    assert handle(PENDING, "TEXT_PENDING") is Handled.SETTLED
    assert handle(DELIVERED, "TEXT_DELIVERED", message_id="another") is Handled.UNMATCHED
    [event] = publisher.events
    body = event.body()
    assert body["outcome"] == "DELIVERED" and body["provider"] == "aws-sms" and body["jobId"] == "msg-1"
    assert body["providerStatus"] == {"processStatus": "TEXT_DELIVERED", "status": "TEXT_DELIVERED"}
    assert store.items["r-1"]["state"] == State.DONE


def test_an_event_before_the_send_is_recorded_comes_back() -> None:
    store = FakeStore()
    fallback_job(store)
    store.items["r-1"]["state"] = State.SENDING  # as between the call and its record
    outcomes = DeliveryOutcomes(store, FakePublisher(), publish_lease_seconds=60)
    with pytest.raises(NotRecordedYet):
        outcomes.handle(request_id="r-1", message_id="msg-1", verdict=DELIVERED, status=ProviderStatus("x", "y"))
