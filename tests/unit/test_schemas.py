"""The published JSON Schemas (schemas/) agree with the contract and with the send function: the
samples validate, what the function rejects for shape the request schema rejects, and anything the
function accepts the schema accepts (it is never stricter)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from sms_pipeline.cancel import InvalidCancel, cancel_from
from sms_pipeline.outcomes import Outcome, OutcomeEvent, ProviderStatus
from sms_pipeline.request import InvalidRequest, validate

ROOT = Path(__file__).resolve().parents[2]
REQUEST = Draft202012Validator(json.loads((ROOT / "schemas" / "request.schema.json").read_text()))
EVENT = Draft202012Validator(json.loads((ROOT / "schemas" / "outcome-event.schema.json").read_text()))
CANCEL = Draft202012Validator(json.loads((ROOT / "schemas" / "cancel.schema.json").read_text()))
REQUESTED_AT = 1_796_284_800.0  # 2026-12-03T08:00:00Z, the SQS SentTimestamp of every document here


def test_the_schemas_are_valid_draft_2020_12() -> None:
    for name in ("request.schema.json", "outcome-event.schema.json", "cancel.schema.json"):
        Draft202012Validator.check_schema(json.loads((ROOT / "schemas" / name).read_text()))


def test_the_sample_requests_validate_but_the_one_meant_to_be_rejected() -> None:
    for line in (ROOT / "events" / "sample-requests.jsonl").read_text().splitlines():
        sample = json.loads(line)
        if "cancel" in sample:  # the cancelled sample's cancel message (contract §11)
            assert CANCEL.is_valid(sample), sample
            continue
        meant_invalid = sample["id"] == "sample-invalid"
        assert REQUEST.is_valid(sample) is not meant_invalid, sample["id"]


def test_the_sample_outcome_event_and_every_kind_of_event_validate() -> None:
    EVENT.validate(json.loads((ROOT / "events" / "outcome-event.json").read_text()))
    EVENT.validate(json.loads((ROOT / "events" / "outcome-event-blocked.json").read_text()))
    for outcome in Outcome:
        EVENT.validate(
            OutcomeEvent(
                request_id="r-1",
                outcome=outcome,
                reason="x",
                masked_to="+4917*******67",
                job_id="J.1" if outcome is not Outcome.REJECTED else None,
                provider_status=ProviderStatus("DONE", "SUC_FIN") if outcome is not Outcome.REJECTED else None,
                requested_at=0,
                completed_at=1,
                encoding="GSM-7",
                segments=1,
            ).body()
        )


SHAPE_ERRORS: list[dict[str, Any]] = [
    {"text": "x"},
    {"to": "+4917012345678"},
    {"to": 4917012345678, "text": "x"},
    {"to": "+4917012345678", "text": 5},
    {"to": "+4917012345678", "text": ""},
    {"to": "+4917012345678", "text": "x" * 1601},
    {"to": "+4917012345678", "text": "x", "colour": "red"},
    {"to": "+4917012345678", "text": "x", "id": 7},
    {"to": "+4917012345678", "text": "x", "id": "has space"},
    {"to": "+4917012345678", "text": "x", "deliveryReport": "yes"},
    {"to": "+4917012345678", "text": "x", "priority": "urgent"},
    {"to": "+4917012345678", "text": "x", "metadata": [1]},
    {"to": "+4917012345678", "text": "x", "from": "ACME\u00a0"},
    {"to": "+4917012345678", "text": "x", "from": "TwelveChars!"},
    {"to": "+4917012345678", "text": "x", "billingCode": "b" * 71},
    {"to": "+4917012345678", "text": "x", "validitySeconds": 4},
    {"to": "+4917012345678", "text": "x", "validitySeconds": "300"},
    {"to": "+4917012345678", "text": "x", "maxSegments": 31},
    {"to": "+4917012345678", "text": "x", "smartEncoding": "yes"},
    {"to": "call me", "text": "x"},
    # Control characters (contract §1): C0 but LF, CR and FF, DEL and C1 in the text; any in to.
    {"to": "+4917012345678", "text": "a\u0000b"},
    {"to": "+4917012345678", "text": "a\tb"},
    {"to": "+4917012345678", "text": "a\u007fb"},
    {"to": "+4917012345678", "text": "a\u0085b"},
    {"to": "+49\t17012345678", "text": "x"},
    {"to": "+49\n17012345678", "text": "x"},
    {"to": "+49\u008517012345678", "text": "x"},
    {"to": "+49\u200b17012345678", "text": "x"},
    {"to": "+4917012345678", "text": "x", "from": "AC\u200bME"},
    {"to": "+4917012345678", "text": "x", "from": "AC\u0000ME"},
    {"to": "+4917012345678", "text": "x", "id": "a\u202eb"},
    # sendAt (contract §11): a date-time with its offset or Z; the 35-day bound is no shape.
    {"to": "+4917012345678", "text": "x", "sendAt": "2026-12-24T09:30:00"},
    {"to": "+4917012345678", "text": "x", "sendAt": "2026-12-24 09:30:00Z"},
    {"to": "+4917012345678", "text": "x", "sendAt": "2026-12-24"},
    {"to": "+4917012345678", "text": "x", "sendAt": "2026-12-24T09:30:00+0200"},
    {"to": "+4917012345678", "text": "x", "sendAt": "2026-12-24T09:30:00.1234567890Z"},
    {"to": "+4917012345678", "text": "x", "sendAt": 1796371200},
    {"to": "+4917012345678", "text": "x", "sendAt": "tomorrow"},
]


@pytest.mark.parametrize("document", SHAPE_ERRORS)
def test_what_the_send_function_rejects_for_shape_the_schema_rejects(document: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        validate(document, "m", requested_at=REQUESTED_AT)
    assert not REQUEST.is_valid(document)


@pytest.mark.parametrize(
    "send_at", ["2026-12-24T09:30:00Z", "2026-12-24T11:30:00+02:00", "2026-12-24T04:00:00.125-05:30", None]
)
def test_the_request_schema_accepts_a_sendat_with_its_offset(send_at: str | None) -> None:
    document = {"to": "+4917012345678", "text": "x", "sendAt": send_at}
    validate(document, "m", requested_at=REQUESTED_AT)
    assert REQUEST.is_valid(document)


CANCELS: list[tuple[Any, bool]] = [
    ({"cancel": "order-4711:otp"}, True),
    ({"cancel": "x" * 128}, True),
    ({"cancel": "x" * 129}, False),
    ({"cancel": ""}, False),
    ({"cancel": "has space"}, False),
    ({"cancel": None}, False),
    ({"cancel": 7}, False),
    ({"cancel": "r-1", "id": "r-1"}, False),
    ({"cancel": "r-1", "to": "+4917012345678", "text": "hi"}, False),
]


@pytest.mark.parametrize(("document", "valid"), CANCELS)
def test_the_cancel_schema_accepts_what_the_send_function_accepts_as_a_cancel(document: Any, valid: bool) -> None:
    try:
        cancel_from(document)
        accepted = True
    except InvalidCancel:
        accepted = False
    assert (accepted, CANCEL.is_valid(document)) == (valid, valid)
    assert not REQUEST.is_valid(document)  # a cancel message is no request, valid or not


FIELDS = ["id", "to", "text", "from", "deliveryReport", "priority", "billingCode", "reference", "metadata"]
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=400_000),
    st.sampled_from(["normal", "express", "ACME", "+4917012345678", "0170 1234567", "x", "a.b:c-1"]),
    st.text(max_size=30),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
# sendAt: near misses of RFC 3339 (each part's digits and separators varied) and times around the
# 35-day bound.
send_at_values = st.one_of(
    st.from_regex(
        r"\A[0-9]{4}-[0-9]{1,2}-[0-9]{2}[T t][0-9]{2}:[0-9]{2}(:[0-9]{2})?"
        r"(\.[0-9]{0,10})?([Zz]|[+-][0-9]{2}:?[0-9]{2})?\Z"
    ),
    st.datetimes(
        min_value=datetime(2026, 11, 1), max_value=datetime(2027, 2, 1), timezones=st.timezones(), allow_imaginary=False
    ).map(lambda moment: moment.isoformat()),
)
documents = st.dictionaries(
    st.sampled_from([*FIELDS, "validitySeconds", "maxSegments", "smartEncoding", "sendAt"]),
    values | send_at_values,
    max_size=8,
).map(lambda d: {"to": "+4917012345678", "text": "hi", **d})


@settings(max_examples=300, suppress_health_check=[HealthCheck.filter_too_much])
@given(documents)
def test_the_schema_accepts_whatever_the_send_function_accepts(document: dict[str, Any]) -> None:
    try:
        validate(document, "m", requested_at=REQUESTED_AT)
    except InvalidRequest:
        return
    assert REQUEST.is_valid(document), list(REQUEST.iter_errors(document))


# Digits, separators and letters among the characters contract §1 forbids in to, from, id or text
# (controls, invisible format characters) and some it allows (line feed in a text, Unicode spaces).
near_misses = st.one_of(
    st.text(
        alphabet=st.sampled_from(
            [*"+0123456789 -.()AB\x00\t\n\r\x0c\x7f\x85\xa0\u2009\u3000\xad\u200b\u202e\ufeff\U000e0041"]
        ),
        max_size=20,
    ),
    st.from_regex("\\A(\\+|00)?[0-9]{1,4}[ \xa0\u1680\u2009\u2028\u3000\t\n\x0c\x85\u200b\ufeff]{1,3}[0-9]{3,9}\\Z"),
)


@settings(max_examples=400)
@given(st.sampled_from(["to", "to", "from", "id", "text"]), near_misses)
def test_the_schema_accepts_whatever_the_send_function_accepts_near_a_forbidden_character(
    field: str, value: str
) -> None:
    document = {"to": "+4917012345678", "text": "hi", field: value}
    try:
        validate(document, "m")
    except InvalidRequest:
        return
    assert REQUEST.is_valid(document), list(REQUEST.iter_errors(document))


@settings(max_examples=400)
@given(send_at_values)
def test_the_schema_accepts_whatever_the_send_function_accepts_as_sendat(value: str) -> None:
    document = {"to": "+4917012345678", "text": "hi", "sendAt": value}
    try:
        validate(document, "m", requested_at=REQUESTED_AT)
    except InvalidRequest:
        return
    assert REQUEST.is_valid(document), list(REQUEST.iter_errors(document))
