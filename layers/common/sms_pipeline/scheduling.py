"""Scheduled sending (contract §11): when a waiting request is due, and its put-back on the queue.

A request with a future sendAt waits as a SCHEDULED record in the jobs table (docs/architecture.md,
"Scheduled sending"), due in the due index `lead` seconds before its sendAt: the most a message's
DelaySeconds can bridge. The status run, which reads the due index anyway, leases each due record
with a conditional write and puts its body back on the request queue, delayed to its sendAt; the
send path then claims it as any request. A request due within `lead` is put back by the send
function itself, its record stored already leased, so it waits for no status run. A lease that
ends with the record still SCHEDULED (a run killed before its put-back, a copy lost) makes it due
again: the next run puts it back once more, and the claim keeps the copies to one send.

What is here is the part both paths share, over the ports only.
"""

from __future__ import annotations

import math

from sms_pipeline.job import Job
from sms_pipeline.observability import logger
from sms_pipeline.ports import Requeue, StatusStore

REQUEST_ID_ATTRIBUTE = "requestId"  # the message attribute that carries a put-back copy's request id


def due_at(send_at: float, now: float, *, lead: int) -> tuple[float, bool]:
    """When a new SCHEDULED record is due, and whether the send function puts it back itself: a
    request due within `lead` is stored leased (due when that lease ends) and put back at once."""
    if send_at - now <= lead:
        return lease_end(send_at, now, lead=lead), True
    return send_at - lead, False


def lease_end(send_at: float, now: float, *, lead: int) -> float:
    """How long a put-back holds the record: `lead` past the later of sendAt and now, time for the
    copy to be received and claimed; after it the record, if still SCHEDULED, is due again."""
    return max(send_at, now) + lead


def delay_seconds(send_at: float, now: float) -> int:
    """The copy's DelaySeconds: the whole seconds to sendAt, never early, at most SQS's 900."""
    return min(900, max(0, math.ceil(send_at - now)))


def put_back(store: StatusStore, requeue: Requeue, job: Job, *, now: float, lead: int) -> bool:
    """Lease a due SCHEDULED record and put its body back on the queue; False when another run (or
    the claim) was first. An SQS failure raises, after the lease: the record is due again when it
    ends."""
    send_at = job.origin.send_at
    if job.body is None or send_at is None:  # not written by this code: nothing to put back
        logger.error("a scheduled record without its body or sendAt", extra={"request_id": job.origin.id})
        return False
    leased = store.lease_scheduled(job, lease_until=lease_end(send_at, now, lead=lead))
    if leased is None:
        return False
    requeue.put_back(job.origin.id, job.body, delay_seconds=delay_seconds(send_at, now))
    logger.info(
        "scheduled request put back on the queue",
        extra={"request_id": job.origin.id, "to": job.origin.masked_to, "delay_seconds": delay_seconds(send_at, now)},
    )
    return True


def not_cancelled(job: Job | None) -> str:
    """Why a cancel changed nothing, for its log line (contract §11: it says so; docs/contract.md)."""
    if job is None:
        return "cancel changes nothing: no such request (never received, its record expired, or not yet)"
    if job.final is not None:
        return f"cancel changes nothing: already ended ({job.final.outcome.value})"
    return f"cancel changes nothing: already sent ({job.state.value})"
