"""Check timers through the real handlers, against moto (server mode) and the Retarus simulator
(issue #24, contract §13): a job's check comes with its timer on the check queue, not with the
schedule, and the scheduled run is the safety net for the timers that never come.

The check delays are scaled down to a second (StatusCheckDelaysSeconds, through the functions'
environment as the template sets it), and the timers' DelaySeconds are moto's own: a timer is
received once its delay has run out (long polling), never slept through.
"""

from __future__ import annotations

import json
import time
from typing import Any

from support import Pipeline

ONE_SECOND = {"STATUS_CHECK_DELAYS_SECONDS": "1"}


def send(pipeline: Pipeline, *requests: dict[str, Any], **env: str) -> Any:
    pipeline.enqueue(*requests)
    result = pipeline.deliver(pipeline.handler("SendFunction", **{**ONE_SECOND, **env}))
    assert result.received == len(requests) and result.failed == []
    return result


def schedule(pipeline: Pipeline, status: Any) -> dict[str, Any]:
    summary: dict[str, Any] = status({"source": "aws.scheduler"}, pipeline.context("StatusFunction"))
    return summary


def wait_until_due(pipeline: Pipeline, request_id: str) -> None:
    """Until the job's check is due (a second at most, with the scaled delays)."""
    time.sleep(max(0.0, int(pipeline.item(request_id)["dueAt"]) / 1000 - time.time() + 0.05))


def test_a_job_is_checked_by_its_timers_without_waiting_for_the_schedule(pipeline: Pipeline) -> None:
    # The first check three seconds after the send, so that the look before it comes surely before
    # it on a loaded machine (it once took a second to load the handler); the second a second later.
    delays = {"STATUS_CHECK_DELAYS_SECONDS": "3,1"}
    status = pipeline.handler("StatusFunction", **delays)
    send(pipeline, {"id": "timed", "to": "+4917012345677", "text": "x"}, **delays)
    item = pipeline.item("timed")
    assert item["timerAt"] == item["dueAt"]
    # The timer is not visible before its delay: moto honours DelaySeconds.
    assert pipeline.deliver_checks(status).received == 0

    first = pipeline.deliver_checks(status, wait_seconds=5)  # the first check: OPEN, the next timer
    checked_at = time.time()
    assert first.received == 1 and first.response == {"batchItemFailures": []}
    assert len(pipeline.simulator.report_calls()) == 1 and checked_at * 1000 >= int(item["dueAt"])
    second = pipeline.deliver_checks(status, wait_seconds=5)  # the second: final, published

    assert second.received == 1 and second.response == {"batchItemFailures": []}
    [event] = pipeline.outcomes()
    assert (event["id"], event["outcome"]) == ("timed", "SENT")
    assert pipeline.item("timed")["state"] == "DONE"
    assert len(pipeline.simulator.report_calls()) == 2  # no schedule ran; each check once


def test_a_job_whose_timer_is_in_flight_is_not_checked_by_the_scheduled_run(pipeline: Pipeline) -> None:
    send(pipeline, {"id": "timed", "to": "+4917012345677", "text": "x"})
    status = pipeline.handler("StatusFunction", **ONE_SECOND)
    wait_until_due(pipeline, "timed")

    summary = schedule(pipeline, status)  # due, but its timer is on its way: left to it

    assert (summary["due"], summary["timer_in_flight"], summary["checked"]) == (0, 1, 0)
    assert pipeline.simulator.report_calls() == []
    assert pipeline.deliver_checks(status, wait_seconds=5).received == 1
    assert len(pipeline.simulator.report_calls()) == 1
    assert schedule(pipeline, status)["checked"] == 0  # the next check is the next timer's
    assert len(pipeline.simulator.report_calls()) == 1


def test_a_lost_timer_is_caught_by_the_scheduled_run(pipeline: Pipeline) -> None:
    send(pipeline, {"id": "lost", "to": "+4917012345677", "text": "x"})
    pipeline.sqs.purge_queue(QueueUrl=pipeline.stack.output("CheckQueueUrl"))  # the timer is gone
    status = pipeline.handler("StatusFunction", CHECK_TIMER_MARGIN_SECONDS="0", **ONE_SECOND)
    wait_until_due(pipeline, "lost")

    summary = schedule(pipeline, status)

    assert (summary["due"], summary["checked"], summary["timer_in_flight"]) == (1, 1, 0)
    assert len(pipeline.simulator.report_calls()) == 1
    assert summary["timers_started"] == 1  # back on timers for its next check


