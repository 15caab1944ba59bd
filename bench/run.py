"""`make bench`: the pipeline measured against its limits, side by side in one run.

Absolute times on a shared two-core machine are noise; the figures are ratios of two things
measured in the same run, each against the limit a perfect implementation would reach:

1. send batch latency: one invocation with a batch of 10 at provider latency L, over L (limit 1.0);
2. send CPU per SMS: the handler's, over a bare loop doing only the required I/O (bench/cpu.py);
3. status throughput: one run with N due jobs at latency L, over N·L/concurrency;
4. read amplification: DynamoDB items read per due job, at 1k / 10k / 100k finished jobs;
5. AWS calls per SMS over a request's whole life, without and with a delivery report;
6. cold start: handler import over the bare init of the same libraries, and over `import boto3`
   alone (information), and the built size (bench/coldstart.py);
7. enqueue → POST /sms, p50 and p95 through the local event source (bench/latency.py), at the
   template's batching window and at 1 s;
8. status lag: seconds from a job's due time to its check, p50 and p95, jobs coming due
   continuously over several periods of a scaled-down schedule (bench/lag.py), of the check timers
   against the run-and-return design, with GET /reports per SMS, AWS requests and GB-seconds per
   1,000 SMS beside it (bench/lag_designs.py; alone: `python -m bench lag`).

A wall-clock line is the median of several rounds' ratios, printed with their spread (the lowest
and the highest round); a round measured unfairly (a baseline that compiled bytecode while timed)
refuses its line. `make bench` exits non-zero only for a target line that misses or is refused.

`--rules on` deploys with every protection rule of contract §10 on, at limits the bench never
reaches (what the rules cost, not what they block); `--only "send batch latency,send CPU"` runs
those lines alone: `make bench` with the rules on against off.

The servers (moto, the Retarus simulator) run in processes of their own (bench/harness.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.coldstart import Sample, build_layer, cold_start, sizes
from bench.cpu_share import cpu_share_group, share_of
from bench.harness import PASSWORD, AwsCalls, Harness
from bench.lag_designs import CHECK_TIMERS, TARGET_P95_SECONDS, DesignLag, measure_both
from bench.lag_designs import rows as lag_lines
from bench.latency import Latencies, enqueue_to_post, percentile
from local.lambda_runtime import Handler

ROOT = Path(__file__).resolve().parents[1]
SCHEDULE_EVENT = json.loads((ROOT / "events" / "status-schedule.json").read_text())


@dataclass
class Row:
    measure: str
    figure: str
    ratio: float | None = None
    target: float | None = None  # the ratio must not exceed it
    spread: tuple[float, float] | None = None  # the lowest and highest round's ratio
    refused: bool = False  # not measured fairly (the figure says why): no ratio, and not a pass

    @property
    def verdict(self) -> str:
        if self.refused:
            return "REFUSED"
        if self.ratio is None or self.target is None:
            return ""
        return "ok" if self.ratio <= self.target else "MISSED"

    @property
    def failed(self) -> bool:
        """A target line that misses, or cannot be measured: `make bench` exits non-zero for it."""
        return self.target is not None and self.verdict in ("MISSED", "REFUSED")


def rounds_row(measure: str, ratios: list[float], figure: str, target: float | None = None) -> Row:
    """A wall-clock line: the median of its rounds' ratios, with their spread."""
    rounds = f"median of {len(ratios)} rounds" if len(ratios) > 1 else "1 round"
    return Row(
        measure,
        f"{figure} ({rounds})",
        statistics.median(ratios),
        target,
        (min(ratios), max(ratios)) if len(ratios) > 1 else None,
    )


