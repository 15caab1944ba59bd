"""Strict request bodies (contract §1, issue #26) through the real send handler, against moto
(server mode) and the Retarus simulator: a name repeated in any object, and a control or invisible
format character where the contract forbids one, make the request REJECTED once, with a reason that
names the field; nothing is POSTed, and neither the text nor the number reaches a log line."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import pytest

from ops.cli import main
from support import Pipeline

TEXT = "Your code is 123456"  # one of support.NEVER_LOGGED: the suite's log check looks for it too
NUMBER = "+4917012345678"
OTHER = "+33612345678"
ENVELOPE_ID = "5f3ad7a2-0000-4000-8000-00000000beef"


def envelope(message: str, extra: str = "") -> str:
    """An SNS notification envelope around `message`, as SNS writes one without raw delivery;
    `extra` is written into it as it is (a second copy of a name, say)."""
    head = json.dumps({"Type": "Notification", "MessageId": ENVELOPE_ID, "TopicArn": "arn:aws:sns:eu-central-1:1:p"})
    return head[:-1] + f', "Message": {json.dumps(message)}{extra}}}'


def send_raw(pipeline: Pipeline, body: str) -> str:
    """Enqueue a body exactly as written (json.dumps cannot write a name twice); its SQS messageId."""
    message_id: str = pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=body)["MessageId"]
    return message_id


def drain(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    while (result := pipeline.deliver(send)).received:
        assert result.failed == []  # a rejection is handled, not a batch failure


def assert_nothing_leaked(logs: io.StringIO, *numbers: str) -> None:
    written = logs.getvalue()
    assert TEXT not in written
    for number in numbers:
        assert number.lstrip("+") not in written
    rejected = [json.loads(line) for line in written.splitlines() if "invalid request rejected" in line]
    assert len(rejected) == 1


# --- a name repeated in one object ---------------------------------------------------------------

REPEATED: list[tuple[str, str, str, str, str | None]] = [
    # (case, body, reason, the outcome's id: the producer's, or "sqs" for the default, masked to)
    (
        "to at the top level",
        f'{{"id":"twice-to","to":"{NUMBER}","to":"{OTHER}","text":"{TEXT}"}}',
        "to: appears twice",
        "twice-to",
        None,  # which number was meant is unclear: none is echoed
    ),
    (
        "id at the top level",
        f'{{"id":"first","id":"second","to":"{NUMBER}","text":"{TEXT}"}}',
        "id: appears twice",
        "sqs",  # which id was meant is unclear: the SQS messageId, as for a request that names none
        "+4917*******78",
    ),
    (
        "a name in metadata",
        f'{{"id":"twice-meta","to":"{NUMBER}","text":"{TEXT}","metadata":{{"tenant":"a","tenant":"b"}}}}',
        "metadata.tenant: appears twice",
        "twice-meta",
        "+4917*******78",
    ),
    (
        "a name in an SNS envelope's Message",
        envelope(f'{{"id":"twice-inner","to":"{NUMBER}","text":"{TEXT}","to":"{OTHER}"}}'),
        "to: appears twice",
        "twice-inner",
        None,
    ),
    (
        "id in an SNS envelope's Message",
        envelope(f'{{"id":"first","to":"{NUMBER}","text":"{TEXT}","id":"second"}}'),
        "id: appears twice",
        "sqs",  # the SQS messageId, as for a notification whose request names none (never SNS's MessageId)
        "+4917*******78",
    ),
    (
        "Message in the SNS envelope itself",
        envelope(
            json.dumps({"id": "env-a", "to": NUMBER, "text": TEXT}),
            f', "Message": {json.dumps(json.dumps({"id": "env-b", "to": OTHER, "text": TEXT}))}',
        ),
        "body.Message: appears twice",
        "sqs",  # nothing of a doubtful envelope is trusted, its MessageId neither
        None,
    ),
]


@pytest.mark.parametrize(("case", "body", "reason", "expected_id", "masked_to"), REPEATED, ids=[r[0] for r in REPEATED])
def test_a_repeated_name_makes_the_request_rejected_once_and_nothing_is_sent(
    pipeline: Pipeline, logs: io.StringIO, case: str, body: str, reason: str, expected_id: str, masked_to: str | None
) -> None:
    message_id = send_raw(pipeline, body)
    drain(pipeline)

    [event] = pipeline.outcomes()
    request_id = message_id if expected_id == "sqs" else expected_id
    assert (event["outcome"], event["reason"]) == ("REJECTED", reason)
    assert (event["id"], event["to"], event["jobId"]) == (request_id, masked_to, None)
    assert event["metadata"] == {}  # none given, or doubtful
    assert pipeline.simulator.sms_posts() == []
    assert pipeline.item(request_id)["state"] == "DONE"
    assert_nothing_leaked(logs, NUMBER, OTHER)


def test_an_sns_notification_with_a_repeated_id_delivered_twice_is_rejected_under_each_sqs_message_id(
    pipeline: Pipeline, logs: io.StringIO
) -> None:
    """The default id a repeated `id` falls back to is the SQS messageId (contract §1), for an
    envelope too: SNS's second copy of the notification is a second SQS message, rejected as well."""
    body = envelope(f'{{"id":"first","id":"second","to":"{NUMBER}","text":"{TEXT}"}}')
    message_ids = {send_raw(pipeline, body), send_raw(pipeline, body)}
    drain(pipeline)

    events = pipeline.outcomes()
    assert {event["id"] for event in events} == message_ids and ENVELOPE_ID not in message_ids
    assert {(event["outcome"], event["reason"]) for event in events} == {("REJECTED", "id: appears twice")}
    assert pipeline.simulator.sms_posts() == []
    assert TEXT not in logs.getvalue() and NUMBER.lstrip("+") not in logs.getvalue()


