"""The job: what the pipeline knows of one request, from its claim before the POST to its outcome.

Domain records only; how they are stored is the store's (dynamodb/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sms_pipeline.outcomes import Outcome, ProviderStatus


class State(StrEnum):
    SENDING = "SENDING"
    RELEASED = "RELEASED"
    TRACKING = "TRACKING"
    PUBLISHING = "PUBLISHING"
    DONE = "DONE"


class ClaimResult(StrEnum):
    GRANTED = "GRANTED"
    DUPLICATE = "DUPLICATE"  # another message holds or finished this id: acknowledge, do nothing
    IN_FLIGHT = "IN_FLIGHT"  # another copy of this very message holds a live claim: try again later
    EXPIRED = "EXPIRED"  # an earlier claim ended without a record of the POST's result
    PAST_VALIDITY = "PAST_VALIDITY"  # new or released, and past its validity: not claimed, to end EXPIRED


@dataclass(frozen=True)
class Origin:
    """What the outcome event repeats of the request; stored at the claim."""

    id: str
    masked_to: str | None
    reference: str | None
    metadata: dict[str, Any]
    requested_at: float
    fingerprint: str | None = None  # request.fingerprint: tells two requests with one id apart
    encoding: str | None = None  # of the text as sent (contract §9); None: no readable text
    segments: int | None = None
    smart_encoded: bool = False


@dataclass(frozen=True)
class Final:
    outcome: Outcome
    reason: str
    completed_at: float
    provider_status: ProviderStatus | None = None


@dataclass(frozen=True)
class Job:
    """An item as read from the due index."""

    origin: Origin
    state: State
    due_at: int  # milliseconds; the optimistic-lock token of every conditional transition
    job_id: str | None = None
    submitted_at: float | None = None
    checks: int = 0
    final: Final | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Every attribute as stored (deserialized): what the DONE record writes back whole.
    stored: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
