"""The checks a batch of check timers brings (check_queue.py): the same check as a scheduled run's.

Each timer names a job and the version (`dueAt`) it was started for. The jobs are read by id, and
only those still waiting for that very check are checked, by tracking's Run: a timer whose job was
checked meanwhile (by the scheduled run, or by a repeat of the timer) or has ended finds another
version and does nothing, so it publishes nothing. A job whose check failed on a storage error is
named in `failed`, so that its timer comes back (the batch's partial response); every other timer
is done, and what it could not settle (a report error, an open circuit, no time left) stays due in
the table for the scheduled run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sms_pipeline.observability import count
from sms_pipeline.timers import Timer
from sms_pipeline.tracking import Run, RunSummary, Tracker


@dataclass(frozen=True)
class TimedRun:
    summary: RunSummary
    stale: int  # timers whose job no longer waits for them
    failed: frozenset[str]  # request ids whose timer must come back


def check_timers(tracker: Tracker, timers: Sequence[Timer], remaining_seconds: float) -> TimedRun:
    unique = list(dict.fromkeys(timers))
    jobs = {job.origin.id: job for job in tracker.store.get([timer.request_id for timer in unique])}
    waiting = [
        jobs[timer.request_id] for timer in unique if timer.request_id in jobs and timer.is_for(jobs[timer.request_id])
    ]
    summary, checks = Run(tracker, remaining_seconds).check(waiting)
    stale = len(timers) - len(waiting)
    if stale:
        count("StaleCheckTimers", stale)
    return TimedRun(summary, stale, frozenset(check.request_id for check in checks if check.failed))
