"""What every benchmark stands on: a moto server and the Retarus simulator, each in a process of its
own, the template's resources created in moto from template.yaml, and the handlers loaded as Lambda
loads them (template environment, handler string, Lambda-like context).

Nothing the benchmarks measure runs in the servers' processes, and nothing the servers do runs on
the bench process's clock or CPU.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3

from bench.simulator_process import SimulatorProcess
from local.lambda_runtime import Handler, LambdaContext, load_handler, sqs_event
from local.moto_process import MotoProcess
from local.stack import LocalStack, provision

REGION = "eu-central-1"
PASSWORD = "bench-" + os.urandom(6).hex()
_ids = itertools.count()


class Harness:
    def __init__(
        self,
        *,
        polls_to_final: int = 1,
        check_delays: str = "0",
        workdir: Path | None = None,
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="sms-bench-"))
        self.moto = MotoProcess(self.workdir / "moto.log").start()
        self.simulator = SimulatorProcess(PASSWORD, polls_to_final=polls_to_final)
        self.aws_env = {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.moto.endpoint,
            # Outside Lambda Powertools disables the tracer by itself; said here so it is explicit.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        os.environ.update(self.aws_env)
        # The bench's own calls (set-up, seeding, inspection) use a session of their own, so the
        # handlers' calls, counted on boto3's default session, are theirs alone.
        self.admin = boto3.session.Session(region_name=REGION)
        self.dynamodb = self.admin.client("dynamodb")
        secret = self.admin.client("secretsmanager").create_secret(
            Name="bench/retarus", SecretString=json.dumps({"user": "bench-user", "password": PASSWORD})
        )
        self.stack: LocalStack = provision(
            endpoint_url=self.moto.endpoint,
            region=REGION,
            name_prefix="bench",
            credentials=("bench", "bench"),
            parameters={
                "RetarusSecretArn": secret["ARN"],
                "RetarusBaseUrl": self.simulator.base_url,
                "StatusCheckDelaysSeconds": check_delays,
                **(parameters or {}),
            },
        )
        self.table = self.stack.output("JobsTableName")

    @contextlib.contextmanager
    def moto_cpu(self) -> Iterator[Callable[[], float | None]]:
        """CPU seconds the moto server spends inside the block (None where it cannot be read)."""
        before = self.moto.cpu_seconds()
        spent: list[float | None] = [None]
        try:
            yield lambda: spent[0]
        finally:
            after = self.moto.cpu_seconds()
            if before is not None and after is not None:
                spent[0] = after - before

    def close(self) -> None:
        self.simulator.stop()
        self.moto.stop()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the functions ---------------------------------------------------------------------------

    def function_env(self, logical_id: str, **overrides: str) -> dict[str, str]:
        return {**self.stack.function_environment(logical_id), **self.aws_env, **overrides}

    def load(self, logical_id: str, **overrides: str) -> Handler:
        code_dir, handler = self.stack.function_code(logical_id)
        return load_handler(code_dir, handler, self.function_env(logical_id, **overrides))

    def context(self, logical_id: str) -> LambdaContext:
        return LambdaContext(function_name=logical_id, timeout_seconds=self.stack.function_timeout(logical_id))

    # --- requests --------------------------------------------------------------------------------

    @staticmethod
    def request(*, delivery_report: bool = False, ending: str = "77") -> dict[str, Any]:
        """A valid request with a fresh id; `ending` picks the simulator's final status (77: success)."""
        n = next(_ids)
        return {
            "id": f"bench-{os.getpid()}-{n}",
            "to": f"+49170{n % 10000:04d}{ending}",
            "text": "Your code is 123456",
            "deliveryReport": delivery_report,
            "reference": f"ref-{n}",
            "metadata": {"bench": True},
        }

    def send_event(self, requests: list[dict[str, Any]]) -> dict[str, Any]:
        return send_event(requests, self.stack.get_att("RequestQueue", "Arn"))

    def send(self, handler: Handler, requests: list[dict[str, Any]]) -> None:
        """Invoke the send handler with these requests, ten at a time; every record must succeed."""
        for start in range(0, len(requests), 10):
            response = handler(self.send_event(requests[start : start + 10]), self.context("SendFunction"))
            if response.get("batchItemFailures"):
                raise RuntimeError(f"the send function failed records: {response}")

    def state_counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for page in self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table, ProjectionExpression="#s", ExpressionAttributeNames={"#s": "state"}
        ):
            counts.update(item["state"]["S"] for item in page["Items"])
        return counts


def send_event(requests: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source would hand the send function for these requests."""
    now = str(int(time.time() * 1000))
    messages = [
        {
            "MessageId": f"msg-{request['id']}",
            "ReceiptHandle": f"rh-{request['id']}",
            "Body": json.dumps(request),
            "Attributes": {"SentTimestamp": now, "ApproximateReceiveCount": "1"},
        }
        for request in requests
    ]
    return sqs_event(messages, queue_arn, REGION)


class AwsCalls:
    """Every AWS call the handlers make (boto3's default session), by service and operation, and
    the DynamoDB items each read returned."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.items_read = 0
        boto3.setup_default_session(region_name=REGION)  # a fresh default session: only the handlers'
        boto3._get_default_session().events.register("after-call.*.*", self._after_call)

    def _after_call(self, *, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        self.calls[f"{service}:{model.name}"] += 1
        if service == "dynamodb" and model.name in ("Query", "Scan"):
            self.items_read += int(parsed.get("ScannedCount", parsed.get("Count", 0)))
        elif service == "dynamodb" and model.name == "GetItem" and "Item" in parsed:
            self.items_read += 1

    def clear(self) -> None:
        self.calls.clear()
        self.items_read = 0
