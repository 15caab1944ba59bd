"""Request parsing and validation (contract §1): every rule, with the field named in the reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


@pytest.mark.parametrize("sender", [" ACME", "ACME ", " ACME ", " ", "A B C D E F"])
def test_a_sender_id_may_start_or_end_with_a_space_and_is_sent_as_it_is(sender: str) -> None:
    """Contract §1: up to 11 characters of A-Z a-z 0-9, space and ASCII punctuation."""
    assert parse(body(**{"from": sender}), "m").sender == sender


@pytest.mark.parametrize("sender", ["\tACME", "ACME\n", "ACME\u00a0", "TwelveChars!", ""])
def test_a_sender_id_holds_no_other_white_space_and_at_most_11_characters(sender: str) -> None:
    with pytest.raises(InvalidRequest, match=r"^from: "):
        parse(body(**{"from": sender}), "m")


def test_an_sns_envelope_takes_the_sqs_message_id_as_the_default_id() -> None:
    """Contract §1: `id` defaults to the SQS messageId, for an envelope too (never SNS's MessageId;
    a producer that publishes through SNS sets `id` against SNS's rare second delivery)."""
    envelope = {
        "Type": "Notification",
        "MessageId": "d0a0b8e0-0000-4000-8000-000000000000",
        "TopicArn": "arn:x",
        "Message": json.dumps({"to": "+4917012345678", "text": "hi"}),
    }
    assert parse(json.dumps(envelope), "sqs-message-1").id == "sqs-message-1"
    assert echo(json.dumps(envelope), "sqs-message-2").id == "sqs-message-2"
    with_id = {**envelope, "Message": body(id="own")}
    assert parse(json.dumps(with_id), "m").id == "own"


def test_an_sns_envelope_whose_message_is_an_object_says_what_is_wrong() -> None:
    envelope = {"Type": "Notification", "TopicArn": "arn:x", "Message": {"to": "+4917012345678", "text": "hi"}}
    with pytest.raises(InvalidRequest, match=r"^body\.Message: must be a string holding the request as JSON"):
        parse(json.dumps(envelope), "m")


@pytest.mark.parametrize("name", ["+4915112345678", "x" * 260_000, "tel:004915112345678", "a b", "ü", "a\n"])
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


# --- strict bodies (contract §1, issue #26): repeated names and invisible characters ---------------

NUMBER = "+4917012345678"
OTHER = "+33612345678"


def envelope_of(message: str, **names: str) -> str:
    """An SNS notification envelope around `message`, as SNS writes one (without raw delivery)."""
    return json.dumps(
        {"Type": "Notification", "MessageId": "env-1", "TopicArn": "arn:aws:sns:eu-central-1:1:t", "Message": message}
        | names
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (f'{{"id":"a","to":"{NUMBER}","to":"{OTHER}","text":"x"}}', "to: appears twice"),
        (f'{{"id":"a","id":"b","to":"{NUMBER}","text":"x"}}', "id: appears twice"),
        (f'{{"to":"{NUMBER}","text":"x","text":"y","text":"z"}}', "text: appears 3 times"),
        (f'{{"to":"{NUMBER}","text":"x","colour":1,"colour":2}}', "colour: appears twice"),
        (f'{{"to":"{NUMBER}","text":"x","metadata":{{"k":1,"k":2}}}}', "metadata.k: appears twice"),
        (
            f'{{"to":"{NUMBER}","text":"x","metadata":{{"l":[{{"a":1}},{{"b":1,"b":2}}]}}}}',
            "metadata.l[1].b: appears twice",
        ),
        ('[{"a":1,"a":2}]', "body[0].a: appears twice"),
        # The outer object first, then in document order.
        (f'{{"to":"{NUMBER}","text":"x","metadata":{{"k":1,"k":2}},"id":"a","id":"b"}}', "id: appears twice"),
    ],
)
def test_a_name_repeated_in_any_object_is_invalid_and_named(raw: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse(raw, "m")
    assert str(raised.value) == reason
    assert raised.value.field == reason.split(":")[0]


def test_a_repeated_name_in_an_sns_envelope_or_in_its_message_is_invalid() -> None:
    inner = f'{{"id":"a","to":"{NUMBER}","to":"{OTHER}","text":"x"}}'
    with pytest.raises(InvalidRequest, match=r"^to: appears twice$"):
        parse(envelope_of(inner), "m")  # the request's own fields are named as they are
    message = json.dumps(body())
    doubled = envelope_of(message)[:-1] + f", {json.dumps('Message')}: {json.dumps(body(to=OTHER))}}}"
    with pytest.raises(InvalidRequest, match=r"^body\.Message: appears twice$"):
        parse(doubled, "m")
    doubled_id = envelope_of(message)[:-1] + ', "MessageId": "env-2"}'
    with pytest.raises(InvalidRequest, match=r"^body\.MessageId: appears twice$"):
        parse(doubled_id, "m")


@pytest.mark.parametrize("name", ["+4915112345678", "a b", "x" * 65, "a\n"])
def test_a_repeated_name_that_could_be_personal_is_not_repeated_in_the_reason(name: str) -> None:
    top = f'{{"to":"{NUMBER}","text":"x",{json.dumps(name)}:1,{json.dumps(name)}:2}}'
    nested = f'{{"to":"{NUMBER}","text":"x","metadata":{{{json.dumps(name)}:1,{json.dumps(name)}:2}}}}'
    for raw, field, reason in [
        (top, "body", "body: a name appears twice (not repeated here)"),
        (nested, "metadata", "metadata: a name in it appears twice (not repeated here)"),
    ]:
        with pytest.raises(InvalidRequest) as raised:
            parse(raw, "m")
        assert (raised.value.field, str(raised.value)) == (field, reason)


def test_a_name_repeated_very_deep_is_named_by_its_field() -> None:
    deep = '{"k":1,"k":2}'
    for _ in range(60):
        deep = f'{{"level":{deep}}}'
    with pytest.raises(InvalidRequest) as raised:
        parse(f'{{"to":"{NUMBER}","text":"x","metadata":{deep}}}', "m")
    assert str(raised.value) == "metadata: a name in it appears twice (not repeated here)"


def test_the_echo_of_a_body_with_a_repeated_name_leaves_out_what_the_name_makes_doubtful() -> None:
    """The id an outcome carries is the producer's when it is certain; a repeated id is ambiguous,
    so the outcome carries the default id (the SQS messageId, for an envelope too)."""
    repeated_id = f'{{"id":"a","id":"b","to":"{NUMBER}","text":"x","reference":"r","metadata":{{"m":1}}}}'
    got = echo(repeated_id, "sqs-1")
    assert (got.id, got.to, got.reference, got.metadata) == ("sqs-1", NUMBER, "r", {"m": 1})
    assert echo(envelope_of(repeated_id), "sqs-1").id == "sqs-1"

    repeated_to = f'{{"id":"a","to":"{NUMBER}","to":"{OTHER}","text":"x","reference":"r","reference":"s"}}'
    got = echo(repeated_to, "sqs-1")
    assert (got.id, got.to, got.reference) == ("a", None, None)

    in_metadata = f'{{"id":"a","to":"{NUMBER}","text":"x","metadata":{{"m":{{"k":1,"k":2}}}}}}'
    assert echo(in_metadata, "sqs-1").metadata == {}

    doubled_envelope = envelope_of(json.dumps(body(id="a")))[:-1] + ', "MessageId": "env-2"}'
    got = echo(doubled_envelope, "sqs-1")
    assert (got.id, got.to, got.metadata) == ("sqs-1", None, {})


def test_two_bodies_that_differ_only_in_a_repeated_copy_have_two_fingerprints() -> None:
    first = f'{{"id":"a","to":"{NUMBER}","to":"{OTHER}","text":"x"}}'
    second = f'{{"id":"a","to":"+4915112345678","to":"{OTHER}","text":"x"}}'
    assert echo(first, "m").fingerprint != echo(second, "m").fingerprint


TEXT_CONTROLS = [
    *[chr(c) for c in range(0x00, 0x20) if c not in (0x0A, 0x0C, 0x0D)],  # C0 but LF, FF, CR
    "\x7f",  # DEL
    *[chr(c) for c in range(0x80, 0xA0)],  # C1
]


@pytest.mark.parametrize("control", TEXT_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_control_character_in_the_text_is_invalid_and_named_by_its_code_point(control: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse(body(text=f"Your code{control} is 123456"), "m")
    assert str(raised.value) == f"text: control character U+{ord(control):04X} is not allowed"
    assert "123456" not in str(raised.value)


def test_line_feed_carriage_return_form_feed_and_format_characters_stay_allowed_in_the_text() -> None:
    text = "line\r\nnext\x0cpage 👩\u200d💻 \u00ad\u202e"  # GSM-7 has LF, CR, FF; emoji sequences need ZWJ
    assert parse(body(text=text), "m").text == text


INVISIBLE = [
    ("\x00", "control character U+0000"),
    ("\t", "control character U+0009"),
    ("\n", "control character U+000A"),
    ("\x1f", "control character U+001F"),
    ("\x7f", "control character U+007F"),
    ("\x85", "control character U+0085"),
    ("\x9f", "control character U+009F"),
    ("\u00ad", "invisible format character U+00AD"),  # soft hyphen
    ("\u200b", "invisible format character U+200B"),  # zero width space
    ("\u200e", "invisible format character U+200E"),  # left-to-right mark
    ("\u202e", "invisible format character U+202E"),  # right-to-left override
    ("\u2066", "invisible format character U+2066"),  # left-to-right isolate
    ("\ufeff", "invisible format character U+FEFF"),  # byte order mark
    ("\U000e0041", "invisible format character U+E0041"),  # tag latin capital letter A
]


@pytest.mark.parametrize(("character", "problem"), INVISIBLE, ids=[p for _, p in INVISIBLE])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to", "+49 170 12345{}67"),
        ("to", "{}+4917012345678"),
        ("from", "AC{}ME"),
        ("from", "+4930{}123"),
        ("id", "order-{}1"),
        ("id", "order-1{}"),
    ],
)
def test_a_control_or_format_character_in_to_from_or_id_is_invalid(
    field: str, value: str, character: str, problem: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse(body(**{field: value.format(character)}), "m")
    assert str(raised.value) == f"{field}: {problem} is not allowed"
    assert "12345" not in str(raised.value) and "ACME" not in str(raised.value)


def test_the_echo_of_a_number_with_an_invisible_character_is_no_number() -> None:
    assert echo(body(to="+49\t17012345678", text=""), "m").to is None
    assert echo(body(text=""), "m").to == NUMBER


@pytest.mark.parametrize("value", ["abc\n", "a" * 128 + "\n"])
def test_an_id_with_a_final_line_feed_is_no_id(value: str) -> None:
    with pytest.raises(InvalidRequest, match=r"^id: control character U\+000A"):
        parse(body(id=value), "m")
    assert echo(body(id=value, text=""), "m").id == "m"


def test_spaces_that_are_not_controls_still_separate_the_digits_of_a_number() -> None:
    assert parse(body(to="+49\u00a0170\u20091234567"), "m").to == "+491701234567"


@given(
    st.sampled_from(["id", "to", "text", "metadata", "reference", "x"]),
    st.text(max_size=12),
    st.booleans(),
)
def test_any_name_written_twice_in_the_request_or_its_metadata_is_a_rejection_naming_no_value(
    name: str, key: str, in_metadata: bool
) -> None:
    """Whatever the name and wherever the second copy, the request is REJECTED and its reason holds
    neither the text nor the number, only a name that is safe to show."""
    valid = {"id": "a", "to": NUMBER, "text": "Your code is 123456", "metadata": {"k": 1}}
    written = json.dumps(valid)
    if in_metadata:
        copy = f"{json.dumps(key)}: 1, {json.dumps(key)}: 2"
        written = written.replace('{"k": 1}', "{" + copy + "}")
    else:
        copies = 1 if name in valid else 2  # a second copy of a field given, or two of one that is not
        written = written[:-1] + f", {json.dumps(name)}: {json.dumps(valid.get(name, 'r'))}" * copies + "}"
    with pytest.raises(InvalidRequest) as raised:
        parse(written, "m")
    reason = str(raised.value)
    assert "appears twice" in reason and "123456" not in reason and "4917012345678" not in reason
    assert raised.value.field in ({"metadata", f"metadata.{key}"} if in_metadata else {name})
