"""Outcomes (contract §4), a report's provider-neutral verdict, and the outcome event (contract §5).

The provider's status table that decides a verdict is the provider adapter's (retarus/statuses.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sms_pipeline.job import Final, Origin

SCHEMA_VERSION = 1
# The providers a request can be handed to: the outcome event's `provider` (contract §12).
PRIMARY_PROVIDER = "retarus"
FALLBACK_PROVIDER = "aws-sms"
PROVIDERS = (PRIMARY_PROVIDER, FALLBACK_PROVIDER)
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
    """What a provider's report of one job means, in no provider's vocabulary: a final outcome, or
    `outcome is None` for "keep tracking". `provider_status` is what the event repeats of it."""

    outcome: Outcome | None
    reason: str
    known: bool = True  # False: a status the provider's table does not know (tracked, with a warning)
    provider_status: ProviderStatus | None = None


TRACKING_LIMIT_REASON = "Tracking limit reached before the provider reported a final status."
UNCONFIRMED_REASON = "The provider did not answer the send in time; the SMS may or may not have been sent."
# A send the provider accepted without a readable job id (contract §2: never sent again).
ACCEPTED_UNREADABLE_REASON = (
    "The provider accepted the SMS, but its job id could not be read; it is not sent again and cannot be tracked."
)
CLAIM_EXPIRED_REASON = "The send was interrupted; the SMS may or may not have been sent."
CANCELLED_REASON = "cancelled before sending"  # contract §11, word for word
PROVIDER_REJECTED_REASON = "The provider rejected the request (HTTP 400: a parameter is invalid)."
# BLOCKED reasons are protection.py's: each names its rule in the contract's words (§10).


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
    provider: str | None = None  # the provider it was handed to; None: never sent

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
            "provider": self.provider,
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


def outcome_event(
    origin: Origin, final: Final, *, job_id: str | None, submitted_at: float | None, provider: str | None = None
) -> OutcomeEvent:
    """The event of a decided outcome: what the record keeps of the request, and the outcome.
    `provider`: the one the request was handed to, None when it never was."""
    return OutcomeEvent(
        request_id=origin.id,
        outcome=final.outcome,
        reason=final.reason,
        masked_to=origin.masked_to,
        job_id=job_id,
        provider_status=final.provider_status,
        reference=origin.reference,
        metadata=origin.metadata,
        requested_at=origin.requested_at,
        submitted_at=submitted_at,
        completed_at=final.completed_at,
        encoding=origin.encoding,
        segments=origin.segments,
        smart_encoded=origin.smart_encoded,
        provider=provider,
    )
