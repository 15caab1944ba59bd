"""The cancel message (contract §11): what tells it from a request, its rules, and that an invalid
one is an InvalidCancel (logged and dropped) and never an InvalidRequest (a REJECTED outcome)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms_pipeline.cancel import Cancel, InvalidCancel, parse_message
from sms_pipeline.request import InvalidRequest, SmsRequest


def envelope(message: str) -> str:
    return json.dumps(
        {"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:eu-central-1:1:t", "Message": message}
    )


def invalid_cancel(body: str) -> InvalidCancel:
    with pytest.raises(InvalidCancel) as raised:
        parse_message(body, "m")
    assert not isinstance(raised.value, InvalidRequest)
    assert str(raised.value).startswith(f"{raised.value.field}: ")
    return raised.value


@pytest.mark.parametrize("target", ["order-4711:otp", "a", "x" * 128, "A.b_c:d-9"])
def test_a_cancel_names_the_request_to_end(target: str) -> None:
    assert parse_message(json.dumps({"cancel": target}), "m") == Cancel(id=target)


def test_an_sns_envelope_may_carry_a_cancel() -> None:
    assert parse_message(envelope('{"cancel": "r-1"}'), "m") == Cancel(id="r-1")


def test_a_request_is_still_a_request() -> None:
    parsed = parse_message(json.dumps({"id": "r-1", "to": "+4917012345678", "text": "hi"}), "m")
    assert isinstance(parsed, SmsRequest) and parsed.id == "r-1" and parsed.fingerprint
    parsed = parse_message(envelope(json.dumps({"to": "+4917012345678", "text": "hi"})), "m")
    assert isinstance(parsed, SmsRequest) and parsed.id == "m"  # the SQS messageId, as request.parse


def test_a_request_reads_its_sendat_bound_from_requested_at() -> None:
    body = json.dumps({"to": "+4917012345678", "text": "hi", "sendAt": "2026-12-03T09:00:00Z"})
    with pytest.raises(InvalidRequest, match=r"^sendAt: more than 35 days"):
        parse_message(body, "m", requested_at=0)


@pytest.mark.parametrize(
    "body",
    ["not json", "[1]", '"cancel"', "{}", '{"to": "+4917012345678"}', '{"Cancel": "r-1", "to": "x", "text": "y"}'],
)
def test_what_says_nothing_of_cancel_is_an_invalid_request_as_before(body: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_message(body, "m")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "cancel: must be the id of the request to cancel (a string), not null"),
        (7, "cancel: must be the id of the request to cancel (a string), not a number"),
        (["r-1"], "cancel: must be the id of the request to cancel (a string), not an array"),
        ("", "cancel: must be 1-128 characters of A-Z a-z 0-9 . _ : - (a request id)"),
        ("has space", "cancel: must be 1-128 characters of A-Z a-z 0-9 . _ : - (a request id)"),
        ("x" * 129, "cancel: must be 1-128 characters of A-Z a-z 0-9 . _ : - (a request id)"),
        ("r-1\n", "cancel: control character U+000A is not allowed (a request id)"),
        ("r\u200b1", "cancel: invisible format character U+200B is not allowed (a request id)"),
        ("+4917012345678", "cancel: must be 1-128 characters of A-Z a-z 0-9 . _ : - (a request id)"),
    ],
)
def test_an_invalid_id_is_an_invalid_cancel_that_does_not_repeat_it(value: object, problem: str) -> None:
    error = invalid_cancel(json.dumps({"cancel": value}))
    assert (error.field, str(error)) == ("cancel", problem)


def test_a_cancel_with_other_fields_is_an_invalid_cancel_not_a_request() -> None:
    """Were it read as a request, its `id` would end REJECTED: the very request it meant to cancel."""
    error = invalid_cancel(json.dumps({"cancel": "r-1", "id": "r-1", "to": "+4917012345678", "text": "hi"}))
    assert str(error) == "id: not allowed in a cancel message, which holds only cancel"
    error = invalid_cancel(json.dumps({"cancel": "r-1", "+4917012345678": 1}))
    assert error.field == "body" and "4917012345678" not in str(error)
    error = invalid_cancel(envelope(json.dumps({"cancel": "r-1", "reason": "x"})))
    assert error.field == "reason"


def test_a_repeated_name_in_a_cancel_is_an_invalid_cancel() -> None:
    assert str(invalid_cancel('{"cancel": "r-1", "cancel": "r-2"}')) == "cancel: appears twice"
    assert str(invalid_cancel(envelope('{"cancel": "r-1", "cancel": "r-1"}'))) == "cancel: appears twice"
    assert invalid_cancel('{"cancel": "r-1", "x": 1, "x": 2}').field == "x"


def test_a_repeated_name_in_a_request_stays_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match=r"^to: appears twice$"):
        parse_message('{"to": "+4917012345678", "to": "+4917012345679", "text": "hi"}', "m")


REASONS = re.compile(
    r"cancel: must be the id of the request to cancel \(a string\), not (null|a boolean|a number|an array|an object)"
    r"|cancel: must be 1-128 characters of A-Z a-z 0-9 \. _ : - \(a request id\)"
    r"|cancel: (control|invisible format) character U\+[0-9A-F]{4,6} is not allowed \(a request id\)"
    r"|(id|to|text|x): not allowed in a cancel message, which holds only cancel"
    r"|body: a cancel message holds only cancel \(it has a field whose name is not repeated\)"
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@given(
    json_values, st.dictionaries(st.sampled_from(["id", "to", "text", "x", "+4917012345678"]), json_values, max_size=2)
)
def test_any_body_with_cancel_is_a_cancel_or_an_invalid_cancel_never_a_request(
    target: object, others: dict[str, object]
) -> None:
    body = json.dumps({"cancel": target, **others})
    try:
        parsed = parse_message(body, "m")
    except InvalidCancel as invalid:
        assert REASONS.fullmatch(str(invalid)), str(invalid)  # fixed words, a field name, a code point
        return
    assert parsed == Cancel(id=str(target)) and not others
