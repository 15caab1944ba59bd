"""Outcomes (contract §4) and the outcome event (contract §5).

The status table lives here and nowhere else: the send path, the status path, the simulator's tests
and the docs all read it from this module.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

SCHEMA_VERSION = 1
# Whatever a reason repeats (a provider's error, a rule broken) stays short: with the id (128),
# the reference (70) and the metadata (2 KiB), the event is far below SNS's 256 KiB.
MAX_REASON_CHARS = 500
_EVENT_NAMESPACE = uuid.UUID("6f1c2a4e-8d0b-4c55-9a3e-5b1f7d2c9e10")


class Outcome(StrEnum):
    DELIVERED = "DELIVERED"
    SENT = "SENT"
    UNDELIVERED = "UNDELIVERED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"
    REJECTED = "REJECTED"
    BLOCKED = "BLOCKED"  # refused by a protection rule (contract §10): never sent


@dataclass(frozen=True)
class ProviderStatus:
    process_status: str
    status: str

    def as_event(self) -> dict[str, str]:
        return {"processStatus": self.process_status, "status": self.status}


@dataclass(frozen=True)
class Verdict:
    """What one report means: a final outcome, or `outcome is None` for "keep tracking"."""

    outcome: Outcome | None
    reason: str
    known: bool = True  # False: a processStatus the table does not know (tracked, with a warning)


# The provider's own descriptions (retarus-sms-http-api.txt) are the events' reasons.
_DONE: dict[str, tuple[Outcome, str]] = {
    "SUC_FIN": (Outcome.DELIVERED, "Successful (with delivery notification)."),
    "SUC_ACC": (Outcome.SENT, "Successful (without delivery notification)."),
    "FAILED_FIN": (Outcome.UNDELIVERED, "Failed; delivery notification returns this status."),
    "INVALID_DST": (Outcome.FAILED, "Invalid number (e.g., 999999)."),
    "BLOCKED": (Outcome.FAILED, "Blocklisted number."),
    "CON_ERR": (Outcome.FAILED, "Failed; all retry attempts were unsuccessful."),
    "NOT_ACC_FIN": (Outcome.FAILED, "Failed; delivery to the provider was/is not possible."),
    "TIMEOUT": (Outcome.EXPIRED, "Sent, but the validity period was exceeded."),
    "SEND_ERR": (Outcome.UNKNOWN, "Internal error (in most cases, the SMS has arrived anyway)."),
    "STATUS_ERR": (Outcome.UNKNOWN, "Internal error during the query for the delivery notification."),
}


def verdict(status: ProviderStatus) -> Verdict:
    """Map a GET /reports answer with the §4 table (case-insensitive, surrounding space ignored)."""
    process = status.process_status.strip().upper()
    detail = status.status.strip().upper()
    if process == "OPEN":
        if detail:
            return Verdict(None, "In re-try state (e.g., during a connection error to service provider).")
        return Verdict(None, "Pending SMS, not yet scheduled.")
    if process == "RUNNING":
        return Verdict(None, "SMS was sent, but no delivery notification was received.")
    if process == "DONE":
        outcome, reason = _DONE.get(detail, (Outcome.UNKNOWN, f"Unrecognised provider status {detail!r}."))
        return Verdict(outcome, reason)
    if process == "CANCELED":
        if detail == "NOT_ACC_REC":
            return Verdict(Outcome.CANCELED, "Transmission was cancelled after the initial delivery attempt.")
        return Verdict(Outcome.CANCELED, "Transmission was cancelled before the initial delivery attempt.")
    if process == "KILL":
        return Verdict(Outcome.UNKNOWN, "SMS was sent, but cancelled and no delivery notification has been received.")
    return Verdict(None, f"Unrecognised processStatus {process!r}; still tracked.", known=False)


TRACKING_LIMIT_REASON = "Tracking limit reached before the provider reported a final status."
UNCONFIRMED_REASON = "The provider did not answer the send in time; the SMS may or may not have been sent."
CLAIM_EXPIRED_REASON = "The send was interrupted; the SMS may or may not have been sent."
PROVIDER_REJECTED_REASON = "The provider rejected the request (HTTP 400: a parameter is invalid)."
# BLOCKED reasons are protection.py's: each names its rule in the contract's words (§10).


def _bounded(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


def event_id(request_id: str, outcome: Outcome) -> str:
    """Stable per request and outcome, so a repeated publish can be recognised by consumers."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{request_id}\x1f{outcome.value}"))


def iso(epoch_seconds: float | None) -> str | None:
    if epoch_seconds is None:
        return None
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class OutcomeEvent:
    request_id: str
    outcome: Outcome
    reason: str
    masked_to: str | None
    job_id: str | None = None
    provider_status: ProviderStatus | None = None
    reference: str | None = None
    metadata: dict[str, Any] | None = None
    requested_at: float | None = None
    submitted_at: float | None = None
    completed_at: float | None = None
    encoding: str | None = None
    segments: int | None = None
    smart_encoded: bool = False

    @property
    def event_id(self) -> str:
        return event_id(self.request_id, self.outcome)

    def body(self) -> dict[str, Any]:
        """The §5 message body, field for field."""
        return {
            "schemaVersion": SCHEMA_VERSION,
            "eventId": self.event_id,
            "id": self.request_id,
            "outcome": self.outcome.value,
            "jobId": self.job_id,
            "providerStatus": self.provider_status.as_event() if self.provider_status else None,
            "reason": self.reason
            if len(self.reason) <= MAX_REASON_CHARS
            else self.reason[: MAX_REASON_CHARS - 1] + "…",
            "to": self.masked_to,
            "reference": self.reference,
            "metadata": self.metadata or {},
            "requestedAt": iso(self.requested_at),
            "submittedAt": iso(self.submitted_at),
            "completedAt": iso(self.completed_at),
            "encoding": self.encoding,
            "segments": self.segments,
            "smartEncoded": self.smart_encoded,
        }
