"""Status lag: seconds from the time a job's check is due to the check, as the status path stands.

A job is due for its first check `StatusCheckDelaysSeconds` after its send. Jobs are sent at a
steady pace, so they come due continuously, over several periods of the status schedule; the
status handler runs at each tick of the schedule, which is scaled down (the template's
rate(1 minute) would make the measure take many minutes) and said beside the figure. A job's send
time is when the simulator answered its POST /sms, its check time when its first GET /reports
arrived (bench/simulator_process.py notes both), at provider latency 0. The same harness measures
any other design of the status path: only how the checks are started differs.

bench/lag_designs.py runs it for the check timers and for the run-and-return design side by side;
`python -m bench lag` runs that alone (under three minutes) and prints `status lag p95 <seconds> s`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Harness
from bench.latency import percentile
from local.lambda_runtime import Handler

ROOT = Path(__file__).resolve().parents[1]
SCHEDULE_EVENT = json.loads((ROOT / "events" / "status-schedule.json").read_text())
_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


@dataclass(frozen=True)
class Lag:
    seconds: list[float]  # one per job: its check's time after its due time
    period: float  # the scaled schedule's period
    template_period: float | None  # the template's, where it is a rate
    delay: float

    @property
    def p50(self) -> float:
        return percentile(self.seconds, 0.5)

    @property
    def p95(self) -> float:
        return percentile(self.seconds, 0.95)


def template_period(expression: str | None) -> float | None:
    """Seconds between the runs of a rate(...) schedule (None for a cron schedule)."""
    match = re.fullmatch(r"rate\((\d+) (\w+)\)", expression or "")
    return int(match.group(1)) * _UNITS[match.group(2)] if match else None


def status_lag(
    h: Harness, send: Handler, status: Handler, *, delay: float, period: float, periods: int, interval: float
) -> Lag:
    """Jobs sent `interval` apart for `periods` periods of a schedule every `period` seconds, each
    due `delay` after its send (the harness's check delays); the status handler runs at each tick
    until every job has had its check."""
    stop = threading.Event()
    errors: list[BaseException] = []
    started = time.time()

    def schedule() -> None:
        tick = 1
        while not stop.wait(max(0.0, started + tick * period - time.time())):
            try:
                status(SCHEDULE_EVENT, h.context("StatusFunction"))
            except BaseException as error:  # reported by the measuring thread
                errors.append(error)
                return
            tick += 1

    ticker = threading.Thread(target=schedule, name="status-schedule", daemon=True)
    ticker.start()
    try:
        sent = 0
        while time.time() < started + periods * period:
            h.send(send, [h.request()])
            sent += 1
            time.sleep(max(0.0, started + sent * interval - time.time()))  # the load's pace
        deadline = time.monotonic() + delay + 2 * period + 30
        while True:
            if errors:
                raise RuntimeError(f"a status run failed: {errors[0]!r}")
            checks = h.simulator.checks(started)
            if all(checked is not None for _, _, checked in checks):
                break
            if time.monotonic() > deadline:
                missing = sum(checked is None for _, _, checked in checks)
                raise RuntimeError(f"{missing} of {len(checks)} jobs had no check")
            time.sleep(0.5)
    finally:
        stop.set()
        ticker.join(timeout=30)
    lags = [checked - (posted + delay) for _, posted, checked in checks if checked is not None]
    return Lag(lags, period, template_period(h.stack.schedule("StatusFunction")), delay)


def describe(lag: Lag) -> str:
    scale = (
        f" (the template's {lag.template_period:g} s scaled by {lag.period / lag.template_period:.2g})"
        if lag.template_period
        else ""
    )
    return (
        f"p50 {lag.p50:.2f} s, p95 {lag.p95:.2f} s; {len(lag.seconds)} jobs due {lag.delay:g} s after their"
        f" send, coming due continuously; status run every {lag.period:g} s{scale}"
    )
