"""The send path through the real handler, against moto (server mode) and the Retarus simulator."""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import boto3
import pytest

from support import REGION, Pipeline, aws_hook

FULL_REQUEST = {
    "id": "order-4711:otp",
    "to": "+49 (170) 123-456.78",
    "text": "Your code is 123456",
    "from": "ACME Ltd.",
    "deliveryReport": True,
    "priority": "express",
    "billingCode": "cost-centre-7",
    "reference": "ref-42",
    "metadata": {"tenant": "acme", "attempt": 1},
}


def test_valid_request_is_sent_with_every_field_mapped_and_recorded(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.enqueue(FULL_REQUEST)

    result = pipeline.deliver(send)

    assert result.received == 1 and result.failed == []
    [post] = pipeline.simulator.sms_posts()
    assert post.params["dst"] == "+4917012345678"
    assert post.params["msg"] == "Your code is 123456"
    assert post.params["src"] == "ACME Ltd."
    assert post.params["dn"] == "true"
    assert post.params["qos"] == "express"
    assert post.params["bc"] == "cost-centre-7"
    assert post.params["ref"] == "ref-42"
    # Credentials and text travel in the form body, never in the URL.
    assert post.query == ""
    assert "metadata" not in post.params and "tenant" not in post.body.decode()
    item = pipeline.item("order-4711:otp")
    assert item is not None
    assert item["state"] == "TRACKING"
    assert item["jobId"] == next(iter(pipeline.simulator.jobs))
    assert item["to"] == "+4917*******78"
    assert "dueAt" in item and "dueShard" in item and "expiresAt" in item
    assert pipeline.outcomes() == []


def test_defaults_when_optional_fields_are_absent(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.enqueue({"to": "0170 1234567", "text": "hi"})
    pipeline.deliver(send)
    [post] = pipeline.simulator.sms_posts()
    assert post.params["dst"] == "01701234567"
    assert post.params["dn"] == "false"
    assert post.params["qos"] == "normal"
    assert "src" not in post.params and "bc" not in post.params and "ref" not in post.params


def test_a_sender_id_with_a_leading_or_trailing_space_is_sent_as_it_is(pipeline: Pipeline) -> None:
    """Contract §1: up to 11 characters of A-Z a-z 0-9, space and ASCII punctuation."""
    send = pipeline.handler("SendFunction")
    pipeline.enqueue({"id": "padded", "to": "+4917012345678", "text": "x", "from": " ACME Ltd "})
    assert pipeline.deliver(send).failed == []
    [post] = pipeline.simulator.sms_posts()
    assert post.params["src"] == " ACME Ltd "
    assert pipeline.item("padded")["state"] == "TRACKING"


def test_message_text_reaches_the_provider_byte_for_byte(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    text = "a&pass=x?#€ 😀"
    pipeline.enqueue({"to": "+4917012345678", "text": text})
    pipeline.deliver(send)
    [post] = pipeline.simulator.sms_posts()
    assert post.params["msg"] == text
    assert post.params["pass"] == pipeline.simulator.password


def test_same_id_delivered_three_times_is_posted_once(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    request = {"id": "dup-1", "to": "+4917012345678", "text": "once"}
    pipeline.enqueue(request, request)  # two in one batch, handled concurrently
    first = pipeline.deliver(send)
    pipeline.enqueue(request)  # and a late third
    second = pipeline.deliver(send)

    assert first.received + second.received == 3
    assert first.failed == [] and second.failed == []
    assert len(pipeline.simulator.sms_posts()) == 1
    assert pipeline.outcomes() == []


def test_the_records_of_a_batch_are_posted_at_the_same_time(pipeline: Pipeline) -> None:
    """A batch of ten costs about one provider round trip, not ten: the simulator answers no POST
    until all ten are waiting for it."""
    send = pipeline.handler("SendFunction")
    pipeline.simulator.gather_sends(10)
    pipeline.enqueue(*[{"id": f"together-{n}", "to": f"+49170123456{n:02d}", "text": "hi"} for n in range(10)])
    result = pipeline.deliver(send)

    assert result.received == 10 and result.failed == []
    assert len(pipeline.simulator.sms_posts()) == 10
    assert not pipeline.simulator.gate_broken


def test_sns_envelope_is_unwrapped(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    envelope = {
        "Type": "Notification",
        "MessageId": "d0a0b8e0-0000-4000-8000-000000000000",
        "TopicArn": "arn:aws:sns:eu-central-1:123456789012:producer",
        "Message": json.dumps({"id": "via-sns", "to": "+4917012345678", "text": "hello"}),
        "Timestamp": "2026-11-25T08:00:00.000Z",
    }
    pipeline.enqueue(envelope)
    pipeline.deliver(send)
    [post] = pipeline.simulator.sms_posts()
    assert post.params["msg"] == "hello"
    assert pipeline.item("via-sns")["state"] == "TRACKING"


INVALID: list[tuple[str, str]] = [
    ("not json", "body"),
    ("[1, 2]", "body"),
    ('"just a string"', "body"),
    ("{}", "to"),
    ('{"to": "+4917012345678"}', "text"),
    ('{"to": 4917012345678, "text": "x"}', "to"),
    ('{"to": "call me", "text": "x"}', "to"),
    ('{"to": "+49 170 12x", "text": "x"}', "to"),
    ('{"to": "+4917012345678", "text": ""}', "text"),
    ('{"to": "+4917012345678", "text": 5}', "text"),
    (json.dumps({"to": "+4917012345678", "text": "x" * 1601}), "text"),
    ('{"id": "", "to": "+4917012345678", "text": "x"}', "id"),
    ('{"id": "has space", "to": "+4917012345678", "text": "x"}', "id"),
    (json.dumps({"id": "a" * 129, "to": "+4917012345678", "text": "x"}), "id"),
    ('{"id": 7, "to": "+4917012345678", "text": "x"}', "id"),
    ('{"to": "+4917012345678", "text": "x", "from": "TwelveChars!"}', "from"),
    ('{"to": "+4917012345678", "text": "x", "from": "+123456789012345678901"}', "from"),
    ('{"to": "+4917012345678", "text": "x", "from": "Ümlaut"}', "from"),
    ('{"to": "+4917012345678", "text": "x", "deliveryReport": "yes"}', "deliveryReport"),
    ('{"to": "+4917012345678", "text": "x", "deliveryReport": 1}', "deliveryReport"),
    ('{"to": "+4917012345678", "text": "x", "priority": "urgent"}', "priority"),
    (json.dumps({"to": "+4917012345678", "text": "x", "billingCode": "b" * 71}), "billingCode"),
    (json.dumps({"to": "+4917012345678", "text": "x", "reference": "r" * 71}), "reference"),
    ('{"to": "+4917012345678", "text": "x", "metadata": [1]}', "metadata"),
    (json.dumps({"to": "+4917012345678", "text": "x", "metadata": {"k": "v" * 2048}}), "metadata"),
    ('{"to": "+4917012345678", "text": "x", "colour": "red"}', "colour"),
    ('{"to": "+4917012345678", "text": "\\ud800"}', "text"),
]


def test_invalid_requests_are_rejected_without_post_or_batch_failure(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    for body, _ in INVALID:
        pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=body)
    failed: list[str] = []
    for _ in range(len(INVALID) // 10 + 2):
        failed += pipeline.deliver(send).failed

    assert failed == []
    assert pipeline.simulator.sms_posts() == []
    events = pipeline.outcomes()
    assert len(events) == len(INVALID)
    assert {event["outcome"] for event in events} == {"REJECTED"}
    assert {event["_attributes"]["outcome"] for event in events} == {"REJECTED"}
    reasons = sorted(event["reason"] for event in events)
    for _, field in INVALID:
        assert any(reason.startswith(f"{field}:") for reason in reasons), field
    for event in events:
        assert event["jobId"] is None and event["providerStatus"] is None and event["submittedAt"] is None


def test_rejected_event_keeps_the_producers_id_reference_and_metadata(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.enqueue({"id": "bad-1", "to": "+4917012345678", "text": "", "reference": "r-1", "metadata": {"k": "v"}})
    pipeline.deliver(send)
    [event] = pipeline.outcomes()
    assert event["id"] == "bad-1"
    assert event["reference"] == "r-1"
    assert event["metadata"] == {"k": "v"}
    assert event["to"] == "+4917*******78"
    assert event["schemaVersion"] == 1 and event["eventId"]
    assert event["requestedAt"].endswith("Z") and event["completedAt"].endswith("Z")


def test_provider_400_ends_as_rejected(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.enqueue({"id": "p400", "to": "+4917012345640", "text": "x"})  # the simulator refuses …40
    result = pipeline.deliver(send)
    assert result.failed == []
    [event] = pipeline.outcomes()
    assert event["outcome"] == "REJECTED" and event["id"] == "p400" and "400" in event["reason"]
    assert pipeline.item("p400")["state"] == "DONE"


def test_401_fails_the_batch_and_publishes_nothing(pipeline: Pipeline, logs: io.StringIO) -> None:
    secretsmanager = boto3.client("secretsmanager", region_name=REGION)
    arn = pipeline.stack.parameters["RetarusSecretArn"]
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps({"user": "sim-user", "password": "wrong"}))
    send = pipeline.handler("SendFunction")
    pipeline.enqueue(*({"id": f"a{i}", "to": "+4917012345678", "text": "x"} for i in range(5)))

    result = pipeline.deliver(send)

    assert result.received == 5 and len(result.failed) == 5
    assert pipeline.outcomes() == []
    # The circuit opened: records not yet under way when the 401 came were not sent.
    assert 1 <= len(pipeline.simulator.sms_posts()) <= 5
    assert "refused the credentials" in logs.getvalue() and "wrong" not in logs.getvalue()
    # The claim was released: once the secret is fixed, a redelivery sends it.
    secretsmanager.put_secret_value(
        SecretId=arn,
        SecretString=json.dumps({"user": "sim-user", "password": pipeline.simulator.password}),
    )
    again = pipeline.deliver(pipeline.handler("SendFunction"))
    assert again.failed == [] and again.received == 5


def test_5xx_is_retried_within_the_invocation(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.simulator.inject("500", count=2, path="/sms")
    pipeline.enqueue({"id": "r5", "to": "+4917012345678", "text": "x"})
    result = pipeline.deliver(send)
    assert result.failed == []
    assert len(pipeline.simulator.sms_posts()) == 3
    assert pipeline.item("r5")["state"] == "TRACKING"


def test_5xx_that_persists_fails_the_record_for_a_later_retry(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.simulator.inject("500", count=100, path="/sms")
    pipeline.enqueue({"id": "r5x", "to": "+4917012345678", "text": "x"})
    result = pipeline.deliver(send)
    assert len(result.failed) == 1
    assert pipeline.outcomes() == []
    assert pipeline.item("r5x")["state"] == "RELEASED"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_fails_the_batch_and_logs_no_password(pipeline: Pipeline, logs: io.StringIO) -> None:
    base_url = f"http://127.0.0.1:{_closed_port()}/httpsimple/v1"
    send = pipeline.handler("SendFunction", RETARUS_BASE_URL=base_url)
    pipeline.enqueue({"id": "refused", "to": "+4917012345678", "text": "x"})

    result = pipeline.deliver(send)

    assert len(result.failed) == 1
    assert pipeline.outcomes() == []
    logged = logs.getvalue()
    assert "Connection refused" in logged
    _assert_no_secret(logged, pipeline.simulator.password)


def _assert_no_secret(text: str, password: str) -> None:
    from urllib.parse import quote, quote_plus

    for form in (password, quote(password, safe=""), quote_plus(password)):
        assert form not in text, text[max(0, text.find(form) - 300) : text.find(form) + 100]


def test_provider_that_never_answers_is_not_sent_again_and_ends_unknown(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.simulator.inject("hang", count=1, path="/sms")
    pipeline.enqueue({"id": "hang-1", "to": "+4917012345678", "text": "x", "reference": "r"})

    result = pipeline.deliver(send)

    assert result.failed == []
    assert len(pipeline.simulator.sms_posts()) == 1
    [event] = pipeline.outcomes()
    assert event["outcome"] == "UNKNOWN" and event["id"] == "hang-1" and event["jobId"] is None
    # Redelivered (a producer's duplicate): still no second POST.
    pipeline.enqueue({"id": "hang-1", "to": "+4917012345678", "text": "x"})
    assert pipeline.deliver(send).failed == []
    assert len(pipeline.simulator.sms_posts()) == 1
    assert pipeline.outcomes() == []


def test_resend_unconfirmed_policy_sends_again(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction", RESEND_UNCONFIRMED="true")
    pipeline.simulator.inject("hang", count=1, path="/sms")
    pipeline.enqueue({"id": "hang-2", "to": "+4917012345678", "text": "x"})

    first = pipeline.deliver(send)
    assert len(first.failed) == 1 and pipeline.outcomes() == []
    second = pipeline.deliver(send)
    assert second.failed == []
    assert len(pipeline.simulator.sms_posts()) == 2
    assert pipeline.item("hang-2")["state"] == "TRACKING"


def test_a_201_without_a_readable_job_id_is_never_sent_again_even_with_resend_unconfirmed(pipeline: Pipeline) -> None:
    """The provider said 201: the SMS is on its way (contract §2: sent at most once). With no job
    id it cannot be tracked: it ends UNKNOWN at once, saying so, and is neither resent nor tracked."""
    send = pipeline.handler("SendFunction", RESEND_UNCONFIRMED="true")
    pipeline.simulator.inject("garbled", count=1, path="/sms")
    pipeline.enqueue({"id": "garbled-1", "to": "+4917012345678", "text": "x"})

    result = pipeline.deliver(send)

    assert result.failed == []
    [event] = pipeline.outcomes()
    assert event["outcome"] == "UNKNOWN" and event["id"] == "garbled-1" and event["jobId"] is None
    assert event["provider"] == "retarus"
    assert "accepted" in event["reason"] and "job id could not be read" in event["reason"]
    assert pipeline.item("garbled-1")["state"] == "DONE"
    # Delivered again (SQS, or a producer's duplicate): no second POST.
    pipeline.enqueue({"id": "garbled-1", "to": "+4917012345678", "text": "x"})
    assert pipeline.deliver(send).failed == []
    assert [post.fault for post in pipeline.simulator.sms_posts()] == ["garbled"]
    assert len(pipeline.simulator.jobs) == 1 and pipeline.outcomes() == []


def test_missing_configuration_names_what_to_fix(pipeline: Pipeline) -> None:
    from sms_pipeline.config import ConfigError

    with pytest.raises(ConfigError, match="JOBS_TABLE_NAME is not set"):
        pipeline.handler("SendFunction", JOBS_TABLE_NAME="")


def test_missing_secret_says_what_to_fix(pipeline: Pipeline, logs: io.StringIO) -> None:
    arn = pipeline.stack.parameters["RetarusSecretArn"].replace("retarus", "nosuch")
    send = pipeline.handler("SendFunction", RETARUS_SECRET_ARN=arn)
    pipeline.enqueue({"id": "nosecret", "to": "+4917012345678", "text": "x"})
    result = pipeline.deliver(send)
    assert len(result.failed) == 1
    out = logs.getvalue()
    assert "cannot read the Retarus secret" in out and "RetarusSecretArn" in out
    # The secret is read before the claim: no claim is left (a claim left behind would end the
    # request as UNKNOWN), only the error, for the EXPIRED reason should the fix come too late; and
    # once the ARN is fixed the redelivery is sent.
    item = pipeline.item("nosecret")
    assert item["state"] == "RELEASED" and "claimToken" not in item
    assert item["lastError"].startswith("cannot read the Retarus secret")
    again = pipeline.deliver(pipeline.handler("SendFunction"))
    assert again.failed == [] and len(pipeline.simulator.sms_posts()) == 1


def _first(events: list[dict[str, Any]], request_id: str) -> dict[str, Any]:
    return next(event for event in events if event["id"] == request_id)


def test_a_cold_containers_first_batch_reads_the_secret_once(pipeline: Pipeline) -> None:
    """Ten records ask for the credentials at once; one GetSecretValue serves them all."""
    reads: list[str] = []

    def count(model: Any, **_: Any) -> None:
        reads.append(model.name)

    with aws_hook("after-call.secrets-manager.GetSecretValue", handler=count):
        send = pipeline.handler("SendFunction")
        pipeline.enqueue(*({"id": f"cold-{i}", "to": "+4917012345678", "text": "x"} for i in range(10)))
        result = pipeline.deliver(send)
        assert result.received == 10 and result.failed == []
        assert len(pipeline.simulator.sms_posts()) == 10
        pipeline.enqueue({"id": "warm", "to": "+4917012345678", "text": "x"})
        pipeline.deliver(send)
    assert reads == ["GetSecretValue"]


def test_the_event_carries_the_encoding_and_parts_of_what_was_sent(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    send = pipeline.handler("SendFunction", POWERTOOLS_METRICS_DISABLED="false", STATUS_CHECK_DELAYS_SECONDS="0")
    text = "It’s 10:00 – see you…" + "x" * 60  # 81 characters, UCS-2 for the apostrophe: two parts
    pipeline.enqueue(
        {"id": "smart", "to": "+4917012345677", "text": text, "smartEncoding": True},
        {"id": "plain", "to": "+4917012345677", "text": text},
    )
    from sms_pipeline.observability import metrics

    metrics.clear_metrics()  # what earlier tests recorded with metrics off
    pipeline.deliver(send)
    sent = sorted(post.params["msg"] for post in pipeline.simulator.sms_posts())
    assert sent == sorted([text, "It's 10:00 - see you..." + "x" * 60])  # replaced only when asked
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert sorted(value for line in emitted for value in line.get("SegmentsSent", [])) == [1.0, 2.0]
    status = pipeline.handler("StatusFunction", STATUS_CHECK_DELAYS_SECONDS="0")
    for _ in range(2):
        status({"source": "aws.scheduler"}, pipeline.context("StatusFunction"))
    events = {event["id"]: event for event in pipeline.outcomes()}
    assert (events["smart"]["encoding"], events["smart"]["segments"], events["smart"]["smartEncoded"]) == (
        "GSM-7",
        1,
        True,
    )
    assert (events["plain"]["encoding"], events["plain"]["segments"], events["plain"]["smartEncoded"]) == (
        "UCS-2",
        2,
        False,
    )


def test_a_text_over_the_segment_limit_is_rejected_with_its_count(pipeline: Pipeline) -> None:
    pipeline.enqueue({"id": "long", "to": "+4917012345677", "text": "x" * 307, "maxSegments": 2})
    pipeline.deliver(pipeline.handler("SendFunction"))
    [event] = pipeline.outcomes()
    assert event["outcome"] == "REJECTED"
    assert event["reason"] == "text: 3 segments (GSM-7), more than the limit of 2"
    assert (event["encoding"], event["segments"]) == ("GSM-7", 3)
    assert pipeline.simulator.sms_posts() == []


def test_the_reason_of_an_invalid_request_is_the_contracts_word_for_word(pipeline: Pipeline) -> None:
    """Contract §9 quotes it, and §1: the reason names the field (it starts with its name)."""
    pipeline.enqueue(
        {"id": "ucs", "to": "+4917012345677", "text": "ж" * (67 * 11 + 1)},  # 12 UCS-2 parts; MaxSegments 10
        {"id": "no-to", "text": "x"},
    )
    pipeline.deliver(pipeline.handler("SendFunction"))
    reasons = {event["id"]: event["reason"] for event in pipeline.outcomes()}
    assert reasons["ucs"] == "text: 12 segments (UCS-2), more than the limit of 10"
    assert reasons["no-to"].startswith("to: ")
    assert pipeline.simulator.sms_posts() == []


def test_a_batch_whose_every_record_fails_is_returned_not_raised_and_each_failure_is_counted(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """The decision (docs/architecture.md): a whole failed batch is a partial batch response naming
    every record, so each keeps the retry delay it asked for; Lambda's Errors metric does not see
    it, so SendErrorsAlarm watches SendFailures, one per record that failed unexpectedly."""
    from sms_pipeline.observability import metrics

    send = pipeline.handler("SendFunction", JOBS_TABLE_NAME="no-such-table", POWERTOOLS_METRICS_DISABLED="false")
    metrics.clear_metrics()
    pipeline.enqueue(*({"id": f"whole-{n}", "to": "+4917012345678", "text": "x"} for n in range(3)))

    result = pipeline.deliver(send)

    assert result.error is None and len(result.failed) == 3  # returned, not raised
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert sum(sum(line.get("SendFailures", [])) for line in emitted) == 3
    assert pipeline.simulator.sms_posts() == []
