"""Check timers: what brings a job's status check at its due time rather than at the next scheduled
run (ports.CheckTimers; the SQS adapter is check_queue.py).

Both use cases start them: the send for a job's first check, a check that finds the job still open
for its next one. A timer names the version (`dueAt`) it is for, so a timer that comes after its
job moved on does nothing. Starting one never fails what started it: a job whose timer is lost is
due in the table all the same, and the scheduled run checks it once the timer is overdue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sms_pipeline.job import Job, State
from sms_pipeline.observability import count, logger
from sms_pipeline.ports import CheckTimers

# The longest a timer can wait (SQS's largest DelaySeconds): a check due later is the scheduled run's.
TIMER_LIMIT_SECONDS = 900


@dataclass(frozen=True)
class Timer:
    request_id: str
    due_at: int  # milliseconds, as Job.due_at: the version of the job the timer is for

    def is_for(self, job: Job) -> bool:
        """The job still waits for this very check (tracked, at the version the timer names)."""
        return job.state == State.TRACKING and job.due_at == self.due_at


def timer_after(request_id: str, now: float, delay: int, timers: CheckTimers | None) -> Timer | None:
    """The timer of a check `delay` seconds from now, when these timers can bring it; a delay of 0
    ("check at every run") is the scheduled run's, and so is one beyond the timers' reach."""
    if timers is None or not 0 < delay <= timers.reach_seconds:
        return None
    return Timer(request_id, int((now + delay) * 1000))  # to the millisecond, as the store keeps dueAt


def start(timers: CheckTimers | None, started: Sequence[Timer]) -> int:
    """Start these timers; the number not started, whose jobs the scheduled run will check."""
    if timers is None or not started:
        return 0
    try:
        return timers.start(started)
    except Exception:  # the adapter reports its failures; anything else must not fail the caller either
        logger.exception("check timers not started; the scheduled run checks their jobs")
        count("CheckTimersNotSent", len(started))
        return len(started)
