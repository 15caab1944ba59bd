"""The whole pipeline on one machine: moto, the simulator, the template's resources, both
functions in warm worker processes, the SQS event sources (the request queue's into the send
function, the check queue's into the status function), the schedule and an outcome subscriber.

Everything the functions see is what AWS would give them: the template's environment (resource
names resolved from the resources created from template.yaml), the handler strings, a Lambda-like
context, SQS batches with partial batch responses, and the queue's redrive policy.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local.aws_sms import AwsSmsSimulator
from local.event_source import SqsEventSource
from local.moto_process import MotoProcess
from local.simulator import RetarusSimulator
from local.stack import LocalStack, SqsEventMapping, provision
from local.worker import FunctionError, FunctionSpec, FunctionWorker
from sms_pipeline.protection import Window
from sms_pipeline.protection_store import DynamoOptOuts, DynamoRules

REGION = "eu-central-1"
SIM_USER = "local-user"
# The local event source receives with the function's timeout plus this as the visibility timeout
# (the queue's 180 s, scaled): a batch whose invocation died comes back after it, which must be
# more than the send function's claim margin (sms_pipeline.sending.CLAIM_MARGIN_SECONDS; a test
# keeps them apart).
CRASH_RETRY_MARGIN_SECONDS = 15
# The fallback's origination identity in a local stack (the template takes a phone number, sender
# id or pool, or the ARN of one).
FALLBACK_IDENTITY = "arn:aws:sms-voice:eu-central-1:123456789012:phone-number/phone-0123abcd"
# An event that came before the record of its send is failed back to the queue; locally it comes
# back after this (the queue's 180 s, scaled down).
EVENTS_RETRY_SECONDS = 2
# Status workers fed by the check queue's event source: two are what AWS's smallest
# MaximumConcurrency allows, and enough for a local run's timers.
CHECK_INSTANCES = 2


@dataclass(frozen=True)
class Options:
    retarus_url: str | None = None
    retarus_user: str | None = None
    retarus_password: str | None = None
    schedule_seconds: float = 1.0
    check_delays: str = "1"
    # The template's RetryDelaysSeconds, scaled down from minutes to seconds (contract §8).
    retry_delays: str = "1,2,4"
    simulator_latency: float = 0.05
    log_dir: Path | None = None
    # Local tuning on top of the template's environment (timeouts, leases, fault injection).
    function_env: dict[str, str] = field(default_factory=dict)
    send_instances: int = 1  # concurrent send-function instances (capped by MaximumConcurrency)
    simulator: RetarusSimulator | None = None  # bring your own (e.g. with fault rates set)
    # Template parameters on top of the ones above (the protection rules of `make run`'s samples),
    # numbers put on the opt-out list once the stack is up, and numbers whose per-number rate
    # counts one SMS sent just before the run (as if another request had gone to each).
    parameters: dict[str, str] = field(default_factory=dict)
    opt_outs: tuple[str, ...] = ()
    recent_sms: tuple[str, ...] = ()
    # FallbackProvider aws-sms (contract §12): the AWS SMS simulator, its events and their function.
    fallback: bool = False
    failover_after_seconds: int = 10
    aws_sms: AwsSmsSimulator | None = None  # bring your own (e.g. with faults injected)


@dataclass
class Notice:
    """Something the display shows: an outcome event, a request in the DLQ, or a run note."""

    kind: str  # "outcome" | "dlq" | "note"
    request_id: str
    body: dict[str, Any] = field(default_factory=dict)


class LocalPipeline:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.notices: queue.Queue[Notice] = queue.Queue()
        self.log_dir = options.log_dir or Path(tempfile.mkdtemp(prefix="sms-local-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._moto: MotoProcess | None = None
        self.simulator: RetarusSimulator | None = None
        self.aws_sms: AwsSmsSimulator | None = None
        self.stack: LocalStack | None = None
        # Bumped by every event-source, schedule and loop thread, hence the lock (`+=` on a dict
        # item is a read and a write, and two threads may interleave between them).
        self._counts_lock = threading.Lock()
        self._counts: dict[str, int] = {
            "batches": 0,
            "failed_records": 0,
            "status_runs": 0,
            "check_batches": 0,
            "failed_check_timers": 0,
            "errors": 0,
            "restarts": 0,
        }

    @property
    def counters(self) -> dict[str, int]:
        """A consistent snapshot of what the threads have counted."""
        with self._counts_lock:
            return dict(self._counts)

    def _count(self, **increments: int) -> None:
        with self._counts_lock:
            for name, increment in increments.items():
                self._counts[name] += increment

    # --- life cycle ------------------------------------------------------------------------------

    def start(self) -> LocalPipeline:
        self._moto = MotoProcess(self.log_dir / "moto.log").start()
        endpoint = self._moto.endpoint
        self.aws_env = {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        self._session = boto3.session.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 — moto takes any key
            region_name=REGION,
        )
        self.sqs = self._session.client("sqs", endpoint_url=endpoint)

        if self.options.retarus_url:
            base_url, user, password = (
                self.options.retarus_url,
                self.options.retarus_user or "",
                self.options.retarus_password or "",
            )
        elif self.options.simulator is not None:
            self.simulator = self.options.simulator
            base_url, user, password = self.simulator.base_url, self.simulator.user, self.simulator.password
        else:
            self.simulator = RetarusSimulator(
                user=SIM_USER, password=os.urandom(12).hex(), latency=self.options.simulator_latency
            ).start()
            base_url, user, password = self.simulator.base_url, SIM_USER, self.simulator.password
        fallback = (
            {
                "FallbackProvider": "aws-sms",
                "FallbackOriginationIdentity": FALLBACK_IDENTITY,
                "FailoverAfterSeconds": str(self.options.failover_after_seconds),
            }
            if self.options.fallback
            else {}
        )
        secrets = self._session.client("secretsmanager", endpoint_url=endpoint)
        secret_arn = secrets.create_secret(
            Name="local/retarus", SecretString=json.dumps({"user": user, "password": password})
        )["ARN"]

        self.stack = provision(
            endpoint_url=endpoint,
            region=REGION,
            name_prefix="local",
            credentials=("local", "local"),
            parameters={
                "RetarusSecretArn": secret_arn,
                "RetarusBaseUrl": base_url,
                "StatusCheckDelaysSeconds": self.options.check_delays,
                "RetryDelaysSeconds": self.options.retry_delays,
                **self.options.parameters,
                **fallback,
            },
        )
        if self.options.fallback:
            self._start_fallback(endpoint)
        dynamodb = self._session.client("dynamodb", endpoint_url=endpoint)
        opt_outs = DynamoOptOuts(dynamodb, self.stack.output("OptOutTableName"))
        for number in self.options.opt_outs:
            opt_outs.add(number)
        rules = DynamoRules(
            dynamodb, opt_out_table=self.stack.output("OptOutTableName"), counters_table=self.stack.ref("CountersTable")
        )
        per_number = int(self.stack.parameters["MaxPerNumberPerWindow"]) or 1
        window = int(self.stack.parameters["NumberWindowSeconds"])
        for number in self.options.recent_sms:  # an SMS the rate counted just before the run
            now = time.time()
            counted = Window().with_sms("before-the-run", int(now * 1000), per_number)
            rules.write_windows([(number, counted)], expires_at=int(now) + window)
        self.queue_url = self.stack.output("RequestQueueUrl")
        self.dlq_url = self.stack.output("DeadLetterQueueUrl")
        self._subscribe_outcomes()

        # Lambda runs up to MaximumConcurrency send instances, each polling batches on its own.
        self.send_instances = max(1, min(self.options.send_instances, mapping_concurrency(self.stack)))
        self.workers = {f"SendFunction#{i}": self._worker("SendFunction") for i in range(self.send_instances)}
        # One status worker per schedule: in AWS each schedule's invocation runs in its own container.
        self.schedule_events = self.stack.schedule_events("StatusFunction")
        for instance in range(len(self.schedule_events)):
            self.workers[f"StatusFunction#{instance}"] = self._worker("StatusFunction")
        mapping = self.stack.sqs_event("SendFunction")
        assert mapping is not None, "the template's SendFunction has no SQS event"
        self.event_source = self._event_source("SendFunction", mapping)
        for instance in range(self.send_instances):
            self._loop(f"event-source-{instance}", functools.partial(self._poll_requests, instance))
        for instance, event in enumerate(self.schedule_events):
            self._loop(f"schedule-{instance}", functools.partial(self._run_status, event, instance))
        self._feed_check_queue()
        if self.options.fallback:
            self.workers["FallbackEventsFunction#0"] = self._worker("FallbackEventsFunction")
            events = self.stack.sqs_event("FallbackEventsFunction")
            assert events is not None, "the template's FallbackEventsFunction has no SQS event"
            self.events_source = SqsEventSource(
                self.sqs,
                events.queue_url,
                region=REGION,
                batch_size=events.batch_size,
                wait_seconds=1,
                visibility_seconds=EVENTS_RETRY_SECONDS,
            )
            self._loop("fallback-events", self._poll_events)
        self._loop("subscriber", self._poll_outcomes)
        self._loop("dlq", self._poll_dlq)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)
        for worker in getattr(self, "workers", {}).values():
            worker.stop()
        if self.simulator and self.options.simulator is None:
            self.simulator.stop()
        if self.aws_sms and self.options.aws_sms is None:
            self.aws_sms.stop()
        if self._moto:
            self._moto.stop()

    def __enter__(self) -> LocalPipeline:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- requests ----------------------------------------------------------------------------------

    def submit(self, request: dict[str, Any] | str) -> str:
        """Put one request on the queue; the id its outcome will carry."""
        body = request if isinstance(request, str) else json.dumps(request, ensure_ascii=False)
        message_id: str = self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"]
        return _request_id(body, message_id)

    def submit_many(self, bodies: list[str]) -> None:
        """Up to ten raw bodies in one SendMessageBatch, as a busy producer would."""
        self.sqs.send_message_batch(
            QueueUrl=self.queue_url,
            Entries=[{"Id": str(index), "MessageBody": body} for index, body in enumerate(bodies)],
        )

    def state(self, request_id: str) -> str | None:
        """The state of a request's job record (None: no record yet)."""
        assert self.stack is not None
        dynamodb = self._session.client("dynamodb", endpoint_url=self.aws_env["AWS_ENDPOINT_URL"])
        found = dynamodb.get_item(
            TableName=self.stack.output("JobsTableName"), Key={"id": {"S": request_id}}, ConsistentRead=True
        )
        state: str | None = found.get("Item", {}).get("state", {}).get("S")
        return state

    # --- internals -----------------------------------------------------------------------------------

    def _feed_check_queue(self) -> None:
        """The status function's SQS event source: check timers, received once their DelaySeconds
        has run out, into status workers of their own (in AWS, containers apart from the
        schedule's), as many as its MaximumConcurrency allows up to CHECK_INSTANCES."""
        assert self.stack is not None
        mapping = self.stack.sqs_event("StatusFunction")
        if mapping is None:
            return
        self.check_source = self._event_source("StatusFunction", mapping)
        first = len(self.schedule_events)
        for instance in range(first, first + min(CHECK_INSTANCES, mapping.maximum_concurrency or 1)):
            self.workers[f"StatusFunction#{instance}"] = self._worker("StatusFunction")
            self._loop(f"check-source-{instance}", functools.partial(self._poll_checks, instance))

    def _event_source(self, logical_id: str, mapping: SqsEventMapping) -> SqsEventSource:
        """The function's SQS event source as the template sets it up, its visibility scaled down."""
        assert self.stack is not None
        return SqsEventSource(
            self.sqs,
            mapping.queue_url,
            region=REGION,
            batch_size=mapping.batch_size,
            batching_window_seconds=mapping.maximum_batching_window,
            wait_seconds=1,
            visibility_seconds=self.stack.function_timeout(logical_id) + CRASH_RETRY_MARGIN_SECONDS,
        )

    def _poll_checks(self, instance: int) -> None:
        counts = ("check_batches", "failed_check_timers")
        self._poll(self.check_source, "StatusFunction", instance, "status function failed on check timers", counts)

    def _worker(self, logical_id: str) -> FunctionWorker:
        assert self.stack is not None
        code_dir, handler = self.stack.function_code(logical_id)
        env = {**self.stack.function_environment(logical_id), **self.aws_env, **self.options.function_env}
        spec = FunctionSpec(
            name=logical_id,
            code_dir=code_dir,
            handler=handler,
            env=env,
            timeout=self.stack.function_timeout(logical_id),
            memory=self.stack.function_memory(logical_id),
            log_path=self.log_dir / f"{logical_id}.log",
        )
        return FunctionWorker(spec)

    def invoke(self, logical_id: str, event: dict[str, Any], instance: int = 0) -> Any:
        """Invoke a function; a worker that died (crash, timeout) is replaced by a cold one."""
        key = f"{logical_id}#{instance}"
        worker = self.workers[key]
        if not worker.alive:
            self._count(restarts=1)
            worker = self.workers[key] = self._worker(logical_id)
        return worker.invoke(event)

    def _subscribe_outcomes(self) -> None:
        assert self.stack is not None
        sns = self._session.client("sns", endpoint_url=self.aws_env["AWS_ENDPOINT_URL"])
        self.subscriber_url = self.sqs.create_queue(QueueName="local-outcomes-subscriber")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.subscriber_url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=self.stack.output("OutcomesTopicArn"),
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
        )

    def _loop(self, name: str, step: Callable[[], None]) -> None:
        def run() -> None:
            while not self._stopping.is_set():
                try:
                    step()
                except Exception as error:  # keep the pipeline up; show what went wrong
                    self._count(errors=1)
                    self.notices.put(Notice("note", "", {"text": f"{name}: {type(error).__name__}: {error}"}))
                    self._stopping.wait(1)

        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start_fallback(self, endpoint: str) -> None:
        """The AWS SMS simulator, publishing its delivery events to the stack's events topic as the
        configuration set does, and the topic's queue subscribed with raw delivery, as the
        template's FallbackEventsSubscription is (local/stack.py creates no subscriptions)."""
        assert self.stack is not None
        sns = self._session.client("sns", endpoint_url=endpoint)
        topic = self.stack.resources["FallbackEventsTopic"].ref
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=self.stack.resources["FallbackEventsQueue"].attributes["Arn"],
            Attributes={"RawMessageDelivery": "true"},
        )
        self.aws_sms = self.options.aws_sms or AwsSmsSimulator(
            origination_identity=FALLBACK_IDENTITY,
            configuration_set=self.stack.function_environment("SendFunction")["FALLBACK_CONFIGURATION_SET"],
            # sns_sink's own client would look for credentials in the environment: this one has them.
            events=lambda event: sns.publish(TopicArn=topic, Message=event) and None,
        )
        if self.options.aws_sms is None:
            self.aws_sms.start()
        self.aws_env["AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2"] = self.aws_sms.endpoint_url

    def _poll(
        self, source: SqsEventSource, logical_id: str, instance: int, failure: str, counts: tuple[str, str] | None
    ) -> None:
        """One batch from an SQS event source into a function's worker, as Lambda's event source
        mapping hands it over. `counts` names the counters of batches and of failed records (None:
        not counted); `failure` is the notice's text when the invocation fails."""
        result = source.poll_once(lambda event: self.invoke(logical_id, event, instance))
        if result.received and counts is not None:
            batches, failed = counts
            self._count(**{batches: 1, failed: len(result.failed)})
        if result.error:
            self.notices.put(Notice("note", "", {"text": f"{failure}: {result.error}"}))

    def _poll_events(self) -> None:
        self._poll(self.events_source, "FallbackEventsFunction", 0, "fallback events function failed", None)

    def _poll_requests(self, instance: int) -> None:
        self._poll(self.event_source, "SendFunction", instance, "send function failed", ("batches", "failed_records"))

    def _run_status(self, event: dict[str, Any], instance: int) -> None:
        started = time.monotonic()
        try:
            self.invoke("StatusFunction", event, instance)
        except FunctionError as error:
            self.notices.put(Notice("note", "", {"text": f"status function failed: {error}"}))
        self._count(status_runs=1)
        self._stopping.wait(max(0.0, self.options.schedule_seconds - (time.monotonic() - started)))

    def _poll_outcomes(self) -> None:
        response = self.sqs.receive_message(
            QueueUrl=self.subscriber_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for message in response.get("Messages", []):
            body = json.loads(message["Body"])
            self.notices.put(Notice("outcome", str(body.get("id")), body))
            self.sqs.delete_message(QueueUrl=self.subscriber_url, ReceiptHandle=message["ReceiptHandle"])

    def _poll_dlq(self) -> None:
        response = self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=3600
        )
        for message in response.get("Messages", []):
            request_id = _request_id(message["Body"], message["MessageId"])
            self.notices.put(Notice("dlq", request_id, {"body": message["Body"]}))


def mapping_concurrency(stack: LocalStack | None) -> int:
    mapping = stack.sqs_event("SendFunction") if stack else None
    return mapping.maximum_concurrency if mapping and mapping.maximum_concurrency else 1


def _request_id(body: str, message_id: str) -> str:
    """The id the pipeline will use: the request's own `id`, else the SQS messageId (contract §1)."""
    from sms_pipeline.request import echo

    return echo(body, message_id).id
