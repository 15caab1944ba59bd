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
    assert parse(body(text="€" * 1600), "m").text == "€" * 1600
    with pytest.raises(InvalidRequest, match="text: must be 1-1600 characters, got 1601"):
        parse(body(text="€" * 1601), "m")


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
