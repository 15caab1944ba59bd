"""The one item codec: a job record (job.py) ⇄ its DynamoDB item, and every attribute's name.

The store (store.py) writes and reads items through it, and so does the operator's command line
(ops/cli.py), so a name or a representation is changed here or nowhere. Numbers are kept to the
millisecond (`num`), the due time in integer milliseconds, the metadata as a JSON string.

An unknown origin value or provider status is kept as NULL by the send path's writes and left out
by a rejection on arrival (`Job.null_unknowns`), and the DONE record, written back whole with no
condition, keeps whichever form the item had.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from sms_pipeline.job import Final as FinalOutcome
from sms_pipeline.job import Job, Origin, State
from sms_pipeline.outcomes import Outcome, ProviderStatus

# The index of due items (template.yaml, JobsTable; the functions get it as DUE_INDEX_NAME).
DUE_INDEX: Final = "due"

ID: Final = "id"
TO: Final = "to"  # a DynamoDB reserved word: expressions name it through a placeholder
REFERENCE: Final = "reference"
METADATA: Final = "metadata"
REQUESTED_AT: Final = "requestedAt"
EXPIRES_AT: Final = "expiresAt"  # the table's TTL attribute
CONTENT_HASH: Final = "contentHash"
ENCODING: Final = "encoding"
SEGMENTS: Final = "segments"
SMART_ENCODED: Final = "smartEncoded"
SEND_AT: Final = "sendAt"  # a request's sendAt (§11), when it names one: the validity counts from it
BODY: Final = "body"  # SCHEDULED: the message body to put back on the request queue (holds the text)
STATE: Final = "state"  # reserved too
ATTEMPTS: Final = "attempts"
CLAIM_UNTIL: Final = "claimUntil"
MESSAGE_ID: Final = "messageId"
CLAIM_TOKEN: Final = "claimToken"  # noqa: S105 (a name, not a secret)
LAST_ERROR: Final = "lastError"
JOB_ID: Final = "jobId"
SUBMITTED_AT: Final = "submittedAt"
CHECKS: Final = "checks"
DUE_SHARD: Final = "dueShard"  # the due index's partition key
DUE_AT: Final = "dueAt"  # its sort key
TIMER_AT: Final = "timerAt"  # the dueAt a check timer is on its way for (the scheduled run skips it)
OUTCOME: Final = "outcome"
REASON: Final = "reason"
COMPLETED_AT: Final = "completedAt"
PROVIDER_STATUS: Final = "providerStatus"

FINAL_ATTRIBUTES: Final = (OUTCOME, REASON, COMPLETED_AT, PROVIDER_STATUS)  # set together, once decided
_NULLABLE = (TO, REFERENCE, CONTENT_HASH, ENCODING, SEGMENTS, PROVIDER_STATUS)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def item(job: Job) -> dict[str, Any]:
    """The item of a record (deserialized values: `serialize` makes the request's form)."""
    values: dict[str, Any] = {
        **origin_attributes(job.origin),
        EXPIRES_AT: job.expires_at,
        STATE: job.state.value,
        ATTEMPTS: job.attempts,
        CLAIM_UNTIL: num(job.claim_until) if job.claim_until is not None else None,
        MESSAGE_ID: job.message_id,
        CLAIM_TOKEN: job.claim_token,
        LAST_ERROR: job.last_error,
        BODY: job.body,
        JOB_ID: job.job_id,
        SUBMITTED_AT: num(job.submitted_at) if job.submitted_at is not None else None,
        CHECKS: job.checks if job.job_id is not None else None,  # counted from the record of the send
        DUE_SHARD: str(job.due_shard) if job.due_shard is not None else None,
        DUE_AT: job.due_at if job.due_shard is not None else None,
        TIMER_AT: job.timer_at,
        **(final_attributes(job.final) if job.final else {}),
    }
    return {
        name: value for name, value in values.items() if value is not None or (job.null_unknowns and name in _NULLABLE)
    }


def origin_attributes(origin: Origin) -> dict[str, Any]:
    """The attributes that keep what the outcome event repeats of the request; unknowns as None."""
    return {
        ID: origin.id,
        TO: origin.masked_to,
        REFERENCE: origin.reference,
        METADATA: json.dumps(origin.metadata, ensure_ascii=False, separators=(",", ":")),
        REQUESTED_AT: num(origin.requested_at),
        CONTENT_HASH: origin.fingerprint,
        ENCODING: origin.encoding,
        SEGMENTS: origin.segments,
        SMART_ENCODED: origin.smart_encoded,
        SEND_AT: num(origin.send_at) if origin.send_at is not None else None,
    }


def final_attributes(final: FinalOutcome) -> dict[str, Any]:
    """The attributes of a decided outcome; an unknown provider status as None (NULL)."""
    status = final.provider_status
    return {
        OUTCOME: final.outcome.value,
        REASON: final.reason,
        COMPLETED_AT: num(final.completed_at),
        PROVIDER_STATUS: {"processStatus": status.process_status, "status": status.status} if status else None,
    }


def job(values: dict[str, Any]) -> Job:
    """The record of an item (deserialized values)."""
    status = values.get(PROVIDER_STATUS)
    final = None
    if values.get(OUTCOME):
        final = FinalOutcome(
            outcome=Outcome(values[OUTCOME]),
            reason=str(values.get(REASON, "")),
            completed_at=float(values.get(COMPLETED_AT, 0)),
            provider_status=ProviderStatus(status["processStatus"], status["status"]) if status else None,
        )
    metadata = values.get(METADATA)
    return Job(
        origin=Origin(
            id=values[ID],
            masked_to=values.get(TO),
            reference=values.get(REFERENCE),
            metadata=json.loads(metadata) if isinstance(metadata, str) else {},
            requested_at=float(values.get(REQUESTED_AT, 0)),
            fingerprint=values.get(CONTENT_HASH),
            encoding=values.get(ENCODING),
            segments=_int(values.get(SEGMENTS)),
            smart_encoded=bool(values.get(SMART_ENCODED, False)),
            send_at=_float(values.get(SEND_AT)),
        ),
        state=State(values[STATE]),
        due_at=int(values.get(DUE_AT, 0)),
        due_shard=_int(values.get(DUE_SHARD)),
        job_id=values.get(JOB_ID),
        submitted_at=_float(values.get(SUBMITTED_AT)),
        checks=int(values.get(CHECKS, 0)),
        final=final,
        attempts=_int(values.get(ATTEMPTS)),
        last_error=values.get(LAST_ERROR),
        claim_until=_float(values.get(CLAIM_UNTIL)),
        message_id=values.get(MESSAGE_ID),
        claim_token=values.get(CLAIM_TOKEN),
        expires_at=_int(values.get(EXPIRES_AT)),
        body=values.get(BODY),
        timer_at=_int(values.get(TIMER_AT)),
        # A decided outcome written by the send or status path sets its provider status, NULL or not.
        null_unknowns=PROVIDER_STATUS in values if final is not None else True,
    )


def decode(raw: dict[str, Any]) -> Job:
    """The record of an item as DynamoDB returns it."""
    return job(deserialize(raw))


def raw_state(raw: dict[str, Any]) -> str | None:
    """The state of an item as DynamoDB returns it, without decoding the rest."""
    state: str | None = raw.get(STATE, {}).get("S")
    return state


def num(seconds: float) -> Decimal:
    """A time in seconds as the item keeps it: to the millisecond."""
    return Decimal(str(round(seconds, 3)))


def millis(seconds: float) -> int:
    return int(seconds * 1000)


def serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items()}


def deserialize(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in raw.items()}


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None
