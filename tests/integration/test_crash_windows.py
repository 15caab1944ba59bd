"""An invocation that died while it held a request's claim (between the claim and the record of
the POST's result): what a redelivery of the same message does."""

from __future__ import annotations

import time

import boto3

from sms_pipeline.jobs import JobStore, Origin
from support import REGION, Pipeline

REQUEST = '{"id": "crashed", "to": "+4917012345678", "text": "x"}'


def claim_as_a_dead_invocation(pipeline: Pipeline, message_id: str) -> None:
    env = pipeline.stack.function_environment("SendFunction")
    store = JobStore(
        boto3.client("dynamodb", region_name=REGION),
        env["JOBS_TABLE_NAME"],
        index_name=env["DUE_INDEX_NAME"],
        shards=int(env["DUE_INDEX_SHARDS"]),
        retention_seconds=86400,
        tracking_limit_seconds=3600,
    )
    origin = Origin(id="crashed", masked_to="+49170******78", reference=None, metadata={}, requested_at=time.time())
    store.claim(origin, message_id=message_id, now=time.time(), claim_until=time.time() + 600)


def test_redelivered_message_of_a_dead_claim_ends_unknown_without_a_post(pipeline: Pipeline) -> None:
    message_id = pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=REQUEST)["MessageId"]
    claim_as_a_dead_invocation(pipeline, message_id)

    result = pipeline.deliver(pipeline.handler("SendFunction"))

    assert result.failed == []
    assert pipeline.simulator.sms_posts() == []
    [event] = pipeline.outcomes()
    assert event["id"] == "crashed" and event["outcome"] == "UNKNOWN" and "interrupted" in event["reason"]


def test_redelivered_message_of_a_dead_claim_is_sent_under_the_resend_policy(pipeline: Pipeline) -> None:
    message_id = pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=REQUEST)["MessageId"]
    claim_as_a_dead_invocation(pipeline, message_id)

    result = pipeline.deliver(pipeline.handler("SendFunction", RESEND_UNCONFIRMED="true"))

    assert result.failed == []
    assert len(pipeline.simulator.sms_posts()) == 1
    assert pipeline.item("crashed")["state"] == "TRACKING"
    assert pipeline.outcomes() == []


def test_a_producers_duplicate_during_a_live_claim_is_acknowledged_and_not_sent(pipeline: Pipeline) -> None:
    claim_as_a_dead_invocation(pipeline, "another-message")
    pipeline.enqueue(REQUEST)

    result = pipeline.deliver(pipeline.handler("SendFunction", RESEND_UNCONFIRMED="true"))

    assert result.failed == [] and result.received == 1
    assert pipeline.simulator.sms_posts() == []
    assert pipeline.item("crashed")["state"] == "SENDING"
