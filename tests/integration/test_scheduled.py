"""Scheduled sending on the template's stack in moto and the simulator (contract §11): a request
with a future sendAt waits as a SCHEDULED record, is put back on the request queue when due (by the
send function within the lead, else by the status run) and is sent then, once; a cancel ends it.

The lead, 900 s in AWS (SQS's largest DelaySeconds), is scaled down to a few seconds with the
functions' SCHEDULE_LEAD_SECONDS; waits are sendAt a few seconds ahead, never real minutes.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from sms_pipeline.job import Final, Origin
from sms_pipeline.outcomes import Outcome
from support import Pipeline, aws_hook

STATUS = {"STATUS_CHECK_DELAYS_SECONDS": "0"}


def at(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds")


def request(request_id: str, send_at: float, **fields: Any) -> dict[str, Any]:
    return {"id": request_id, "to": "+4917012345677", "text": "See you at 10:00", "sendAt": at(send_at), **fields}


def deliver_until_received(pipeline: Pipeline, send: Any, *, within: float) -> Any:
    """Long-poll the queue (SQS's own wait, no sleep) until a batch arrives or `within` passes."""
    deadline = time.time() + within
    while time.time() < deadline:
        result = pipeline.deliver(send, wait_seconds=1)
        if result.received:
            return result
    raise AssertionError(f"nothing arrived within {within} s")


def run_status(pipeline: Pipeline, status: Any) -> dict[str, Any]:
    summary: dict[str, Any] = status({"source": "aws.scheduler"}, pipeline.context("StatusFunction"))
    return summary


def store_scheduled(pipeline: Pipeline, body: dict[str, Any], *, requested_at: float, due_at: float) -> None:
    """What the send function records for a request it scheduled (or a dead one left behind)."""
    origin = Origin(
        body["id"], "+49170*****77", None, {}, requested_at, "f", "GSM-7", 1, send_at=_epoch(body["sendAt"])
    )
    stored = pipeline.job_store().schedule(
        origin, body=json.dumps(body), due_at=due_at, validity_seconds=body.get("validitySeconds", 300), now=time.time()
    )
    assert stored is None


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def put_back_copy(pipeline: Pipeline, body: dict[str, Any]) -> None:
    """The status run's copy of a scheduled request: its body, and its id as a message attribute."""
    pipeline.sqs.send_message(
        QueueUrl=pipeline.queue_url,
        MessageBody=json.dumps(body),
        MessageAttributes={"requestId": {"DataType": "String", "StringValue": body["id"]}},
    )


# --- waiting and sending --------------------------------------------------------------------------------


def test_a_request_a_few_seconds_ahead_is_not_sent_before_its_send_at_and_is_sent_soon_after(
    pipeline: Pipeline,
) -> None:
    send = pipeline.handler("SendFunction")
    send_at = _epoch(at(time.time() + 3))  # as the request writes it, to the millisecond
    pipeline.enqueue(request("soon", send_at))

    stored = pipeline.deliver(send)

    assert stored.received == 1 and stored.failed == []  # acknowledged: the wait costs no receive
    assert pipeline.simulator.sms_posts() == []
    item = pipeline.item("soon")
    assert item["state"] == "SCHEDULED" and float(item["sendAt"]) == send_at
    assert pipeline.deliver(send).received == 0  # put back delayed to its sendAt: nothing to receive yet

    sent = deliver_until_received(pipeline, send, within=10)

    assert sent.failed == []
    [job] = pipeline.simulator.jobs.values()
    assert send_at <= job.created <= send_at + 3  # not before sendAt, soon after
    item = pipeline.item("soon")
    assert item["state"] == "TRACKING" and "body" not in item  # the text is not kept once it is sent


def test_a_scheduled_sns_notification_without_an_id_keeps_its_sqs_message_id_through_the_put_back(
    pipeline: Pipeline,
) -> None:
    """Contract §1: the default id is the SQS messageId, for an SNS envelope too; the put-back copy
    (a new SQS message) names it in its `requestId` attribute, so it is the same request, sent once."""
    send = pipeline.handler("SendFunction")
    fields = request("unused", time.time() + 2)
    del fields["id"]
    envelope = {"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:eu-central-1:1:t"}
    body = json.dumps({**envelope, "Message": json.dumps(fields)})
    message_id = pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=body)["MessageId"]

    assert pipeline.deliver(send).failed == []
    assert pipeline.item(message_id)["state"] == "SCHEDULED"

    assert deliver_until_received(pipeline, send, within=10).failed == []
    assert len(pipeline.simulator.sms_posts()) == 1
    assert pipeline.item(message_id)["state"] == "TRACKING"


