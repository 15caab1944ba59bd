"""The §4 status table and the §5 event."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_pipeline.outcomes import Outcome, OutcomeEvent, ProviderStatus, event_id
from sms_pipeline.phone import mask
from sms_pipeline.retarus.statuses import verdict

TABLE = [
    ("DONE", "SUC_FIN", Outcome.DELIVERED),
    ("DONE", "SUC_ACC", Outcome.SENT),
    ("DONE", "FAILED_FIN", Outcome.UNDELIVERED),
    ("DONE", "INVALID_DST", Outcome.FAILED),
    ("DONE", "BLOCKED", Outcome.FAILED),
    ("DONE", "CON_ERR", Outcome.FAILED),
    ("DONE", "NOT_ACC_FIN", Outcome.FAILED),
    ("DONE", "TIMEOUT", Outcome.EXPIRED),
    ("DONE", "SEND_ERR", Outcome.UNKNOWN),
    ("DONE", "STATUS_ERR", Outcome.UNKNOWN),
    ("DONE", "SOMETHING_NEW", Outcome.UNKNOWN),
    ("DONE", "", Outcome.UNKNOWN),
    ("CANCELED", "", Outcome.CANCELED),
    ("CANCELED", "NOT_ACC_REC", Outcome.CANCELED),
    ("KILL", "", Outcome.UNKNOWN),
    ("KILL", "ANY", Outcome.UNKNOWN),
    ("OPEN", "", None),
    ("OPEN", "CON_ERR", None),
    ("RUNNING", "", None),
    ("RUNNING", "X", None),
]


@pytest.mark.parametrize(("process", "status", "outcome"), TABLE)
def test_status_table(process: str, status: str, outcome: Outcome | None) -> None:
    assert verdict(ProviderStatus(process, status)).outcome == outcome
    assert verdict(ProviderStatus(f"  {process.lower()} ", f" {status.lower()}\n")).outcome == outcome


def test_unknown_process_status_is_tracked_with_a_warning_flag() -> None:
    decided = verdict(ProviderStatus("PAUSED", ""))
    assert decided.outcome is None and decided.known is False


def test_event_id_is_stable_per_request_and_outcome() -> None:
    assert event_id("r1", Outcome.SENT) == event_id("r1", Outcome.SENT)
    assert event_id("r1", Outcome.SENT) != event_id("r1", Outcome.UNKNOWN)
    assert event_id("r1", Outcome.SENT) != event_id("r2", Outcome.SENT)


def test_event_body_has_every_field_of_section_5() -> None:
    event = OutcomeEvent(
        request_id="r1",
        outcome=Outcome.DELIVERED,
        reason="ok",
        masked_to=mask("+4917012345667"),
        job_id="J.1",
        provider_status=ProviderStatus("DONE", "SUC_FIN"),
        reference=None,
        metadata={"a": 1},
        requested_at=0,
        submitted_at=1.5,
        completed_at=2,
    ).body()
    assert list(event) == [
        "schemaVersion", "eventId", "id", "outcome", "jobId", "providerStatus", "reason", "to",
        "reference", "metadata", "requestedAt", "submittedAt", "completedAt", "encoding", "segments",
        "smartEncoded",
    ]  # fmt: skip
    assert event["providerStatus"] == {"processStatus": "DONE", "status": "SUC_FIN"}
    assert event["to"] == "+4917*******67"
    assert event["requestedAt"] == "1970-01-01T00:00:00.000Z"
    assert event["submittedAt"] == "1970-01-01T00:00:01.500Z"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+4917012345667", "+4917*******67"),
        ("004917012345667", "004917*******67"),
        ("01701234567", "017******67"),
        ("+441234567890123456", "+4412************56"),
        ("1234567", "1****67"),
        ("12367", "***67"),
        ("1234", "****"),
    ],
)
def test_mask_keeps_prefix_and_last_two_digits(number: str, masked: str) -> None:
    assert mask(number) == masked


@settings(max_examples=300)
@given(st.from_regex(r"(\+|00)?[0-9]{3,20}", fullmatch=True))
def test_a_mask_never_shows_more_than_half_of_the_digits(number: str) -> None:
    """Issue #15: `12367` was masked `12*67`, four digits of five."""
    prefix = "+" if number.startswith("+") else "00" if number.startswith("00") else ""
    digits = number[len(prefix) :]
    masked = mask(number)
    assert masked is not None and masked.startswith(prefix) and len(masked) == len(number)
    shown = masked[len(prefix) :].replace("*", "")
    assert len(shown) <= len(digits) / 2 and len(shown) <= 6
    assert len(digits) <= 4 or masked.endswith(digits[-2:])
