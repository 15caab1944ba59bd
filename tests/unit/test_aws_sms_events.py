"""The fallback provider's delivery events (sms_pipeline/aws_sms/events.py) against contract §12.

The event's shape is the one the AWS End User Messaging SMS User Guide documents for SMS events
("Example SMS event data"); the values here are made up.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.model import StringShape

from sms_pipeline.aws_sms import events
from sms_pipeline.outcomes import Outcome

MESSAGE_ID = "3f6b1c52-8e0a-4d8e-9c1b-2a7e5d4f0b61"
NUMBER = "+4917012345678"


def event(event_type: str = "TEXT_DELIVERED", **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "eventType": event_type,
        "eventVersion": "1.0",
        "eventTimestamp": 1764758400123,
        "isFinal": event_type not in ("TEXT_QUEUED", "TEXT_PENDING"),
        "originationPhoneNumber": "+12065550100",
        "destinationPhoneNumber": NUMBER,
        "isoCountryCode": "DE",
        "isInternationalSend": True,
        "mcc": "262",
        "mnc": "01",
        "messageId": MESSAGE_ID,
        "messageRequestTimestamp": 1764758399800,
        "messageEncoding": "GSM",
        "messageType": "TRANSACTIONAL",
        "messageStatus": event_type.removeprefix("TEXT_"),
        "messageStatusDescription": "Message has been accepted by phone carrier",
        "context": {"requestId": "req-1"},
        "totalMessageParts": 1,
        "totalMessagePrice": 0.0712,
        "totalCarrierFee": 0.0,
    }
    document.update(changes)
    return document


def sns_notification(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": "0d6f7a1e-0000-4000-8000-000000000001",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:sms-events",
        "Message": json.dumps(document),
        "Timestamp": "2026-12-03T10:40:00.123Z",
        "SignatureVersion": "1",
    }


# The final event types of each outcome.
FINAL_EVENTS = {
    Outcome.DELIVERED: ["TEXT_DELIVERED"],
    Outcome.SENT: ["TEXT_SUCCESSFUL"],
    Outcome.EXPIRED: ["TEXT_TTL_EXPIRED"],
    Outcome.UNKNOWN: ["TEXT_UNKNOWN"],
    Outcome.FAILED: [
        "TEXT_BLOCKED",
        "TEXT_CARRIER_BLOCKED",
        "TEXT_SPAM",
        "TEXT_INVALID",
        "TEXT_INVALID_MESSAGE",
        "TEXT_PROTECT_BLOCKED",
    ],
    Outcome.UNDELIVERED: ["TEXT_UNREACHABLE", "TEXT_CARRIER_UNREACHABLE"],
}


@pytest.mark.parametrize(
    ("event_type", "outcome"),
    [(event_type, outcome) for outcome, event_types in FINAL_EVENTS.items() for event_type in event_types],
)
def test_a_final_event_maps_to_the_contracts_outcome(event_type: str, outcome: Outcome) -> None:
    decided = events.verdict(events.parse(event(event_type)))
    assert decided.outcome is outcome
    assert decided.known and decided.reason


@pytest.mark.parametrize("event_type", ["TEXT_QUEUED", "TEXT_PENDING", "TEXT_SENT"])
def test_an_event_of_a_message_still_on_its_way_keeps_the_job_tracked(event_type: str) -> None:
    decided = events.verdict(events.parse(event(event_type, isFinal=False)))
    assert decided.outcome is None
    assert decided.known


def test_a_final_type_the_provider_marks_not_final_waits_for_the_final_event() -> None:
    assert events.verdict(events.parse(event("TEXT_SUCCESSFUL", isFinal=False))).outcome is None
    assert events.verdict(events.parse(event("TEXT_SUCCESSFUL", isFinal=True))).outcome is Outcome.SENT
    assert events.verdict(events.parse(event("TEXT_SUCCESSFUL", isFinal=None))).outcome is Outcome.SENT


def test_an_unknown_event_type_is_tracked_with_a_warning_unless_the_provider_says_it_is_final() -> None:
    tracked = events.verdict(events.parse(event("TEXT_TELEPORTED", isFinal=False)))
    assert (tracked.outcome, tracked.known) == (None, False)
    assert events.verdict(events.parse(event("TEXT_TELEPORTED", isFinal=True))).outcome is Outcome.UNKNOWN


def test_every_sms_event_type_of_the_providers_model_is_in_the_table() -> None:
    model = botocore.session.get_session().get_service_model("pinpoint-sms-voice-v2")
    shape = model.shape_for("EventType")
    assert isinstance(shape, StringShape)
    text_types = {value for value in shape.enum if value.startswith("TEXT_")}
    assert text_types - {"TEXT_ALL"} == events.EVENT_TYPES


def test_the_provider_status_is_the_event_type_and_the_message_status() -> None:
    parsed = events.parse(event("TEXT_DELIVERED", messageStatus=" delivered "))
    assert parsed.provider_status.as_event() == {"processStatus": "TEXT_DELIVERED", "status": "DELIVERED"}
    assert (parsed.message_id, parsed.request_id, parsed.is_final) == (MESSAGE_ID, "req-1", True)
    assert parsed.event_timestamp_ms == 1764758400123


def test_matching_ignores_case_and_surrounding_white_space() -> None:
    assert events.verdict(events.parse(event(" text_delivered\n"))).outcome is Outcome.DELIVERED


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda doc: json.dumps(doc), id="raw message delivery (SQS body)"),
        pytest.param(lambda doc: json.dumps(doc).encode(), id="raw bytes"),
        pytest.param(lambda doc: json.dumps(sns_notification(doc)), id="SNS notification in an SQS body"),
        pytest.param(lambda doc: {"EventSource": "aws:sns", "Sns": sns_notification(doc)}, id="Lambda SNS record"),
        pytest.param(
            lambda doc: {"detail-type": events.EVENTBRIDGE_DETAIL_TYPE, "source": "aws.sms-voice", "detail": doc},
            id="EventBridge",
        ),
    ],
)
def test_an_event_is_read_in_every_wrapper_it_arrives_in(wrap: Any) -> None:
    parsed = events.parse(wrap(event("TEXT_PENDING")))
    assert (parsed.message_id, parsed.event_type, parsed.message_status) == (MESSAGE_ID, "TEXT_PENDING", "PENDING")


def test_an_event_without_context_has_no_request_id() -> None:
    document = event()
    del document["context"]
    assert events.parse(document).request_id is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("not json", "body is not JSON"),
        ("[1]", "body is not a JSON object"),
        (json.dumps(event(messageId="")), "messageId"),
        (json.dumps({k: v for k, v in event().items() if k != "messageId"}), "messageId"),
        (json.dumps(event(eventType=3)), "eventType"),
        (json.dumps(event(messageStatus=None)), "messageStatus"),
        (json.dumps(event(isFinal="yes")), "isFinal"),
        (json.dumps(event(eventTimestamp="soon")), "eventTimestamp"),
        (json.dumps(event(context=["a"])), "context"),
        (json.dumps({"Type": "Notification", "Message": 5}), "Message"),
        (json.dumps({"Type": "Notification", "Message": "{"}), "Message of the SNS notification is not JSON"),
        (json.dumps({"hello": "world"}), "eventType is missing"),
    ],
)
def test_a_body_that_is_no_event_is_refused_naming_the_field(body: str, field: str) -> None:
    with pytest.raises(events.MalformedEvent, match=field):
        events.parse(body)


def test_a_refused_event_never_repeats_the_destination_number() -> None:
    with pytest.raises(events.MalformedEvent) as refused:
        events.parse(json.dumps(event(messageId=None)))
    assert NUMBER not in str(refused.value)
    assert NUMBER not in repr(events.parse(event()))
