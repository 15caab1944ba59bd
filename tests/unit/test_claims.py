"""The claim's life in the send use case, over the in-memory fakes."""

from __future__ import annotations

import json

import pytest
from fakes import FakeProvider, FakePublisher, FakeStore

from sms_pipeline.jobs import State
from sms_pipeline.sending import Incoming, Result, RetryLater, Sender

BODY = json.dumps({"id": "r-1", "to": "+4917012345678", "text": "hi"})


def sender(store: FakeStore, provider: FakeProvider, *, resend: bool = False) -> Sender:
    return Sender(
        store, FakePublisher(), provider, resend_unconfirmed=resend, first_check_delay=30, publish_lease_seconds=60
    )


class TakenOverBeforeThePost(FakeStore):
    """Another delivery takes the claim over while this one is between its claim and its POST."""

    def posting(self, request_id: str, *, token: str, now: float) -> bool:
        self.items[request_id]["claimToken"] = "the-other-delivery"
        return super().posting(request_id, token=token, now=now)


def test_a_delivery_that_lost_its_claim_before_the_post_does_not_send_and_comes_back() -> None:
    store, provider = TakenOverBeforeThePost(), FakeProvider()

    with pytest.raises(RetryLater):  # not acknowledged: the winner may be a copy of this message
        sender(store, provider).batch(30).handle(Incoming(message_id="m-1", body=BODY, sent_at=0))

    assert provider.sent == []
    assert store.items["r-1"]["state"] == State.SENDING and "postingAt" not in store.items["r-1"]


def test_a_redelivery_after_a_death_before_the_post_sends_under_either_policy() -> None:
    for resend in (False, True):
        store, provider = FakeStore(), FakeProvider()
        store.items["r-1"] = {"state": State.SENDING, "claimUntil": 0.0, "messageId": "m-1", "claimToken": "dead"}

        result = sender(store, provider, resend=resend).batch(30).handle(Incoming("m-1", BODY, sent_at=0))

        assert result is Result.SENT and len(provider.sent) == 1


def test_a_second_copy_of_a_message_in_flight_is_retried_later_not_sent_nor_acknowledged() -> None:
    """SQS may hand out two copies of one message at once: the copy that finds the other's live
    claim fails back to SQS (so a message remains if the holder dies) and never POSTs."""
    store, provider = FakeStore(), FakeProvider()
    store.items["r-1"] = {"state": State.SENDING, "claimUntil": 1e12, "messageId": "m-1", "claimToken": "holder"}

    with pytest.raises(RetryLater):
        sender(store, provider).batch(30).handle(Incoming(message_id="m-1", body=BODY, sent_at=0))

    assert provider.sent == [] and store.items["r-1"]["claimToken"] == "holder"


def test_a_live_claim_of_another_message_is_a_duplicate_to_acknowledge() -> None:
    store, provider = FakeStore(), FakeProvider()
    store.items["r-1"] = {"state": State.SENDING, "claimUntil": 1e12, "messageId": "m-0", "claimToken": "holder"}

    result = sender(store, provider).batch(30).handle(Incoming(message_id="m-1", body=BODY, sent_at=0))

    assert result is Result.DUPLICATE and provider.sent == []


def test_the_local_event_source_brings_a_dead_invocations_batch_back_after_its_claims_expired() -> None:
    from local.pipeline import CRASH_RETRY_MARGIN_SECONDS
    from sms_pipeline.sending import CLAIM_MARGIN_SECONDS

    assert CRASH_RETRY_MARGIN_SECONDS > CLAIM_MARGIN_SECONDS