def note(text: str) -> None:
    print(f"· {text}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def timed(step: str) -> Iterator[None]:
    """A step of the bench, its name noted as it starts and its wall time when it ends."""
    note(step)
    started = time.perf_counter()
    yield
    note(f"{step}: {time.perf_counter() - started:.0f} s")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The functions' logs and metrics (JSON on stdout in Lambda) go nowhere while we measure."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), warnings.catch_warnings():
        # An invocation that records no metric (a status run with nothing due) warns; not news here.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        from sms_pipeline.observability import logger

        handler: Any = logger.registered_handler
        previous = handler.setStream(sink)
        try:
            yield
        finally:
            handler.setStream(previous)


# --- 1. send batch latency ---------------------------------------------------------------------


def send_latency(h: Harness, send: Handler, latency: float, rounds: int = 9) -> Row:
    h.simulator.set_latency(latency)
    walls, moto_cpu = [], []
    for _ in range(rounds):
        requests = [h.request() for _ in range(10)]
        with h.moto_cpu() as used:
            started = time.perf_counter()
            h.send(send, requests)
            walls.append(time.perf_counter() - started)
        moto_cpu.append(used())
    h.simulator.set_latency(0)
    wall = statistics.median(walls)
    figure = f"{wall * 1000:.0f} ms at L = {latency * 1000:.0f} ms{_moto_share(moto_cpu)}"
    return rounds_row("send: batch of 10, wall / L", [w / latency for w in walls], figure, 1.5)


def _moto_share(samples: list[float | None]) -> str:
    """The emulated AWS's CPU in a measure: moto serves one request at a time, so on a slower
    machine it is what stretches the wall time beyond L (DynamoDB's own time is not on the
    function's clock in AWS, only its network round trips are)."""
    known = [sample for sample in samples if sample is not None]
    return f"; moto busy {statistics.median(known) * 1000:.0f} ms" if known else ""


# --- 2. send CPU per SMS -----------------------------------------------------------------------


def _function_spec(h: Harness, logical_id: str, name: str, **extra: Any) -> Path:
    """What a fresh process of bench/cpu.py needs to load the function, written to
    `<name>-spec.json`; it writes its result to `<name>.json`."""
    code_dir, handler = h.stack.function_code(logical_id)
    spec = {
        "code_dir": str(code_dir),
        "handler": handler,
        "env": h.function_env(logical_id),
        "timeout": h.stack.function_timeout(logical_id),
        "out": str(h.workdir / f"{name}.json"),
        **extra,
    }
    spec_path = h.workdir / f"{name}-spec.json"
    spec_path.write_text(json.dumps(spec))
    return spec_path


def _send_spec(h: Harness, **extra: Any) -> Path:
    """What a fresh send-handler process of bench/cpu.py needs (its result goes to cpu.json)."""
    queue_arn = h.stack.get_att("RequestQueue", "Arn")
    return _function_spec(
        h, "SendFunction", "cpu", queue_arn=queue_arn, sim_url=h.simulator.base_url, password=PASSWORD, **extra
    )


def alternating(names: list[str], rounds: int) -> Iterator[str]:
    """The names in turn, `rounds` times, the order reversed every other round (a, b; b, a; ...), so
    that a load on the machine that grows or fades over the rounds weighs on each name alike."""
    for round_ in range(rounds):
        yield from names if round_ % 2 == 0 else reversed(names)


def send_cpu(h: Harness, count: int, rounds: int = 5) -> list[Row]:
    spec_path = _send_spec(h, count=count)
    samples: dict[str, list[float]] = {"handler": [], "bare": []}
    for mode in alternating(list(samples), rounds):
        subprocess.run([sys.executable, "-m", "bench.cpu", mode, str(spec_path)], check=True, cwd=ROOT)  # noqa: S603
        samples[mode].append(json.loads((h.workdir / "cpu.json").read_text())["cpu_per_sms"])
    handler_cpu, bare_cpu = statistics.median(samples["handler"]), statistics.median(samples["bare"])
    return [
        rounds_row(
            "send: CPU per SMS, handler / bare I/O loop",
            [handler / bare for handler, bare in zip(samples["handler"], samples["bare"], strict=True)],
            f"{handler_cpu * 1000:.2f} ms vs {bare_cpu * 1000:.2f} ms",
            1.5,
        ),
        segments_cost(handler_cpu),
    ]


def rules_env(h: Harness) -> dict[str, str]:
    """RULES_ON as the send function's environment: the variables the template sets from them."""
    variables = h.stack.template["Resources"]["SendFunction"]["Properties"]["Environment"]["Variables"]
    return {
        name: RULES_ON[value["Ref"]]
        for name, value in variables.items()
        if isinstance(value, dict) and value.get("Ref") in RULES_ON
    }


def rules_cost(h: Harness, latency: float, count: int, rounds: int = 5) -> list[Row]:
    """What the protection rules cost a send (contract §10): the send lines with every rule on, at
    limits the bench never reaches, over the same lines with every rule off (the opt-out list, which
    has no off switch, read in both). The same handler in fresh processes, the rules set through its
    environment, the two sides alternating in each round; a round's ratio is taken before the median."""
    env_off = h.function_env("SendFunction")
    env_on = {**env_off, **rules_env(h)}
    queue_arn = h.stack.get_att("RequestQueue", "Arn")
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    walls: dict[str, list[float]] = {"on": [], "off": []}

    def run(mode: str, side: str, **extra: Any) -> dict[str, Any]:
        spec = _function_spec(
            h,
            "SendFunction",
            f"rules-{side}",
            queue_arn=queue_arn,
            sim_url=h.simulator.base_url,
            password=PASSWORD,
            **extra,
        )
        spec_data = json.loads(spec.read_text())
        spec.write_text(json.dumps({**spec_data, "env": env_on if side == "on" else env_off}))
        subprocess.run([sys.executable, "-m", "bench.cpu", mode, str(spec)], check=True, cwd=ROOT)  # noqa: S603
        result: dict[str, Any] = json.loads((h.workdir / f"rules-{side}.json").read_text())
        return result

    for round_ in range(rounds):
        sides = ("on", "off") if round_ % 2 == 0 else ("off", "on")
        for side in sides:
            cpu[side].append(run("handler", side, count=count)["cpu_per_sms"])
    h.simulator.set_latency(latency)
    try:
        for round_ in range(rounds):
            sides = ("on", "off") if round_ % 2 == 0 else ("off", "on")
            for side in sides:
                walls[side].append(statistics.median(run("batch", side, rounds=5)["batch_walls"]["free"]))
    finally:
        h.simulator.set_latency(0)
    ms = 1000
    return [
        rounds_row(
            "send: CPU per SMS, every protection rule on / off",
            [on / off for on, off in zip(cpu["on"], cpu["off"], strict=True)],
            f"{statistics.median(cpu['on']) * ms:.2f} ms vs {statistics.median(cpu['off']) * ms:.2f} ms"
            " (handler in a process of its own)",
            1.10,
        ),
        rounds_row(
            "send: batch of 10, wall, every protection rule on / off",
            [on / off for on, off in zip(walls["on"], walls["off"], strict=True)],
            f"{statistics.median(walls['on']) * ms:.0f} ms vs {statistics.median(walls['off']) * ms:.0f} ms"
            f" at L = {latency * ms:.0f} ms (handler in a process of its own, median of 5 batches a side a round)",
            1.10,
        ),
    ]


# What producers send, by the bench's own guess: mostly short GSM-7 texts, some with a typographic
# character (UCS-2), some long; each computed with smart encoding on (the dearer path).
SEGMENT_TEXTS = (
    ["Your code is 481516. It expires in 10 minutes."] * 6
    + ["Your parcel arrives today between 10:00 and 12:00 – track it at example.com/t/4711"] * 2
    + ["Reminder: " + "your appointment is tomorrow at 9:00, please bring your card. " * 5]
    + ["Alert: disk full on db-1 €😀 " * 20]
)


def segments_cost(handler_cpu: float, rounds: int = 200) -> Row:
    """Encoding and parts of a text (segments.py), per SMS, against the send handler's CPU per SMS:
    what contract §9 adds to each send."""
    from sms_pipeline.segments import parts, smart_encoded

    def once() -> None:
        for text in SEGMENT_TEXTS:
            replaced = smart_encoded(text)
            parts(replaced if replaced is not None else text)

    once()  # warm, as a container is after its first batch
    started = time.process_time()
    for _ in range(rounds):
        once()
    per_sms = (time.process_time() - started) / (rounds * len(SEGMENT_TEXTS))
    return Row(
        "send: encoding and parts per SMS / handler CPU per SMS",
        f"{per_sms * 1e6:.0f} µs vs {handler_cpu * 1000:.2f} ms",
        per_sms / handler_cpu,
        0.05,
    )


def send_latency_at_cpu_share(h: Harness, latency: float, rounds: int = 15) -> list[Row]:
    """Line 1 again, in a fresh process, with all the CPU it can use and at the share of one CPU
    that the function's MemorySize buys in Lambda (bench/cpu_share.py): the two alternate batch by
    batch in one process (bench/cpu.py batch), `rounds` batches each."""
    memory = h.stack.function_memory("SendFunction")
    share = share_of(memory)
    share_measure = f"send: batch of 10, wall / L, at {memory} MB's CPU share ({share:.2f} vCPU)"
    h.simulator.set_latency(latency)
    try:
        with cpu_share_group(share) as procs:
            spec_path = _send_spec(h, rounds=rounds, cgroup_procs=str(procs) if procs else "")
            subprocess.run([sys.executable, "-m", "bench.cpu", "batch", str(spec_path)], check=True, cwd=ROOT)  # noqa: S603
            walls: dict[str, list[float]] = json.loads((h.workdir / "cpu.json").read_text())["batch_walls"]
    finally:
        h.simulator.set_latency(0)
    ms = 1000
    wall = {name: statistics.median(values) for name, values in walls.items()}
    ratios = {name: [w / latency for w in values] for name, values in walls.items()}
    rows = [
        rounds_row(
            "send: batch of 10, wall / L, handler in a process of its own",
            ratios["free"],
            f"{wall['free'] * ms:.0f} ms at L = {latency * ms:.0f} ms (as line 1, for comparison)",
        )
    ]
    if "share" not in walls:
        return [*rows, Row(share_measure, "not measured: no cgroup CPU control here")]
    return [
        *rows,
        rounds_row(
            share_measure,
            ratios["share"],
            f"{wall['share'] * ms:.0f} ms at L = {latency * ms:.0f} ms (emulated with a CFS quota;"
            " alternating with the line above, batch by batch)",
        ),
    ]


# --- 3. status throughput ----------------------------------------------------------------------


def drain(h: Harness, status: Handler) -> None:
    """Status runs at latency 0 until nothing is due, so a measured run sees only its own jobs."""
    for _ in range(20):
        if status(SCHEDULE_EVENT, h.context("StatusFunction"))["due"] == 0:
            return
    raise RuntimeError("due jobs remain after 20 status runs")


def status_throughput(h: Harness, send: Handler, status: Handler, due: int, latency: float, rounds: int = 1) -> Row:
    concurrency = int(h.function_env("StatusFunction")["STATUS_CONCURRENCY"])
    walls, moto_cpu = [], []
    for _ in range(rounds):
        drain(h, status)
        h.send(send, [h.request() for _ in range(due)])  # at latency 0: set-up, not measured
        h.simulator.set_latency(latency)
        with h.moto_cpu() as used:
            started = time.perf_counter()
            summary = status(SCHEDULE_EVENT, h.context("StatusFunction"))
            walls.append(time.perf_counter() - started)
        moto_cpu.append(used())
        h.simulator.set_latency(0)
        if summary["published"] != due:
            raise RuntimeError(f"the status run did not finish its {due} jobs: {summary}")
    wall = statistics.median(walls)
    ideal = due * latency / concurrency
    return rounds_row(
        f"status: run of {due} due jobs, wall / (N·L/{concurrency})",
        [w / ideal for w in walls],
        f"{wall:.2f} s vs ideal {ideal:.2f} s" + _moto_share(moto_cpu),
        1.5,
    )


def status_at_cpu_share(
    h: Harness, send: Handler, status: Handler, due: int, latency: float, rounds: int = 5
) -> list[Row]:
    """Line 3 again, in a fresh process, with all the CPU it can use and then at the share of one
    CPU that the status function's MemorySize buys in Lambda (bench/cpu_share.py); the two
    alternate (`alternating`), and the medians are kept. A run's report calls overlap, its CPU
    work does not: at a small share the CPU, not L, sets the pace."""
    memory = h.stack.function_memory("StatusFunction")
    share = share_of(memory)
    concurrency = int(h.function_env("StatusFunction")["STATUS_CONCURRENCY"])
    ideal = due * latency / concurrency
    runs: dict[str, list[dict[str, Any]]] = {"free": [], "share": []}
    with cpu_share_group(share) as procs:
        if procs is None:
            measure = f"status: run of {due} due jobs at {memory} MB's CPU share"
            return [Row(measure, "not measured: no cgroup CPU control here")]
        groups = {"free": "", "share": str(procs)}
        for name in alternating(list(groups), rounds):
            drain(h, status)
            run = _status_in_process(h, send, due, latency, cgroup_procs=groups[name])
            if run["summary"]["published"] != due:
                raise RuntimeError(f"the status run did not finish its {due} jobs: {run['summary']}")
            runs[name].append(run)
    wall = {name: statistics.median(run["wall"] for run in done) for name, done in runs.items()}
    cpu_per_job = statistics.median(run["cpu"] for run in runs["free"]) / due
    label = f"status: run of {due} due jobs, wall / (N·L/{concurrency})"
    ratios = {name: [run["wall"] / ideal for run in done] for name, done in runs.items()}
    return [
        rounds_row(
            f"{label}, handler in a process of its own",
            ratios["free"],
            f"{wall['free']:.2f} s vs ideal {ideal:.2f} s; handler CPU {cpu_per_job * 1000:.1f} ms per job",
        ),
        rounds_row(
            f"{label}, at {memory} MB's CPU share ({share:.2f} vCPU)",
            ratios["share"],
            f"{wall['share']:.2f} s; that CPU allows about {share / cpu_per_job:.0f} jobs/s,"
            f" L and the concurrency {concurrency / latency:.0f} jobs/s",
        ),
    ]


def _status_in_process(h: Harness, send: Handler, due: int, latency: float, *, cgroup_procs: str) -> dict[str, Any]:
    """One run of the status handler in a process of its own (bench/cpu.py status), over `due` jobs
    sent once that process has finished its init and a warm-up run."""
    spec_path = _function_spec(h, "StatusFunction", "status-run", event=SCHEDULE_EVENT, cgroup_procs=cgroup_procs)
    command = [sys.executable, "-m", "bench.cpu", "status", str(spec_path)]
    child = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603
    assert child.stdin is not None and child.stdout is not None
    try:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the status process did not get ready")
        h.send(send, [h.request() for _ in range(due)])  # at latency 0: set-up, not measured
        h.simulator.set_latency(latency)
        child.stdin.write("go\n")
        child.stdin.flush()
        if child.wait() != 0:
            raise RuntimeError(f"the status process failed ({child.returncode})")
    finally:
        h.simulator.set_latency(0)
        if child.poll() is None:
            child.kill()
            child.wait()
    result: dict[str, Any] = json.loads((h.workdir / "status-run.json").read_text())
    return result


# --- 4. read amplification ---------------------------------------------------------------------


def seed_finished(h: Harness, total: int) -> int:
    """Add finished (DONE) items until the table holds `total` items; returns the item count."""
    have = h.dynamodb.scan(TableName=h.table, Select="COUNT")["Count"]
    now = int(time.time())
    missing = list(range(have, total))

    def write(chunk: list[int]) -> None:
        items: list[Any] = [
            {
                "PutRequest": {
                    "Item": {
                        "id": {"S": f"finished-{n}"},
                        "state": {"S": "DONE"},
                        "to": {"S": "+49170*****77"},
                        "reference": {"S": f"ref-{n}"},
                        "metadata": {"S": "{}"},
                        "jobId": {"S": f"J.20261125-000000.000-{n:020d}"},
                        "outcome": {"S": "SENT"},
                        "reason": {"S": "DONE/SUC_ACC"},
                        "requestedAt": {"N": str(now - 3600)},
                        "submittedAt": {"N": str(now - 3600)},
                        "completedAt": {"N": str(now - 3000)},
                        "expiresAt": {"N": str(now + 86400)},
                    }
                }
            }
            for n in chunk
        ]
        while items:
            response = h.dynamodb.batch_write_item(RequestItems={h.table: items})
            items = response.get("UnprocessedItems", {}).get(h.table, [])

    chunks = [missing[i : i + 25] for i in range(0, len(missing), 25)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, chunks))
    return max(have, total)


