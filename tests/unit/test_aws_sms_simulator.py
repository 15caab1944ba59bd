"""The pinpoint-sms-voice-v2 simulator (local/aws_sms): its protocol as boto3 speaks it, its
delivery events, and what it records for counting sends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from local.aws_sms import AwsSmsSimulator
from local.aws_sms.simulator import FINAL_BY_SUFFIX, SEND_TARGET
from sms_pipeline.aws_sms.events import EVENT_TYPES, parse, verdict
from sms_pipeline.outcomes import Outcome


class Sink:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, text: str) -> None:
        self.events.append(json.loads(text))


@pytest.fixture
def sink() -> Sink:
    return Sink()


def _boto3(sim: AwsSmsSimulator) -> Any:
    return boto3.client(
        "pinpoint-sms-voice-v2",
        endpoint_url=sim.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def _send(client: Any, to: str, request_id: str = "r1") -> str:
    answer = client.send_text_message(
        DestinationPhoneNumber=to,
        OriginationIdentity="+12065550100",
        MessageBody="hello",
        MessageType="TRANSACTIONAL",
        TimeToLive=60,
        Context={"requestId": request_id},
    )
    return str(answer["MessageId"])


@pytest.fixture
def sim(sink: Sink) -> Iterator[AwsSmsSimulator]:
    with AwsSmsSimulator(events=sink) as simulator:
        yield simulator


def test_it_speaks_json_1_0_with_the_operation_in_the_target_header(sim: AwsSmsSimulator) -> None:
    answer = requests.post(
        sim.endpoint_url + "/",
        data=json.dumps({"DestinationPhoneNumber": "+4917012345678", "OriginationIdentity": "x", "MessageBody": "hi"}),
        headers={"X-Amz-Target": SEND_TARGET, "Content-Type": "application/x-amz-json-1.0"},
        timeout=5,
    )
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert answer.json()["MessageId"] == sim.accepted[0].message_id
    unknown = requests.post(
        sim.endpoint_url + "/", data="{}", headers={"X-Amz-Target": "PinpointSMSVoiceV2.Nope"}, timeout=5
    )
    assert (unknown.status_code, unknown.json()["__type"]) == (400, "UnknownOperationException")


def test_each_message_has_pending_then_its_final_event_by_the_numbers_last_digits(
    sim: AwsSmsSimulator, sink: Sink
) -> None:
    client = _boto3(sim)
    finals = {**FINAL_BY_SUFFIX, "00": "TEXT_DELIVERED"}
    for suffix in finals:
        _send(client, f"+49170123456{suffix}", request_id=suffix)
    assert sim.wait_for_events(2 * len(finals))
    by_request: dict[str, list[str]] = {}
    for event in sink.events:
        by_request.setdefault(event["context"]["requestId"], []).append(event["eventType"])
    assert by_request == {suffix: ["TEXT_PENDING", final] for suffix, final in finals.items()}
    assert {event["eventType"] for event in sink.events} <= EVENT_TYPES


def test_an_interim_success_is_followed_by_the_delivery(sim: AwsSmsSimulator, sink: Sink) -> None:
    _send(_boto3(sim), "+4917012345619")
    assert sim.wait_for_events(3)
    assert [verdict(parse(event)).outcome for event in sink.events] == [None, None, Outcome.DELIVERED]


def test_events_can_be_repeated_and_out_of_order(sink: Sink) -> None:
    with AwsSmsSimulator(events=sink, repeat_events=2, out_of_order=True) as sim:
        message_id = _send(_boto3(sim), "+4917012345678")
        assert sim.wait_for_events(4)
    assert [(event["messageId"], event["eventType"]) for event in sink.events] == [
        (message_id, "TEXT_DELIVERED"),
        (message_id, "TEXT_DELIVERED"),
        (message_id, "TEXT_PENDING"),
        (message_id, "TEXT_PENDING"),
    ]


def test_held_events_wait_for_their_release(sim: AwsSmsSimulator, sink: Sink) -> None:
    sim.hold_events()
    _send(_boto3(sim), "+4917012345678")
    assert not sim.wait_for_events(1, timeout=0.2)
    sim.release_events()
    assert sim.wait_for_events(2)


def test_it_counts_the_sends_of_each_request(sim: AwsSmsSimulator) -> None:
    client = _boto3(sim)
    for request_id in ("a", "b", "a"):
        _send(client, "+4917012345678", request_id)
    assert sim.sends_per_request() == {"a": 2, "b": 1}
    assert sim.message_for("78").context == {"requestId": "a"}


def test_an_outage_answers_500(sim: AwsSmsSimulator) -> None:
    sim.set_outage(time.time() - 1, time.time() + 60)
    client = _boto3(sim)
    with pytest.raises(client.exceptions.InternalServerException):
        _send(client, "+4917012345678")
    sim.clear_faults()
    _send(client, "+4917012345678")
    assert len(sim.accepted) == 1
