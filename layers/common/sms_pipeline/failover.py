"""When a request goes to the second provider instead of Retarus (contract §12): the failover rule.

Pure policy, asked by the send use case after the primary failed an attempt in a way that proves
it did not take the request (a TransientError, a ConfigurationFault, or the circuit such a fault
opened), and only while this delivery holds the request's claim. A request whose primary send may
have happened (an unknown result resent by policy, an expired claim taken over: `Job.unconfirmed`)
never fails over, since it could then go out twice. Once failed over, a request stays with the
fallback: the claim names it before the call, and its later attempts (retry delays, validity,
EXPIRED, as for the primary) and a redelivery after a kill mid-call go to it or to no provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from sms_pipeline.job import Job
from sms_pipeline.outcomes import FALLBACK_PROVIDER
from sms_pipeline.ports import Fallback


@dataclass(frozen=True)
class Failover:
    """The fallback provider and when to use it. `check_after` is when the status function looks
    at a fallback job: its outcome comes from delivery events, so the one look is at the tracking
    limit, to end it UNKNOWN if no final event came; the primary is never asked about it."""

    provider: Fallback
    after_seconds: int  # FailoverAfterSeconds, from the request's first attempt
    check_after: int
    name: str = FALLBACK_PROVIDER

    def due(self, job: Job, *, now: float, seconds_left: float, next_retry_seconds: float) -> bool:
        """Whether the request, which the primary certainly did not take on this attempt, goes to
        the fallback now: FailoverAfterSeconds have passed since its first attempt, or its
        validity would end before the next retry (it would expire unsent otherwise)."""
        if job.unconfirmed:
            return False
        first = job.first_attempt_at if job.first_attempt_at is not None else now
        return now - first >= self.after_seconds or seconds_left <= next_retry_seconds
