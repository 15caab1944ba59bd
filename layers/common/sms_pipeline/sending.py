"""The send use case: one SQS record in, at most one POST /sms out (contract §1–§3).

Pure orchestration over three ports (job store, publisher, Retarus client); the handler owns the
event plumbing and the concurrency. Each record either ends well (sent, duplicate, or a published
REJECTED/UNKNOWN outcome) or raises RetryLater, which fails it in the batch response so that SQS
delivers it again (and, if that keeps happening, moves it to the DLQ).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sms_pipeline import request as requests_
from sms_pipeline.jobs import ClaimResult, Final, Job, Origin
from sms_pipeline.observability import count, logger
from sms_pipeline.outcomes import (
    CLAIM_EXPIRED_REASON,
    PROVIDER_REJECTED_REASON,
    UNCONFIRMED_REASON,
    Outcome,
    OutcomeEvent,
)
from sms_pipeline.phone import mask
from sms_pipeline.retarus import ConfigurationFault, Rejected, RetarusError, TransientError, UnknownResult

CLAIM_MARGIN_SECONDS = 10.0


class RetryLater(Exception):
    """Fail this record in the batch response; SQS redelivers it after the visibility timeout."""


# Losing a claim to another delivery is not acknowledged: that delivery may be another copy of this
# very SQS message, and if its invocation then died, deleting ours would leave no message to bring
# the request back. Failed back to SQS, ours returns once the claim is settled, and is a duplicate.
_LOST_RACE = "another delivery took the claim over; this one comes back once it is settled"


class Result(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Incoming:
    message_id: str
    body: str
    sent_at: float  # SQS SentTimestamp, in seconds: the event's requestedAt


class Store(Protocol):
    def claim(
        self, origin: Origin, *, message_id: str, token: str, now: float, claim_until: float
    ) -> tuple[ClaimResult, Job | None]: ...
    def take_over(
        self, request_id: str, *, message_id: str, token: str, stale_claim_until: object, claim_until: float
    ) -> bool: ...
    def release(self, request_id: str, *, token: str) -> None: ...
    def record_sent(self, request_id: str, job_id: str, *, submitted_at: float, first_check_at: float) -> None: ...
    def finish_claimed(self, request_id: str, final: Final, *, publish_lease_until: float) -> bool: ...
    def put_rejected(self, origin: Origin, final: Final, *, now: float, publish_lease_until: float) -> bool: ...
    def mark_published(self, request_id: str) -> None: ...
    def publish_failed(self, request_id: str, *, retry_at: float) -> None: ...


class Publisher(Protocol):
    def publish(self, events: Sequence[OutcomeEvent]) -> set[str]: ...


class Provider(Protocol):
    def ready(self) -> None: ...
    def send(self, sms: requests_.SmsRequest, *, deadline: float | None = None) -> str: ...


class Sender:
    """Per container: the ports and the policies. `batch()` makes the per-invocation part."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        provider: Provider,
        *,
        resend_unconfirmed: bool,
        first_check_delay: int,
        publish_lease_seconds: int,
        on_auth_failure: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.provider = provider
        self.resend_unconfirmed = resend_unconfirmed
        self.first_check_delay = first_check_delay
        self.publish_lease_seconds = publish_lease_seconds
        self.on_auth_failure = on_auth_failure
        self.clock = clock
        self.monotonic = monotonic

    def batch(self, remaining_seconds: float) -> Batch:
        return Batch(self, remaining_seconds)