def test_a_failed_timer_send_still_sends_the_sms_and_the_scheduled_run_checks_it(pipeline: Pipeline) -> None:
    gone = pipeline.stack.output("CheckQueueUrl") + "-gone"

    result = send(pipeline, {"id": "untimed", "to": "+4917012345677", "text": "x"}, CHECK_QUEUE_URL=gone)

    assert result.response == {"batchItemFailures": []}
    assert len(pipeline.simulator.sms_posts()) == 1 and pipeline.item("untimed")["state"] == "TRACKING"
    status = pipeline.handler("StatusFunction", CHECK_TIMER_MARGIN_SECONDS="0", **ONE_SECOND)
    wait_until_due(pipeline, "untimed")
    assert schedule(pipeline, status)["checked"] == 1
    assert len(pipeline.simulator.report_calls()) == 1


def test_a_timer_for_a_job_already_final_publishes_nothing(pipeline: Pipeline) -> None:
    send(pipeline, {"id": "ended", "to": "+4917012345677", "text": "x"}, STATUS_CHECK_DELAYS_SECONDS="0")
    status = pipeline.handler("StatusFunction", STATUS_CHECK_DELAYS_SECONDS="0")
    first_due = int(pipeline.item("ended")["dueAt"])
    while schedule(pipeline, status)["due"]:
        pass
    assert [event["id"] for event in pipeline.outcomes()] == ["ended"]
    calls = len(pipeline.simulator.report_calls())
    # A timer for a version long gone (a redrive from the DLQ, a repeated delivery), and one for a
    # job that does not exist.
    check_queue = pipeline.stack.output("CheckQueueUrl")
    pipeline.sqs.send_message(QueueUrl=check_queue, MessageBody=json.dumps({"id": "ended", "dueAt": first_due}))
    pipeline.sqs.send_message(QueueUrl=check_queue, MessageBody=json.dumps({"id": "never", "dueAt": first_due}))

    result = pipeline.deliver_checks(status, wait_seconds=1)

    assert result.received == 2 and result.failed == []
    assert pipeline.outcomes() == [] and len(pipeline.simulator.report_calls()) == calls


def test_a_message_that_is_not_a_timer_fails_alone_in_the_batch_response(pipeline: Pipeline) -> None:
    send(pipeline, {"id": "timed", "to": "+4917012345677", "text": "x"})
    check_queue = pipeline.stack.output("CheckQueueUrl")
    wrong = pipeline.sqs.send_message(QueueUrl=check_queue, MessageBody='{"id": "timed"}', DelaySeconds=1)
    status = pipeline.handler("StatusFunction", **ONE_SECOND)
    wait_until_due(pipeline, "timed")

    received = 0
    failed: list[str] = []
    for _ in range(3):
        result = pipeline.deliver_checks(status, wait_seconds=1, visibility_seconds=60)
        received += result.received
        failed += result.failed
        if received == 2:
            break

    assert received == 2 and failed == [wrong["MessageId"]]
    assert len(pipeline.simulator.report_calls()) == 1  # the real timer's check was made


def test_with_check_timer_max_delay_0_every_check_waits_for_the_scheduled_run(pipeline: Pipeline) -> None:
    no_timers = {"CHECK_TIMER_MAX_DELAY_SECONDS": "0", **ONE_SECOND}
    send(pipeline, {"id": "scheduled", "to": "+4917012345677", "text": "x"}, **no_timers)
    assert "timerAt" not in pipeline.item("scheduled")
    status = pipeline.handler("StatusFunction", **no_timers)
    wait_until_due(pipeline, "scheduled")

    summary = schedule(pipeline, status)

    assert (summary["checked"], summary["timer_in_flight"], summary["timers_started"]) == (1, 0, 0)
    assert pipeline.deliver_checks(status).received == 0  # nothing went on the check queue