def test_a_request_further_ahead_than_the_lead_is_put_back_by_the_status_run_when_due(pipeline: Pipeline) -> None:
    lead = {"SCHEDULE_LEAD_SECONDS": "2"}
    send = pipeline.handler("SendFunction", **lead)
    status = pipeline.handler("StatusFunction", **lead, **STATUS)
    send_at = time.time() + 4
    pipeline.enqueue(request("later", send_at))
    assert pipeline.deliver(send).failed == []

    assert run_status(pipeline, status)["put_back"] == 0  # not due yet: nothing is read or sent
    assert pipeline.deliver(send).received == 0
    assert pipeline.item("later")["state"] == "SCHEDULED"

    deadline = time.time() + 6
    while run_status(pipeline, status)["put_back"] == 0:  # due 2 s before its sendAt
        assert time.time() < deadline, "the status run never put the request back"
        time.sleep(0.2)
    assert time.time() >= send_at - 2
    assert run_status(pipeline, status)["put_back"] == 0  # leased: once per due time

    sent = deliver_until_received(pipeline, send, within=8)

    assert sent.failed == [] and len(pipeline.simulator.sms_posts()) == 1
    [job] = pipeline.simulator.jobs.values()
    assert job.created >= send_at
    assert pipeline.item("later")["state"] == "TRACKING"


def test_a_past_send_at_means_now(pipeline: Pipeline) -> None:
    pipeline.enqueue(request("past", time.time() - 3600))

    assert pipeline.deliver(pipeline.handler("SendFunction")).failed == []

    assert len(pipeline.simulator.sms_posts()) == 1
    assert pipeline.item("past")["state"] == "TRACKING"


def test_an_invalid_send_at_is_rejected_naming_the_field(pipeline: Pipeline) -> None:
    pipeline.enqueue(
        {"id": "no-offset", "to": "+4917012345677", "text": "x", "sendAt": "2026-12-24T08:00:00"},
        {"id": "not-a-time", "to": "+4917012345677", "text": "x", "sendAt": "tomorrow"},
        request("too-far", time.time() + 36 * 86400),
    )

    assert pipeline.deliver(pipeline.handler("SendFunction")).failed == []

    events = {event["id"]: event for event in pipeline.outcomes()}
    assert set(events) == {"no-offset", "not-a-time", "too-far"}
    for event in events.values():
        assert event["outcome"] == "REJECTED" and event["reason"].startswith("sendAt: ")
    assert "35 days" in events["too-far"]["reason"]
    assert pipeline.simulator.sms_posts() == []


def test_the_validity_counts_from_send_at(pipeline: Pipeline) -> None:
    """Both were enqueued an hour ago with a validity of 300 s: the one whose sendAt has just come
    is sent; the one whose sendAt is 400 s past ends EXPIRED, never sent."""
    now = time.time()
    on_time = request("on-time", now - 1, validitySeconds=300)
    too_late = request("too-late", now - 400, validitySeconds=300, to="+4917012345688")
    for body in (on_time, too_late):
        store_scheduled(pipeline, body, requested_at=now - 3600, due_at=now - 1)
    status = pipeline.handler("StatusFunction", **STATUS)

    assert run_status(pipeline, status)["put_back"] == 2
    assert pipeline.deliver(pipeline.handler("SendFunction")).failed == []

    [post] = pipeline.simulator.sms_posts()
    assert post.params["dst"] == "+4917012345677"
    assert pipeline.item("on-time")["state"] == "TRACKING"
    [expired] = pipeline.outcomes()
    assert expired["id"] == "too-late" and expired["outcome"] == "EXPIRED" and expired["jobId"] is None
    assert "not sent within its validity of 300 s" in expired["reason"]


# --- cancel -------------------------------------------------------------------------------------------


