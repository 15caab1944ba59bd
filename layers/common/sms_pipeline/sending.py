"""The send use case: one SQS record in, at most one POST /sms out (contract §1–§3, §8).

Pure orchestration over three ports (ports.py: job store, publisher, provider) and the protection
rules (protection.py); the handler owns the event plumbing and the concurrency. Each record either
ends well (sent, duplicate, or a published REJECTED/BLOCKED/UNKNOWN/EXPIRED outcome) or raises
RetryLater, which fails it in the batch response and says after how many seconds SQS should
deliver it again: the next of the retry delays, cut short to the end of the request's validity,
after which the request ends EXPIRED instead of being sent. A record that fails unexpectedly (a
bug, AWS failing) keeps the queue's own visibility timeout; if that keeps happening SQS moves it
to the DLQ.

A request with a future sendAt (§11) is stored SCHEDULED and acknowledged (scheduling.py: the
status run, or this function when it is due within the lead, puts it back on the queue); its copy
is claimed like any request, and the rules of §10 are checked then. A cancel message ends a
request that is surely not sent, CANCELED.

With a fallback provider (contract §12), an attempt that Retarus certainly did not take may go to
it instead, under the same claim, which names the fallback before the call; when is failover.py's.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from sms_pipeline import request as requests_
from sms_pipeline import scheduling
from sms_pipeline import timers as timers_
from sms_pipeline.cancel import Cancel, InvalidCancel, parse_message
from sms_pipeline.job import ClaimResult, Delivery, Final, Job, Origin, State
from sms_pipeline.observability import MetricUnit, count, logger
from sms_pipeline.outcomes import (
    ACCEPTED_UNREADABLE_REASON,
    CANCELLED_REASON,
    CLAIM_EXPIRED_REASON,
    PRIMARY_PROVIDER,
    PROVIDER_REJECTED_REASON,
    UNCONFIRMED_REASON,
    Outcome,
    outcome_event,
)
from sms_pipeline.phone import mask
from sms_pipeline.ports import (
    CheckTimers,
    ConfigurationFault,
    Provider,
    ProviderError,
    Publisher,
    Rejected,
    Requeue,
    SendStore,
    TransientError,
    UnknownResult,
)
from sms_pipeline.protection import Admission, Block, Protection
from sms_pipeline.retry import expired_reason, retry_delay

if TYPE_CHECKING:  # failover.py is loaded only where a fallback provider is configured (wiring.py)
    from sms_pipeline.failover import Failover

CLAIM_MARGIN_SECONDS = 10.0


class RetryLater(Exception):
    """Fail this record in the batch response; SQS delivers it again after `after_seconds`."""

    def __init__(self, reason: str, *, after_seconds: int) -> None:
        super().__init__(reason)
        self.after_seconds = after_seconds


# Losing a claim to another delivery is not acknowledged: that delivery may be another copy of this
# very SQS message, and if its invocation then died, deleting ours would leave no message to bring
# the request back. Failed back to SQS, ours returns once the claim is settled, and is a duplicate.
_LOST_RACE = "another delivery took the claim over; this one comes back once it is settled"


class Result(StrEnum):
    SENT = "sent"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    BLOCKED = "blocked"
    SCHEDULED = "scheduled"  # stored to wait for its sendAt (§11); acknowledged
    CANCELED = "canceled"
    IGNORED = "ignored"  # a cancel that changed nothing, or an invalid one: logged, acknowledged


@dataclass(frozen=True)
class Incoming:
    message_id: str
    body: str
    sent_at: float  # SQS SentTimestamp, in seconds: the event's requestedAt
    receive_count: int = 1  # SQS ApproximateReceiveCount: this is attempt number n
    request_id: str | None = None  # the `requestId` message attribute: a scheduled request's put-back copy

    @property
    def default_id(self) -> str:
        """The id of a request without `id`: the message id, or the one its put-back copy carries."""
        return self.request_id or self.message_id


@dataclass(eq=False)
class Sender:
    """Per container: the ports and the policies. `batch()` makes the per-invocation part."""

    store: SendStore
    publisher: Publisher
    provider: Provider
    _: KW_ONLY
    resend_unconfirmed: bool
    first_check_delay: int
    publish_lease_seconds: int
    default_validity_seconds: int
    retry_delays: Sequence[int]
    request_defaults: requests_.Defaults
    on_auth_failure: Callable[[], None] = lambda: None
    failover: Failover | None = None  # the second provider (contract §12); None: FallbackProvider none
    primary_name: str = PRIMARY_PROVIDER
    timers: CheckTimers | None = None  # the first check's timer (timers.py); None: the scheduled run's
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    protection: Protection | None = None  # the rules of contract §10 (None: none)
    requeue: Requeue | None = None  # puts a request due within the lead back on the queue (§11)
    schedule_lead_seconds: int = 900

    def __post_init__(self) -> None:
        self.retry_delays = tuple(self.retry_delays)

    def batch(self, remaining_seconds: float) -> Batch:
        return Batch(self, remaining_seconds)


class Batch:
    """One invocation: a deadline for retries and a circuit that opens on a configuration fault."""

    def __init__(self, sender: Sender, remaining_seconds: float) -> None:
        self._s = sender
        self._deadline = sender.monotonic() + max(0.0, remaining_seconds - 2.0)
        self._claim_until = sender.clock() + remaining_seconds + CLAIM_MARGIN_SECONDS
        self._circuit = threading.Event()
        self._fault = ""  # the configuration fault that opened the circuit
        self._timers: list[timers_.Timer] = []  # the first checks' timers, started after the batch
        self._timers_lock = threading.Lock()

    @property
    def circuit_open(self) -> bool:
        return self._circuit.is_set()

    def start_timers(self) -> None:
        """After the batch, the first checks' timers of the SMS it sent, ten to a call. A timer
        that fails is the scheduled run's to cover: it never fails a record (the SMS is sent)."""
        with self._timers_lock:
            started, self._timers = self._timers, []
        timers_.start(self._s.timers, started)

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
            sms = parse_message(incoming.body, incoming.default_id, s.request_defaults, requested_at=incoming.sent_at)
        except requests_.InvalidRequest as invalid:
            return self._reject_invalid(incoming, invalid)
        except InvalidCancel as invalid:
            logger.warning(
                "invalid cancel message; acknowledged, nothing changed",
                extra={"message_id": incoming.message_id, "field": invalid.field, "reason": str(invalid)},
            )
            count("InvalidCancels")
            return Result.IGNORED
        if isinstance(sms, Cancel):
            return self._cancel(sms, incoming)

        attempt = _Attempt(
            incoming,
            _origin(sms, sms.masked_to, incoming.sent_at, smart_encoded=sms.smart_encoded),
            sms.validity_seconds or s.default_validity_seconds,
        )
        log = {"request_id": sms.id, "to": sms.masked_to, "message_id": incoming.message_id}
        wait = sms.wait_seconds(s.clock())
        if wait > 0:
            if incoming.request_id is not None:
                # The timer's own copy, early (a clock ahead): it waits the seconds left.
                logger.info("scheduled request back before its sendAt; it waits", extra=log)
                raise RetryLater("before its sendAt", after_seconds=scheduling.delay_seconds(wait, 0.0))
            return self._schedule(incoming, sms, attempt, log)
        primary_down: ConfigurationFault | None = None  # a fault known before the claim: no POST to Retarus
        if not attempt.expired(s.clock()):
            # Whatever can stall comes before the claim: from the claim on, the POST may be on its way.
            # A request past its validity skips this: it is not sent, so it needs no provider.
            if self.circuit_open:
                primary_down = ConfigurationFault(self._fault)
            else:
                try:
                    s.provider.ready()
                except ConfigurationFault as fault:
                    self._open_circuit(fault, log)
                    primary_down = fault
            if primary_down is not None and s.failover is None:
                s.store.note_failure(attempt.origin, error=primary_down.reason, now=s.clock())
                raise self._retry_later(attempt, "not sent: " + primary_down.reason) from None
            # With a fallback, the request is claimed all the same: its record says whether it fails over.

        # --- protection (contract §10): the rules, after validation and before the claim --------
        admission = Admission.NOTHING
        if s.protection is not None and not attempt.expired(s.clock()):
            checked = s.protection.admit(sms.id, sms.to, sms.parts.segments if sms.parts else 1)
            if isinstance(checked, Block):
                return self._block(attempt, checked, log)
            admission = checked
            if admission.used_percent:
                count("DailySegmentLimitUsed", admission.used_percent, MetricUnit.Percent)
        try:
            result = self._claim_and_send(incoming, sms, attempt, log, primary_down)
        finally:
            if not attempt.maybe_sent:  # certainly not handed to the provider: the parts go back
                _give_back(admission, log)
        return result

    def _claim_and_send(
        self,
        incoming: Incoming,
        sms: requests_.SmsRequest,
        attempt: _Attempt,
        log: dict[str, str],
        primary_down: ConfigurationFault | None,
    ) -> Result:
        s = self._s
        token = uuid.uuid4().hex  # this delivery's own: two copies of one message must not share a claim
        delivery = Delivery(incoming.message_id, token, self._claim_until, s.primary_name)
        now = s.clock()
        claim, job = s.store.claim(
            attempt.origin,
            delivery,
            now=now,
            requested_after=now - attempt.validity_seconds,  # the write checks the validity itself
        )
        attempt.learn(job)  # the first requestedAt, the last error of earlier attempts
        if claim is ClaimResult.PAST_VALIDITY:
            return self._expire(attempt, log)
        if claim is ClaimResult.IN_FLIGHT:
            logger.info("another copy of this message is being sent; this one will come back", extra=log)
            raise self._retry_later(attempt, "another delivery of the same message holds the claim")
        if claim is ClaimResult.DUPLICATE:
            return self._duplicate(attempt.origin, job, log)
        if claim is ClaimResult.EXPIRED:
            # The claimant died between its claim and the record of its POST's result: the POST may
            # have reached the provider (§2). Past its validity, it may not be sent again either way.
            if not s.resend_unconfirmed or attempt.expired(s.clock()):
                logger.warning("an earlier send of this request was interrupted; ending as UNKNOWN", extra=log)
                return self._finish(attempt.origin, Outcome.UNKNOWN, CLAIM_EXPIRED_REASON, provider=job.provider)
            if not s.store.take_over(
                sms.id, delivery, stale_claim_until=job.claim_until or 0.0, unconfirmed=s.failover is not None
            ):
                logger.info("another delivery took the request over first; not sent here", extra=log)
                raise self._retry_later(attempt, _LOST_RACE)
            logger.warning("an earlier send of this request was interrupted; sending again (policy)", extra=log)
            job = replace(job, unconfirmed=True)  # as take_over marked it

        if s.failover is not None and job.provider == s.failover.name:
            return self._send_fallback(attempt, sms, job, token, log, switch=False)
        if primary_down is not None:
            return self._primary_failed(attempt, sms, job, token, primary_down, log)

        attempt.maybe_sent = True  # the POST may reach the provider from here on
        try:
            job_id = s.provider.send(
                sms,
                deadline=min(self._deadline, s.monotonic() + attempt.seconds_left(s.clock())),
                # The first attempt retries at once; later ones are the queue's retries, one POST each,
                # so that an outage costs the provider one POST per request per retry delay.
                retries=incoming.receive_count <= 1,
            )
        except Rejected:
            attempt.maybe_sent = False
            logger.info("provider rejected the request (400)", extra=log)
            return self._finish(attempt.origin, Outcome.REJECTED, PROVIDER_REJECTED_REASON, provider=s.primary_name)
        except ConfigurationFault as fault:
            attempt.maybe_sent = False
            self._open_circuit(fault, log)
            if s.failover is not None:
                return self._primary_failed(attempt, sms, job, token, fault, log)
            s.store.release(sms.id, token=token, error=fault.reason)
            raise self._retry_later(attempt, str(fault)) from None
        except UnknownResult as unknown:
            if unknown.accepted:
                return self._accepted_unreadable(attempt, sms, unknown, log, provider=s.primary_name)
            if s.resend_unconfirmed:
                s.store.release(sms.id, token=token, error=unknown.reason, unconfirmed=s.failover is not None)
                logger.warning(
                    "send result unknown; will send again (ResendUnconfirmed)",
                    extra={**log, "error": str(unknown)},
                )
                raise self._retry_later(attempt, str(unknown)) from None
            logger.warning("send result unknown; ending as UNKNOWN", extra={**log, "error": str(unknown)})
            return self._finish(attempt.origin, Outcome.UNKNOWN, UNCONFIRMED_REASON, provider=s.primary_name)
        except TransientError as error:
            if s.failover is not None:
                return self._primary_failed(attempt, sms, job, token, error, log)
            raise self._released(attempt, sms.id, token, error, log) from None
        except ProviderError as error:
            raise self._released(attempt, sms.id, token, error, log) from None

        return self._sent(sms, job_id, s.first_check_delay, {**log, "job_id": job_id})

    def _released(
        self, attempt: _Attempt, request_id: str, token: str, error: ProviderError, log: dict[str, str]
    ) -> RetryLater:
        """The attempt certainly did not send: the claim is released, the record comes back later."""
        attempt.maybe_sent = False
        self._s.store.release(request_id, token=token, error=error.reason)
        retry = self._retry_later(attempt, str(error))
        logger.warning(
            "send failed; SQS will deliver the request again",
            extra={**log, "error": str(error), "retry_after_seconds": retry.after_seconds},
        )
        return retry

    def _primary_failed(
        self,
        attempt: _Attempt,
        sms: requests_.SmsRequest,
        job: Job,
        token: str,
        error: ProviderError,
        log: dict[str, str],
    ) -> Result:
        """Retarus certainly did not take the request on this attempt: the fallback sends it if the
        failover rule says so now (failover.py), otherwise it comes back after its retry delay."""
        s = self._s
        assert s.failover is not None
        now = s.clock()
        next_retry = retry_delay(s.retry_delays, attempt.incoming.receive_count, seconds_left=0)
        if s.failover.due(job, now=now, seconds_left=attempt.seconds_left(now), next_retry_seconds=next_retry):
            return self._send_fallback(attempt, sms, job, token, {**log, "after": error.reason}, switch=True)
        raise self._released(attempt, sms.id, token, error, log)

    def _send_fallback(
        self,
        attempt: _Attempt,
        sms: requests_.SmsRequest,
        job: Job,
        token: str,
        log: dict[str, str],
        *,
        switch: bool,
    ) -> Result:
        """Send through the fallback under this delivery's claim. `switch`: the claim names the
        fallback first (one conditional write), so that a redelivery after a kill during the call
        knows the request may have gone there and never sends it to Retarus. Its failures are
        handled as the primary's are (contract §8)."""
        s = self._s
        failover = s.failover
        assert failover is not None
        try:
            failover.provider.ready()
        except ConfigurationFault as fault:
            raise self._released(attempt, sms.id, token, fault, log) from None
        if switch:
            if not s.store.switch_provider(sms.id, token=token, provider=failover.name):
                logger.info("the claim changed hands before the failover; not sent here", extra=log)
                raise self._retry_later(attempt, _LOST_RACE)
            logger.warning("Retarus did not take the request; failing over", extra={**log, "provider": failover.name})
        attempt.maybe_sent = True  # the SMS may reach the fallback from here on
        try:
            message_id = failover.provider.send(sms, seconds_left=attempt.seconds_left(s.clock()))
        except Rejected as rejected:
            attempt.maybe_sent = False
            logger.info("fallback provider rejected the request", extra={**log, "error": str(rejected)})
            return self._finish(attempt.origin, Outcome.REJECTED, rejected.reason, provider=failover.name)
        except UnknownResult as unknown:
            if unknown.accepted:
                return self._accepted_unreadable(attempt, sms, unknown, log, provider=failover.name)
            if s.resend_unconfirmed:
                s.store.release(sms.id, token=token, error=unknown.reason, unconfirmed=True)
                raise self._retry_later(attempt, str(unknown)) from None
            logger.warning("fallback send result unknown; ending as UNKNOWN", extra={**log, "error": str(unknown)})
            return self._finish(attempt.origin, Outcome.UNKNOWN, UNCONFIRMED_REASON, provider=failover.name)
        except ProviderError as error:
            raise self._released(attempt, sms.id, token, error, log) from None
        count("FailoverSends")
        return self._sent(
            sms, message_id, failover.check_after, {**log, "job_id": message_id, "provider": failover.name}
        )

    def _accepted_unreadable(
        self,
        attempt: _Attempt,
        sms: requests_.SmsRequest,
        unknown: UnknownResult,
        log: dict[str, str],
        *,
        provider: str,
    ) -> Result:
        """The provider accepted the SMS but named no readable job id: it is on its way, so it is
        never sent again, to this provider or another, whatever ResendUnconfirmed says (§2: at
        most once); with no id it cannot be tracked, so it ends UNKNOWN now. It counts as sent
        (the provider bills it)."""
        logger.error(
            "provider accepted the SMS without a readable job id; ending as UNKNOWN, not sent again",
            extra={**log, "error": str(unknown), "provider": provider},
        )
        count("SmsSent")
        if sms.parts:
            count("SegmentsSent", sms.parts.segments)
        if provider != self._s.primary_name:
            count("FailoverSends")
        return self._finish(attempt.origin, Outcome.UNKNOWN, ACCEPTED_UNREADABLE_REASON, provider=provider)

    def _sent(self, sms: requests_.SmsRequest, job_id: str, check_after: int, log: dict[str, str]) -> Result:
        """The provider took it: the record of the send, its first check due after `check_after`."""
        s = self._s
        now = s.clock()
        timer = timers_.timer_after(sms.id, now, check_after, s.timers)
        s.store.record_sent(sms.id, job_id, submitted_at=now, first_check_at=now + check_after, timer=timer is not None)
        if timer is not None:
            with self._timers_lock:
                self._timers.append(timer)
        logger.info("sent", extra=log)
        count("SmsSent")
        if sms.parts:
            count("SegmentsSent", sms.parts.segments)  # the provider bills per part
        return Result.SENT

    def _schedule(
        self, incoming: Incoming, sms: requests_.SmsRequest, attempt: _Attempt, log: dict[str, str]
    ) -> Result:
        """A future sendAt (§11): recorded SCHEDULED with the body and acknowledged, so the wait
        costs no receive; put back at once when due within the lead, else by the status run."""
        s = self._s
        assert sms.send_at is not None
        now = s.clock()
        due, now_put_back = scheduling.due_at(sms.send_at, now, lead=s.schedule_lead_seconds)
        existing = s.store.schedule(
            attempt.origin, body=incoming.body, due_at=due, validity_seconds=attempt.validity_seconds, now=now
        )
        if existing is not None:
            return self._duplicate(attempt.origin, existing, log)
        logger.info("request scheduled for its sendAt", extra={**log, "send_in_seconds": round(sms.send_at - now)})
        count("RequestsScheduled")
        if now_put_back and s.requeue is not None:
            try:
                s.requeue.put_back(
                    sms.id, incoming.body, delay_seconds=scheduling.delay_seconds(sms.send_at, s.clock())
                )
            except Exception:  # stored already: when its lease ends, the status run puts it back
                logger.exception("could not put the scheduled request back; the status run will", extra=log)
        return Result.SCHEDULED

    def _cancel(self, cancel: Cancel, incoming: Incoming) -> Result:
        """A cancel (§11) ends a request that is surely not sent; the write that decides it is
        conditional on the state the claim also needs, so of a cancel and a send exactly one wins."""
        s = self._s
        now = s.clock()
        final = Final(Outcome.CANCELED, CANCELLED_REASON, completed_at=now)
        log = {"request_id": cancel.id, "message_id": incoming.message_id}
        cancelled, job = s.store.cancel(cancel.id, final, publish_lease_until=now + s.publish_lease_seconds)
        if not cancelled or job is None:
            logger.info(scheduling.not_cancelled(job), extra={**log, "state": job.state.value if job else None})
            count("CancelsIgnored")
            return Result.IGNORED
        logger.info("request cancelled before sending", extra={**log, "to": job.origin.masked_to})
        self._publish(job.origin, final)
        return Result.CANCELED

    def _retry_later(self, attempt: _Attempt, reason: str) -> RetryLater:
        s = self._s
        after = retry_delay(
            s.retry_delays, attempt.incoming.receive_count, seconds_left=attempt.seconds_left(s.clock())
        )
        return RetryLater(reason, after_seconds=after)

    def _open_circuit(self, fault: ConfigurationFault, log: dict[str, str]) -> None:
        """Credentials refused or unreadable, or a wrong URL: no request of this invocation can be
        sent, so the circuit opens and the records go back to SQS, to be tried again with the retry
        delays until the fault is fixed or their validity ends."""
        self._fault = fault.reason
        self._circuit.set()
        self._s.on_auth_failure()
        count("ProviderAuthFailures")
        logger.error(
            "provider configuration fault; circuit open for this invocation", extra={**log, "error": str(fault)}
        )

    def _expire(self, attempt: _Attempt, log: dict[str, str]) -> Result:
        """Past its validity, never sent: the request ends EXPIRED (§8), naming the last failure."""
        reason = expired_reason(attempt.validity_seconds, attempt.last_error)
        logger.warning(
            "request not sent within its validity; ending as EXPIRED",
            extra={**log, "validity_seconds": attempt.validity_seconds, "last_error": attempt.last_error},
        )
        count("RequestsExpired")
        return self._finish(attempt.origin, Outcome.EXPIRED, reason, claimed=False)

    def _duplicate(self, origin: Origin, existing: Job, log: dict[str, str]) -> Result:
        """The id is spent (§2): acknowledged, never sent. A different request under a spent id is
        not sent either, but that is the producer's mistake, so it is told apart and counted."""
        if existing.origin.fingerprint and origin.fingerprint != existing.origin.fingerprint:
            logger.warning(
                "a different request reused a spent id; acknowledged, not sent (ids are spent by any outcome)",
                extra={**log, "state": existing.state.value},
            )
            count("IdConflicts")
        else:
            logger.info("duplicate request acknowledged, not sent again", extra=log)
        count("DuplicateRequests")
        return Result.DUPLICATE

    def _reject_invalid(self, incoming: Incoming, invalid: requests_.InvalidRequest) -> Result:
        s = self._s
        echo = requests_.echo(incoming.body, incoming.default_id, s.request_defaults)
        origin = _origin(echo, mask(echo.to), incoming.sent_at)
        now = s.clock()
        # The reason starts with the field's name (contract §1, §9: "text: 12 segments (UCS-2), ...").
        final = Final(Outcome.REJECTED, str(invalid), completed_at=now)
        log = {"request_id": echo.id, "to": origin.masked_to or "", "message_id": incoming.message_id}
        existing = s.store.put_rejected(origin, final, now=now, publish_lease_until=now + s.publish_lease_seconds)
        if existing is not None:
            return self._duplicate(origin, existing, log)
        logger.info("invalid request rejected", extra={**log, "field": invalid.field})
        self._publish(origin, final)
        return Result.REJECTED

    def _block(self, attempt: _Attempt, block: Block, log: dict[str, str]) -> Result:
        """A rule refused the request (§10): BLOCKED, never sent, recorded as an invalid request
        is; a request that earlier attempts left RELEASED (a 5xx, then an opt-out), or that waited
        SCHEDULED for its sendAt (§11: the rules count at the send), ends from there."""
        s = self._s
        now = s.clock()
        final = Final(Outcome.BLOCKED, block.reason, completed_at=now)
        lease = now + s.publish_lease_seconds
        existing = s.store.put_rejected(attempt.origin, final, now=now, publish_lease_until=lease)
        if existing is not None:
            attempt.learn(existing)
            released = existing.state in (State.RELEASED, State.SCHEDULED)  # never sent: it ends here
            if not released or not s.store.finish_released(attempt.origin.id, final, publish_lease_until=lease):
                return self._duplicate(attempt.origin, existing, log)
        logger.info("request blocked by a protection rule", extra={**log, "rule": block.rule.metric})
        count(block.rule.metric)
        self._publish(attempt.origin, final)
        return Result.BLOCKED

    def _finish(
        self, origin: Origin, outcome: Outcome, reason: str, *, claimed: bool = True, provider: str | None = None
    ) -> Result:
        """An outcome the send itself decided (never sent, or sent with no job id): the claim, or a
        released request past its validity (`claimed=False`) → PUBLISHING."""
        s = self._s
        now = s.clock()
        final = Final(outcome, reason, completed_at=now)
        finish = s.store.finish_claimed if claimed else s.store.finish_released
        if not finish(origin.id, final, publish_lease_until=now + s.publish_lease_seconds):
            return Result.DUPLICATE
        self._publish(origin, final, provider=provider)
        return Result(outcome.value.lower())

    def _publish(self, origin: Origin, final: Final, *, provider: str | None = None) -> None:
        """Publish now; when SNS fails the job stays due and the status function publishes it."""
        s = self._s
        event = outcome_event(origin, final, job_id=None, submitted_at=None, provider=provider)
        if origin.id in s.publisher.publish([event]):
            s.store.mark_published(origin.id)
        else:
            s.store.publish_failed(origin.id, retry_at=s.clock())
        count(f"Outcome{final.outcome.value.title()}")


