"""The check queue: check timers as SQS messages with a DelaySeconds (ports.CheckTimers).

A timer is a message that becomes visible when its job's check is due, and the status function's
SQS event source invokes it with a batch of such messages: nothing polls the provider or the table
while nothing is due, and a check happens within the event source's reaction time of its due time,
not at the next scheduled run. SQS delays a message by at most 15 minutes; a check due later is
the scheduled run's. Timers are sent ten to a SendMessageBatch. A timer that could not be sent is
logged and counted (CheckTimersNotSent), never raised: its job is due in the table anyway, and the
scheduled run checks it once the timer is overdue.

The message body names the job and the version (`dueAt`) it is for: {"id": "...", "dueAt": 1234}.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from sms_pipeline.lazy import OnFirstUse
from sms_pipeline.observability import count, logger
from sms_pipeline.timers import TIMER_LIMIT_SECONDS, Timer

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH_SIZE = 10  # SendMessageBatch takes at most ten entries


class NotATimer(ValueError):
    """A message on the check queue that is not a check timer; the message says which field."""


def body(timer: Timer) -> str:
    return json.dumps({"id": timer.request_id, "dueAt": timer.due_at}, separators=(",", ":"))


def timer(text: str) -> Timer:
    """The timer a message body holds."""
    try:
        fields: Any = json.loads(text)
    except ValueError:
        raise NotATimer("the body is not JSON") from None
    if not isinstance(fields, dict):
        raise NotATimer("the body is not a JSON object")
    request_id, due_at = fields.get("id"), fields.get("dueAt")
    if not isinstance(request_id, str) or not request_id:
        raise NotATimer("id must be a non-empty string")
    if type(due_at) is not int or due_at <= 0:
        raise NotATimer("dueAt must be a positive whole number of milliseconds")
    return Timer(request_id, due_at)


def is_batch(event: Mapping[str, Any]) -> bool:
    """An SQS batch (the check queue's event source), as opposed to the schedule's event."""
    records = event.get("Records")
    return isinstance(records, list) and all(
        isinstance(record, dict) and record.get("eventSource") == "aws:sqs" for record in records
    )


class SqsCheckTimers:
    """`client` makes the SQS client, on first use (lazy.py)."""

    def __init__(
        self,
        client: Callable[[], SQSClient],
        queue_url: str,
        *,
        reach_seconds: int = TIMER_LIMIT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reach_seconds = min(reach_seconds, TIMER_LIMIT_SECONDS)
        self._sqs = OnFirstUse(client)
        self._queue_url = queue_url
        self._clock = clock

    def start(self, timers: Sequence[Timer]) -> int:
        failed = 0
        for first in range(0, len(timers), BATCH_SIZE):
            chunk = timers[first : first + BATCH_SIZE]
            now = self._clock()
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(index), "MessageBody": body(timer), "DelaySeconds": _delay(timer, now)}
                for index, timer in enumerate(chunk)
            ]
            try:
                response = self._sqs().send_message_batch(QueueUrl=self._queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as error:
                failed += len(entries)
                logger.warning(
                    "check timers not sent; the scheduled run checks their jobs", extra={"error": str(error)}
                )
                continue
            for entry in response.get("Failed", []):
                failed += 1
                logger.warning(
                    "check timer not sent; the scheduled run checks its job",
                    extra={"request_id": chunk[int(entry["Id"])].request_id, "code": entry.get("Code")},
                )
        if failed:
            count("CheckTimersNotSent", failed)
        return failed


def _delay(timer: Timer, now: float) -> int:
    """Whole seconds until the check is due, rounded up (a check never comes early), within SQS's range."""
    return max(0, min(TIMER_LIMIT_SECONDS, math.ceil(timer.due_at / 1000 - now)))
