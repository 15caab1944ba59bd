"""Provider outages and validity (contract §8) through the real send handler, against moto (server
mode) and the Retarus simulator: the retry delays the function gives the messages it fails, and
the EXPIRED end of a request that could not be sent in time.

No test sleeps: a request's age is set in its stored record (as an earlier attempt would have left
it), and a delay is read from the ChangeMessageVisibilityBatch call the function makes.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import boto3
import pytest

from local.event_source import SqsEventSource
from sms_pipeline.dynamodb.store import JobStore
from sms_pipeline.job import ClaimResult, Delivery, Job, Origin
from support import REGION, Pipeline, aws_hook

DOWN = "+4917012345650"  # the simulator answers POST /sms with 500 for this number, every time


class VisibilityCalls:
    """Every ChangeMessageVisibilityBatch the functions make: (receipt handle, seconds) per call."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, int]]] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append([(entry["ReceiptHandle"], entry["VisibilityTimeout"]) for entry in params["Entries"]])

    @property
    def seconds(self) -> list[int]:
        return [seconds for call in self.calls for _, seconds in call]


@pytest.fixture
def visibility() -> Any:
    calls = VisibilityCalls()
    with aws_hook("before-parameter-build.sqs.ChangeMessageVisibilityBatch", handler=calls):
        yield calls


def _age(pipeline: Pipeline, request_id: str, seconds: float) -> None:
    """Move the request's first attempt `seconds` into the past (what a long outage leaves)."""
    pipeline.dynamodb.update_item(
        TableName=pipeline.table,
        Key={"id": {"S": request_id}},
        UpdateExpression="SET requestedAt = :at",
        ExpressionAttributeValues={":at": {"N": str(round(time.time() - seconds, 3))}},
    )


