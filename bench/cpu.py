"""CPU time per SMS of the send handler, and of a bare loop that does only the required I/O.

Each side runs in a fresh process of its own (`python -m bench.cpu handler|bare SPEC`), so neither
inherits the other's warm caches or patched libraries, and the servers run in other processes: the
process's CPU clock counts the client side alone. The bare loop is what any sender must do for one
SMS with the same libraries and the same two writes: the conditional claim (PutItem), the POST /sms
over a pooled requests session, and the write of the job id (UpdateItem). The handler does the
same I/O plus everything that makes it a product: the batch, validation, the partial batch
response, logging, metrics.

`batch` mode times whole batches of ten instead, for the send batch at a Lambda CPU share, and
`status` mode times one run of the status handler, for the status run at a Lambda CPU share.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

WARM_UP = 100  # SMS before the clock starts: connections, the secret, lazy imports, botocore's caches


def _load_handler(spec: dict[str, Any]) -> Any:
    """The spec's handler, loaded as Lambda loads it, its log lines going nowhere."""
    from local.lambda_runtime import load_handler

    handler = load_handler(Path(spec["code_dir"]), spec["handler"], spec["env"])
    from sms_pipeline.observability import logger

    logger.registered_handler.setStream(open(os.devnull, "w"))  # type: ignore[attr-defined]  # noqa: SIM115
    return handler


def _join_cpu_share(spec: dict[str, Any]) -> None:
    """Into the cgroup whose cgroup.procs the spec names, if it names one (bench/cpu_share.py)."""
    if spec.get("cgroup_procs"):
        Path(spec["cgroup_procs"]).write_text(str(os.getpid()))


def _send_handler(spec: dict[str, Any]) -> Callable[[int], None]:
    """The send handler as a function that sends n SMS in batches of 10."""
    from bench.harness import Harness, send_event
    from local.lambda_runtime import LambdaContext

    handler = _load_handler(spec)

    def invoke(n: int) -> None:
        requests = [Harness.request() for _ in range(n)]
        for start in range(0, n, 10):
            event = send_event(requests[start : start + 10], spec["queue_arn"])
            context = LambdaContext(function_name="SendFunction", timeout_seconds=spec["timeout"])
            response = handler(event, context)
            if response["batchItemFailures"]:
                raise RuntimeError(f"records failed: {response}")

    return invoke


def _handler_cpu(spec: dict[str, Any], count: int) -> float:
    invoke = _send_handler(spec)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # metrics print their EMF here
        invoke(WARM_UP)
        started = time.process_time()
        invoke(count)
        return (time.process_time() - started) / count


def _batch_walls(spec: dict[str, Any], rounds: int) -> dict[str, list[float]]:
    """Wall time of each round's batch of 10, after the warm-up, with all the CPU the process can
    use ("free") and, if the spec names a cgroup's cgroup.procs, at that cgroup's CPU share
    ("share", bench/cpu_share.py). Each round runs a batch of each, in turn first (free, share;
    share, free; ...), the process moving into the cgroup and back, so that a busy moment of the
    machine falls on both alike. The warm-up, which stands for Lambda's init, runs unthrottled:
    Lambda gives init a full vCPU."""
    from bench.cpu_share import home_group

    invoke = _send_handler(spec)
    groups = {"free": home_group()}
    if spec.get("cgroup_procs"):
        if groups["free"] is None:
            raise RuntimeError("this process's own cgroup cannot be told: it could not leave the CPU share")
        groups["share"] = Path(spec["cgroup_procs"])
    walls: dict[str, list[float]] = {name: [] for name in groups}
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        invoke(WARM_UP)
        for round_ in range(rounds):
            for name in list(groups) if round_ % 2 == 0 else reversed(groups):
                group = groups[name]
                if group is not None and len(groups) > 1:
                    group.write_text(str(os.getpid()))
                started = time.perf_counter()
                invoke(10)
                walls[name].append(time.perf_counter() - started)
    return walls


def _status_run(spec: dict[str, Any]) -> dict[str, Any]:
    """Wall and CPU time of one status run, over the jobs the bench makes due once this process is
    ready: it prints "ready" and waits for a line on stdin. Init and a first run with nothing due
    (a warm container's) run unthrottled; the measured run at the CPU share of the cgroup whose
    cgroup.procs the spec names, if it names one."""
    from local.lambda_runtime import LambdaContext

    handler = _load_handler(spec)

    def run() -> dict[str, Any]:
        context = LambdaContext(function_name="StatusFunction", timeout_seconds=spec["timeout"])
        summary: dict[str, Any] = handler(spec["event"], context)
        return summary

    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        if run()["due"]:
            raise RuntimeError("jobs were due before the bench made any due")
        print("ready", file=sys.__stdout__, flush=True)
        sys.stdin.readline()
        _join_cpu_share(spec)
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = run()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"wall": wall, "cpu": cpu, "summary": summary}


def _bare_cpu(spec: dict[str, Any], count: int) -> float:
    import boto3
    import requests

    from bench.harness import Harness

    os.environ.update(spec["env"])
    dynamodb = boto3.client("dynamodb")
    session = requests.Session()
    session.trust_env = False  # as the handler's session: the environment is not read per call
    table = spec["env"]["JOBS_TABLE_NAME"]

    def one(request: dict[str, Any]) -> None:
        now = Decimal(str(round(time.time(), 3)))
        dynamodb.put_item(
            TableName=table,
            Item={"id": {"S": request["id"]}, "state": {"S": "SENDING"}, "claimUntil": {"N": str(now + 60)}},
            ConditionExpression="attribute_not_exists(id)",
        )
        response = session.post(
            spec["sim_url"] + "/sms",
            data={"user": "bench-user", "pass": spec["password"], "dst": request["to"], "msg": request["text"]},
            timeout=(3.05, 10),
        )
        response.raise_for_status()
        job_id = response.text.strip()
        dynamodb.update_item(
            TableName=table,
            Key={"id": {"S": request["id"]}},
            UpdateExpression="SET #s = :t, jobId = :j, dueShard = :d, dueAt = :a REMOVE claimUntil",
            ConditionExpression="#s = :sending",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":t": {"S": "TRACKING"},
                ":j": {"S": job_id},
                ":d": {"S": "bare"},  # a shard the status function never queries
                ":a": {"N": str(int(now * 1000))},
                ":sending": {"S": "SENDING"},
            },
        )

    for _ in range(WARM_UP):
        one(Harness.request())
    requests_ = [Harness.request() for _ in range(count)]
    started = time.process_time()
    for request in requests_:
        one(request)
    return (time.process_time() - started) / count


def main(argv: list[str]) -> int:
    mode, spec_path = argv[0], Path(argv[1])
    spec = json.loads(spec_path.read_text())
    if mode == "batch":
        result: dict[str, Any] = {"batch_walls": _batch_walls(spec, int(spec["rounds"]))}
    elif mode == "status":
        result = _status_run(spec)
    else:
        result = {"cpu_per_sms": (_handler_cpu if mode == "handler" else _bare_cpu)(spec, int(spec["count"]))}
    Path(spec["out"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
