"""The status path through the real handlers, against moto (server mode) and the Retarus simulator."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest

from sms_pipeline.dynamodb.store import JobStore
from sms_pipeline.job import Final, Job, State
from sms_pipeline.outcomes import Outcome
from support import REGION, SIMULATOR_FINALS, Pipeline, aws_hook

# Every check is due at once, so a test drives time by running the status function.
FAST = {"STATUS_CHECK_DELAYS_SECONDS": "0"}


def submit(pipeline: Pipeline, *requests: dict[str, Any], env: dict[str, str] = FAST) -> None:
    send = pipeline.handler("SendFunction", **env)
    pipeline.enqueue(*requests)
    while True:
        result = pipeline.deliver(send)
        assert result.failed == []
        if result.received == 0:
            return


def run_status(pipeline: Pipeline, status: Any) -> dict[str, Any]:
    summary: dict[str, Any] = status({"source": "aws.scheduler"}, pipeline.context("StatusFunction"))
    return summary


def test_every_row_of_the_status_table_gives_its_outcome(pipeline: Pipeline) -> None:
    requests: list[dict[str, Any]] = [
        {"id": f"row-{suffix}", "to": f"+491701234{suffix}", "text": "x"} for suffix in SIMULATOR_FINALS
    ]
    requests.append({"id": "row-dn", "to": "+4917012345677", "text": "x", "deliveryReport": True})
    submit(pipeline, *requests)
    status = pipeline.handler("StatusFunction", **FAST)

    events: list[dict[str, Any]] = []
    for _ in range(4):
        run_status(pipeline, status)
        events += pipeline.outcomes()

    by_id = {event["id"]: event for event in events}
    assert len(events) == len(requests)  # each published once
    for suffix, (process, detail, outcome) in SIMULATOR_FINALS.items():
        event = by_id[f"row-{suffix}"]
        assert event["outcome"] == outcome, suffix
        assert event["_attributes"] == {"outcome": outcome}
        assert event["providerStatus"] == {"processStatus": process, "status": detail}
        assert event["jobId"] and event["submittedAt"] and event["completedAt"]
    assert by_id["row-dn"]["outcome"] == "DELIVERED"


def test_open_running_and_unknown_process_status_stay_tracked(pipeline: Pipeline) -> None:
    submit(
        pipeline,
        {"id": "open", "to": "+4917012345622", "text": "x"},
        {"id": "paused", "to": "+4917012345623", "text": "x"},
        {"id": "running", "to": "+4917012345624", "text": "x", "deliveryReport": True},
        {"id": "garbled", "to": "+4917012345626", "text": "x"},
    )
    status = pipeline.handler("StatusFunction", **FAST)
    for _ in range(4):
        summary = run_status(pipeline, status)
    assert summary["checked"] == 4 and summary["still_tracked"] == 4
    assert pipeline.outcomes() == []
    for request_id in ("open", "paused", "running", "garbled"):
        item = pipeline.item(request_id)
        assert item is not None and item["state"] == "TRACKING" and item["checks"] == 4


def test_failed_report_keeps_the_job_and_a_later_run_finishes_it(pipeline: Pipeline) -> None:
    submit(pipeline, {"id": "flaky", "to": "+4917012345678", "text": "x"})
    status = pipeline.handler("StatusFunction", **FAST)
    attempts = 3  # the client's retries within one run (RetryPolicy)
    pipeline.simulator.inject("500", count=attempts, path="/reports")
    assert run_status(pipeline, status)["report_errors"] == 1
    pipeline.simulator.inject("reset", count=attempts, path="/reports")
    assert run_status(pipeline, status)["report_errors"] == 1
    assert pipeline.outcomes() == []
    assert pipeline.item("flaky")["state"] == "TRACKING"

    for _ in range(3):
        run_status(pipeline, status)
    [event] = pipeline.outcomes()
    assert event["id"] == "flaky" and event["outcome"] == "SENT"


def test_finished_job_is_not_polled_again_and_published_once(pipeline: Pipeline) -> None:
    submit(pipeline, {"id": "once", "to": "+4917012345678", "text": "x"})
    status = pipeline.handler("StatusFunction", **FAST)
    for _ in range(3):
        run_status(pipeline, status)
    calls = len(pipeline.simulator.report_calls())
    for _ in range(3):
        summary = run_status(pipeline, status)
    assert summary["due"] == 0
    assert len(pipeline.simulator.report_calls()) == calls
    events = pipeline.outcomes()
    assert [event["id"] for event in events] == ["once"]
    assert pipeline.item("once")["state"] == "DONE"
    assert "dueAt" not in pipeline.item("once")


def test_a_run_records_its_published_outcomes_whole_in_one_write_per_batch(pipeline: Pipeline) -> None:
    """The DONE records of a published batch go in one BatchWriteItem, and each keeps everything
    the job's item held (the record answers a late duplicate and an operator's question)."""
    submit(pipeline, *({"id": f"w-{i}", "to": "+4917012345677", "text": "x"} for i in range(12)))
    first = run_status(pipeline, pipeline.handler("StatusFunction", **FAST))
    assert first["still_tracked"] == 12  # the simulator's first answer: OPEN
    tracked = pipeline.item("w-0")
    writes: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        writes[model.name] += 1

    operations = ("PutItem", "UpdateItem", "BatchWriteItem")
    with aws_hook(*(f"after-call.dynamodb.{operation}" for operation in operations), handler=count):
        # A new container: clients copy the session's hooks when they are made.
        summary = run_status(pipeline, pipeline.handler("StatusFunction", **FAST))

    assert summary["published"] == 12
    assert writes == {"UpdateItem": 12, "BatchWriteItem": 2}  # the outcome decided; ten then two recorded
    done = pipeline.item("w-0")
    assert done["state"] == "DONE" and not {"dueShard", "dueAt"} & set(done)
    kept = {key: value for key, value in tracked.items() if key not in ("state", "checks", "dueShard", "dueAt")}
    assert kept.items() <= done.items()
    assert done["checks"] == 2 and done["outcome"] == "SENT"
    assert done["providerStatus"] == {"processStatus": "DONE", "status": "SUC_ACC"}
    [event] = [event for event in pipeline.outcomes() if event["id"] == "w-0"]
    assert _instant(event["completedAt"]) == pytest.approx(float(done["completedAt"]), abs=0.002)  # ms, each rounded


class Throttled:
    """A DynamoDB client whose BatchWriteItem leaves its last put unprocessed, `times` times, as
    DynamoDB does when it throttles."""

    def __init__(self, client: Any, times: int) -> None:
        self._client = client
        self.times = times
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        self.calls += 1
        [(table, puts)] = RequestItems.items()
        if self.times == 0:
            return dict(self._client.batch_write_item(RequestItems=RequestItems))
        self.times -= 1
        if puts[:-1]:
            self._client.batch_write_item(RequestItems={table: puts[:-1]})
        return {"UnprocessedItems": {table: puts[-1:]}}


def publishing_jobs(pipeline: Pipeline, client: Any, count: int) -> tuple[JobStore, list[Job]]:
    """`count` jobs whose outcome is decided and being published, as a status run holds them."""
    submit(pipeline, *({"id": f"t-{i}", "to": "+4917012345677", "text": "x"} for i in range(count)))
    store: JobStore = pipeline.job_store(client)
    now = time.time()
    final = Final(Outcome.SENT, "accepted", completed_at=now)
    jobs = [store.finish_tracked(job, final, publish_lease_until=now + 60) for job in store.due(now=now, limit=100)]
    assert len(jobs) == count and all(jobs)
    return store, [job for job in jobs if job is not None]


def test_publishes_that_dynamodb_leaves_unprocessed_are_sent_again(pipeline: Pipeline) -> None:
    client = Throttled(boto3.client("dynamodb", region_name=REGION), times=2)
    store, jobs = publishing_jobs(pipeline, client, 3)

    assert store.record_published(jobs) == {"t-0", "t-1", "t-2"}

    assert client.calls == 3
    assert {pipeline.item(f"t-{i}")["state"] for i in range(3)} == {"DONE"}


def test_a_publish_that_could_not_be_recorded_is_due_again_when_its_lease_runs_out(pipeline: Pipeline) -> None:
    client = Throttled(boto3.client("dynamodb", region_name=REGION), times=100)
    store, jobs = publishing_jobs(pipeline, client, 3)

    recorded = store.record_published(jobs)

    [left] = {"t-0", "t-1", "t-2"} - recorded
    assert pipeline.item(left)["state"] == "PUBLISHING"
    assert store.due(now=time.time(), limit=10) == []  # the lease holds it for now
    [again] = store.due(now=time.time() + 61, limit=10)
    assert again.origin.id == left and again.state == State.PUBLISHING and again.final is not None


def test_outcome_arrives_on_a_later_run_when_the_topic_is_unavailable(pipeline: Pipeline) -> None:
    submit(pipeline, {"id": "late", "to": "+4917012345678", "text": "x"})
    topic = pipeline.stack.output("OutcomesTopicArn")
    broken = pipeline.handler("StatusFunction", OUTCOMES_TOPIC_ARN=topic + "-gone", **FAST)
    for _ in range(3):
        summary = run_status(pipeline, broken)
    assert summary["publish_failures"] == 1
    assert pipeline.outcomes() == []
    assert pipeline.item("late")["state"] == "PUBLISHING"

    healthy = pipeline.handler("StatusFunction", **FAST)
    run_status(pipeline, healthy)
    [event] = pipeline.outcomes()
    assert event["id"] == "late" and event["outcome"] == "SENT"
    assert pipeline.item("late")["state"] == "DONE"


def test_rejected_outcome_whose_publish_failed_is_published_by_the_status_function(pipeline: Pipeline) -> None:
    topic = pipeline.stack.output("OutcomesTopicArn")
    send = pipeline.handler("SendFunction", OUTCOMES_TOPIC_ARN=topic + "-gone")
    pipeline.enqueue({"id": "rej", "to": "+4917012345678", "text": ""})
    assert pipeline.deliver(send).failed == []
    assert pipeline.outcomes() == []

    run_status(pipeline, pipeline.handler("StatusFunction", **FAST))
    [event] = pipeline.outcomes()
    assert event["id"] == "rej" and event["outcome"] == "REJECTED"
    assert event["reason"] == "text: must be 1-1600 characters, got 0"
    # When the send function decided it, kept in the item until the publish (not the epoch).
    decided = _instant(event["completedAt"]) - _instant(event["requestedAt"])
    assert 0 <= decided < 60
    assert pipeline.item("rej")["state"] == "DONE"


def _instant(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_tracking_limit_gives_unknown(pipeline: Pipeline) -> None:
    submit(pipeline, {"id": "forever", "to": "+4917012345622", "text": "x"})
    status = pipeline.handler("StatusFunction", TRACKING_LIMIT_MINUTES="0", **FAST)
    run_status(pipeline, status)
    [event] = pipeline.outcomes()
    assert event["outcome"] == "UNKNOWN" and "Tracking limit" in event["reason"]
    assert event["providerStatus"] == {"processStatus": "OPEN", "status": ""}


def test_backoff_follows_the_configured_delays(pipeline: Pipeline) -> None:
    submit(pipeline, {"id": "slow", "to": "+4917012345622", "text": "x"}, env={})
    item = pipeline.item("slow")
    # Default delays: the first check 30 s after the send.
    assert 29_000 <= int(item["dueAt"]) - int(float(item["submittedAt"]) * 1000) <= 31_000
    summary = run_status(pipeline, pipeline.handler("StatusFunction"))
    assert summary["due"] == 0 and pipeline.simulator.report_calls() == []


@pytest.fixture
def dynamodb_reads() -> Iterator[Counter[str]]:
    """Items returned by every DynamoDB read call any client of the default session makes."""
    counts: Counter[str] = Counter()

    def count(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        counts["calls:" + model.name] += 1
        counts["items"] += len(parsed.get("Items", [])) + (1 if "Item" in parsed else 0)

    operations = ("Query", "Scan", "GetItem", "BatchGetItem")
    with aws_hook(*(f"after-call.dynamodb.{operation}" for operation in operations), handler=count):
        yield counts


def test_run_reads_only_due_jobs(pipeline: Pipeline, dynamodb_reads: Counter[str]) -> None:
    submit(pipeline, *({"id": f"old-{i}", "to": "+4917012345678", "text": "x"} for i in range(110)))
    status = pipeline.handler("StatusFunction", **FAST)
    while run_status(pipeline, status)["due"]:
        pass
    assert len(pipeline.outcomes()) == 110

    submit(pipeline, *({"id": f"new-{i}", "to": "+4917012345622", "text": "x"} for i in range(3)))
    calls_before = len(pipeline.simulator.report_calls())
    dynamodb_reads.clear()
    summary = run_status(pipeline, status)

    assert summary["due"] == 3
    assert len(pipeline.simulator.report_calls()) - calls_before == 3
    assert dynamodb_reads["items"] == 3
    assert dynamodb_reads["calls:Scan"] == 0


def test_overlapping_runs_publish_each_outcome_once(pipeline: Pipeline) -> None:
    submit(pipeline, *({"id": f"race-{i}", "to": "+4917012345678", "text": "x"} for i in range(30)))
    first = pipeline.handler("StatusFunction", **FAST)
    run_status(pipeline, first)  # every job OPEN once; the next check is final
    second = pipeline.handler("StatusFunction", **FAST)
    pipeline.simulator.latency = 0.02
    barrier = threading.Barrier(2)

    def run(status: Any) -> None:
        barrier.wait()
        run_status(pipeline, status)

    threads = [threading.Thread(target=run, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run_status(pipeline, first)

    events = pipeline.outcomes()
    assert sorted(event["id"] for event in events) == sorted(f"race-{i}" for i in range(30))


def test_schedules_that_name_disjoint_shards_share_the_due_jobs(pipeline: Pipeline) -> None:
    """At 1,000× several schedules each take some of the due index's shards (docs/scaling.md)."""
    ids = [f"fan-{i:02d}" for i in range(24)]
    submit(pipeline, *({"id": request_id, "to": "+4917012345677", "text": "x"} for request_id in ids))
    shard_of = {request_id: int(pipeline.item(request_id)["dueShard"]) for request_id in ids}
    assert set(shard_of.values()) == {0, 1, 2, 3}  # DueIndexShards' default; every shard has jobs
    status = pipeline.handler("StatusFunction", **FAST)

    published = []
    for shards in ([0, 1], [2, 3]):
        mine = sorted(request_id for request_id in ids if shard_of[request_id] in shards)
        for _ in range(2):  # the simulator answers OPEN to the first check, final to the second
            summary = status({"shards": shards}, pipeline.context("StatusFunction"))
            assert summary["due"] == len(mine)
        outcomes = sorted(event["id"] for event in pipeline.outcomes())
        assert outcomes == mine
        published += outcomes
    assert sorted(published) == ids


