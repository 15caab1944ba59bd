"""Failover to the second provider (contract §12) through the real handlers, on moto (server mode),
the Retarus simulator and the AWS SMS simulator, whose delivery events reach the stack's events
queue through its SNS topic.

No test sleeps through FailoverAfterSeconds (30 s in these stacks): a request's first attempt is
moved into the past in its stored record, as a long outage would have left it.
"""

from __future__ import annotations

import time
from typing import Any

from support import Pipeline

DOWN = "+4917012345650"  # Retarus's simulator answers 500 for this number; AWS SMS's delivers it


def _age(pipeline: Pipeline, request_id: str, attribute: str, seconds: float) -> None:
    pipeline.dynamodb.update_item(
        TableName=pipeline.table,
        Key={"id": {"S": request_id}},
        UpdateExpression=f"SET {attribute} = :at",
        ExpressionAttributeValues={":at": {"N": str(round(time.time() - seconds, 3))}},
    )


def _events(pipeline: Pipeline, count: int) -> Any:
    """The events function over the events queue until `count` events were handed to it."""
    assert pipeline.aws_sms is not None and pipeline.aws_sms.wait_for_events(count)
    handler = pipeline.handler("FallbackEventsFunction")
    received = 0
    for _ in range(20):  # each poll returns what the queue holds: no sleeping
        if received >= count:
            break
        received += pipeline.deliver_events(handler).received
    assert received == count
    return handler


def test_a_request_retarus_cannot_take_fails_over_after_the_delay_and_ends_delivered(
    fallback_pipeline: Pipeline,
) -> None:
    pipeline = fallback_pipeline
    assert pipeline.aws_sms is not None
    send = pipeline.handler("SendFunction")
    pipeline.enqueue({"id": "fo-1", "to": DOWN, "text": "code 1", "reference": "ref-1"})

    first = pipeline.deliver(send)  # Retarus 500, within FailoverAfterSeconds: back to the queue
    assert len(first.failed) == 1 and pipeline.aws_sms.accepted == []
    item = pipeline.item("fo-1")
    assert item["state"] == "RELEASED" and item["provider"] == "retarus" and "firstAttemptAt" in item

    posts = len(pipeline.simulator.sms_posts())  # the first attempt retries at once (contract §3)
    _age(pipeline, "fo-1", "firstAttemptAt", 31)
    second = pipeline.deliver(send)  # Retarus 500 again, 31 s after the first attempt: the fallback sends it
    assert second.failed == []
    [message] = pipeline.aws_sms.accepted
    item = pipeline.item("fo-1")
    assert item["state"] == "TRACKING" and item["provider"] == "aws-sms" and item["jobId"] == message.message_id
    assert message.context == {"requestId": "fo-1"} and message.message_type == "TRANSACTIONAL"
    assert len(pipeline.simulator.sms_posts()) == posts + 1  # Retarus is tried once more, first

    _events(pipeline, 2)  # TEXT_PENDING, TEXT_DELIVERED
    [event] = pipeline.outcomes()
    assert event["outcome"] == "DELIVERED" and event["provider"] == "aws-sms"
    assert event["jobId"] == message.message_id and event["reference"] == "ref-1"
    assert event["providerStatus"] == {"processStatus": "TEXT_DELIVERED", "status": "DELIVERED"}
    assert pipeline.item("fo-1")["state"] == "DONE"

    # The scheduled run never asks Retarus about a job sent through the fallback.
    pipeline.handler("StatusFunction")({}, pipeline.context("StatusFunction"))
    assert pipeline.simulator.report_calls() == []


def test_a_request_whose_validity_ends_before_its_next_retry_fails_over_at_once(fallback_pipeline: Pipeline) -> None:
    pipeline = fallback_pipeline
    assert pipeline.aws_sms is not None
    send = pipeline.handler("SendFunction", RETRY_DELAYS_SECONDS="60")
    pipeline.enqueue({"id": "fo-short", "to": DOWN, "text": "x", "validitySeconds": 30})

    assert pipeline.deliver(send).failed == []
    assert pipeline.item("fo-short")["provider"] == "aws-sms"
    assert 5 <= pipeline.aws_sms.accepted[0].time_to_live <= 30  # type: ignore[operator]


def test_an_unknown_retarus_result_never_fails_over(fallback_pipeline: Pipeline) -> None:
    """Retarus may have sent it: UNKNOWN by default; resent by policy, it stays with Retarus even
    when Retarus then fails for longer than FailoverAfterSeconds, until its validity ends."""
    pipeline = fallback_pipeline
    assert pipeline.aws_sms is not None
    pipeline.simulator.inject("hang", count=1, path="/sms")
    pipeline.enqueue({"id": "unk-1", "to": "+4917012345678", "text": "x"})
    pipeline.deliver(pipeline.handler("SendFunction"))
    [event] = pipeline.outcomes()
    assert event["outcome"] == "UNKNOWN" and event["provider"] == "retarus" and event["jobId"] is None

    resend = pipeline.handler("SendFunction", RESEND_UNCONFIRMED="true")
    pipeline.simulator.inject("hang", count=1, path="/sms")
    pipeline.enqueue({"id": "unk-2", "to": DOWN, "text": "x"})
    assert len(pipeline.deliver(resend).failed) == 1
    assert pipeline.item("unk-2")["unconfirmed"] is True
    _age(pipeline, "unk-2", "firstAttemptAt", 3600)
    assert len(pipeline.deliver(resend).failed) == 1  # Retarus 500 now: still not failed over
    assert pipeline.aws_sms.accepted == [] and pipeline.item("unk-2")["provider"] == "retarus"


