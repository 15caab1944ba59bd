"""The fallback adapter (sms_pipeline/aws_sms/client.py) against the pinpoint-sms-voice-v2
simulator (local/aws_sms), a real HTTP server on loopback reached the way the functions reach the
service: a boto3 client pointed at it by AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.exceptions import NoRegionError
from botocore.stub import Stubber

from local.aws_sms import AwsSmsSimulator
from sms_pipeline.aws_sms import client as aws_sms
from sms_pipeline.aws_sms.events import parse, verdict
from sms_pipeline.outcomes import Outcome
from sms_pipeline.ports import ConfigurationFault, Rejected, TransientError, UnknownResult
from sms_pipeline.request import SmsRequest

if TYPE_CHECKING:
    from mypy_boto3_pinpoint_sms_voice_v2 import PinpointSMSVoiceV2Client

IDENTITY = "+12065550100"
CONFIGURATION_SET = "sms-pipeline-fallback"
NUMBER = "+4917012345678"
TEXT = "Your code is 415-932"


@pytest.fixture
def sim() -> Iterator[AwsSmsSimulator]:
    with AwsSmsSimulator(origination_identity=IDENTITY, configuration_set=CONFIGURATION_SET) as simulator:
        yield simulator


def _client(endpoint: str, monkeypatch: pytest.MonkeyPatch, *, read_timeout: float = 2.0) -> aws_sms.AwsSmsClient:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    made = aws_sms.boto3_client(connect_timeout=1.0, read_timeout=read_timeout, pool_size=4)
    return aws_sms.AwsSmsClient(lambda: made, origination_identity=IDENTITY, configuration_set=CONFIGURATION_SET)


@pytest.fixture
def fallback(sim: AwsSmsSimulator, monkeypatch: pytest.MonkeyPatch) -> aws_sms.AwsSmsClient:
    return _client(sim.endpoint_url, monkeypatch)


def _sms(to: str = NUMBER, text: str = TEXT, request_id: str = "req-1") -> SmsRequest:
    return SmsRequest(id=request_id, to=to, text=text)


def test_a_send_carries_what_the_contract_names_and_returns_the_message_id(
    sim: AwsSmsSimulator, fallback: aws_sms.AwsSmsClient
) -> None:
    message_id = fallback.send(_sms(), seconds_left=300.7)
    [accepted] = sim.accepted
    assert accepted.message_id == message_id
    assert (accepted.destination, accepted.body) == (NUMBER, TEXT)
    assert (accepted.origination_identity, accepted.configuration_set) == (IDENTITY, CONFIGURATION_SET)
    assert accepted.message_type == "TRANSACTIONAL"
    assert accepted.time_to_live == 300
    assert accepted.context == {"requestId": "req-1"}


def test_the_delivery_events_name_the_message_and_the_request(
    sim: AwsSmsSimulator, fallback: aws_sms.AwsSmsClient
) -> None:
    message_id = fallback.send(_sms(), seconds_left=60)
    assert sim.wait_for_events(2)
    parsed = [parse(event) for event in sim.published]
    assert [(event.message_id, event.request_id) for event in parsed] == [(message_id, "req-1")] * 2
    assert [verdict(event).outcome for event in parsed] == [None, Outcome.DELIVERED]


@pytest.mark.parametrize(("seconds_left", "ttl"), [(0.2, 5), (4.9, 5), (5, 5), (3600.99, 3600), (345_600, 259_200)])
def test_the_time_to_live_is_the_remaining_validity_within_the_services_range(
    sim: AwsSmsSimulator, fallback: aws_sms.AwsSmsClient, seconds_left: float, ttl: int
) -> None:
    fallback.send(_sms(), seconds_left=seconds_left)
    assert sim.accepted[-1].time_to_live == ttl


@pytest.mark.parametrize(("to", "sent"), [("004917012345678", NUMBER), ("4917012345678", NUMBER), (NUMBER, NUMBER)])
def test_the_number_goes_out_in_e164(sim: AwsSmsSimulator, fallback: aws_sms.AwsSmsClient, to: str, sent: str) -> None:
    fallback.send(_sms(to=to), seconds_left=60)
    assert sim.accepted[-1].destination == sent


@pytest.mark.parametrize(
    ("fault", "kind", "names"),
    [
        ("throttling", TransientError, "ThrottlingException"),
        ("500", TransientError, "InternalServerException"),
        ("access-denied", ConfigurationFault, "AccessDeniedException (ACCOUNT_DISABLED)"),
        ("quota", ConfigurationFault, "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"),
    ],
)
def test_a_refused_call_is_the_ports_error_kind_after_one_call(
    sim: AwsSmsSimulator, fallback: aws_sms.AwsSmsClient, fault: str, kind: type[Exception], names: str
) -> None:
    sim.inject(fault)
    with pytest.raises(kind, match=names.replace("(", r"\(").replace(")", r"\)")):
        fallback.send(_sms(), seconds_left=60)
    assert len(sim.calls) == 1, "botocore must not retry: the queue's retry delays do"
    assert not sim.accepted


def test_an_identity_or_configuration_set_the_account_does_not_have_is_a_configuration_fault(
    sim: AwsSmsSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_identity = _client(sim.endpoint_url, monkeypatch)
    wrong_identity._origination_identity = "+12065550199"
    with pytest.raises(ConfigurationFault, match="the phone-number does not exist"):
        wrong_identity.send(_sms(), seconds_left=60)
    wrong_set = _client(sim.endpoint_url, monkeypatch)
    wrong_set._configuration_set = "another-set"
    with pytest.raises(ConfigurationFault, match="the configuration-set does not exist"):
        wrong_set.send(_sms(), seconds_left=60)


@pytest.mark.parametrize(
    ("sms", "names"),
    [
        pytest.param(_sms(text="x" * 1601), "ValidationException.*fields: MessageBody", id="service: long text"),
        pytest.param(_sms(to="+4917012345640"), r"ValidationException \(INVALID_PARAMETER\)", id="service: refused"),
        pytest.param(_sms(to="+4917012345641"), "DESTINATION_PHONE_NUMBER_OPTED_OUT", id="service: opted out"),
        pytest.param(_sms(to="0170123456"), "fields: DestinationPhoneNumber", id="service: national number"),
        pytest.param(_sms(text=""), r"invalid parameter \(MessageBody\)", id="botocore: empty text"),
    ],
)
def test_a_parameter_the_service_refuses_is_a_rejection_naming_the_field(
    sim: AwsSmsSimulator, fallback: aws_sms.AwsSmsClient, sms: SmsRequest, names: str
) -> None:
    with pytest.raises(Rejected, match=names) as refused:
        fallback.send(sms, seconds_left=60)
    assert sms.to not in str(refused.value) and (not sms.text or sms.text not in str(refused.value))
    assert not sim.accepted


@pytest.mark.parametrize("fault", ["hang-after-accept", "reset-after-accept"])
def test_no_answer_after_the_call_was_written_is_an_unknown_result_never_repeated(
    sim: AwsSmsSimulator, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    fallback = _client(sim.endpoint_url, monkeypatch, read_timeout=0.5)
    sim.inject(fault)
    with pytest.raises(UnknownResult) as unknown:
        fallback.send(_sms(), seconds_left=60)
    assert len(sim.calls) == 1 and len(sim.accepted) == 1, "it was sent: a repeat would send it twice"
    assert unknown.value.accepted is False  # for all the client knows, it may not have been


def test_an_answer_without_a_message_id_is_an_unknown_result_the_service_accepted() -> None:
    """A 200 whose body names no MessageId: sent, but not trackable (never to be sent again)."""
    made = boto3.client(
        "pinpoint-sms-voice-v2", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(made) as stubber:
        stubber.add_response("send_text_message", {})
        fallback = aws_sms.AwsSmsClient(
            lambda: made, origination_identity=IDENTITY, configuration_set=CONFIGURATION_SET
        )
        with pytest.raises(UnknownResult, match="without a MessageId") as unknown:
            fallback.send(_sms(), seconds_left=60)
    assert unknown.value.accepted is True


def test_a_connection_refused_before_sending_is_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fallback = _client(f"http://127.0.0.1:{port}", monkeypatch)
    with pytest.raises(TransientError, match="could not connect"):
        fallback.send(_sms(), seconds_left=60)


def test_no_error_carries_the_number_or_the_text(sim: AwsSmsSimulator, fallback: aws_sms.AwsSmsClient) -> None:
    for fault in ("throttling", "500", "access-denied", "quota"):
        sim.inject(fault)
        with pytest.raises(Exception) as failed:
            fallback.send(_sms(), seconds_left=60)
        assert NUMBER not in str(failed.value) and TEXT not in str(failed.value)
        assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_the_boto3_client_is_made_on_first_use_only() -> None:
    made: list[int] = []

    def make() -> PinpointSMSVoiceV2Client:
        made.append(1)
        raise NoRegionError()

    fallback = aws_sms.AwsSmsClient(make, origination_identity=IDENTITY, configuration_set=CONFIGURATION_SET)
    assert made == []
    with pytest.raises(ConfigurationFault, match="no AWS region"):
        fallback.ready()
    assert made == [1]