@pytest.mark.parametrize("shards", [[4], [], "0", [0, 0], [True]])
def test_a_schedule_input_naming_shards_that_do_not_exist_says_what_to_fix(pipeline: Pipeline, shards: Any) -> None:
    status = pipeline.handler("StatusFunction", **FAST)
    with pytest.raises(
        RuntimeError, match=r'"shards" must be a list of distinct shard numbers from 0 to 3 \(DueIndexShards is 4\)'
    ):
        status({"shards": shards}, pipeline.context("StatusFunction"))


def test_401_stops_the_run(pipeline: Pipeline) -> None:
    submit(pipeline, *({"id": f"auth-{i}", "to": "+4917012345678", "text": "x"} for i in range(20)))
    secretsmanager = boto3.client("secretsmanager")
    arn = pipeline.stack.parameters["RetarusSecretArn"]
    secretsmanager.put_secret_value(SecretId=arn, SecretString='{"user": "sim-user", "password": "nope"}')
    calls = len(pipeline.simulator.report_calls())
    summary = run_status(pipeline, pipeline.handler("StatusFunction", STATUS_CONCURRENCY="2", **FAST))
    assert summary["circuit_open"] is True
    assert len(pipeline.simulator.report_calls()) - calls <= 2
    assert summary["checked"] == 0