class _Attempt:
    """One delivery of a valid request: its validity, and what earlier attempts left in the store."""

    def __init__(self, incoming: Incoming, origin: Origin, validity_seconds: int) -> None:
        self.incoming = incoming
        self.origin = origin
        self.validity_seconds = validity_seconds
        self.last_error: str | None = None
        self.maybe_sent = False  # this delivery's POST may have reached the provider

    def learn(self, job: Job) -> None:
        """The stored record's first requestedAt wins: a message redriven from the DLQ, or enqueued
        again by its producer, is a new SQS message whose own timestamp would restart the validity."""
        stored = job.origin.requested_at
        if stored and stored < self.origin.requested_at:
            self.origin = replace(self.origin, requested_at=stored)
        self.last_error = job.last_error or None

    def seconds_left(self, now: float) -> float:
        return self.origin.validity_start + self.validity_seconds - now

    def expired(self, now: float) -> bool:
        return self.seconds_left(now) <= 0


def _origin(
    request: requests_.SmsRequest | requests_.RequestEcho,
    masked_to: str | None,
    requested_at: float,
    *,
    smart_encoded: bool = False,
) -> Origin:
    """What the record keeps, and the outcome event repeats, of a request, valid or not."""
    return Origin(
        id=request.id,
        masked_to=masked_to,
        reference=request.reference,
        metadata=request.metadata,
        requested_at=requested_at,
        fingerprint=request.fingerprint,
        encoding=request.parts.encoding if request.parts else None,
        segments=request.parts.segments if request.parts else None,
        smart_encoded=smart_encoded,
        send_at=request.send_at if isinstance(request, requests_.SmsRequest) else None,
    )


def _give_back(admission: Admission, log: dict[str, str]) -> None:
    """A give-back that fails leaves the day's count high: the limit is reached early, never passed."""
    try:
        admission.give_back()
    except Exception as error:
        logger.warning("the day's parts of a request not sent were not given back", extra={**log, "error": str(error)})
