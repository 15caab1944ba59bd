"""What the integration and end-to-end tests share: one deployment of the template in moto."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from jsonschema import Draft202012Validator

from local.aws_sms import AwsSmsSimulator
from local.event_source import SqsEventSource
from local.lambda_runtime import LambdaContext, load_handler
from local.simulator import RetarusSimulator
from local.stack import LocalStack, load_template

REGION = "eu-central-1"
ROOT = Path(__file__).resolve().parents[1]
OUTCOME_EVENT_SCHEMA = Draft202012Validator(json.loads((ROOT / "schemas" / "outcome-event.schema.json").read_text()))

# The suite-wide log check (conftest.py): none of these may reach a log line.
SIMULATOR_PASSWORD = "s3cr3t&pass=word?"
NEVER_LOGGED = (SIMULATOR_PASSWORD, "p@ss word&x=1?é", "Your code is 123456", "a&pass=x?#€ 😀")
# A run of 9-15 digits, optionally after + or 00, that is not part of an id, a job id or an ARN.
FULL_NUMBER = re.compile(r"(?<![\w.:\-])(?:\+|00)?\d{9,15}(?![\w\-])")

# The simulator's numbers, as the tests rely on them: the last two digits choose the job's final
# (processStatus, status) (local/simulator/jobs.py); the third is the outcome the adapter makes of it.
SIMULATOR_FINALS = {
    "10": ("DONE", "INVALID_DST", "FAILED"),
    "11": ("DONE", "BLOCKED", "FAILED"),
    "12": ("DONE", "CON_ERR", "FAILED"),
    "13": ("DONE", "NOT_ACC_FIN", "FAILED"),
    "14": ("DONE", "TIMEOUT", "EXPIRED"),
    "15": ("DONE", "FAILED_FIN", "UNDELIVERED"),
    "16": ("DONE", "SEND_ERR", "UNKNOWN"),
    "17": ("DONE", "STATUS_ERR", "UNKNOWN"),
    "18": ("CANCELED", "", "CANCELED"),
    "19": ("CANCELED", "NOT_ACC_REC", "CANCELED"),
    "20": ("KILL", "", "UNKNOWN"),
    "21": ("DONE", "WEIRD_STATUS", "UNKNOWN"),
    "25": ("DONE", "SUC_FIN", "DELIVERED"),  # answered in lower case with white space around it
    "77": ("DONE", "SUC_ACC", "SENT"),
}


def policy_statements(function: str, *, conditional: bool = False) -> list[dict[str, Any]]:
    """Every statement of the function's policies in template.yaml; with `conditional`, also those
    of the policies a condition adds (`!If [Condition, policy, AWS::NoValue]`)."""
    statements: list[dict[str, Any]] = []
    for policy in load_template()["Resources"][function]["Properties"]["Policies"]:
        if "Fn::If" in policy:
            if conditional:
                statements += policy["Fn::If"][1]["Statement"]
            continue
        statements += policy["Statement"]
    return statements


@contextmanager
def aws_hook(*event_names: str, handler: Callable[..., None]) -> Iterator[None]:
    """`handler` on these botocore events of boto3's default session, where the functions' clients
    come from, for the duration of the block (create the handlers inside it)."""
    session = boto3._get_default_session()
    for name in event_names:
        session.events.register(name, handler)
    try:
        yield
    finally:
        for name in event_names:
            session.events.unregister(name, handler)


@dataclass
class Pipeline:
    """One isolated deployment of the template in moto, wired to one simulator."""

    stack: LocalStack
    simulator: RetarusSimulator
    sqs: Any
    sns: Any
    dynamodb: Any
    outcomes_queue_url: str
    env: dict[str, str]
    aws_sms: AwsSmsSimulator | None = None  # the fallback's simulator, with FallbackProvider aws-sms

    @property
    def queue_url(self) -> str:
        return self.stack.output("RequestQueueUrl")

    @property
    def table(self) -> str:
        return self.stack.output("JobsTableName")

    def handler(self, logical_id: str, **overrides: str) -> Any:
        code_dir, handler = self.stack.function_code(logical_id)
        env = {**self.stack.function_environment(logical_id), **self.env, **overrides}
        return load_handler(code_dir, handler, env)

    def context(self, logical_id: str = "SendFunction") -> LambdaContext:
        return LambdaContext(function_name=logical_id, timeout_seconds=self.stack.function_timeout(logical_id))

    def enqueue(self, *bodies: dict[str, Any] | str) -> None:
        for body in bodies:
            text = body if isinstance(body, str) else json.dumps(body)
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=text)

    def deliver(
        self,
        send: Any,
        *,
        wait_seconds: int = 0,
        visibility_seconds: int | None = None,
        queue_url: str | None = None,
        logical_id: str = "SendFunction",
    ) -> Any:
        """One poll of the event source: a batch from the queue (the request queue unless told
        otherwise) into the handler, received with the queue's own visibility timeout unless told
        otherwise."""
        source = SqsEventSource(
            self.sqs,
            queue_url or self.queue_url,
            region=REGION,
            wait_seconds=wait_seconds,
            visibility_seconds=visibility_seconds,
        )
        last: dict[str, Any] = {}

        def invoke(event: dict[str, Any]) -> Any:
            last["event"] = event
            last["response"] = send(event, self.context(logical_id))
            return last["response"]

        result = source.poll_once(invoke)
        result.response = last.get("response")  # type: ignore[attr-defined]
        return result

    def deliver_events(self, handler: Any, *, visibility_seconds: int = 1) -> Any:
        """One poll of the fallback's events queue into the FallbackEventsFunction handler."""
        source = SqsEventSource(
            self.sqs,
            self.stack.resources["FallbackEventsQueue"].ref,
            region=REGION,
            visibility_seconds=visibility_seconds,
        )
        return source.poll_once(lambda event: handler(event, self.context("FallbackEventsFunction")))

    def deliver_checks(self, status: Any, *, wait_seconds: int = 0, visibility_seconds: int | None = None) -> Any:
        """One poll of the status function's SQS event source: a batch of check timers (those
        whose DelaySeconds has run out) into the status handler."""
        return self.deliver(
            status,
            wait_seconds=wait_seconds,
            visibility_seconds=visibility_seconds,
            queue_url=self.stack.output("CheckQueueUrl"),
            logical_id="StatusFunction",
        )

    def outcomes(self) -> list[dict[str, Any]]:
        """Every outcome event delivered so far to the test subscriber (raw delivery queue)."""
        events: list[dict[str, Any]] = []
        while True:
            response = self.sqs.receive_message(
                QueueUrl=self.outcomes_queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            messages = response.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                body = json.loads(message["Body"])
                OUTCOME_EVENT_SCHEMA.validate(body)  # every event a test sees is what schemas/ publishes
                body["_attributes"] = {
                    name: value.get("StringValue") for name, value in message.get("MessageAttributes", {}).items()
                }
                events.append(body)
                self.sqs.delete_message(QueueUrl=self.outcomes_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def job_store(self, client: Any = None) -> Any:
        """A JobStore on this deployment's table, as a function of it would make one."""
        from sms_pipeline.dynamodb.store import JobStore

        env = self.stack.function_environment("StatusFunction")
        return JobStore(
            client or boto3.client("dynamodb", region_name=REGION),
            env["JOBS_TABLE_NAME"],
            index_name=env["DUE_INDEX_NAME"],
            shards=int(env["DUE_INDEX_SHARDS"]),
            retention_seconds=86400,
            tracking_limit_seconds=3600,
        )

    def item(self, request_id: str) -> dict[str, Any]:
        """The job record of this request; a test that asks for one expects it to exist."""
        from boto3.dynamodb.types import TypeDeserializer

        raw = self.dynamodb.get_item(TableName=self.table, Key={"id": {"S": request_id}}, ConsistentRead=True)
        assert "Item" in raw, f"no job record for {request_id}"
        return {k: TypeDeserializer().deserialize(v) for k, v in raw["Item"].items()}
