"""The local event source's batching window: at 0 a request is sent with whatever one receive
returned; with a window the batch is filled first, as Lambda's event source does."""

from __future__ import annotations

import json
from typing import Any

from local.event_source import SqsEventSource


class ScriptedQueue:
    """An SQS client whose receives answer, in turn, the batches a test scripts."""

    def __init__(self, *answers: int) -> None:
        self.answers = list(answers)
        self.receives: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self._sent = 0

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": "arn:aws:sqs:eu-central-1:123456789012:requests"}}

    def receive_message(self, **call: Any) -> dict[str, Any]:
        self.receives.append(call)
        count = min(self.answers.pop(0), call["MaxNumberOfMessages"]) if self.answers else 0
        messages = [self._message() for _ in range(count)]
        return {"Messages": messages} if messages else {}

    def delete_message_batch(self, *, Entries: list[dict[str, str]], **_: Any) -> None:
        self.deleted += [entry["ReceiptHandle"] for entry in Entries]

    def _message(self) -> dict[str, Any]:
        self._sent += 1
        n = self._sent
        return {"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": json.dumps({"n": n}), "Attributes": {}}


def batches(queue: ScriptedQueue, window: float) -> list[int]:
    source = SqsEventSource(queue, "url", region="eu-central-1", batching_window_seconds=window)
    sizes: list[int] = []
    source.poll_once(lambda event: sizes.append(len(event["Records"])))
    return sizes


def test_at_window_zero_a_batch_is_what_one_receive_returned() -> None:
    queue = ScriptedQueue(3, 7)
    assert batches(queue, 0) == [3]
    assert len(queue.receives) == 1
    assert queue.deleted == ["r1", "r2", "r3"]


def test_a_window_fills_the_batch_before_the_invocation() -> None:
    queue = ScriptedQueue(3, 4, 5)
    assert batches(queue, 20) == [10]
    assert [call["MaxNumberOfMessages"] for call in queue.receives] == [10, 7, 3]
    assert all(call["WaitTimeSeconds"] <= 20 for call in queue.receives[1:])
