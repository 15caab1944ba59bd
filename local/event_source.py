"""Lambda's SQS event source, emulated: receive a batch, invoke, honour the partial batch response.

Records the handler reports as failed stay on the queue and come back after their visibility
timeout (shortened here by `retry_after_seconds` so a local run does not wait three minutes); the
queue's redrive policy moves a record that keeps failing to the DLQ, as in AWS. Successful records
are deleted. A handler that raises, or a function process that dies, fails the whole batch, as in
AWS; those records come back after `crash_retry_after_seconds`, which the pipeline sets to the
function's timeout plus the claim margin: in AWS the visibility timeout (six times the function's
timeout) ensures that whatever the failed invocation claimed has expired by then, and a shorter
local wait must keep that promise.
"""

from __future__ import annotations

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
        retry_after_seconds: int = 1,
        crash_retry_after_seconds: int = 1,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._region = region
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._retry_after = retry_after_seconds
        self._crash_retry_after = crash_retry_after_seconds
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        self.queue_arn: str = attributes["QueueArn"]

    def poll_once(self, invoke: Callable[[dict[str, Any]], Any]) -> PollResult:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        result = PollResult(received=len(messages))
        if not messages:
            return result
        retry_after = self._retry_after
        try:
            answer = invoke(sqs_event(messages, self.queue_arn, self._region))
            failed = {item["itemIdentifier"] for item in (answer or {}).get("batchItemFailures", [])}
        except Exception as error:  # the whole batch fails, as with Lambda
            result.error = f"{type(error).__name__}: {error}"
            failed = {message["MessageId"] for message in messages}
            retry_after = self._crash_retry_after
        result.failed = sorted(failed)
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        if retry:
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": retry_after}
                    for i, m in enumerate(retry)
                ],
            )
        return result
