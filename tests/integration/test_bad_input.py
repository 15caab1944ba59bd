"""Bad input and blind spots (issue #15) through the real handlers, against moto (server mode) and
the Retarus simulator: nothing a producer sends may leak, block an outcome or reach the wrong phone."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from support import Pipeline

FAST = {"STATUS_CHECK_DELAYS_SECONDS": "0"}
SNS_MAX = 256 * 1024


def _lines(logs: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.getvalue().splitlines()]


def test_a_huge_unknown_key_gives_a_rejection_that_fits_sns_and_repeats_nothing(
    pipeline: Pipeline, logs: io.StringIO
) -> None:
    key = "k" * 260_000
    pipeline.sqs.send_message(
        QueueUrl=pipeline.queue_url, MessageBody=json.dumps({"id": "huge", "to": "+4917012345678", "text": "x", key: 1})
    )
    assert pipeline.deliver(pipeline.handler("SendFunction")).failed == []
    [event] = pipeline.outcomes()
    assert event["outcome"] == "REJECTED" and event["id"] == "huge"
    assert event["reason"].startswith("body: has an unknown field")
    assert len(json.dumps(event).encode()) < 1000 < SNS_MAX
    assert "kkkkkkkkkk" not in logs.getvalue()
    assert pipeline.item("huge")["state"] == "DONE"


def test_a_phone_number_as_a_key_is_neither_in_the_reason_nor_in_the_log(pipeline: Pipeline, logs: io.StringIO) -> None:
    pipeline.enqueue({"id": "key", "to": "+4917012345678", "text": "x", "+4915112345678": "call me"})
    pipeline.deliver(pipeline.handler("SendFunction"))
    [event] = pipeline.outcomes()
    assert "4915112345678" not in event["reason"] and "4915112345678" not in logs.getvalue()


def _notification(request: dict[str, Any]) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": "5f3ad7a2-0000-4000-8000-00000000abcd",
            "TopicArn": "arn:aws:sns:eu-central-1:123456789012:producer",
            "Message": json.dumps(request),
        }
    )


def test_an_sns_notification_without_an_id_takes_its_sqs_message_id(pipeline: Pipeline) -> None:
    """Contract §1: `id` defaults to the SQS messageId, for an SNS envelope too: SNS delivering one
    notification twice makes two SQS messages, two requests (a producer sets `id` against that)."""
    body = _notification({"to": "+4917012345678", "text": "hello"})
    message_ids = [pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=body)["MessageId"] for _ in "12"]
    send = pipeline.handler("SendFunction")
    while pipeline.deliver(send).received:
        pass
    assert len(pipeline.simulator.sms_posts()) == 2
    envelope_id = {"id": {"S": "5f3ad7a2-0000-4000-8000-00000000abcd"}}  # SNS's MessageId names no request
    assert "Item" not in pipeline.dynamodb.get_item(TableName=pipeline.table, Key=envelope_id)
    for message_id in message_ids:
        assert pipeline.item(message_id)["state"] == "TRACKING"


def test_the_same_sns_notification_with_an_id_delivered_twice_is_sent_once(pipeline: Pipeline) -> None:
    body = _notification({"id": "order-1:otp", "to": "+4917012345678", "text": "hello"})
    pipeline.enqueue(body, body)  # SNS delivers at least once: two SQS messages
    send = pipeline.handler("SendFunction")
    while pipeline.deliver(send).received:
        pass
    assert len(pipeline.simulator.sms_posts()) == 1
    assert pipeline.item("order-1:otp")["state"] == "TRACKING"


@pytest.mark.parametrize("first_text", ["first", ""])  # the id spent by a send, or by a REJECTED
def test_a_different_request_under_a_spent_id_is_not_sent_but_is_told_apart(
    pipeline: Pipeline, logs: io.StringIO, capsys: pytest.CaptureFixture[str], first_text: str
) -> None:
    send = pipeline.handler("SendFunction", POWERTOOLS_METRICS_DISABLED="false")
    pipeline.enqueue({"id": "reused", "to": "+4917012345678", "text": first_text})
    pipeline.deliver(send)
    posts = len(pipeline.simulator.sms_posts())
    pipeline.enqueue({"id": "reused", "to": "+4917012345678", "text": first_text})  # the same again
    pipeline.enqueue({"id": "reused", "to": "+4917012345678", "text": "second, different"})

    assert pipeline.deliver(send).failed == [] and pipeline.deliver(send).failed == []

    assert len(pipeline.simulator.sms_posts()) == posts  # at most once per id (§2)
    warnings = [line for line in _lines(logs) if line["message"].startswith("a different request reused a spent id")]
    assert len(warnings) == 1 and warnings[0]["request_id"] == "reused"
    assert capsys.readouterr().out.count('"IdConflicts"') >= 1


def test_a_publish_that_keeps_failing_is_counted_and_its_lag_grows(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, a failed publish made the job due again at once, so the lag stayed near zero and
    nothing counted: an outcome that could never be published raised no alarm."""
    topic = pipeline.stack.output("OutcomesTopicArn")
    send = pipeline.handler("SendFunction", OUTCOMES_TOPIC_ARN=topic + "-gone")
    pipeline.enqueue({"id": "stuck", "to": "+4917012345678", "text": ""})
    pipeline.deliver(send)
    decided_ago = 600
    pipeline.dynamodb.update_item(
        TableName=pipeline.table,
        Key={"id": {"S": "stuck"}},
        UpdateExpression="SET completedAt = :at",
        ExpressionAttributeValues={":at": {"N": str(round(time.time() - decided_ago, 3))}},
    )
    broken = pipeline.handler(
        "StatusFunction", OUTCOMES_TOPIC_ARN=topic + "-gone", POWERTOOLS_METRICS_DISABLED="false", **FAST
    )
    for _ in range(2):
        summary = broken({"source": "aws.scheduler"}, pipeline.context("StatusFunction"))
        assert summary["publish_failures"] == 1
        assert summary["lag_seconds"] >= decided_ago
    emitted = capsys.readouterr().out
    assert '"PublishFailures"' in emitted and '"StatusLagSeconds":[6' in emitted


def test_the_status_function_logs_one_line_per_published_outcome(pipeline: Pipeline, logs: io.StringIO) -> None:
    send = pipeline.handler("SendFunction", **FAST)
    pipeline.enqueue({"id": "followed", "to": "+4917012345677", "text": "x"})
    pipeline.deliver(send)
    status = pipeline.handler("StatusFunction", **FAST)
    for _ in range(2):
        status({"source": "aws.scheduler"}, pipeline.context("StatusFunction"))
    job_id = pipeline.item("followed")["jobId"]
    [line] = [line for line in _lines(logs) if line["message"] == "outcome published"]
    assert line["request_id"] == "followed" and line["outcome"] == "SENT"
    assert line["to"] == "+4917*******77" and line["job_id"] == job_id
