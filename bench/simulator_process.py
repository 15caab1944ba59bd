"""The Retarus simulator in a process of its own, steered over its standard input.

The benchmarks measure the handler's CPU time by the bench process's own clock, so the simulator's
work must not run on it: it runs here, and the bench changes its latency between measurements
without restarting it (the jobs it knows must survive the change).

Protocol, one line each way: `latency <seconds>` → `ok`; `counts` → `{"posts": n, "reports": n}`;
`arrivals <time>` → `[[dst, time], ...]`, each job accepted since that time.time() with when its
POST /sms was answered (at latency 0, when it arrived); `checks <time>` → `[[dst, posted, checked],
...]`, each such job with the time its first GET /reports arrived (null if none yet);
end of input stops the server. The password comes from RETARUS_SIM_PASSWORD.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

from local.simulator import RetarusSimulator, SimJob


class TimedSimulator(RetarusSimulator):
    """The simulator, noting when each job's first report call arrived (bench/lag.py's check
    time): the simulator itself keeps the calls, not their times."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._first_checked: dict[str, float] = {}
        self._times = threading.Lock()

    def first_checked(self) -> dict[str, float]:
        with self._times:
            return dict(self._first_checked)

    def _report(self, handler: Any, params: dict[str, str], *, garbled: bool = False) -> None:
        with self._times:
            self._first_checked.setdefault(params.get("jobid", ""), time.time())
        super()._report(handler, params, garbled=garbled)


def main() -> int:
    polls_to_final = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    simulator = TimedSimulator("bench-user", os.environ["RETARUS_SIM_PASSWORD"], polls_to_final=polls_to_final)
    with simulator:
        print(simulator.base_url, flush=True)
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "latency":
                simulator.latency = float(argument)
                answer = "ok"
            elif command == "arrivals":
                since = float(argument)
                jobs = _jobs(simulator)
                answer = json.dumps([[job.dst, job.created] for job in jobs if job.created >= since])
            elif command == "checks":
                since = float(argument)
                checked = simulator.first_checked()
                jobs = [job for job in _jobs(simulator) if job.created >= since]
                answer = json.dumps([[job.dst, job.created, checked.get(job.job_id)] for job in jobs])
            elif command == "counts":
                answer = json.dumps({"posts": len(simulator.sms_posts()), "reports": len(simulator.report_calls())})
            else:
                answer = f"unknown command {command!r}"
            print(answer, flush=True)
    return 0


def _jobs(simulator: RetarusSimulator) -> list[SimJob]:
    """A copy of the simulator's jobs, which its server threads add to while we read."""
    while True:
        try:
            return list(simulator.jobs.values())
        except RuntimeError:  # the dict grew during the copy
            continue


class SimulatorProcess:
    """The parent's handle on a simulator process."""

    def __init__(self, password: str, *, polls_to_final: int = 1) -> None:
        self._process = subprocess.Popen(  # noqa: S603 — our own interpreter and module
            [sys.executable, "-m", "bench.simulator_process", str(polls_to_final)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "RETARUS_SIM_PASSWORD": password},
        )
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1"):
            self.stop()
            raise RuntimeError("the simulator process did not start")

    def command(self, line: str) -> str:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()
        return self._process.stdout.readline().strip()

    def set_latency(self, seconds: float) -> None:
        if self.command(f"latency {seconds}") != "ok":
            raise RuntimeError("the simulator did not take the latency")

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = json.loads(self.command("counts"))
        return counts

    def arrivals(self, since: float) -> list[tuple[str, float]]:
        """(dst, time.time()) of every job the simulator accepted since `since`."""
        return [(dst, created) for dst, created in json.loads(self.command(f"arrivals {since}"))]

    def checks(self, since: float) -> list[tuple[str, float, float | None]]:
        """(dst, posted, first checked) of every job the simulator accepted since `since`."""
        return [(dst, posted, checked) for dst, posted, checked in json.loads(self.command(f"checks {since}"))]

    def stop(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()


if __name__ == "__main__":
    sys.exit(main())