def read_amplification(
    h: Harness, send: Handler, status: Handler, calls: AwsCalls, sizes: list[int], due: int
) -> list[Row]:
    rows = []
    per_job = []
    for size in sizes:
        note(f"read amplification: seeding {size:,} finished jobs")
        table_items = seed_finished(h, size)
        drain(h, status)
        h.send(send, [h.request() for _ in range(due)])
        calls.clear()
        summary = status(SCHEDULE_EVENT, h.context("StatusFunction"))
        if summary["due"] != due:
            raise RuntimeError(f"expected {due} due jobs, the run saw {summary['due']}")
        per_job.append(calls.items_read / due)
        rows.append(
            Row(
                f"status: items read per due job, {table_items:,} in table",
                f"{calls.items_read} items, {calls.calls['dynamodb:Query']} queries for {due} due",
                per_job[-1] / per_job[0],
                1.10,
            )
        )
    return rows


# --- 5. AWS calls per SMS ----------------------------------------------------------------------


def calls_per_sms(h: Harness, calls: AwsCalls, warm_status: Handler, *, delivery_report: bool, count: int = 100) -> Row:
    drain(h, warm_status)
    send, status = h.load("SendFunction"), h.load("StatusFunction")  # new containers: secrets read anew
    calls.clear()
    h.send(send, [h.request(delivery_report=delivery_report) for _ in range(count)])
    published = runs = 0
    while published < count and runs < 10:
        published += status(SCHEDULE_EVENT, h.context("StatusFunction"))["published"]
        runs += 1
    if published != count:
        raise RuntimeError(f"only {published} of {count} outcomes after {runs} status runs")

    def per(*names: str) -> float:
        return sum(calls.calls[name] for name in names) / count

    writes = per("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem")
    reads = per("dynamodb:Query", "dynamodb:GetItem", "dynamodb:Scan")
    publishes = per("sns:Publish", "sns:PublishBatch")
    secrets = per("secretsmanager:GetSecretValue")
    path = "delivery report" if delivery_report else "no report"
    return Row(
        f"AWS calls per SMS, {path} ({runs} status runs)",
        f"DynamoDB {writes:.2f} writes + {reads:.2f} reads, SNS {publishes:.2f}, Secrets Manager {secrets:.2f}",
    )


