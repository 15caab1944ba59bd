"""The status use case: one scheduled run checks the due jobs and publishes final outcomes (§4, §5).

A run reads only due items (oldest first), asks GET /reports for the tracked ones in parallel,
decides with the §4 table, and publishes outcomes in batches. It stops taking new work before the
Lambda time budget runs out; what is left stays due, oldest first, for the next run, so no job
starves. Every write before a publish is conditional, so an overlapping run cannot publish an
outcome twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sms_pipeline.config import ConfigError
from sms_pipeline.job import Final, Job, State
from sms_pipeline.observability import MetricUnit, count, logger
from sms_pipeline.outcomes import TRACKING_LIMIT_REASON, Outcome, OutcomeEvent, Verdict
from sms_pipeline.ports import ConfigurationFault, Provider, ProviderError, Publisher, StatusStore
from sms_pipeline.sending import outcome_event

# Stop taking new jobs when less than this is left of the invocation: one report call's worst case
# (connect + read timeout) plus the publishes at the end must still fit.
DEFAULT_SAFETY_SECONDS = 15.0
PUBLISH_BATCH = 10  # what one SNS PublishBatch call takes
PUBLISH_WORKERS = 4  # batches published (and recorded) at once, alongside the report calls


@dataclass
class RunSummary:
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


class Tracker:
    def __init__(
        self,
        store: StatusStore,
        publisher: Publisher,
        provider: Provider,
        *,
        check_delays: Sequence[int],
        tracking_limit_seconds: int,
        publish_lease_seconds: int,
        concurrency: int,
        max_jobs: int,
        on_auth_failure: Callable[[], None] = lambda: None,
        safety_seconds: float = DEFAULT_SAFETY_SECONDS,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.provider = provider
        self.check_delays = tuple(check_delays) or (0,)
        self.tracking_limit_seconds = tracking_limit_seconds
        self.publish_lease_seconds = publish_lease_seconds
        self.concurrency = concurrency
        self.max_jobs = max_jobs
        self.on_auth_failure = on_auth_failure
        self.safety_seconds = safety_seconds
        self.clock = clock
        self.monotonic = monotonic
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="report")
        self._publish_pool = ThreadPoolExecutor(max_workers=PUBLISH_WORKERS, thread_name_prefix="publish")

    def next_delay(self, checks_done: int) -> int:
        """The wait before check number `checks_done + 1`; the last configured wait repeats."""
        return self.check_delays[min(checks_done, len(self.check_delays) - 1)]

    def run_scheduled(self, event: Mapping[str, Any], remaining_seconds: float) -> RunSummary:
        """A run for the schedule's event. The schedule's input may name the due-index shards the
        run takes (`{"shards": [0, 1]}`), so that several schedules share the work of one minute
        (docs/scaling.md, 1,000×); without it the run takes every shard."""
        return self.run(remaining_seconds, shards=self._shards_of(event))

    def run(self, remaining_seconds: float, *, shards: Sequence[int] | None = None) -> RunSummary:
        stop_at = self.monotonic() + remaining_seconds - self.safety_seconds
        now = self.clock()
        jobs = self.store.due(now=now, limit=self.max_jobs, shards=shards)
        summary = RunSummary(due=len(jobs))
        if jobs:
            summary.lag_seconds = max(0.0, now - min(_due_since(job) for job in jobs))
        count("StatusLagSeconds", summary.lag_seconds, MetricUnit.Seconds)
        count("DueJobs", len(jobs))

        circuit = threading.Event()
        lock = threading.Lock()
        pending: list[tuple[Job, OutcomeEvent]] = []
        publishing: list[Future[tuple[list[OutcomeEvent], set[str]]]] = []

        def work(job: Job) -> None:
            if circuit.is_set():
                return
            if self.monotonic() >= stop_at:
                with lock:
                    summary.skipped_for_time += 1
                return
            try:
                decided = self._check(job, summary, lock, circuit, stop_at)
            except Exception:
                # One job's storage error (throttling past botocore's retries) must not end the
                # run for the others; the job is still due and the next run takes it again.
                logger.exception("status check failed; the job stays due", extra={"request_id": job.origin.id})
                with lock:
                    summary.check_failures += 1
                return
            if decided is not None:
                with lock:
                    pending.append(decided)
                    if len(pending) >= PUBLISH_BATCH:
                        # A full batch is published while the other checks still wait on the provider.
                        publishing.append(self._publish_pool.submit(self._publish, pending[:]))
                        pending.clear()

        list(self._pool.map(work, jobs))
        if pending:
            publishing.append(self._publish_pool.submit(self._publish, pending))
        events: list[OutcomeEvent] = []
        published: set[str] = set()
        for future in publishing:
            batch, done = future.result()
            events.extend(batch)
            published |= done
        for event in events:
            if event.request_id in published:
                summary.published += 1
                name = event.outcome.value
                summary.outcomes[name] = summary.outcomes.get(name, 0) + 1
                count(f"Outcome{name.title()}")
            else:
                summary.publish_failures += 1
        if summary.report_errors:
            count("ReportErrors", summary.report_errors)
        summary.circuit_open = circuit.is_set()
        logger.info("status run finished", extra={"summary": summary.__dict__})
        return summary

    def _shards_of(self, event: Mapping[str, Any]) -> tuple[int, ...] | None:
        if "shards" not in event:
            return None
        shards = event["shards"]
        shard_count = self.store.shard_count
        valid = range(shard_count)
        if (
            not isinstance(shards, list)
            or not shards
            or not all(type(shard) is int and shard in valid for shard in shards)
            or len(set(shards)) != len(shards)
        ):
            raise ConfigError(
                f'the status schedule\'s input "shards" must be a list of distinct shard numbers from 0 to'
                f" {shard_count - 1} (DueIndexShards is {shard_count}); it is {shards!r}"
            )
        return tuple(shards)

    def _publish(self, batch: list[tuple[Job, OutcomeEvent]]) -> tuple[list[OutcomeEvent], set[str]]:
        """One PublishBatch, then the jobs' records: DONE if published (one write for the batch),
        due again at once if not."""
        events = [event for _, event in batch]
        try:
            published = self.publisher.publish(events)
        except Exception:  # the adapter reports failures; anything else must not lose the run's other outcomes
            logger.exception("outcome publish raised; the outcomes stay due")
            published = set()
        done = [job for job, event in batch if event.request_id in published]
        recorded: set[str] = set()
        if done:
            try:
                recorded = self.store.record_published(done)
            except Exception:
                logger.exception("could not record the publishes; the outcomes will be published again")
        if len(recorded) < len(done):
            logger.warning(
                "publishes not recorded; they will be repeated with the same eventId",
                extra={"request_ids": sorted({job.origin.id for job in done} - recorded)},
            )
        retry_at = self.clock()
        for event in events:
            if event.request_id not in published:
                try:
                    self.store.publish_failed(event.request_id, retry_at=retry_at)
                except Exception:  # the lease runs out instead, and a later run publishes it
                    logger.exception("could not record the failed publish", extra={"request_id": event.request_id})
        return events, published

    def _check(
        self, job: Job, summary: RunSummary, lock: threading.Lock, circuit: threading.Event, stop_at: float
    ) -> tuple[Job, OutcomeEvent] | None:
        """The job, as it stands once its outcome is decided, and the event to publish; None while
        it is still tracked, or when another run has it."""
        lease_until = self.clock() + self.publish_lease_seconds
        if job.state == State.PUBLISHING:
            # An outcome decided earlier whose publish failed or was cut short: publish it now.
            leased = self.store.lease_publish(job, publish_lease_until=lease_until) if job.final else None
            if leased is None or leased.final is None:
                with lock:
                    summary.lost_race += 1
                return None
            return leased, _event(leased, leased.final)
        if job.state != State.TRACKING or job.job_id is None:
            return None

        log = {"request_id": job.origin.id, "job_id": job.job_id, "to": job.origin.masked_to}
        decided: Verdict | None = None
        try:
            decided = self.provider.report(job.job_id, deadline=stop_at + self.safety_seconds)
        except ConfigurationFault as fault:
            circuit.set()
            self.on_auth_failure()
            count("ProviderAuthFailures")
            logger.error("provider configuration fault; no more report calls this run", extra={"error": str(fault)})
            return None
        except ProviderError as error:
            logger.warning("report failed; the job stays tracked", extra={**log, "error": str(error)})
            with lock:
                summary.report_errors += 1

        now = self.clock()
        with lock:
            summary.checked += 1
        status = decided.provider_status if decided is not None else None
        if decided is not None and not decided.known:
            logger.warning("unknown processStatus; the job stays tracked", extra={**log, "reason": decided.reason})
        if decided is not None and decided.outcome is not None:
            final = Final(decided.outcome, decided.reason, completed_at=now, provider_status=status)
        elif now - (job.submitted_at or now) >= self.tracking_limit_seconds:
            final = Final(Outcome.UNKNOWN, TRACKING_LIMIT_REASON, completed_at=now, provider_status=status)
        else:
            with lock:
                summary.still_tracked += 1
            if not self.store.reschedule(job, next_check_at=now + self.next_delay(job.checks + 1)):
                with lock:
                    summary.lost_race += 1
            return None

        finished = self.store.finish_tracked(job, final, publish_lease_until=now + self.publish_lease_seconds)
        if finished is None:
            with lock:
                summary.lost_race += 1
            return None
        return finished, _event(finished, final)


def _due_since(job: Job) -> float:
    """When the job's pending work first became due: an outcome whose publish keeps failing is due
    again at once after each failure, so its `dueAt` is always recent; its wait counts from when it
    was decided, so that the lag (and its alarm) grows with it."""
    if job.state == State.PUBLISHING and job.final is not None:
        return min(job.final.completed_at, job.due_at / 1000)
    return job.due_at / 1000


def _event(job: Job, final: Final) -> OutcomeEvent:
    return outcome_event(job.origin, final, job_id=job.job_id, submitted_at=job.submitted_at)