def test_a_request_whose_metadata_is_fine_keeps_it_on_its_rejection(pipeline: Pipeline) -> None:
    """Only what a repeated name makes doubtful is left out of the outcome: here the id and the
    metadata are certain, the number is not."""
    send_raw(pipeline, f'{{"id":"kept","to":"{NUMBER}","to":"{OTHER}","text":"x","metadata":{{"order":7}}}}')
    drain(pipeline)
    [event] = pipeline.outcomes()
    assert (event["id"], event["to"], event["metadata"]) == ("kept", None, {"order": 7})


# --- control and invisible format characters --------------------------------------------------

C0, DEL, C1, CF = "\x00", "\x7f", "\x85", "\u200b"
CONTROLS: list[tuple[str, str, str, str]] = [
    # (field, the character, its class in the reason, the value around it)
    *[("text", c, "control character", "Your code{} is 123456") for c in (C0, "\t", DEL, C1, "\x9f")],
    *[("to", c, "control character", "+49 170 12345{}678") for c in (C0, "\t", "\n", DEL, C1)],
    ("to", CF, "invisible format character", "+49 170 12345{}678"),
    ("to", "\ufeff", "invisible format character", "{}+4917012345678"),
    *[("from", c, "control character", "AC{}ME") for c in (C0, "\t", DEL, C1)],
    ("from", CF, "invisible format character", "AC{}ME"),
    ("from", "\u202e", "invisible format character", "+4930{}123"),
    *[("id", c, "control character", "order-{}1") for c in (C0, "\n", DEL, C1)],
    ("id", CF, "invisible format character", "order-{}1"),
]


@pytest.mark.parametrize(
    ("field", "character", "kind", "around"), CONTROLS, ids=[f"{f}-U+{ord(c):04X}" for f, c, _, _ in CONTROLS]
)
def test_a_control_or_format_character_makes_the_request_rejected_once_and_nothing_is_sent(
    pipeline: Pipeline, logs: io.StringIO, field: str, character: str, kind: str, around: str
) -> None:
    request: dict[str, Any] = {"id": f"bad-{field}", "to": NUMBER, "text": TEXT, field: around.format(character)}
    message_id = send_raw(pipeline, json.dumps(request))
    drain(pipeline)

    [event] = pipeline.outcomes()
    assert event["outcome"] == "REJECTED" and event["jobId"] is None
    assert event["reason"] == f"{field}: {kind} U+{ord(character):04X} is not allowed"
    assert event["id"] == (message_id if field == "id" else f"bad-{field}")
    assert event["to"] == (None if field == "to" else "+4917*******78")
    assert pipeline.simulator.sms_posts() == []
    assert_nothing_leaked(logs, NUMBER)


def test_line_feed_carriage_return_and_form_feed_in_a_text_are_sent(pipeline: Pipeline) -> None:
    text = "Your code:\r\n123456\x0cbye"
    pipeline.enqueue({"id": "lines", "to": NUMBER, "text": text})
    drain(pipeline)
    [post] = pipeline.simulator.sms_posts()
    assert post.params["msg"] == text


# --- sms send: the same rules before anything is enqueued ---------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--text", "Your code\x00 is 123456", "text: control character U+0000 is not allowed"),
        ("--to", "+49\t17012345678", "to: control character U+0009 is not allowed"),
        ("--from", "AC\u200bME", "from: invisible format character U+200B is not allowed"),
        ("--id", "order\u00851", "id: control character U+0085 is not allowed"),
    ],
)
def test_sms_send_refuses_what_the_send_function_would_reject(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str], option: str, value: str, reason: str
) -> None:
    arguments = {"--to": NUMBER, "--text": "hi", option: value}
    where = {
        "SMS_QUEUE_URL": pipeline.queue_url,
        "SMS_TOPIC_ARN": pipeline.stack.output("OutcomesTopicArn"),
        "SMS_TABLE": pipeline.table,
    }
    code = main(["send", *[part for pair in arguments.items() for part in pair]], environ={**os.environ, **where})
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.strip() == f"sms: invalid request, not enqueued: {reason}"
    assert pipeline.deliver(pipeline.handler("SendFunction")).received == 0