# --- 7. enqueue → POST --------------------------------------------------------------------------


def enqueue_latency(h: Harness, send: Handler, rounds: int, count: int = 40, interval: float = 0.1) -> list[Row]:
    """Line 7 (bench/latency.py): at the template's batching window (target p95 ≤ 2 s, contract
    §13), and at 1 s for the trade-off: fewer invocations, later sends. The two alternate."""
    mapping = h.stack.sqs_event("SendFunction")
    assert mapping is not None
    windows: dict[str, float | None] = {"template": None, "1 s": 1.0}
    runs: dict[str, list[Latencies]] = {name: [] for name in windows}
    for _ in range(rounds):
        for name, window in windows.items():
            runs[name].append(enqueue_to_post(h, send, window=window, count=count, interval=interval))
    rows = []
    for name, done in runs.items():
        seconds = [s for run in done for s in run.seconds]
        per_request = sum(run.invocations for run in done) / len(seconds)
        window = mapping.maximum_batching_window if windows[name] is None else windows[name]
        rows.append(
            rounds_row(
                f"enqueue → POST /sms p95 in seconds, batching window {window:g} s",
                [percentile(run.seconds, 0.95) for run in done],
                f"p50 {percentile(seconds, 0.5) * 1000:.0f} ms, p95 {percentile(seconds, 0.95) * 1000:.0f} ms;"
                f" {per_request:.2f} invocations per request, {len(seconds)} requests {interval:g} s apart",
                2.0 if windows[name] is None else None,
            )
        )
    return rows


