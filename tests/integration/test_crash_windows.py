"""An invocation that died while it held a request's claim: what a redelivery of the same message
does. The claim is made once the request is valid and the credentials are read, right before the
POST, so a dead claim's POST may have reached the provider and ResendUnconfirmed decides (§2)."""

from __future__ import annotations

import time
from typing import Any

from sms_pipeline.job import Delivery, Origin
from support import Pipeline, aws_hook

REQUEST = '{"id": "crashed", "to": "+4917012345678", "text": "x"}'


def claim_as_another_invocation(pipeline: Pipeline, message_id: str, *, alive: bool = False) -> None:
    """What another send invocation leaves after its claim: dead (its claim time is up) or alive."""
    store = pipeline.job_store()
    origin = Origin(id="crashed", masked_to="+49170******78", reference=None, metadata={}, requested_at=time.time())
    claim_until = time.time() + (600 if alive else -1)
    store.claim(origin, Delivery(message_id, "theirs", claim_until), now=time.time(), requested_after=time.time() - 60)


def test_a_dead_claim_that_may_have_posted_ends_unknown_without_a_post(pipeline: Pipeline) -> None:
    message_id = pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=REQUEST)["MessageId"]
    claim_as_another_invocation(pipeline, message_id)

    result = pipeline.deliver(pipeline.handler("SendFunction"))

    assert result.failed == []
    assert pipeline.simulator.sms_posts() == []
    [event] = pipeline.outcomes()
    assert event["id"] == "crashed" and event["outcome"] == "UNKNOWN" and "interrupted" in event["reason"]


def test_a_dead_claim_that_may_have_posted_is_sent_again_under_the_resend_policy(pipeline: Pipeline) -> None:
    message_id = pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=REQUEST)["MessageId"]
    claim_as_another_invocation(pipeline, message_id)

    result = pipeline.deliver(pipeline.handler("SendFunction", RESEND_UNCONFIRMED="true"))

    assert result.failed == []
    assert len(pipeline.simulator.sms_posts()) == 1
    assert pipeline.item("crashed")["state"] == "TRACKING"
    assert pipeline.outcomes() == []


def test_a_producers_duplicate_during_a_live_claim_is_acknowledged_and_not_sent(pipeline: Pipeline) -> None:
    claim_as_another_invocation(pipeline, "another-message", alive=True)
    pipeline.enqueue(REQUEST)

    result = pipeline.deliver(pipeline.handler("SendFunction", RESEND_UNCONFIRMED="true"))

    assert result.failed == [] and result.received == 1
    assert pipeline.simulator.sms_posts() == []
    assert pipeline.item("crashed")["state"] == "SENDING"


def test_a_second_copy_of_a_message_whose_claim_is_live_goes_back_to_the_queue(pipeline: Pipeline) -> None:
    """SQS delivers at least once: two copies of one message may be handled at the same time. The
    copy that finds the other's live claim neither sends nor is acknowledged."""
    message_id = pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=REQUEST)["MessageId"]
    claim_as_another_invocation(pipeline, message_id, alive=True)

    result = pipeline.deliver(pipeline.handler("SendFunction"))

    assert result.failed == [message_id]
    assert pipeline.simulator.sms_posts() == [] and pipeline.outcomes() == []
    assert pipeline.item("crashed")["claimToken"] == "theirs"


def test_a_send_claims_after_reading_the_secret_and_right_before_its_post(pipeline: Pipeline) -> None:
    """Nothing that can stall lies between the claim and the POST: the secret is read first."""
    calls: list[tuple[str, int]] = []

    def record(model: Any, **_: Any) -> None:
        calls.append((model.name, len(pipeline.simulator.sms_posts())))

    with aws_hook("before-call", handler=record):
        pipeline.enqueue(REQUEST)
        pipeline.deliver(pipeline.handler("SendFunction"))

    # The opt-out list is read before the claim (contract §10), then the claim, the POST, the record,
    # and after the batch the first check's timer.
    assert calls == [
        ("GetSecretValue", 0),
        ("BatchGetItem", 0),
        ("PutItem", 0),
        ("UpdateItem", 1),
        ("SendMessageBatch", 1),
    ]
    item = pipeline.item("crashed")
    assert item["state"] == "TRACKING" and not {"claimUntil", "claimToken"} & set(item)
