"""Outcomes of fallback sends from the provider's delivery events (contract §12), not from polling.

One event in: the record it names (by request id, checked against its MessageId), the verdict the
event's table gives (aws_sms/events.py, read at the edge), and at most one outcome out. A final
verdict ends a TRACKING job with the store's conditional finish, as a status check does, and its
event is published on the same "finish once, publish once" path (PUBLISHING, then DONE; a failed
publish stays due and the status function publishes it). Events come at least once and in any
order: the first final one wins, and any later event finds the job no longer TRACKING and does
nothing, so a repeat publishes nothing and a late TEXT_PENDING cannot reopen it. A non-final one
changes nothing: the job stays tracked, and the scheduled run ends it UNKNOWN at the tracking limit
if no final event ever comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass
from enum import StrEnum

from sms_pipeline.job import Final, State
from sms_pipeline.observability import count, logger
from sms_pipeline.outcomes import FALLBACK_PROVIDER, ProviderStatus, Verdict, outcome_event
from sms_pipeline.ports import Publisher, StatusStore


class NotRecordedYet(Exception):
    """The event came before the send's record (the job is still SENDING): SQS delivers it again."""


class Handled(StrEnum):
    FINISHED = "finished"  # the outcome was decided (and published, or left due for the status run)
    TRACKED = "tracked"  # not final: the job stays tracked
    SETTLED = "settled"  # the job's outcome was decided already: a repeat, or a late event
    UNMATCHED = "unmatched"  # no record of this request and message: acknowledged, counted


@dataclass(eq=False)
class DeliveryOutcomes:
    """Per container: the ports. `handle` takes one event's facts."""

    store: StatusStore
    publisher: Publisher
    _: KW_ONLY
    publish_lease_seconds: int
    provider: str = FALLBACK_PROVIDER
    clock: Callable[[], float] = time.time

    def handle(self, *, request_id: str | None, message_id: str, verdict: Verdict, status: ProviderStatus) -> Handled:
        log = {"request_id": request_id, "job_id": message_id}
        jobs = self.store.get([request_id]) if request_id else []
        job = jobs[0] if jobs else None
        if job is None or job.provider != self.provider or job.job_id not in (None, message_id):
            logger.warning("delivery event of no request this stack sent; ignored", extra=log)
            count("UnmatchedDeliveryEvents")
            return Handled.UNMATCHED
        if job.state == State.SENDING:
            raise NotRecordedYet(f"{request_id}: the send is not recorded yet")
        if job.state != State.TRACKING:
            logger.info("delivery event after the outcome was decided; nothing to do", extra=log)
            return Handled.SETTLED
        if not verdict.known:
            logger.warning(
                "unknown delivery event type; the job stays tracked", extra={**log, "reason": verdict.reason}
            )
        if verdict.outcome is None:
            return Handled.TRACKED

        now = self.clock()
        final = Final(verdict.outcome, verdict.reason, completed_at=now, provider_status=status)
        finished = self.store.finish_tracked(job, final, publish_lease_until=now + self.publish_lease_seconds)
        if finished is None:  # another delivery of an event, or the tracking limit, decided first
            return Handled.SETTLED
        event = outcome_event(
            finished.origin, final, job_id=finished.job_id, submitted_at=finished.submitted_at, provider=self.provider
        )
        if event.request_id in self.publisher.publish([event]):
            self.store.record_published([finished])
            count(f"Outcome{final.outcome.value.title()}")
        else:
            self.store.publish_failed(event.request_id, retry_at=self.clock())
        logger.info("outcome from a delivery event", extra={**log, "outcome": final.outcome.value})
        return Handled.FINISHED
