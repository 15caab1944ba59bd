"""The status use case: one scheduled run checks the due jobs and publishes final outcomes (§4, §5).

A run reads only due items (oldest first), asks the provider for a verdict on the tracked ones in
parallel, and publishes outcomes in batches. It stops taking new work before the Lambda time budget
runs out; what is left stays due, oldest first, for the next run, so no job starves. Every write
before a publish is conditional, so an overlapping run cannot publish an outcome twice.

A check that finds a job still open makes its next check due, and when that is within a check
timer's reach (ports.CheckTimers) starts a timer for it, so that the check comes when it is due and
not at a later run. The scheduled run is then the safety net: it checks every due job that has no
timer on its way (longer delays, a lost timer, a redrive), and leaves a job whose timer is not yet
overdue by the margin to that timer. A timer's own invocation checks its jobs with the same Run
(timed_checks.py); two checks of one job in parallel are safe, the conditional writes let one win.

Pure orchestration over three ports (ports.py: job store, publisher, provider), like the send
side: the Tracker is per container, a Run per invocation. Each check fills in its own result and
the run counts the results once the checks are done, so nothing is shared between the checks but
the circuit that a configuration fault opens.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import KW_ONLY, dataclass, field

from sms_pipeline import scheduling
from sms_pipeline import timers as timers_
from sms_pipeline.job import Final, Job, State
from sms_pipeline.observability import MetricUnit, count, logger
from sms_pipeline.outcomes import TRACKING_LIMIT_REASON, Outcome, OutcomeEvent, Verdict, outcome_event
from sms_pipeline.ports import (
    CheckTimers,
    ConfigurationFault,
    Provider,
    ProviderError,
    Publisher,
    Requeue,
    StatusStore,
)
from sms_pipeline.timers import Timer

# Stop taking new jobs when less than this is left of the invocation: one report call's worst case
# (connect + read timeout) plus the publishes at the end must still fit.
DEFAULT_SAFETY_SECONDS = 15.0
PUBLISH_BATCH = 10  # what one SNS PublishBatch call takes
PUBLISH_WORKERS = 4  # batches published (and recorded) at once, alongside the report calls


@dataclass(frozen=True)
class RunSummary:
    """What the status function returns: the run's counts (its keys are the handler's response)."""

    due: int = 0
    checked: int = 0
    still_tracked: int = 0
    report_errors: int = 0
    published: int = 0
    publish_failures: int = 0
    skipped_for_time: int = 0
    lost_race: int = 0
    check_failures: int = 0
    circuit_open: bool = False
    lag_seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    put_back: int = 0  # scheduled requests put back on the request queue (§11)
    timer_in_flight: int = 0  # due jobs left to the check timer on its way for them
    timers_started: int = 0  # check timers started for the jobs' next checks


@dataclass
class Check:
    """What one check of one job did; only its own thread writes it."""

    request_id: str = ""
    decided: tuple[Job, OutcomeEvent] | None = None  # the job as it stands, and the event to publish
    checked: bool = False  # the provider was asked (whatever it answered)
    report_error: bool = False
    still_tracked: bool = False
    lost_race: bool = False
    skipped_for_time: bool = False
    failed: bool = False  # a storage error: the job stays due
    put_back: bool = False  # a scheduled request, put back on the request queue
    timer: Timer | None = None  # the next check's timer, to start


@dataclass(eq=False)
class Tracker:
    """Per container: the ports, the policies and the pools. `run()` makes the per-invocation part."""

    store: StatusStore
    publisher: Publisher
    provider: Provider
    _: KW_ONLY
    check_delays: Sequence[int]
    tracking_limit_seconds: int
    publish_lease_seconds: int
    concurrency: int
    max_jobs: int
    on_auth_failure: Callable[[], None] = lambda: None
    # Check timers (timers.py) for the next checks due within a timer's reach; None:
    # the scheduled runs take every check. A due job whose timer is on its way is left to it until
    # the timer is overdue by the margin.
    timers: CheckTimers | None = None
    timer_margin_seconds: float = 60.0
    safety_seconds: float = DEFAULT_SAFETY_SECONDS
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    requeue: Requeue | None = None  # puts due scheduled requests back on the request queue (§11)
    schedule_lead_seconds: int = 900
    pool: ThreadPoolExecutor = field(init=False, repr=False)
    publish_pool: ThreadPoolExecutor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.check_delays = tuple(self.check_delays) or (0,)
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="report")
        self.publish_pool = ThreadPoolExecutor(max_workers=PUBLISH_WORKERS, thread_name_prefix="publish")

    def next_delay(self, checks_done: int) -> int:
        """The wait before check number `checks_done + 1`; the last configured wait repeats."""
        return self.check_delays[min(checks_done, len(self.check_delays) - 1)]

    def run(self, remaining_seconds: float, *, shards: Sequence[int] | None = None) -> RunSummary:
        """One run over the due jobs of these shards of the due index (all of them by default)."""
        return Run(self, remaining_seconds).go(shards)


class Run:
    """One invocation: a time budget, a circuit that opens on a configuration fault, the checks."""

    def __init__(self, tracker: Tracker, remaining_seconds: float) -> None:
        self._t = tracker
        self._stop_at = tracker.monotonic() + remaining_seconds - tracker.safety_seconds
        self._circuit = threading.Event()

    def go(self, shards: Sequence[int] | None) -> RunSummary:
        t = self._t
        now = t.clock()
        due = t.store.due(now=now, limit=t.max_jobs, shards=shards)
        overdue_after = int((now - t.timer_margin_seconds) * 1000)  # due_at is in milliseconds
        jobs = [job for job in due if not (job.timer_at == job.due_at and job.due_at > overdue_after)]
        return self.check(jobs, now=now, in_flight=len(due) - len(jobs))[0]

    def check(
        self, jobs: Sequence[Job], *, now: float | None = None, in_flight: int = 0
    ) -> tuple[RunSummary, list[Check]]:
        """Check these jobs, publish their outcomes and start their next checks' timers."""
        t = self._t
        now = t.clock() if now is None else now
        lag = max(0.0, now - min(_due_since(job) for job in jobs)) if jobs else 0.0
        count("StatusLagSeconds", lag, MetricUnit.Seconds)
        count("DueJobs", len(jobs))

        # The checks run on the pool; this thread alone collects their outcomes into batches, and
        # a full batch is published while the other checks still wait on the provider.
        checks: list[Check] = []
        pending: list[tuple[Job, OutcomeEvent]] = []
        publishing: list[Future[tuple[list[OutcomeEvent], set[str]]]] = []
        for future in as_completed([t.pool.submit(self._work, job) for job in jobs]):
            check = future.result()
            checks.append(check)
            if check.decided is not None:
                pending.append(check.decided)
                if len(pending) >= PUBLISH_BATCH:
                    publishing.append(t.publish_pool.submit(self._publish, pending))
                    pending = []
        if pending:
            publishing.append(t.publish_pool.submit(self._publish, pending))

        events: list[OutcomeEvent] = []
        published: set[str] = set()
        for publish in publishing:
            batch, done = publish.result()
            events.extend(batch)
            published |= done
        outcomes: dict[str, int] = {}
        for event in events:
            if event.request_id in published:
                name = event.outcome.value
                outcomes[name] = outcomes.get(name, 0) + 1
                count(f"Outcome{name.title()}")
        timers = [check.timer for check in checks if check.timer is not None]
        summary = RunSummary(
            due=len(jobs),
            checked=sum(check.checked for check in checks),
            still_tracked=sum(check.still_tracked for check in checks),
            report_errors=sum(check.report_error for check in checks),
            published=sum(outcomes.values()),
            publish_failures=len(events) - sum(outcomes.values()),
            skipped_for_time=sum(check.skipped_for_time for check in checks),
            lost_race=sum(check.lost_race for check in checks),
            check_failures=sum(check.failed for check in checks),
            circuit_open=self._circuit.is_set(),
            lag_seconds=lag,
            outcomes=outcomes,
            put_back=sum(check.put_back for check in checks),
            timers_started=len(timers) - timers_.start(t.timers, timers),
            timer_in_flight=in_flight,
        )
        if summary.report_errors:
            count("ReportErrors", summary.report_errors)
        logger.info("status run finished", extra={"summary": summary.__dict__})
        return summary, checks

    def _work(self, job: Job) -> Check:
        check = Check(job.origin.id)
        if self._circuit.is_set():
            return check
        if self._t.monotonic() >= self._stop_at:
            check.skipped_for_time = True
            return check
        try:
            check.decided = self._check(job, check)
        except Exception:
            # One job's storage error (throttling past botocore's retries) must not end the run
            # for the others; the job is still due and the next run takes it again.
            logger.exception("status check failed; the job stays due", extra={"request_id": job.origin.id})
            check.failed = True
        return check

    def _check(self, job: Job, check: Check) -> tuple[Job, OutcomeEvent] | None:
        """The job, as it stands once its outcome is decided, and the event to publish; None while
        it is still tracked, or when another run has it."""
        t = self._t
        lease_until = t.clock() + t.publish_lease_seconds
        if job.state == State.PUBLISHING:
            # An outcome decided earlier whose publish failed or was cut short: publish it now.
            leased = t.store.lease_publish(job, publish_lease_until=lease_until) if job.final else None
            if leased is None or leased.final is None:
                check.lost_race = True
                return None
            return leased, _event(leased, leased.final)
        if job.state == State.SCHEDULED and t.requeue is not None:
            check.put_back = scheduling.put_back(t.store, t.requeue, job, now=t.clock(), lead=t.schedule_lead_seconds)
            check.lost_race = not check.put_back
            return None
        if job.state != State.TRACKING or job.job_id is None:
            return None

        log = {"request_id": job.origin.id, "job_id": job.job_id, "to": job.origin.masked_to}
        decided: Verdict | None = None
        try:
            decided = t.provider.report(job.job_id, deadline=self._stop_at + t.safety_seconds)
        except ConfigurationFault as fault:
            self._circuit.set()
            t.on_auth_failure()
            count("ProviderAuthFailures")
            logger.error("provider configuration fault; no more report calls this run", extra={"error": str(fault)})
            return None
        except ProviderError as error:
            logger.warning("report failed; the job stays tracked", extra={**log, "error": str(error)})
            check.report_error = True

        now = t.clock()
        check.checked = True
        status = decided.provider_status if decided is not None else None
        if decided is not None and not decided.known:
            logger.warning("unknown processStatus; the job stays tracked", extra={**log, "reason": decided.reason})
        if decided is not None and decided.outcome is not None:
            final = Final(decided.outcome, decided.reason, completed_at=now, provider_status=status)
        elif now - (job.submitted_at or now) >= t.tracking_limit_seconds:
            final = Final(Outcome.UNKNOWN, TRACKING_LIMIT_REASON, completed_at=now, provider_status=status)
        else:
            check.still_tracked = True
            delay = t.next_delay(job.checks + 1)
            timer = timers_.timer_after(job.origin.id, now, delay, t.timers)
            if not t.store.reschedule(job, next_check_at=now + delay, timer=timer is not None):
                check.lost_race = True
            else:
                check.timer = timer
            return None

        finished = t.store.finish_tracked(job, final, publish_lease_until=now + t.publish_lease_seconds)
        if finished is None:
            check.lost_race = True
            return None
        return finished, _event(finished, final)

    def _publish(self, batch: list[tuple[Job, OutcomeEvent]]) -> tuple[list[OutcomeEvent], set[str]]:
        """One PublishBatch, then the jobs' records: DONE if published (one write for the batch),
        due again at once if not."""
        t = self._t
        events = [event for _, event in batch]
        try:
            published = t.publisher.publish(events)
        except Exception:  # the adapter reports failures; anything else must not lose the run's other outcomes
            logger.exception("outcome publish raised; the outcomes stay due")
            published = set()
        done = [job for job, event in batch if event.request_id in published]
        recorded: set[str] = set()
        if done:
            try:
                recorded = t.store.record_published(done)
            except Exception:
                logger.exception("could not record the publishes; the outcomes will be published again")
        if len(recorded) < len(done):
            logger.warning(
                "publishes not recorded; they will be repeated with the same eventId",
                extra={"request_ids": sorted({job.origin.id for job in done} - recorded)},
            )
        retry_at = t.clock()
        for event in events:
            if event.request_id not in published:
                try:
                    t.store.publish_failed(event.request_id, retry_at=retry_at)
                except Exception:  # the lease runs out instead, and a later run publishes it
                    logger.exception("could not record the failed publish", extra={"request_id": event.request_id})
        return events, published


def _due_since(job: Job) -> float:
    """When the job's pending work first became due: an outcome whose publish keeps failing is due
    again at once after each failure, so its `dueAt` is always recent; its wait counts from when it
    was decided, so that the lag (and its alarm) grows with it."""
    if job.state == State.PUBLISHING and job.final is not None:
        return min(job.final.completed_at, job.due_at / 1000)
    return job.due_at / 1000


def _event(job: Job, final: Final) -> OutcomeEvent:
    return outcome_event(job.origin, final, job_id=job.job_id, submitted_at=job.submitted_at)
