"""Status lag of the two designs side by side: check timers against run-and-return (issue #24).

Both run bench/lag.py's measure (jobs coming due continuously over several periods of a scaled
schedule, the lag from each job's due time to its first GET /reports) in a harness of their own,
one after the other in one run, with the same load and the same schedule:

- run-and-return: CheckTimerMaxDelaySeconds 0, no timers: every check waits for a scheduled run;
- check timers: the template's defaults; the check queue's event source (local/event_source.py,
  moto honouring DelaySeconds) invokes a status handler of its own with each batch of timers, as
  Lambda's event source invokes a container apart from the schedule's; the schedule still runs,
  as the safety net.

Beside the lag, per SMS over the measure (the send, the checks and the publish of each job): GET
/reports calls, the functions' AWS requests per 1,000 SMS, the SQS requests the timers add (the
functions' SendMessageBatch, and the event source's receives that brought timers and their
deletes), and the functions' Lambda GB-seconds per 1,000 SMS (each invocation's wall time at its
function's memory, as Lambda bills it). The event source's empty long polls are per hour, not per
SMS (docs/performance.md says what they cost).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.harness import REGION, AwsCalls, Harness
from bench.lag import Lag, describe, status_lag
from local.event_source import SqsEventSource
from local.lambda_runtime import Handler

RUN_AND_RETURN = "run-and-return"
CHECK_TIMERS = "check timers"
DESIGNS: dict[str, dict[str, str]] = {RUN_AND_RETURN: {"CHECK_TIMER_MAX_DELAY_SECONDS": "0"}, CHECK_TIMERS: {}}
TARGET_P95_SECONDS = 5.0  # contract §13


@dataclass
class DesignLag:
    design: str
    lag: Lag
    sms: int
    reports: int
    aws: Counter[str]  # the functions' AWS requests, by service:operation
    gb_seconds: float
    timer_receives: int = 0  # the check queue's event source: receives that brought timers
    timer_deletes: int = 0
    empty_receives: int = 0
    status_invocations: int = 0

    def per_1000(self, count: float) -> float:
        return 1000 * count / max(1, self.sms)

    @property
    def timer_requests(self) -> int:
        """SQS requests the timers add: the functions' sends, the event source's receives and deletes."""
        return self.aws["sqs:SendMessageBatch"] + self.timer_receives + self.timer_deletes

    def summary(self) -> str:
        return (
            f"{self.reports / max(1, self.sms):.2f} GET /reports per SMS; per 1,000 SMS "
            f"{self.per_1000(sum(self.aws.values()) + self.timer_receives + self.timer_deletes):.0f} AWS requests"
            f" (of them {self.per_1000(self.timer_requests):.0f} SQS for the timers), "
            f"{self.per_1000(self.gb_seconds):.2f} Lambda GB-s"
        )


@dataclass
class _Invocations:
    """The wall time of a function's invocations, at its memory: its GB-seconds."""

    memory_mb: int
    seconds: float = 0.0
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, handler: Handler) -> Handler:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                with self.lock:
                    self.seconds += time.perf_counter() - started
                    self.count += 1

        return invoke

    @property
    def gb_seconds(self) -> float:
        return self.seconds * self.memory_mb / 1024