def lag_rows(results: list[DesignLag]) -> list[Row]:
    """Line 8 (bench/lag_designs.py): both designs as information, and the check timers' p95 (in
    seconds) against its target."""
    [timed] = [result for result in results if result.design == CHECK_TIMERS]
    return [
        *(Row(measure, figure) for measure, figure in lag_lines(results)),
        Row("status lag p95 (s), check timers", f"{timed.lag.p95:.2f} s", timed.lag.p95, TARGET_P95_SECONDS),
    ]


# --- 6. cold start -----------------------------------------------------------------------------


def cold_start_rows(h: Harness, rounds: int) -> list[Row]:
    functions = {}
    for logical_id, name in (("SendFunction", "send"), ("StatusFunction", "status")):
        code_dir, handler_string = h.stack.function_code(logical_id)
        functions[name] = (code_dir, handler_string.rsplit(".", 1)[0], h.function_env(logical_id))
    note("cold start: building the layer twice (pip)")
    layers = {
        "source": build_layer(h.workdir / "layer-source", makefile=False),
        "built": build_layer(h.workdir / "layer-built", makefile=True),  # by layers/common/Makefile
    }
    samples = cold_start(functions, layers, rounds, may_compile=["source"])

    def line(measure: str, name: str, base: str, note: str, target: float | None = None, **kw: Any) -> Row:
        return import_row(measure, samples[name], samples[base], note, target, **kw)

    rows = []
    for name in functions:
        rows += [
            line(
                f"cold start: {name} import / bare init, same libraries",
                f"{name} built",
                f"{name} bare",
                "layer built by layers/common/Makefile; bench/bare_init.py",
                1.10,
                same_libraries=True,
            ),
            line(
                f"cold start: {name} import / import boto3 (information)",
                f"{name} built",
                "boto3",
                "layer built by layers/common/Makefile",
            ),
            line(
                f"cold start: {name} import / import boto3, both on the layer as BuildMethod python3.13 built it",
                f"{name} source",
                "boto3 source",
                "no .pyc, botocore data of every service",
                compiles=True,
                also=("import boto3 alone", samples["boto3"]),
            ),
            line(
                f"cold start: {name}'s clients alone / import boto3 (the floor)",
                f"{name} clients",
                "boto3",
                "boto3 and the clients its init makes, nothing else",
            ),
            line(
                f"cold start: {name}'s libraries, no clients / import boto3",
                f"{name} libraries",
                "boto3",
                "the same libraries, clients made on first use",
            ),
        ]
    mib = 1024 * 1024
    labels = {"source": "layer as BuildMethod python3.13 built it", "built": "layer built by the Makefile"}
    for build, label in labels.items():
        size = sizes(layers[build], h.workdir / f"layer-{build}.zip")
        rows.append(
            Row(
                f"built size: {label} + function code",
                f"layer {size['layer'] / mib:.1f} MiB unzipped, {size['layer.zip'] / mib:.1f} MiB zipped;"
                f" send {size['send'] / 1024:.1f} KiB, status {size['status'] / 1024:.1f} KiB",
            )
        )
    return rows