def test_the_fallbacks_own_failures_are_retried_within_the_validity_then_expired(fallback_pipeline: Pipeline) -> None:
    pipeline = fallback_pipeline
    assert pipeline.aws_sms is not None
    send = pipeline.handler("SendFunction")  # retry delays 0: each delivery is the next attempt
    pipeline.aws_sms.inject("500", count=2)
    pipeline.aws_sms.inject("throttling", count=1)
    pipeline.enqueue({"id": "both-down", "to": DOWN, "text": "x", "validitySeconds": 300})
    pipeline.deliver(send)  # Retarus 500: released
    _age(pipeline, "both-down", "firstAttemptAt", 31)

    assert len(pipeline.deliver(send).failed) == 1  # Retarus 500, failed over, AWS SMS 500
    item = pipeline.item("both-down")
    assert item["state"] == "RELEASED" and item["provider"] == "aws-sms"
    assert "InternalServerException" in item["lastError"]
    posts = len(pipeline.simulator.sms_posts())
    assert len(pipeline.deliver(send).failed) == 1  # straight to the fallback: 500 again
    assert len(pipeline.deliver(send).failed) == 1  # throttled
    assert len(pipeline.simulator.sms_posts()) == posts  # Retarus is not asked again

    _age(pipeline, "both-down", "requestedAt", 301)
    assert pipeline.deliver(send).failed == []
    [event] = pipeline.outcomes()
    assert event["outcome"] == "EXPIRED" and event["provider"] is None and event["jobId"] is None
    assert "ThrottlingException" in event["reason"]
    assert pipeline.aws_sms.accepted == []


def test_repeated_events_out_of_order_give_one_outcome(fallback_pipeline: Pipeline) -> None:
    pipeline = fallback_pipeline
    assert pipeline.aws_sms is not None
    pipeline.aws_sms.repeat_events = 3
    pipeline.aws_sms.out_of_order = True
    send = pipeline.handler("SendFunction", RETRY_DELAYS_SECONDS="60")
    # validity shorter than the next retry: fails over at the first Retarus failure
    pipeline.enqueue({"id": "rep-1", "to": "+4917012345650", "text": "x", "validitySeconds": 20})
    pipeline.deliver(send)
    _events(pipeline, 6)  # TEXT_DELIVERED x3 first, then TEXT_PENDING x3
    [event] = pipeline.outcomes()
    assert event["outcome"] == "DELIVERED" and event["id"] == "rep-1"
    assert pipeline.item("rep-1")["state"] == "DONE"


def test_an_event_before_the_record_of_its_send_comes_back_later(fallback_pipeline: Pipeline) -> None:
    """The provider may report before the send function recorded the MessageId: the event fails in
    the batch response, and decides the outcome once it comes back."""
    pipeline = fallback_pipeline
    assert pipeline.aws_sms is not None
    send = pipeline.handler("SendFunction", RETRY_DELAYS_SECONDS="60")
    pipeline.enqueue({"id": "early-1", "to": DOWN, "text": "x", "validitySeconds": 20})
    pipeline.deliver(send)
    item = pipeline.item("early-1")
    pipeline.dynamodb.update_item(  # as if the events came between the call and its record
        TableName=pipeline.table,
        Key={"id": {"S": "early-1"}},
        UpdateExpression="SET #s = :sending",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":sending": {"S": "SENDING"}},
    )
    assert pipeline.aws_sms.wait_for_events(2)
    handler = pipeline.handler("FallbackEventsFunction")
    failed = []
    for _ in range(5):
        failed += pipeline.deliver_events(handler, visibility_seconds=0).failed
        if failed:
            break
    assert failed and pipeline.outcomes() == []
    pipeline.dynamodb.update_item(
        TableName=pipeline.table,
        Key={"id": {"S": "early-1"}},
        UpdateExpression="SET #s = :tracking",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":tracking": {"S": item["state"]}},
    )
    for _ in range(10):
        pipeline.deliver_events(handler, visibility_seconds=0)
        if pipeline.item("early-1")["state"] == "DONE":
            break
    [event] = pipeline.outcomes()
    assert event["outcome"] == "DELIVERED" and event["provider"] == "aws-sms"


def test_without_a_fallback_an_outage_ends_as_before(pipeline: Pipeline) -> None:
    """FallbackProvider none: however long Retarus fails, nothing fails over and the request ends
    EXPIRED as contract §8 says, its event with provider null."""
    send = pipeline.handler("SendFunction")
    assert "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2" not in pipeline.env
    pipeline.enqueue({"id": "none-1", "to": DOWN, "text": "x", "validitySeconds": 300})
    assert len(pipeline.deliver(send).failed) == 1
    _age(pipeline, "none-1", "firstAttemptAt", 3600)
    assert len(pipeline.deliver(send).failed) == 1
    assert pipeline.item("none-1")["provider"] == "retarus"
    _age(pipeline, "none-1", "requestedAt", 301)
    pipeline.deliver(send)
    [expired] = pipeline.outcomes()
    assert expired["outcome"] == "EXPIRED" and expired["provider"] is None
    assert expired["reason"] == "not sent within its validity of 300 s; last error: provider answered 500"

    pipeline.enqueue({"id": "none-2", "to": "+4917012345678", "text": "x"})
    pipeline.deliver(send)
    assert pipeline.item("none-2")["provider"] == "retarus"