def test_a_cancel_before_the_send_ends_the_request_canceled_and_nothing_is_sent(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    body = request("to-cancel", time.time() + 3)  # put back at once, delayed 3 s
    pipeline.enqueue(body)
    assert pipeline.deliver(send).failed == []

    pipeline.enqueue({"cancel": "to-cancel"})
    assert pipeline.deliver(send).failed == []

    [event] = pipeline.outcomes()
    assert event["id"] == "to-cancel" and event["outcome"] == "CANCELED"
    assert event["jobId"] is None and event["reason"] == "cancelled before sending"
    assert event["_attributes"]["outcome"] == "CANCELED"
    # The put-back copy still comes at its sendAt: it is a duplicate, acknowledged, never sent.
    assert deliver_until_received(pipeline, send, within=10).failed == []
    assert pipeline.simulator.sms_posts() == [] and pipeline.outcomes() == []
    item = pipeline.item("to-cancel")
    assert item["state"] == "DONE" and "body" not in item


def test_a_cancel_after_the_send_or_for_an_unknown_id_changes_nothing(pipeline: Pipeline, logs: Any) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.enqueue({"id": "sent", "to": "+4917012345677", "text": "x"})
    assert pipeline.deliver(send).failed == []

    pipeline.enqueue({"cancel": "sent"}, {"cancel": "nobody"}, {"cancel": ""}, {"cancel": "x", "to": "+491701"})
    result = pipeline.deliver(send)

    assert result.received == 4 and result.failed == []  # none is a batch failure
    assert pipeline.item("sent")["state"] == "TRACKING" and pipeline.outcomes() == []
    lines = [json.loads(line) for line in logs.getvalue().splitlines()]
    messages = {line["message"] for line in lines}
    assert "cancel changes nothing: already sent (TRACKING)" in messages
    assert any(message.startswith("cancel changes nothing: no such request") for message in messages)
    invalid = [line for line in lines if line["message"].startswith("invalid cancel message")]
    assert {line["field"] for line in invalid} == {"cancel", "to"}


def test_a_cancel_that_arrives_before_its_request_changes_nothing(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.enqueue({"cancel": "early"})
    assert pipeline.deliver(send).failed == []

    pipeline.enqueue(request("early", time.time() - 1))
    assert pipeline.deliver(send).failed == []

    assert len(pipeline.simulator.sms_posts()) == 1 and pipeline.item("early")["state"] == "TRACKING"


def test_a_cancel_racing_the_send_exactly_one_wins(pipeline: Pipeline) -> None:
    """Five due copies and their five cancels in one batch, handled at once (the batch's records run
    concurrently): each request is either sent or CANCELED, never both, never neither."""
    now = time.time()
    # Numbers the simulator accepts (a suffix 40 would be a 400, 50 and 51 an outage).
    bodies = [request(f"race-{n}", now - 1, to=f"+491701234567{n}") for n in range(5)]
    for body in bodies:
        store_scheduled(pipeline, body, requested_at=now - 60, due_at=now + 3600)
    for body in bodies:
        put_back_copy(pipeline, body)
        pipeline.enqueue({"cancel": body["id"]})

    result = pipeline.deliver(pipeline.handler("SendFunction"))
    assert result.received == 10 and result.failed == []

    sent = {post.params["dst"] for post in pipeline.simulator.sms_posts()}
    cancelled = {event["id"] for event in pipeline.outcomes() if event["outcome"] == "CANCELED"}
    for body in bodies:
        state = pipeline.item(body["id"])["state"]
        assert (body["to"] in sent) != (body["id"] in cancelled), body["id"]
        assert state == ("TRACKING" if body["to"] in sent else "DONE")


def test_a_cancel_that_lands_between_the_parse_and_the_claim_wins_and_the_send_makes_no_post(
    pipeline: Pipeline,
) -> None:
    now = time.time()
    body = request("raced", now - 1)
    store_scheduled(pipeline, body, requested_at=now - 60, due_at=now + 3600)
    put_back_copy(pipeline, body)
    cancelled: list[bool] = []

    def cancel_first(model: Any, **_: Any) -> None:
        if model.name == "PutItem" and not cancelled:  # the claim's first write
            final = Final(Outcome.CANCELED, "cancelled before sending", time.time())
            won, _job = pipeline.job_store().cancel("raced", final, publish_lease_until=time.time())
            cancelled.append(won)

    with aws_hook("before-call", handler=cancel_first):
        send = pipeline.handler("SendFunction")
        assert pipeline.deliver(send).failed == []

    assert cancelled == [True] and pipeline.simulator.sms_posts() == []
    run_status(pipeline, pipeline.handler("StatusFunction", **STATUS))  # publishes the decided outcome
    [event] = pipeline.outcomes()
    assert event["outcome"] == "CANCELED" and event["jobId"] is None


# --- kills ----------------------------------------------------------------------------------------


def test_a_send_function_killed_before_its_put_back_loses_nothing(pipeline: Pipeline) -> None:
    """It stored the record, leased, and died before SendMessage and before the delete: the
    producer's message comes back and is a duplicate; the lease ends and the status run puts the
    request back; it is sent once."""
    lead = {"SCHEDULE_LEAD_SECONDS": "1"}
    now = time.time()
    body = request("killed", now + 1)
    pipeline.enqueue(body)  # the producer's message, not deleted by the dead invocation
    store_scheduled(pipeline, body, requested_at=now, due_at=now + 2)  # its lease: sendAt + lead
    send = pipeline.handler("SendFunction", **lead)
    status = pipeline.handler("StatusFunction", **lead, **STATUS)

    assert pipeline.deliver(send).failed == []  # the redelivery: a duplicate, acknowledged
    assert pipeline.simulator.sms_posts() == []
    deadline = time.time() + 6
    while run_status(pipeline, status)["put_back"] == 0:
        assert time.time() < deadline, "the ended lease never made the request due again"
        time.sleep(0.2)

    assert deliver_until_received(pipeline, send, within=5).failed == []
    assert len(pipeline.simulator.sms_posts()) == 1 and pipeline.item("killed")["state"] == "TRACKING"


def test_a_status_run_killed_between_its_lease_and_its_put_back_loses_nothing(pipeline: Pipeline) -> None:
    lead = {"SCHEDULE_LEAD_SECONDS": "1"}
    now = time.time()
    body = request("run-killed", now + 1)
    store_scheduled(pipeline, body, requested_at=now, due_at=now)
    store = pipeline.job_store()
    [job] = store.due(now=time.time(), limit=10)
    assert store.lease_scheduled(job, lease_until=now + 2) is not None  # the dead run's lease, no message
    send = pipeline.handler("SendFunction", **lead)
    status = pipeline.handler("StatusFunction", **lead, **STATUS)

    assert run_status(pipeline, status)["put_back"] == 0  # leased: the next run leaves it alone
    deadline = time.time() + 6
    while run_status(pipeline, status)["put_back"] == 0:
        assert time.time() < deadline, "the ended lease never made the request due again"
        time.sleep(0.2)

    assert deliver_until_received(pipeline, send, within=5).failed == []
    assert len(pipeline.simulator.sms_posts()) == 1
    # A second copy (a put-back whose first copy was merely slow) is a duplicate: still one send.
    put_back_copy(pipeline, body)
    assert pipeline.deliver(send).failed == [] and len(pipeline.simulator.sms_posts()) == 1


def test_a_redelivered_or_redriven_copy_of_a_scheduled_request_is_a_duplicate_and_it_is_sent_once(
    pipeline: Pipeline,
) -> None:
    """The producer's message again (a redelivery, a producer's retry, a DLQ redrive: each a message
    without the put-back's attribute): while the request waits, and after it was sent."""
    send = pipeline.handler("SendFunction")
    body = request("again", time.time() + 2)
    pipeline.enqueue(body)
    assert pipeline.deliver(send).failed == []
    pipeline.enqueue(body)  # while it waits
    assert pipeline.deliver(send).failed == [] and pipeline.item("again")["state"] == "SCHEDULED"

    assert deliver_until_received(pipeline, send, within=8).failed == []  # the one put-back copy
    pipeline.enqueue(body)  # after it was sent
    assert pipeline.deliver(send).failed == []

    assert len(pipeline.simulator.sms_posts()) == 1 and pipeline.item("again")["state"] == "TRACKING"
    assert pipeline.deliver(send, wait_seconds=1).received == 0  # nothing left, nothing put back twice
