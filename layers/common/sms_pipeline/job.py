"""The job: what the pipeline knows of one request, from its claim before the POST to its outcome.

Domain records only; how they are stored is the store's (dynamodb/codec.py, dynamodb/store.py).

States: SENDING (claimed until `claim_until`, the POST follows at once) → RELEASED (the POST surely
did not happen, `last_error` says why; may be claimed again, until the request's validity ends) |
TRACKING (job id known, checks due) → PUBLISHING (outcome decided, publish due) → DONE. A request
that failed before it could claim (a configuration fault) is recorded RELEASED with its error, and
so is a new request found past its validity: such a request is never claimed, it goes from RELEASED
to PUBLISHING (EXPIRED), so a SENDING record always means a POST may have happened.

A request with a future sendAt (contract §11) is first SCHEDULED: it holds the body as received and
is due (`due_at`) when the status run is to put it back on the request queue; the claim takes it
from SCHEDULED as from RELEASED, and so does a cancel (→ PUBLISHING, CANCELED): one of the two wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sms_pipeline.outcomes import Outcome, ProviderStatus


class State(StrEnum):
    SCHEDULED = "SCHEDULED"
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
    send_at: float | None = None  # sendAt (§11), epoch seconds; None: the request named none

    @property
    def validity_start(self) -> float:
        """Where the validity (§8) counts from: sendAt when later than requestedAt (§11)."""
        return self.requested_at if self.send_at is None else max(self.requested_at, self.send_at)


@dataclass(frozen=True)
class Delivery:
    """One delivery's claim on a request: what a claim, or the take-over of an expired one, writes.

    SQS may hand out two copies of one message at once (at-least-once delivery), so the message id
    cannot tell the holder from another copy: `token` is this delivery's own, and only its holder
    may release the claim or switch its provider. The message id still tells a live claim of the
    same message (IN_FLIGHT: this copy must come back) from another message's (a duplicate).
    `claim_until` is when the claim ends: after the holder's invocation has surely ended, so that a
    claim found past it (EXPIRED) belongs to an invocation that died.
    """

    message_id: str  # the SQS message's
    token: str  # this delivery's own
    claim_until: float


@dataclass(frozen=True)
class Final:
    outcome: Outcome
    reason: str
    completed_at: float
    provider_status: ProviderStatus | None = None


@dataclass(frozen=True)
class Job:
    """One request's record, as the store holds it.

    `due_at` (milliseconds; 0: nothing due) is when the pending work (a check, a publish) is due,
    and doubles as the record's version: every conditional transition of the status path names the
    `due_at` it read, so two overlapping runs cannot both make it.
    """

    origin: Origin
    state: State
    due_at: int = 0
    due_shard: int | None = None  # the due index's partition, while something is due
    job_id: str | None = None  # the provider's, once sent
    submitted_at: float | None = None
    checks: int = 0  # status checks made
    final: Final | None = None
    attempts: int | None = None  # claims made; None: none counted yet
    last_error: str | None = None  # why the last attempt did not send; EXPIRED names it
    claim_until: float | None = None  # a SENDING claim is live until then
    message_id: str | None = None  # the SQS message that claimed it last
    claim_token: str | None = None  # that delivery's own token
    expires_at: int | None = None  # epoch seconds, when the store may forget it
    # Which provider the claim hands the request to (outcomes.PROVIDERS), written before the call,
    # so that a redelivery after a kill mid-call goes to that one or to none (contract §12).
    provider: str | None = None
    first_attempt_at: float | None = None  # the first attempt's time: FailoverAfterSeconds counts from it
    # A send of it may have reached the primary (an unknown result resent by policy, or an expired
    # claim taken over): it never fails over, so that it cannot go out through both providers.
    unconfirmed: bool = False
    body: str | None = None  # SCHEDULED: the message body as received, put back on the queue when due
    timer_at: int | None = None  # the due_at a check timer is on its way for (ports.CheckTimers)
    # How the record keeps an unknown origin value or provider status: as NULL (the send path's
    # writes) or left out (a rejection on arrival); the DONE record is written back the same way.
    null_unknowns: bool = field(default=True, repr=False, compare=False)