def import_row(
    measure: str,
    timed: list[Sample],
    base: list[Sample],
    note: str,
    target: float | None = None,
    *,
    compiles: bool = False,
    same_libraries: bool = False,
    also: tuple[str, list[Sample]] | None = None,
) -> Row:
    """One cold-start line: the median of the rounds' ratios of two imports' CPU time, timed side
    by side (bench/coldstart.py says why CPU).
    Refused if the baseline compiled bytecode while it was timed, or the timed import did when it
    should not (`compiles`: both sides import from the BuildMethod layer, which ships no bytecode,
    and that is the measure); and, with `same_libraries`, if the two did not load the same library
    modules (the bare init is the same libraries with nothing of ours, or it is no baseline).
    `also` prints the timed import's ratio to a third import in the figure, as information."""
    wrong = [] if compiles else [source for sample in (*timed, *base) for source in sample.compiled]
    if wrong:
        files = sorted(set(wrong))
        why = f"refused: {len(files)} modules compiled while timed, e.g. {files[0]}"
        return Row(measure, why, target=target, refused=True)
    if same_libraries:
        ours = {name for sample in timed for name in sample.libraries}
        theirs = {name for sample in base for name in sample.libraries}
        if ours != theirs:
            only = [
                f"{', '.join(sorted(a - b)[:3])} only in the {side}"
                for a, b, side in ((ours, theirs, "handler's"), (theirs, ours, "baseline's"))
                if a - b
            ]
            why = f"refused: not the same libraries: {'; '.join(only)}"
            return Row(measure, why, target=target, refused=True)
    ms = 1000

    def median(samples: list[Sample], field: str) -> float:
        return statistics.median(float(getattr(sample, field)) for sample in samples) * ms

    ratios = [a.cpu / b.cpu for a, b in zip(timed, base, strict=True)]
    figure = (
        f"CPU {median(timed, 'cpu'):.0f} ms vs {median(base, 'cpu'):.0f} ms"
        f" (wall {median(timed, 'seconds'):.0f} vs {median(base, 'seconds'):.0f}); {note}"
    )
    if also is not None:
        label, third = also
        times = statistics.median(a.cpu / b.cpu for a, b in zip(timed, third, strict=True))
        figure += f"; {times:.2f} × {label}, {median(third, 'cpu'):.0f} ms (information)"
    return rounds_row(measure, ratios, figure, target)


