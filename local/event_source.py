"""Lambda's SQS event source, emulated: receive a batch, invoke, honour the partial batch response.

Successful records are deleted. A failed record is left alone, as Lambda leaves it: it comes back
when its visibility timeout runs out, which is the retry delay the send function gave it, or else
the visibility it was received with; the queue's redrive policy moves a record that keeps failing
to the DLQ, as in AWS. A handler that raises, or a function process that dies, fails the whole
batch, as in AWS.

With a batching window (the mapping's MaximumBatchingWindowInSeconds, the template's
`SendBatchingWindowSeconds`) a batch that came back short is filled for up to that long after its
first record before the invocation, as Lambda does; at 0 the invocation takes what one receive
returned, at once.

Lambda receives with the queue's own visibility timeout (180 s in template.yaml: six times the
function's timeout). `visibility_seconds` scales that down for a local run, which must still keep
its promise: a batch whose invocation died comes back only after whatever that invocation claimed
has expired, so the pipeline sets it to the function's timeout plus more than the claim margin.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.lambda_runtime import sqs_event


@dataclass
class PollResult:
    received: int = 0
    failed: list[str] = field(default_factory=list)
    error: str | None = None


class SqsEventSource:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        *,
        region: str,
        batch_size: int = 10,
        wait_seconds: int = 1,
        visibility_seconds: int | None = None,
        batching_window_seconds: float = 0,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._region = region
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._visibility = visibility_seconds
        self._window = batching_window_seconds
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self.queue_arn: str = attributes["QueueArn"]

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        visibility = {} if self._visibility is None else {"VisibilityTimeout": self._visibility}
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            **visibility,
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _batch(self) -> list[dict[str, Any]]:
        """One receive, and with a batching window more until the batch is full or the window,
        counted from the first record, has passed. A long poll ends as soon as a record is there,
        so the wait within the window is the poll's own (in whole seconds, rounded up)."""
        messages = self._receive(self._batch_size, self._wait_seconds)
        if not messages or self._window <= 0:
            return messages
        deadline = time.monotonic() + self._window
        while len(messages) < self._batch_size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            messages += self._receive(self._batch_size - len(messages), min(20, math.ceil(left)))
        return messages

    def poll_once(self, invoke: Callable[[dict[str, Any]], Any]) -> PollResult:
        messages = self._batch()
        result = PollResult(received=len(messages))
        if not messages:
            return result
        try:
            answer = invoke(sqs_event(messages, self.queue_arn, self._region))
            failed = {item["itemIdentifier"] for item in (answer or {}).get("batchItemFailures", [])}
        except Exception as error:  # the whole batch fails, as with Lambda
            result.error = f"{type(error).__name__}: {error}"
            failed = {message["MessageId"] for message in messages}
        result.failed = sorted(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return result