def test_a_backlog_larger_than_a_run_is_worked_off_oldest_first(pipeline: Pipeline) -> None:
    """25 due jobs, a run takes 10: each run takes the oldest due, a checked job goes to the back,
    so every job is checked once before any is checked twice; none starves behind the others."""
    submit(pipeline, *({"id": f"backlog-{i:02d}", "to": "+4917012345622", "text": "x"} for i in range(25)))
    job_of = {pipeline.item(f"backlog-{i:02d}")["jobId"]: f"backlog-{i:02d}" for i in range(25)}
    status = pipeline.handler("StatusFunction", STATUS_MAX_JOBS_PER_RUN="10", **FAST)

    due_at = {request_id: int(pipeline.item(request_id)["dueAt"]) / 1000 for request_id in job_of.values()}

    summaries, runs, spans = [], [], []
    for _ in range(3):
        calls_before = len(pipeline.simulator.report_calls())
        started = time.time()
        summaries.append(run_status(pipeline, status))
        spans.append((started, time.time()))
        runs.append({job_of[call.params["jobid"]] for call in pipeline.simulator.report_calls()[calls_before:]})

    assert [s["due"] for s in summaries] == [10, 10, 10]
    assert [s["checked"] for s in summaries] == [10, 10, 10]
    assert [len(run) for run in runs] == [10, 10, 10]
    never_checked = set(job_of.values()) - runs[0] - runs[1]
    assert len(never_checked) == 5 and never_checked <= runs[2]  # the third run reaches the newest five
    assert runs[2] - never_checked <= runs[0]  # and fills up with the oldest checked, not the last run's
    # Each run reports the age of the oldest job still due when it starts (the StatusLagSeconds
    # metric): the oldest of all, then the oldest of those the first run did not reach.
    for run, oldest in ((0, min(due_at.values())), (1, min(due_at[j] for j in set(due_at) - runs[0]))):
        started, ended = spans[run]
        assert started - oldest - 0.002 <= summaries[run]["lag_seconds"] <= ended - oldest + 0.002