@contextmanager
def _check_queue_source(h: Harness, checks: Handler, counts: Counter[str]) -> Iterator[None]:
    """The status function's SQS event source on the check queue, polling until the block ends."""
    mapping = h.stack.sqs_event("StatusFunction")
    assert mapping is not None, "the template's StatusFunction has no SQS event"
    source = SqsEventSource(
        h.admin.client("sqs"), mapping.queue_url, region=REGION, batch_size=mapping.batch_size, wait_seconds=1
    )
    stop = threading.Event()
    errors: list[BaseException] = []

    def poll() -> None:
        while not stop.is_set():
            try:
                result = source.poll_once(lambda event: checks(event, h.context("StatusFunction")))
            except BaseException as error:  # reported when the block ends
                errors.append(error)
                return
            if result.error:
                errors.append(RuntimeError(result.error))
                return
            if result.received:
                counts["receives"] += 1
                counts["deletes"] += len(result.failed) < result.received
            else:
                counts["empty"] += 1

    thread = threading.Thread(target=poll, name="check-queue-source", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    if errors:
        raise RuntimeError(f"the check queue's event source failed: {errors[0]!r}")


def measure_design(
    design: str, *, delay: int = 5, period: float = 15.0, periods: int = 3, interval: float = 0.25
) -> DesignLag:
    from bench.run import quiet  # run.py imports this module: its plumbing comes at call time

    env = DESIGNS[design]
    with Harness(check_delays=str(delay)) as h:
        calls = AwsCalls()  # before the handlers are loaded: their clients come from this session
        send_time = _Invocations(h.stack.function_memory("SendFunction"))
        status_time = _Invocations(h.stack.function_memory("StatusFunction"))
        send = send_time.timed(h.load("SendFunction", **env))
        schedule = status_time.timed(h.load("StatusFunction", **env))
        checks = status_time.timed(h.load("StatusFunction", **env))  # the event source's own container
        source: Counter[str] = Counter()
        with quiet(), _check_queue_source(h, checks, source):
            h.send(send, [h.request() for _ in range(10)])  # warm: connections, secret, first batch
            time.sleep(delay + 2)  # the warm-up's jobs come due and are checked (or left to the schedule)
            _drain(h, schedule)
            _settled(h)
            calls.clear()
            source.clear()
            send_time.seconds = status_time.seconds = 0.0
            status_time.count = 0
            before = h.simulator.counts()
            lag = status_lag(h, send, schedule, delay=delay, period=period, periods=periods, interval=interval)
            _settled(h)
            after = h.simulator.counts()
        return DesignLag(
            design,
            lag,
            sms=after["posts"] - before["posts"],
            reports=after["reports"] - before["reports"],
            aws=Counter(calls.calls),
            gb_seconds=send_time.gb_seconds + status_time.gb_seconds,
            timer_receives=source["receives"],
            timer_deletes=source["deletes"],
            empty_receives=source["empty"],
            status_invocations=status_time.count,
        )


def measure_both(**options: Any) -> list[DesignLag]:
    """The run-and-return design first, then the check timers, with the same load."""
    return [measure_design(RUN_AND_RETURN, **options), measure_design(CHECK_TIMERS, **options)]


def _drain(h: Harness, status: Handler) -> None:
    """Scheduled runs until nothing is due that a run would take (a job left to its timer is not)."""
    from bench.lag import SCHEDULE_EVENT

    for _ in range(20):
        if status(SCHEDULE_EVENT, h.context("StatusFunction"))["due"] == 0:
            return
    raise RuntimeError("due jobs remain after 20 status runs")


def _settled(h: Harness, timeout: float = 30.0) -> None:
    """Until every job has its outcome recorded (the last checks' publishes are done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = h.state_counts()
        if not counts["TRACKING"] and not counts["PUBLISHING"] and not counts["SENDING"]:
            return
        time.sleep(0.5)
    raise RuntimeError(f"jobs not settled: {dict(h.state_counts())}")


def rows(results: list[DesignLag]) -> list[tuple[str, str]]:
    """(measure, figure) lines, the old design first, then the sum of what changed."""
    lines = [(f"status lag, {r.design}", f"{describe(r.lag)}; {r.summary()}") for r in results]
    if len(results) == 2:
        old, new = results
        lines.append(
            (
                "check timers against run-and-return",
                f"p95 {old.lag.p95:.2f} s -> {new.lag.p95:.2f} s; GET /reports per SMS "
                f"{old.reports / max(1, old.sms):.2f} -> {new.reports / max(1, new.sms):.2f}; the timers add "
                f"{new.per_1000(new.timer_requests):.0f} SQS requests per 1,000 SMS "
                f"({new.per_1000(new.aws['sqs:SendMessageBatch']):.0f} SendMessageBatch, "
                f"{new.per_1000(new.timer_receives):.0f} receives, {new.per_1000(new.timer_deletes):.0f} deletes)",
            )
        )
        changed = sorted(
            call
            for call in old.aws.keys() | new.aws.keys()
            if round(old.per_1000(old.aws[call])) != round(new.per_1000(new.aws[call]))
        )
        lines.append(
            (
                "the functions' AWS requests per 1,000 SMS that changed",
                ", ".join(
                    f"{call} {old.per_1000(old.aws[call]):.0f} -> {new.per_1000(new.aws[call]):.0f}" for call in changed
                )
                + f"; invocations of the status function: {old.status_invocations} -> {new.status_invocations}",
            )
        )
    return lines
