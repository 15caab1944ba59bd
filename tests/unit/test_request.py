"""Request parsing and validation (contract §1): every rule, with the field named in the reason."""

from __future__ import annotations

import json

import pytest

from sms_pipeline.request import InvalidRequest, echo, parse


def body(**fields: object) -> str:
    return json.dumps({"to": "+4917012345678", "text": "hi", **fields})


def test_full_request_parses_with_every_field() -> None:
    sms = parse(
        body(
            id="a.b_c:d-1",
            to="0049 (170) 123-45.67",
            text="x" * 1600,
            maxSegments=11,
            **{"from": "+4930123"},
            deliveryReport=True,
            priority="express",
            billingCode="b" * 70,
            reference="r" * 70,
            metadata={"a": [1, 2]},
        ),
        "msg-1",
    )
    assert sms.id == "a.b_c:d-1"
    assert sms.to == "00491701234567"
    assert sms.sender == "+4930123"
    assert sms.delivery_report is True and sms.priority == "express"
    assert sms.billing_code == "b" * 70 and sms.reference == "r" * 70
    assert sms.metadata == {"a": [1, 2]}


def test_defaults() -> None:
    sms = parse(body(), "msg-1")
    assert sms.id == "msg-1"
    assert sms.sender is None and sms.delivery_report is False and sms.priority == "normal"
    assert sms.metadata == {}


def test_number_without_country_code_is_passed_on_as_is() -> None:
    assert parse(body(to="0170 1234567"), "m").to == "01701234567"


@pytest.mark.parametrize(
    "sender", ["ACME", "A1 b2!#$%&'", "12345678901", "+12345678901234567890", "x" * 11, "Info-Desk."]
)
def test_valid_senders(sender: str) -> None:
    assert parse(body(**{"from": sender}), "m").sender == sender


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"to": ""}, "to"),
        ({"to": "+"}, "to"),
        ({"to": "12"}, "to"),
        ({"to": "+49 170 ABC"}, "to"),
        ({"to": "+" + "1" * 21}, "to"),
        ({"to": None}, "to"),
        ({"text": None}, "text"),
        ({"text": ["a"]}, "text"),
        ({"from": ""}, "from"),
        ({"from": "a" * 12}, "from"),
        ({"from": "tab\there"}, "from"),
        ({"from": 12345}, "from"),
        ({"priority": "Express"}, "priority"),
        ({"priority": 1}, "priority"),
        ({"deliveryReport": "true"}, "deliveryReport"),
        ({"billingCode": 7}, "billingCode"),
        ({"reference": {"a": 1}}, "reference"),
        ({"metadata": "x"}, "metadata"),
        ({"id": "ü"}, "id"),
        ({"id": "a/b"}, "id"),
        ({"extra": 1}, "extra"),
        ({"validitySeconds": 4}, "validitySeconds"),
        ({"validitySeconds": 345_601}, "validitySeconds"),
        ({"validitySeconds": 300.5}, "validitySeconds"),
        ({"validitySeconds": "300"}, "validitySeconds"),
        ({"validitySeconds": True}, "validitySeconds"),
    ],
)
def test_each_rule_names_its_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse(body(**fields), "m")
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


@pytest.mark.parametrize("seconds", [5, 300, 345_600])
def test_validity_is_5_seconds_to_4_days(seconds: int) -> None:
    assert parse(body(validitySeconds=seconds), "m").validity_seconds == seconds
    assert parse(body(), "m").validity_seconds is None  # the deployment's DefaultValiditySeconds


def test_text_length_counts_characters_not_bytes() -> None:
    assert parse(body(text="€" * 1600, maxSegments=30), "m").text == "€" * 1600
    with pytest.raises(InvalidRequest, match="text: must be 1-1600 characters, got 1601"):
        parse(body(text="€" * 1601, maxSegments=30), "m")


def test_metadata_limit_is_2_kib_serialized() -> None:
    # {"k":"…"} is 8 bytes of framing
    parse(body(metadata={"k": "v" * (2048 - 8)}), "m")
    with pytest.raises(InvalidRequest, match="metadata"):
        parse(body(metadata={"k": "v" * (2048 - 7)}), "m")


def test_null_optional_fields_count_as_absent() -> None:
    sms = parse(body(id=None, deliveryReport=None, priority=None, metadata=None, **{"from": None}), "m")
    assert sms.id == "m" and sms.delivery_report is False and sms.priority == "normal" and sms.sender is None


def test_sns_envelope_is_unwrapped() -> None:
    envelope = {"Type": "Notification", "TopicArn": "arn:x", "Message": body(id="inner")}
    assert parse(json.dumps(envelope), "m").id == "inner"


