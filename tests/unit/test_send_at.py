"""sendAt (contract §11): the forms it may take, the 35-day bound, a past time, and the validity it
moves; every rejection names `sendAt` and never repeats the value."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sms_pipeline.request import MAX_SCHEDULE_SECONDS, InvalidRequest, parse

REQUESTED_AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC).timestamp()  # the SQS SentTimestamp


def body(**fields: object) -> str:
    return json.dumps({"to": "+4917012345678", "text": "hi", **fields})


def send_at(value: object, requested_at: float = REQUESTED_AT) -> float | None:
    return parse(body(sendAt=value), "m", requested_at=requested_at).send_at


def rejection(value: object) -> str:
    with pytest.raises(InvalidRequest) as raised:
        send_at(value)
    assert raised.value.field == "sendAt"
    reason = str(raised.value)
    assert reason.startswith("sendAt: ")
    if isinstance(value, str) and value:
        assert value not in reason  # a reason never repeats what the producer wrote
    return reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-24T09:30:00Z", datetime(2026, 12, 24, 9, 30, tzinfo=UTC)),
        ("2026-12-24T11:30:00+02:00", datetime(2026, 12, 24, 9, 30, tzinfo=UTC)),
        ("2026-12-24T04:00:00-05:30", datetime(2026, 12, 24, 9, 30, tzinfo=UTC)),
        ("2026-12-24T09:30:00-00:00", datetime(2026, 12, 24, 9, 30, tzinfo=UTC)),  # RFC 3339: UTC
        ("2026-12-24T23:30:00-14:00", datetime(2026, 12, 25, 13, 30, tzinfo=UTC)),
    ],
)
def test_a_time_with_an_offset_or_z_is_that_instant(value: str, expected: datetime) -> None:
    assert send_at(value) == expected.timestamp()


@pytest.mark.parametrize(
    ("value", "fraction"),
    [
        ("2026-12-24T09:30:00.5Z", 0.5),
        ("2026-12-24T09:30:00.250+00:00", 0.25),
        ("2026-12-24T09:30:00.123456789Z", 0.123456),
    ],
)
def test_fractional_seconds_are_kept_to_the_microsecond(value: str, fraction: float) -> None:
    assert send_at(value) == pytest.approx(datetime(2026, 12, 24, 9, 30, tzinfo=UTC).timestamp() + fraction, abs=1e-6)


def test_absent_or_null_is_not_scheduled() -> None:
    assert parse(body(), "m", requested_at=REQUESTED_AT).send_at is None
    assert send_at(None) is None


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-24T09:30:00",  # no offset: a different instant in every time zone
        "2026-12-24 09:30:00Z",  # a space for the T
        "2026-12-24t09:30:00z",  # lower case
        "2026-12-24",  # a date alone
        "2026-12-24T09:30Z",  # no seconds
        "2026-12-24T09:30:00+0200",  # offset without its colon
        "2026-12-24T09:30:00+02",
        "20261224T093000Z",  # ISO 8601's basic format
        "2026-12-24T09:30:00.Z",
        "2026-12-24T09:30:00.1234567890Z",  # more than nanoseconds
        " 2026-12-24T09:30:00Z",
        "2026-12-24T09:30:00Z\n",
        "2026-12-24T09:30:00Z ",
        "２０２６-12-24T09:30:00Z",  # fullwidth digits
        "2026-12-24T09:30:00Z\u200b",
        "tomorrow",
        "",
    ],
)
def test_anything_but_a_date_time_with_its_offset_is_invalid(value: str) -> None:
    assert "with a UTC offset or Z" in rejection(value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-13-24T09:30:00Z",  # month 13
        "2026-00-24T09:30:00Z",
        "2026-02-30T09:30:00Z",
        "2026-12-24T24:00:00Z",
        "2026-12-24T09:60:00Z",
        "2026-12-31T23:59:60Z",  # a leap second: Python's datetime has none, and neither do epoch seconds
        "2026-12-24T09:30:00+24:00",
        "2026-12-24T09:30:00+01:60",
        "0000-12-24T09:30:00Z",
    ],
)
def test_a_time_that_does_not_exist_is_invalid(value: str) -> None:
    assert "is not a time that exists" in rejection(value)


@pytest.mark.parametrize("value", [1767000000, True, ["2026-12-24T09:30:00Z"], {"at": 1}])
def test_a_sendat_that_is_no_string_is_invalid(value: object) -> None:
    assert "must be a string" in rejection(value)


def test_at_most_35_days_after_requested_at() -> None:
    exactly = datetime(2027, 1, 7, 8, 0, tzinfo=UTC)  # 2026-12-03T08:00Z + 35 days
    assert exactly.timestamp() - REQUESTED_AT == MAX_SCHEDULE_SECONDS
    assert send_at("2027-01-07T08:00:00Z") == exactly.timestamp()
    assert send_at("2027-01-07T09:00:00+01:00") == exactly.timestamp()  # the same instant
    reason = rejection("2027-01-07T08:00:01Z")  # 35 days and 1 s
    assert reason == "sendAt: more than 35 days after the request was enqueued (requestedAt)"
    assert "more than 35 days" in rejection("2027-01-07T08:00:00.001Z")
    # Counted from requestedAt, not from the clock: a request enqueued later may go later.
    assert send_at("2027-01-07T08:00:01Z", requested_at=REQUESTED_AT + 1) is not None


def test_without_requested_at_the_bound_counts_from_now() -> None:
    """`sms send` validates before it enqueues: no SentTimestamp yet."""
    with pytest.raises(InvalidRequest, match=r"^sendAt: more than 35 days"):
        parse(body(sendAt="2999-01-01T00:00:00Z"), "m")
    assert parse(body(sendAt="2000-01-01T00:00:00Z"), "m").send_at == datetime(2000, 1, 1, tzinfo=UTC).timestamp()


def test_a_past_sendat_means_now() -> None:
    sms = parse(body(sendAt="2026-12-03T07:00:00Z"), "m", requested_at=REQUESTED_AT)
    assert sms.send_at == REQUESTED_AT - 3600  # kept as written ...
    assert sms.wait_seconds(REQUESTED_AT) == 0  # ... and it may go at once
    assert sms.validity_starts_at(REQUESTED_AT) == REQUESTED_AT  # its validity counts from requestedAt


def test_a_future_sendat_waits_until_then() -> None:
    sms = parse(body(sendAt="2026-12-03T09:00:00Z"), "m", requested_at=REQUESTED_AT)
    assert sms.wait_seconds(REQUESTED_AT) == 3600
    assert sms.wait_seconds(REQUESTED_AT + 3599.5) == 0.5
    assert sms.wait_seconds(REQUESTED_AT + 3600) == 0
    assert sms.wait_seconds(REQUESTED_AT + 7200) == 0


def test_validity_counts_from_sendat() -> None:
    """§8 + §11: a request scheduled an hour ahead with validitySeconds 300 may go until 09:05."""
    sms = parse(body(sendAt="2026-12-03T09:00:00Z", validitySeconds=300), "m", requested_at=REQUESTED_AT)
    starts = sms.validity_starts_at(REQUESTED_AT)
    assert starts == REQUESTED_AT + 3600
    assert starts + (sms.validity_seconds or 0) == datetime(2026, 12, 3, 9, 5, tzinfo=UTC).timestamp()
    # A later delivery (a retry, a redrive, the timer's re-enqueue) knows a later requestedAt: the
    # validity still starts at sendAt, not at that delivery.
    assert sms.validity_starts_at(REQUESTED_AT + 3700) == REQUESTED_AT + 3700


def test_an_unscheduled_request_counts_its_validity_from_requested_at() -> None:
    sms = parse(body(), "m", requested_at=REQUESTED_AT)
    assert (sms.validity_starts_at(REQUESTED_AT), sms.wait_seconds(REQUESTED_AT)) == (REQUESTED_AT, 0)


def test_a_repeated_sendat_is_invalid_and_names_it() -> None:
    raw = '{"to": "+4917012345678", "text": "hi", "sendAt": "2026-12-03T09:00:00Z", "sendAt": "2026-12-04T09:00:00Z"}'
    with pytest.raises(InvalidRequest) as raised:
        parse(raw, "m", requested_at=REQUESTED_AT)
    assert str(raised.value) == "sendAt: appears twice"


def test_sendat_is_part_of_the_fingerprint() -> None:
    """One id enqueued twice with two times is two different requests (§2 tells them apart)."""
    first = parse(body(id="r", sendAt="2026-12-03T09:00:00Z"), "m", requested_at=REQUESTED_AT)
    second = parse(body(id="r", sendAt="2026-12-03T10:00:00Z"), "m", requested_at=REQUESTED_AT)
    assert first.fingerprint != second.fingerprint