# --- the table ---------------------------------------------------------------------------------


# Every protection rule on (contract §10), at limits the bench's requests never reach: the
# destinations are +49 numbers, each gets a few SMS an hour, and the day has room for all.
RULES_ON = {
    "AllowedDestinationPrefixes": "+49,+43,+41",
    "MaxPerNumberPerWindow": "50",
    "NumberWindowSeconds": "3600",
    "DailySegmentLimit": "100000000",
}


def table(rows: list[Row]) -> str:
    width = max(len(row.measure) for row in rows)
    lines = [f"{'measure':<{width}}  {'ratio':>6}  {'spread':<9}  {'target':>6}  {'':<7}  figures"]
    for row in rows:
        ratio = f"{row.ratio:6.2f}" if row.ratio is not None else " " * 6
        spread = f"{row.spread[0]:.2f}–{row.spread[1]:.2f}" if row.spread else ""
        target = f"≤{row.target:5.2f}" if row.target is not None else " " * 6
        lines.append(f"{row.measure:<{width}}  {ratio}  {spread:<9}  {target}  {row.verdict:<7}  {row.figure}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.2, help="provider latency L in seconds (default 0.2)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a check that the bench runs)")
    parser.add_argument(
        "measure",
        nargs="?",
        choices=["lag"],
        help="lag: the status lag alone, check timers and run-and-return (bench/lag_designs.py), under three minutes",
    )
    parser.add_argument(
        "--rules", choices=["on", "off"], default="off", help="the protection rules (contract §10): off (default) or on"
    )
    parser.add_argument("--only", help="comma-separated measures to run (the names it prints), e.g. 'send CPU'")
    options = parser.parse_args(argv)
    if options.measure == "lag":
        results = measure_both()
        lines = lag_rows(results)
        print(table(lines))
        print(f"status lag p95 {results[-1].lag.p95:.2f} s")
        return 1 if any(row.failed for row in lines) else 0
    quick = options.quick
    table_sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    steps: list[tuple[str, Callable[[], list[Row]]]] = []

    with Harness(parameters=RULES_ON if options.rules == "on" else None) as h:
        calls = AwsCalls()  # before the handlers are loaded: their clients come from this session
        send, status = h.load("SendFunction"), h.load("StatusFunction")
        latency = options.latency
        # Status and read figures first, on a small table: moto answers an index query by scanning
        # the whole table (DynamoDB reads only the index), so a table the CPU measure has filled
        # would slow the status runs for a reason that does not exist in AWS.
        steps = [
            ("send batch latency", lambda: [send_latency(h, send, latency)]),
            *[
                # A short run is a few waves of report calls: repeated, and the median kept.
                (
                    f"status throughput N={n}",
                    lambda n=n: [status_throughput(h, send, status, n, latency, 9 if n <= 100 else 3)],
                )
                for n in ([100] if quick else [100, 1000])
            ],
            (
                "status run at Lambda's CPU share",
                lambda: status_at_cpu_share(h, send, status, 100 if quick else 300, latency, 1 if quick else 5),
            ),
            ("read amplification", lambda: read_amplification(h, send, status, calls, table_sizes, due=50)),
            ("AWS calls per SMS", lambda: [calls_per_sms(h, calls, status, delivery_report=d) for d in (False, True)]),
            ("enqueue → POST", lambda: enqueue_latency(h, send, 1 if quick else 3)),
            ("send CPU", lambda: send_cpu(h, 100 if quick else 300)),
            ("protection rules", lambda: rules_cost(h, latency, 100 if quick else 300, 3 if quick else 5)),
            ("send batch at Lambda's CPU share", lambda: send_latency_at_cpu_share(h, latency, 5 if quick else 15)),
            ("cold start", lambda: cold_start_rows(h, 3 if quick else 15)),
        ]
        # The status lag runs last, after this harness is closed: each design has a harness of its own.
        lag = "status lag"
        wanted = {name.strip() for name in options.only.split(",")} if options.only else None
        if wanted is not None:
            unknown = wanted - {name for name, _ in steps} - {lag}
            if unknown:
                parser.error(f"--only: no measure named {', '.join(sorted(unknown))}")
            steps = [(name, step) for name, step in steps if name in wanted]
        note(f"protection rules {options.rules}")
        rows: list[Row] = []
        with quiet():
            h.send(send, [h.request() for _ in range(20)])  # warm: connections, secret, first batch
            status(SCHEDULE_EVENT, h.context("StatusFunction"))
            for name, step in steps:
                with timed(name):
                    rows.extend(step())
    if wanted is None or lag in wanted:
        with timed(lag):
            rows.extend(lag_rows(measure_both(periods=2 if quick else 3)))
    print(table(rows))
    return 1 if any(row.failed for row in rows) else 0