def test_sns_envelope_with_broken_message_is_invalid() -> None:
    envelope = {"Type": "Notification", "TopicArn": "arn:x", "Message": "{nope"}
    with pytest.raises(InvalidRequest, match=r"body\.Message: not valid JSON"):
        parse(json.dumps(envelope), "m")


def test_deep_json_is_a_clear_rejection() -> None:
    with pytest.raises(InvalidRequest, match="body"):
        parse("[" * 100_000 + "]" * 100_000, "m")


def test_echo_keeps_what_is_valid_of_an_invalid_request() -> None:
    got = echo(body(id="keep-me", text="", reference="ref", metadata={"k": 1}), "m")
    assert (got.id, got.to, got.reference, got.metadata) == ("keep-me", "+4917012345678", "ref", {"k": 1})
    assert echo("not json", "m").id == "m"
    assert echo(body(id="bad id"), "m").id == "m"


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("+49 170 1234567", "+491701234567"),
        ("+49 (0)170 1234567", "+491701234567"),  # the trunk 0 in parentheses after the country code
        ("+49(0)170-1234567", "+491701234567"),
        ("0049 (0) 170 1234567", "00491701234567"),
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("+49 (170) 123-45.67", "+491701234567"),  # grouping in parentheses is not a trunk prefix
        ("0170 1234567", "01701234567"),  # national: as it is, the account's country code applies
        ("(0170) 1234567", "01701234567"),
        ("+1 (415) 555-0134", "+14155550134"),
        ("00 44 7700 900188", "00447700900188"),
        ("0170 (0)1234567", None),  # a (0) anywhere else: which digits were meant is unclear
        ("(0)170 1234567", None),
        ("+49 170 (0)1234567", None),
        ("+49 (0)", None),
        ("+49 170 12x", None),
        ("++49 170 1234567", None),
    ],
)
def test_phone_numbers_as_people_write_them(written: str, sent: str | None) -> None:
    if sent is None:
        with pytest.raises(InvalidRequest, match=r"^to: "):
            parse(body(to=written), "m")
    else:
        assert parse(body(to=written), "m").to == sent


@pytest.mark.parametrize("sender", [" ", "  ", " ACME", "ACME ", "\tACME"])
def test_a_sender_id_is_not_blank_nor_padded(sender: str) -> None:
    with pytest.raises(InvalidRequest, match=r"^from: "):
        parse(body(**{"from": sender}), "m")


def test_an_sns_envelope_gives_its_message_id_as_the_default_id() -> None:
    """SNS may deliver one notification twice, as two SQS messages: one request, one id."""
    envelope = {
        "Type": "Notification",
        "MessageId": "d0a0b8e0-0000-4000-8000-000000000000",
        "TopicArn": "arn:x",
        "Message": json.dumps({"to": "+4917012345678", "text": "hi"}),
    }
    assert parse(json.dumps(envelope), "sqs-message-1").id == "d0a0b8e0-0000-4000-8000-000000000000"
    assert echo(json.dumps(envelope), "sqs-message-2").id == "d0a0b8e0-0000-4000-8000-000000000000"
    with_id = {**envelope, "Message": body(id="own")}
    assert parse(json.dumps(with_id), "m").id == "own"


def test_an_sns_envelope_whose_message_is_an_object_says_what_is_wrong() -> None:
    envelope = {"Type": "Notification", "TopicArn": "arn:x", "Message": {"to": "+4917012345678", "text": "hi"}}
    with pytest.raises(InvalidRequest, match=r"^body\.Message: must be a string holding the request as JSON"):
        parse(json.dumps(envelope), "m")


@pytest.mark.parametrize("name", ["+4915112345678", "x" * 260_000, "tel:004915112345678", "a b", "ü"])
def test_an_unknown_field_whose_name_could_be_personal_or_huge_is_not_repeated(name: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse(body(**{name: 1}), "m")
    assert raised.value.field == "body" and name not in str(raised.value) and len(str(raised.value)) < 100
    assert str(raised.value).startswith("body: has an unknown field")


def test_an_unknown_field_with_a_plain_name_is_named() -> None:
    with pytest.raises(InvalidRequest, match=r"^colour: unknown field$"):
        parse(body(colour="red"), "m")


def test_a_fingerprint_tells_requests_apart_but_not_their_key_order() -> None:
    first = json.dumps({"id": "a", "to": "+4917012345678", "text": "hi"})
    reordered = json.dumps({"text": "hi", "id": "a", "to": "+4917012345678"}, indent=2)
    assert parse(first, "m").fingerprint == parse(reordered, "m").fingerprint == echo(first, "m").fingerprint
    other = json.dumps({"id": "a", "to": "+4917012345678", "text": "ho"})
    assert parse(first, "m").fingerprint != parse(other, "m").fingerprint
    assert echo("not json", "m").fingerprint != echo("not json either", "m").fingerprint
