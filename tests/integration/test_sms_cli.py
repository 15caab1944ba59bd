"""`sms`, the operator's command, against the local stack (moto server, template.yaml's resources)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ops.cli import main
from support import Pipeline

SMS = Path(sys.executable).parent / "sms"


def where(pipeline: Pipeline) -> dict[str, str]:
    """What an operator of the local stack sets (a deployed one: SMS_STACK alone)."""
    return {
        "SMS_QUEUE_URL": pipeline.queue_url,
        "SMS_TOPIC_ARN": pipeline.stack.output("OutcomesTopicArn"),
        "SMS_TABLE": pipeline.table,
        "SMS_OPT_OUT_TABLE": pipeline.stack.output("OptOutTableName"),
    }


def sms(pipeline: Pipeline, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args), environ={**os.environ, **where(pipeline)})
    out, err = capsys.readouterr()
    return code, out, err


def test_send_validates_enqueues_and_prints_the_id(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = sms(pipeline, capsys, "send", "--to", "+49 170 1234567", "--text", "hi", "--id", "cli-1")
    assert (code, out.strip()) == (0, "cli-1")
    code, out, _ = sms(pipeline, capsys, "send", "--to", "+4917012345677", "--text", "no id")
    assert code == 0 and out.strip()  # the SQS message id, which the pipeline takes as the id
    assert pipeline.deliver(pipeline.handler("SendFunction")).received == 2
    assert pipeline.item("cli-1")["state"] == "TRACKING"
    assert pipeline.item(out.strip())["state"] == "TRACKING"


def test_an_invalid_request_is_not_enqueued(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = sms(pipeline, capsys, "send", "--to", "call me", "--text", "hi")
    assert code == 2 and out == ""
    assert "invalid request, not enqueued: to: must be a phone number" in err
    assert pipeline.deliver(pipeline.handler("SendFunction")).received == 0


def queued_bodies(pipeline: Pipeline) -> list[Any]:
    """What the request queue holds, as the send function would read it (the messages stay there)."""
    received = pipeline.sqs.receive_message(QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [json.loads(message["Body"]) for message in received.get("Messages", [])]


def test_send_at_is_validated_and_enqueued(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = sms(
        pipeline,
        capsys,
        "send",
        "--to",
        "+4917012345677",
        "--text",
        "hi",
        "--id",
        "later",
        "--send-at",
        "2020-01-01T09:00:00+01:00",
    )
    assert (code, out.strip()) == (0, "later")
    assert queued_bodies(pipeline) == [
        {"id": "later", "to": "+4917012345677", "text": "hi", "sendAt": "2020-01-01T09:00:00+01:00"}
    ]
    for bad, problem in (
        ("2020-01-01T09:00:00", "must be an ISO 8601 date and time with a UTC offset or Z"),
        ("2999-01-01T00:00:00Z", "more than 35 days"),
    ):
        code, out, err = sms(pipeline, capsys, "send", "--to", "+4917012345677", "--text", "hi", "--send-at", bad)
        assert (code, out) == (2, "")
        assert f"invalid request, not enqueued: sendAt: {problem}" in err
    assert len(queued_bodies(pipeline)) == 1


def test_cancel_puts_a_cancel_message_on_the_request_queue(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = sms(pipeline, capsys, "cancel", "order-4711:reminder")
    assert code == 0 and "cancel of order-4711:reminder enqueued" in err
    assert queued_bodies(pipeline) == [{"cancel": "order-4711:reminder"}]
    code, out, err = sms(pipeline, capsys, "cancel", "not an id")
    assert (code, out) == (2, "")
    assert "invalid cancel, not enqueued: cancel: must be 1-128 characters" in err
    assert len(queued_bodies(pipeline)) == 1


def test_status_shows_the_request_as_the_table_knows_it(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline.enqueue({"id": "looked-up", "to": "+4917012345677", "text": "hi"})
    pipeline.deliver(pipeline.handler("SendFunction"))
    code, out, _ = sms(pipeline, capsys, "status", "looked-up", "--json")
    record = json.loads(out)
    assert code == 0 and record["state"] == "TRACKING" and record["outcome"] is None
    assert record["jobId"] == pipeline.item("looked-up")["jobId"] and record["to"] == "+4917*******77"
    assert record["attempts"] == 1 and record["nextCheckAt"].endswith("Z")
    assert (record["encoding"], record["segments"]) == ("GSM-7", 1)
    code, out, _ = sms(pipeline, capsys, "status", "looked-up")
    assert "state" in out and "TRACKING" in out and "hi" not in out.split()


def _ahead(*, days: int) -> str:
    """A whole second that many days ahead, written with a +01:00 offset."""
    moment = datetime.now(timezone(timedelta(hours=1))) + timedelta(days=days)
    return moment.replace(microsecond=0).isoformat()


def test_a_scheduled_request_shows_its_send_at_counts_in_stats_and_is_cancelled(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    send = pipeline.handler("SendFunction")
    args = ("send", "--to", "+4917012345677", "--text", "See you", "--id", "appointment", "--send-at")
    assert sms(pipeline, capsys, *args, _ahead(days=36))[0] == 2  # more than 35 days ahead
    send_at = _ahead(days=10)
    code, out, _ = sms(pipeline, capsys, *args, send_at)
    assert (code, out.strip()) == (0, "appointment")
    pipeline.deliver(send)

    code, out, _ = sms(pipeline, capsys, "status", "appointment", "--json")
    record = json.loads(out)
    expected = datetime.fromisoformat(send_at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert record["state"] == "SCHEDULED" and record["sendAt"] == expected
    assert record["nextCheckAt"] is None and "See you" not in out
    figures = json.loads(sms(pipeline, capsys, "stats", "--json")[1])
    assert figures["scheduled"] == 1 and figures["dueJobs"] == 0
    assert "scheduled          1 waiting for their sendAt" in sms(pipeline, capsys, "stats")[1]

    assert sms(pipeline, capsys, "cancel", "appointment")[0] == 0
    pipeline.deliver(send)

    record = json.loads(sms(pipeline, capsys, "status", "appointment", "--json")[1])
    assert record["state"] == "DONE" and record["outcome"] == "CANCELED"
    assert record["reason"] == "cancelled before sending" and record["jobId"] is None
    assert json.loads(sms(pipeline, capsys, "stats", "--json")[1])["scheduled"] == 0
    [event] = pipeline.outcomes()
    assert event["id"] == "appointment" and event["outcome"] == "CANCELED"


def test_status_of_an_unknown_id_says_so(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = sms(pipeline, capsys, "status", "never-sent")
    assert code == 1 and "no request with id 'never-sent'" in err


def test_the_dlq_is_listed_without_text_and_a_redrive_ends_in_one_outcome_per_request(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq_url = pipeline.stack.output("DeadLetterQueueUrl")
    for n in range(3):
        body = {"id": f"dead-{n}", "to": "+4917012345677", "text": "Your code is 123456"}
        pipeline.sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(body))

    code, out, _ = sms(pipeline, capsys, "dlq", "list", "--json")  # the DLQ: the queue's redrive target
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and sorted(row["id"] for row in rows) == ["dead-0", "dead-1", "dead-2"]
    assert {row["to"] for row in rows} == {"+4917*******77"} and "123456" not in out
    code, out, _ = sms(pipeline, capsys, "dlq", "list", "--json")  # listing leaves them there
    assert len(out.splitlines()) == 3

    code, _, err = sms(pipeline, capsys, "dlq", "redrive")
    assert code == 2 and "--yes" in err
    code, out, _ = sms(pipeline, capsys, "dlq", "redrive", "--yes")
    assert code == 0 and "moved 3" in out

    send = pipeline.handler("SendFunction", STATUS_CHECK_DELAYS_SECONDS="0")
    while pipeline.deliver(send).received:
        pass
    status = pipeline.handler("StatusFunction", STATUS_CHECK_DELAYS_SECONDS="0")
    for _ in range(2):
        status({"source": "aws.scheduler"}, pipeline.context("StatusFunction"))
    events = pipeline.outcomes()
    assert sorted(event["id"] for event in events) == ["dead-0", "dead-1", "dead-2"]
    code, out, _ = sms(pipeline, capsys, "stats", "--json")
    assert json.loads(out)["deadLetterQueue"] == {"waiting": 0, "inFlight": 0}


def test_stats(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline.enqueue({"id": "queued", "to": "+4917012345677", "text": "hi"})
    code, out, _ = sms(pipeline, capsys, "stats", "--json")
    figures = json.loads(out)
    assert code == 0 and figures["queue"]["waiting"] == 1 and figures["dueJobs"] == 0
    assert figures["oldestDueSeconds"] is None
    pipeline.deliver(pipeline.handler("SendFunction", STATUS_CHECK_DELAYS_SECONDS="0"))
    code, out, _ = sms(pipeline, capsys, "stats", "--json")
    figures = json.loads(out)
    assert figures["queue"]["waiting"] == 0 and figures["dueJobs"] == 1 and figures["oldestDueSeconds"] >= 0


def test_the_opt_out_list_round_trips_and_blocks_what_is_on_it(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = sms(pipeline, capsys, "optout", "add", "0049 170 123-4567")
    assert (code, out.strip()) == (0, "+491701234567 added to the opt-out list")  # the key: 00 written +
    code, out, _ = sms(pipeline, capsys, "optout", "add", "+491701234567")
    assert (code, out.strip()) == (0, "+491701234567 is already on the opt-out list")
    assert sms(pipeline, capsys, "optout", "add", "+44 7700 900188")[0] == 0
    code, out, err = sms(pipeline, capsys, "optout", "list", "--json")
    assert code == 0 and [json.loads(line)["number"] for line in out.splitlines()] == ["+447700900188", "+491701234567"]
    assert all(json.loads(line)["addedAt"].endswith("Z") for line in out.splitlines())
    code, out, _ = sms(pipeline, capsys, "optout", "list", "+49 170 1234567")  # is this one on it?
    assert code == 0 and out.startswith("+491701234567  added ") and len(out.splitlines()) == 1

    pipeline.enqueue({"id": "to-opted-out", "to": "+49 170 1234567", "text": "hi"})
    pipeline.deliver(pipeline.handler("SendFunction"))
    [event] = pipeline.outcomes()
    assert (event["outcome"], event["reason"], event["jobId"]) == ("BLOCKED", "blocked: opted out", None)
    code, out, _ = sms(pipeline, capsys, "status", "to-opted-out", "--json")
    assert json.loads(out)["outcome"] == "BLOCKED"

    code, out, _ = sms(pipeline, capsys, "optout", "remove", "+491701234567")
    assert (code, out.strip()) == (0, "+491701234567 removed from the opt-out list")
    code, _, err = sms(pipeline, capsys, "optout", "remove", "+491701234567")
    assert code == 1 and "not on the opt-out list" in err
    code, _, err = sms(pipeline, capsys, "optout", "list", "+491701234567")
    assert code == 1 and "not on the opt-out list" in err
    code, out, _ = sms(pipeline, capsys, "optout", "list")
    assert code == 0 and out.split()[0] == "+447700900188" and len(out.splitlines()) == 1
    assert sms(pipeline, capsys, "optout", "add", "call me")[0] == 2
    assert sms(pipeline, capsys, "optout", "remove")[0] == 2

    pipeline.enqueue({"id": "after-removal", "to": "+49 170 1234567", "text": "hi"})
    pipeline.deliver(pipeline.handler("SendFunction"))
    assert pipeline.item("after-removal")["state"] == "TRACKING"


def test_operator_errors_say_what_to_fix(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--stack", "no-such-stack", "stats"], environ=dict(os.environ))
    err = capsys.readouterr().err
    assert code == 3 and "no stack named 'no-such-stack'" in err and "AWS_REGION" in err
    code = main(["send", "--to", "+4917012345677", "--text", "hi"], environ=dict(os.environ))
    err = capsys.readouterr().err
    assert code == 3 and "--stack NAME" in err and "--queue-url" in err and "SMS_QUEUE_URL" in err


def test_no_region_says_what_to_set(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {key: value for key, value in os.environ.items() if key not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    environ["SMS_QUEUE_URL"] = "https://sqs.eu-central-1.amazonaws.com/123456789012/requests"
    saved = {key: os.environ.pop(key) for key in ("AWS_REGION", "AWS_DEFAULT_REGION") if key in os.environ}
    try:
        code = main(["send", "--to", "+4917012345677", "--text", "hi"], environ=environ)
    finally:
        os.environ.update(saved)
    assert code == 3 and "no AWS region: set AWS_DEFAULT_REGION" in capsys.readouterr().err


def test_every_subcommand_has_help_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("send", "cancel", "status", "outcomes", "dlq", "stats", "optout"):
        with pytest.raises(SystemExit) as done:
            main([command, "--help"])
        assert done.value.code == 0
        assert "examples:" in capsys.readouterr().out, command


def test_outcomes_follow_prints_events_and_cleans_up_on_ctrl_c(pipeline: Pipeline) -> None:
    topic = pipeline.stack.output("OutcomesTopicArn")
    process = subprocess.Popen(
        [str(SMS), "outcomes", "--follow", "--json", "--outcome", "SENT,FAILED"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **where(pipeline), "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None and process.stdout is not None
    assert "following" in process.stderr.readline()
    queues_while = _follow_queues(pipeline)
    assert len(queues_while) == 1 and len(_subscriptions(pipeline, topic)) == 2  # the test's own, and its

    for outcome in ("REJECTED", "SENT"):  # the filter policy passes SENT only
        event = {"id": f"e-{outcome}", "outcome": outcome}
        pipeline.sns.publish(
            TopicArn=topic,
            Message=json.dumps(event),
            MessageAttributes={"outcome": {"DataType": "String", "StringValue": outcome}},
        )
    line = process.stdout.readline()
    assert json.loads(line) == {"id": "e-SENT", "outcome": "SENT"}

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert "removed the temporary queue" in process.stderr.read()
    assert _follow_queues(pipeline) == [] and len(_subscriptions(pipeline, topic)) == 1


def _follow_queues(pipeline: Pipeline) -> list[str]:
    urls: list[str] = pipeline.sqs.list_queues(QueueNamePrefix="sms-outcomes-").get("QueueUrls", [])
    return urls


def _subscriptions(pipeline: Pipeline, topic: str) -> list[Any]:
    found: list[Any] = pipeline.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return found