def test_a_run_short_of_time_leaves_its_jobs_due_for_the_next(pipeline: Pipeline) -> None:
    submit(pipeline, *({"id": f"late-{i}", "to": "+4917012345677", "text": "x"} for i in range(5)))
    status = pipeline.handler("StatusFunction", **FAST)
    # Less time left than the run keeps in reserve (one report call's worst case and the publishes).
    short = pipeline.context("StatusFunction")
    short.timeout_seconds = 5

    summary = status({"source": "aws.scheduler"}, short)

    assert summary["due"] == 5 and summary["skipped_for_time"] == 5 and summary["checked"] == 0
    assert pipeline.simulator.report_calls() == []
    for _ in range(2):  # OPEN, then final
        run_status(pipeline, status)
    assert sorted(event["id"] for event in pipeline.outcomes()) == [f"late-{i}" for i in range(5)]


def test_a_run_with_more_threads_than_botocore_pools_keeps_its_aws_connections(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    """16 report threads and the publishers share one DynamoDB client. With botocore's default
    pool of 10 connections, the calls beyond ten each opened a connection and dropped it after
    (in AWS, a TLS handshake per call); urllib3 warns when it drops one."""
    submit(pipeline, *({"id": f"pool-{i:02d}", "to": "+4917012345677", "text": "x"} for i in range(48)))
    status = pipeline.handler("StatusFunction", STATUS_CONCURRENCY="16", **FAST)
    pipeline.simulator.latency = 0.05  # each wave of 16 reports ends together: 16 writes at once

    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        summary = run_status(pipeline, status)

    assert summary["checked"] == 48
    assert [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()] == []