class Batch:
    """One invocation: a deadline for retries and a circuit that opens on a configuration fault."""

    def __init__(self, sender: Sender, remaining_seconds: float) -> None:
        self._s = sender
        self._deadline = sender.monotonic() + max(0.0, remaining_seconds - 2.0)
        self._claim_until = sender.clock() + remaining_seconds + CLAIM_MARGIN_SECONDS
        self._circuit = threading.Event()

    @property
    def circuit_open(self) -> bool:
        return self._circuit.is_set()

    def handle(self, incoming: Incoming) -> Result:
        try:
            return self._handle(incoming)
        except RetryLater:
            raise
        except Exception:
            # AWS errors after botocore's own retries, bugs: fail the record so SQS retries it.
            logger.exception("record failed unexpectedly", extra={"message_id": incoming.message_id})
            count("SendFailures")
            raise

    def _handle(self, incoming: Incoming) -> Result:
        s = self._s
        try:
            sms = requests_.parse(incoming.body, incoming.message_id)
        except requests_.InvalidRequest as invalid:
            return self._reject_invalid(incoming, invalid)

        origin = Origin(
            id=sms.id,
            masked_to=sms.masked_to,
            reference=sms.reference,
            metadata=sms.metadata,
            requested_at=incoming.sent_at,
        )
        log = {"request_id": sms.id, "to": sms.masked_to, "message_id": incoming.message_id}
        if self.circuit_open:
            raise RetryLater("not sent: the provider refused the credentials earlier in this invocation")
        try:
            # Whatever can stall comes before the claim: from the claim on, the POST may be on its way.
            s.provider.ready()
        except ConfigurationFault as fault:
            raise self._configuration_fault(fault, log) from None

        token = uuid.uuid4().hex  # this delivery's own: two copies of one message must not share a claim
        claim, existing = s.store.claim(
            origin, message_id=incoming.message_id, token=token, now=s.clock(), claim_until=self._claim_until
        )
        if claim is ClaimResult.IN_FLIGHT:
            logger.info("another copy of this message is being sent; this one will come back", extra=log)
            raise RetryLater("another delivery of the same message holds the claim")
        if claim is ClaimResult.DUPLICATE:
            logger.info("duplicate request acknowledged, not sent again", extra=log)
            count("DuplicateRequests")
            return Result.DUPLICATE
        if claim is ClaimResult.EXPIRED:
            # The claimant died between its claim and the record of its POST's result: the POST may
            # have reached the provider (§2).
            assert existing is not None
            if not s.resend_unconfirmed:
                logger.warning("an earlier send of this request was interrupted; ending as UNKNOWN", extra=log)
                return self._finish(origin, None, Outcome.UNKNOWN, CLAIM_EXPIRED_REASON)
            stale = existing.extra.get("claimUntil")
            if not s.store.take_over(
                sms.id,
                message_id=incoming.message_id,
                token=token,
                stale_claim_until=stale,
                claim_until=self._claim_until,
            ):
                logger.info("another delivery took the request over first; not sent here", extra=log)
                raise RetryLater(_LOST_RACE)
            logger.warning("an earlier send of this request was interrupted; sending again (policy)", extra=log)

        try:
            job_id = s.provider.send(sms, deadline=self._deadline)
        except Rejected:
            logger.info("provider rejected the request (400)", extra=log)
            return self._finish(origin, None, Outcome.REJECTED, PROVIDER_REJECTED_REASON)
        except ConfigurationFault as fault:
            s.store.release(sms.id, token=token)
            raise self._configuration_fault(fault, log) from None
        except UnknownResult as unknown:
            if s.resend_unconfirmed:
                s.store.release(sms.id, token=token)
                logger.warning(
                    "send result unknown; will send again (ResendUnconfirmed)",
                    extra={**log, "error": str(unknown)},
                )
                raise RetryLater(str(unknown)) from None
            logger.warning("send result unknown; ending as UNKNOWN", extra={**log, "error": str(unknown)})
            return self._finish(origin, None, Outcome.UNKNOWN, UNCONFIRMED_REASON)
        except (TransientError, RetarusError) as error:
            s.store.release(sms.id, token=token)
            logger.warning("send failed; SQS will deliver the request again", extra={**log, "error": str(error)})
            raise RetryLater(str(error)) from None

        now = s.clock()
        s.store.record_sent(sms.id, job_id, submitted_at=now, first_check_at=now + s.first_check_delay)
        logger.info("sent", extra={**log, "job_id": job_id})
        count("SmsSent")
        return Result.SENT

    def _configuration_fault(self, fault: ConfigurationFault, log: dict[str, str]) -> RetryLater:
        """Credentials refused or unreadable, or a wrong URL: no request of this invocation can be
        sent, so the circuit opens and the records go back to SQS (and to the DLQ if it lasts)."""
        self._circuit.set()
        self._s.on_auth_failure()
        count("ProviderAuthFailures")
        logger.error(
            "provider configuration fault; circuit open for this invocation", extra={**log, "error": str(fault)}
        )
        return RetryLater(str(fault))

    def _reject_invalid(self, incoming: Incoming, invalid: requests_.InvalidRequest) -> Result:
        s = self._s
        echo = requests_.echo(incoming.body, incoming.message_id)
        origin = Origin(
            id=echo.id,
            masked_to=mask(echo.to),
            reference=echo.reference,
            metadata=echo.metadata,
            requested_at=incoming.sent_at,
        )
        now = s.clock()
        final = Final(Outcome.REJECTED, f"invalid request: {invalid}", completed_at=now)
        logger.info(
            "invalid request rejected",
            extra={"request_id": echo.id, "message_id": incoming.message_id, "field": invalid.field},
        )
        if not s.store.put_rejected(origin, final, now=now, publish_lease_until=now + s.publish_lease_seconds):
            return Result.DUPLICATE
        self._publish(origin, None, final)
        return Result.REJECTED

    def _finish(self, origin: Origin, job_id: str | None, outcome: Outcome, reason: str) -> Result:
        s = self._s
        now = s.clock()
        final = Final(outcome, reason, completed_at=now)
        if not s.store.finish_claimed(origin.id, final, publish_lease_until=now + s.publish_lease_seconds):
            return Result.DUPLICATE
        self._publish(origin, job_id, final)
        return Result.REJECTED if outcome is Outcome.REJECTED else Result.UNKNOWN

    def _publish(self, origin: Origin, job_id: str | None, final: Final) -> None:
        """Publish now; when SNS fails the job stays due and the status function publishes it."""
        s = self._s
        event = outcome_event(origin, final, job_id=job_id, submitted_at=None)
        if origin.id in s.publisher.publish([event]):
            s.store.mark_published(origin.id)
        else:
            s.store.publish_failed(origin.id, retry_at=s.clock())
        count(f"Outcome{final.outcome.value.title()}")


def outcome_event(origin: Origin, final: Final, *, job_id: str | None, submitted_at: float | None) -> OutcomeEvent:
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
    )
