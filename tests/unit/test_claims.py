"""The claim's life in the send use case, over the in-memory fakes."""

from __future__ import annotations

import json

import pytest
from fakes import FakeProvider, FakeStore, make_sender

from sms_pipeline.job import State
from sms_pipeline.ports import ConfigurationFault
from sms_pipeline.sending import Incoming, Result, RetryLater, Sender

BODY = json.dumps({"id": "r-1", "to": "+4917012345678", "text": "hi"})
NOW = 1_800_000_000.0


def sender(store: FakeStore, provider: FakeProvider, *, resend: bool = False) -> Sender:
    return make_sender(store, provider, resend_unconfirmed=resend, clock=lambda: NOW)


class SecretUnreadable(FakeProvider):
    def ready(self) -> None:
        raise ConfigurationFault("cannot read the Retarus secret arn:x (ResourceNotFoundException)")


def test_a_secret_that_cannot_be_read_fails_the_record_before_it_claims() -> None:
    """From the claim on the POST may be under way, so what can fail or stall before it comes first:
    the record leaves no claim behind, only its error (for an EXPIRED outcome's reason), and its
    redelivery is sent once the secret is fixed."""
    store, provider = FakeStore(), SecretUnreadable()
    batch = sender(store, provider).batch(30)

    with pytest.raises(RetryLater, match="Retarus secret"):
        batch.handle(Incoming(message_id="m-1", body=BODY, sent_at=NOW))

    assert store.items["r-1"]["state"] == State.RELEASED and "claimToken" not in store.items["r-1"]
    assert "Retarus secret" in store.items["r-1"]["lastError"]
    assert provider.sent == [] and batch.circuit_open
    sender(store, FakeProvider()).batch(30).handle(Incoming(message_id="m-1", body=BODY, sent_at=NOW))
    assert store.items["r-1"]["state"] == State.TRACKING


def test_a_redelivery_after_the_claimant_died_follows_the_resend_policy() -> None:
    """The claimant died between its claim and the record of its POST's result: the POST may have
    reached the provider."""
    for resend, expected, sent in ((False, Result.UNKNOWN, 0), (True, Result.SENT, 1)):
        store, provider = FakeStore(), FakeProvider()
        store.items["r-1"] = {"state": State.SENDING, "claimUntil": 0.0, "messageId": "m-1", "claimToken": "dead"}

        result = sender(store, provider, resend=resend).batch(30).handle(Incoming("m-1", BODY, sent_at=NOW))

        assert result is expected and len(provider.sent) == sent


def test_a_second_copy_of_a_message_in_flight_is_retried_later_not_sent_nor_acknowledged() -> None:
    """SQS may hand out two copies of one message at once: the copy that finds the other's live
    claim fails back to SQS (so a message remains if the holder dies) and never POSTs."""
    store, provider = FakeStore(), FakeProvider()
    store.items["r-1"] = {"state": State.SENDING, "claimUntil": 1e12, "messageId": "m-1", "claimToken": "holder"}

    with pytest.raises(RetryLater):
        sender(store, provider).batch(30).handle(Incoming(message_id="m-1", body=BODY, sent_at=NOW))

    assert provider.sent == [] and store.items["r-1"]["claimToken"] == "holder"


def test_a_live_claim_of_another_message_is_a_duplicate_to_acknowledge() -> None:
    store, provider = FakeStore(), FakeProvider()
    store.items["r-1"] = {"state": State.SENDING, "claimUntil": 1e12, "messageId": "m-0", "claimToken": "holder"}

    result = sender(store, provider).batch(30).handle(Incoming(message_id="m-1", body=BODY, sent_at=NOW))

    assert result is Result.DUPLICATE and provider.sent == []


def test_the_local_event_source_brings_a_dead_invocations_batch_back_after_its_claims_expired() -> None:
    from local.pipeline import CRASH_RETRY_MARGIN_SECONDS
    from sms_pipeline.sending import CLAIM_MARGIN_SECONDS

    assert CRASH_RETRY_MARGIN_SECONDS > CLAIM_MARGIN_SECONDS