def _not_visible(pipeline: Pipeline) -> int:
    attributes = pipeline.sqs.get_queue_attributes(
        QueueUrl=pipeline.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_failed_records_wait_their_retry_delay_set_in_one_call_per_invocation(
    pipeline: Pipeline, visibility: VisibilityCalls
) -> None:
    send = pipeline.handler("SendFunction", RETRY_DELAYS_SECONDS="30,60")
    pipeline.simulator.inject("503", count=1000, path="/sms")
    pipeline.enqueue(*({"id": f"wait-{n}", "to": "+4917012345678", "text": "x"} for n in range(5)))

    result = pipeline.deliver(send, visibility_seconds=180)

    assert result.received == 5 and len(result.failed) == 5
    assert len(visibility.calls) == 1 and len(visibility.calls[0]) == 5
    assert visibility.seconds == [30] * 5  # exactly the first delay (contract §8)
    assert pipeline.deliver(send).received == 0 and _not_visible(pipeline) == 5
    assert pipeline.item("wait-0")["lastError"] == "provider answered 503"


def test_the_delay_follows_the_receive_count_and_the_provider_gets_one_post_per_delay(
    pipeline: Pipeline, visibility: VisibilityCalls
) -> None:
    send = pipeline.handler("SendFunction", RETRY_DELAYS_SECONDS="0,0,60")
    pipeline.enqueue({"id": "count", "to": DOWN, "text": "x"})

    posts = []
    for _ in range(3):
        before = len(pipeline.simulator.sms_posts())
        assert pipeline.deliver(send, visibility_seconds=180).failed
        posts.append(len(pipeline.simulator.sms_posts()) - before)

    assert visibility.seconds == [0, 0, 60]  # exactly each attempt's delay
    # The first attempt retries at once (§3); the queue's later attempts make one POST each.
    assert posts == [3, 1, 1]
    assert pipeline.item("count")["attempts"] == 3


def test_a_delay_past_the_validity_is_cut_short_to_its_end(pipeline: Pipeline, visibility: VisibilityCalls) -> None:
    send = pipeline.handler("SendFunction", RETRY_DELAYS_SECONDS="900")
    pipeline.enqueue({"id": "short", "to": DOWN, "text": "x", "validitySeconds": 20})
    assert pipeline.deliver(send, visibility_seconds=180).failed
    [seconds] = visibility.seconds
    assert 1 <= seconds <= 20


def test_a_request_whose_validity_ended_during_the_outage_ends_expired_naming_the_last_error(
    pipeline: Pipeline, visibility: VisibilityCalls, logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    send = pipeline.handler("SendFunction", POWERTOOLS_METRICS_DISABLED="false")
    pipeline.enqueue({"id": "otp", "to": DOWN, "text": "Your code is 123456", "validitySeconds": 300})
    assert pipeline.deliver(send).failed
    assert pipeline.outcomes() == []
    posts = len(pipeline.simulator.sms_posts())
    _age(pipeline, "otp", 301)

    result = pipeline.deliver(send)

    assert result.received == 1 and result.failed == []
    assert len(pipeline.simulator.sms_posts()) == posts  # not sent again
    [event] = pipeline.outcomes()
    assert event["outcome"] == "EXPIRED" and event["_attributes"]["outcome"] == "EXPIRED"
    assert event["jobId"] is None and event["providerStatus"] is None and event["submittedAt"] is None
    assert event["reason"] == "not sent within its validity of 300 s; last error: provider answered 500"
    assert pipeline.item("otp")["state"] == "DONE"
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    [line] = [line for line in lines if line["message"].startswith("request not sent within its validity")]
    assert line["to"] == "+4917*******50" and line["validity_seconds"] == 300 and "Your code" not in str(line)
    [published] = [line for line in lines if line["message"] == "outcome published"]
    assert published["outcome"] == "EXPIRED" and published["to"] == "+4917*******50" and "job_id" not in published
    assert '"RequestsExpired"' in capsys.readouterr().out  # the metric, in the EMF line
    # Delivered once more (SQS is at least once): no second outcome, nothing sent.
    pipeline.enqueue({"id": "otp", "to": DOWN, "text": "Your code is 123456", "validitySeconds": 300})
    assert pipeline.deliver(send).failed == []
    assert pipeline.outcomes() == [] and len(pipeline.simulator.sms_posts()) == posts


def test_a_send_that_dies_before_recording_an_expiry_leaves_no_claim_and_the_request_still_ends_expired(
    pipeline: Pipeline,
) -> None:
    """A request past its validity is never claimed: a claim left by a dead invocation means a POST
    may have happened (UNKNOWN), which would be false here: nothing was sent."""
    dying = False

    def die_before_the_outcome(params: dict[str, Any], **_: Any) -> None:
        if dying and "outcome" in params.get("UpdateExpression", ""):
            raise RuntimeError("the invocation died here")

    with aws_hook("before-parameter-build.dynamodb.UpdateItem", handler=die_before_the_outcome):
        send = pipeline.handler("SendFunction")
    request = {"id": "otp", "to": DOWN, "text": "Your code is 123456", "validitySeconds": 300}
    pipeline.enqueue(request)
    assert pipeline.deliver(send).failed
    posts = len(pipeline.simulator.sms_posts())
    _age(pipeline, "otp", 301)

    dying = True
    assert pipeline.deliver(send, visibility_seconds=0).failed
    assert pipeline.outcomes() == []
    dying = False
    item = pipeline.item("otp")
    assert item["state"] == "RELEASED" and "claimUntil" not in item

    assert pipeline.deliver(send).failed == []
    [event] = pipeline.outcomes()
    assert event["outcome"] == "EXPIRED"
    assert event["reason"] == "not sent within its validity of 300 s; last error: provider answered 500"
    assert len(pipeline.simulator.sms_posts()) == posts


def test_the_claim_itself_refuses_a_request_past_its_validity_new_or_released(pipeline: Pipeline) -> None:
    """The write's condition checks the stored first requestedAt, not only this message's own."""
    store: JobStore = pipeline.job_store()
    now = time.time()

    def claim(request_id: str, requested_at: float) -> tuple[ClaimResult, Job]:
        origin = Origin(
            id=request_id, masked_to="+49170******78", reference=None, metadata={}, requested_at=requested_at
        )
        return store.claim(origin, Delivery("m", "t", now + 60), now=now, requested_after=now - 300)

    assert claim("new", now - 301)[0] is ClaimResult.PAST_VALIDITY
    assert pipeline.item("new")["state"] == "RELEASED" and "claimUntil" not in pipeline.item("new")
    assert claim("fresh", now - 299)[0] is ClaimResult.GRANTED
    store.release("fresh", token="t", error="provider answered 503")
    _age(pipeline, "fresh", 301)  # as a redriven message finds it: its own timestamp is recent
    result, job = claim("fresh", now)
    assert result is ClaimResult.PAST_VALIDITY and job.last_error == "provider answered 503"
    assert pipeline.item("fresh")["state"] == "RELEASED" and "claimUntil" not in pipeline.item("fresh")


@pytest.mark.parametrize("fixed_after_seconds", [60, 7200])
def test_a_request_redriven_from_the_dlq_after_a_fix_is_sent_once_while_valid_else_expires(
    pipeline: Pipeline, fixed_after_seconds: int
) -> None:
    """Redriven, a record is a new SQS message with a new SentTimestamp: the validity still counts
    from the request's first attempt."""
    send = pipeline.handler("SendFunction")
    pipeline.simulator.inject("503", count=3, path="/sms")
    request = {"id": "redriven", "to": "+4917012345678", "text": "x", "validitySeconds": 3600}
    pipeline.enqueue(request)
    assert pipeline.deliver(send).failed
    # The record reached the DLQ (a defect) and is redriven after the fix.
    pipeline.sqs.purge_queue(QueueUrl=pipeline.queue_url)
    _age(pipeline, "redriven", fixed_after_seconds)
    pipeline.enqueue(request)

    assert pipeline.deliver(send).failed == []
    sent = [post for post in pipeline.simulator.sms_posts() if post.fault is None]
    if fixed_after_seconds < 3600:
        assert len(sent) == 1 and pipeline.item("redriven")["state"] == "TRACKING"
        assert pipeline.outcomes() == []
        return
    assert sent == []
    [event] = pipeline.outcomes()
    assert event["outcome"] == "EXPIRED"
    assert event["reason"] == "not sent within its validity of 3600 s; last error: provider answered 503"
    assert all(post.fault == "503" for post in pipeline.simulator.sms_posts())


def test_a_configuration_fault_keeps_requests_until_fixed_or_expired(
    pipeline: Pipeline, visibility: VisibilityCalls
) -> None:
    secretsmanager = boto3.client("secretsmanager", region_name=REGION)
    arn = pipeline.stack.parameters["RetarusSecretArn"]
    good = json.dumps({"user": "sim-user", "password": pipeline.simulator.password})
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps({"user": "sim-user", "password": "wrong"}))
    send = pipeline.handler("SendFunction", RETRY_DELAYS_SECONDS="5")
    pipeline.enqueue(*({"id": f"cfg-{n}", "to": "+4917012345678", "text": "x"} for n in range(3)))

    assert len(pipeline.deliver(send, visibility_seconds=180).failed) == 3
    assert len(visibility.seconds) == 3 and all(4 <= seconds <= 5 for seconds in visibility.seconds)
    for n in range(3):
        item = pipeline.item(f"cfg-{n}")
        assert item["state"] == "RELEASED" and "refused the credentials" in item["lastError"]

    # The secret is fixed; by the time the records come back, one has waited past its validity
    # (DefaultValiditySeconds, 4 hours by default).
    secretsmanager.put_secret_value(SecretId=arn, SecretString=good)
    _age(pipeline, "cfg-0", 14401)
    pipeline.sqs.change_message_visibility_batch(  # the five seconds are over
        QueueUrl=pipeline.queue_url,
        Entries=[
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for index, (handle, _) in enumerate(visibility.calls[0])
        ],
    )
    result = pipeline.deliver(pipeline.handler("SendFunction"))

    assert result.received == 3 and result.failed == []
    [event] = pipeline.outcomes()
    assert event["id"] == "cfg-0" and event["outcome"] == "EXPIRED"
    assert event["reason"].startswith(
        "not sent within its validity of 14400 s; last error: 401, the provider refused the credentials"
    )
    assert {pipeline.item(f"cfg-{n}")["state"] for n in (1, 2)} == {"TRACKING"}


def test_the_local_event_source_leaves_a_failed_record_to_its_visibility(pipeline: Pipeline) -> None:
    """As Lambda does: a record the function fails without a delay of its own comes back when the
    visibility it was received with runs out, not sooner."""
    source = SqsEventSource(pipeline.sqs, pipeline.queue_url, region=REGION, wait_seconds=0, visibility_seconds=60)
    pipeline.enqueue({"id": "left", "to": "+4917012345678", "text": "x"})

    result = source.poll_once(
        lambda event: {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    )

    assert len(result.failed) == 1
    assert source.poll_once(lambda event: {}).received == 0 and _not_visible(pipeline) == 1
