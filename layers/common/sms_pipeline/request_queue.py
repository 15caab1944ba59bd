"""The request queue, as the send function uses it: the visibility of the messages it fails.

Lambda's SQS event source leaves a failed record alone; it comes back when its visibility timeout
runs out. Setting that timeout per message is how a request waits out its retry delay (contract
§8). A change that fails costs only timing: the message then comes back after the queue's own
visibility timeout, so it is logged and counted, never raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from sms_pipeline.lazy import OnFirstUse
from sms_pipeline.observability import count, logger
from sms_pipeline.scheduling import REQUEST_ID_ATTRIBUTE

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

BATCH_SIZE = 10  # ChangeMessageVisibilityBatch takes at most ten entries


class RequestQueue:
    """`client` makes the SQS client, on first use (lazy.py): most invocations fail no record."""

    def __init__(self, client: Callable[[], SQSClient], queue_url: str) -> None:
        self._sqs = OnFirstUse(client)
        self._queue_url = queue_url

    def delay(self, delays: Sequence[tuple[str, int]]) -> None:
        for start in range(0, len(delays), BATCH_SIZE):
            chunk = delays[start : start + BATCH_SIZE]
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                for index, (handle, seconds) in enumerate(chunk)
            ]
            try:
                response = self._sqs().change_message_visibility_batch(QueueUrl=self._queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as error:
                failed = len(entries)
                logger.warning("retry delays not set; the queue's own timeout applies", extra={"error": str(error)})
            else:
                failed = len(response.get("Failed", []))
                for entry in response.get("Failed", []):
                    logger.warning(
                        "retry delay not set; the queue's own timeout applies",
                        extra={"code": entry.get("Code"), "error": entry.get("Message")},
                    )
            if failed:
                count("RetryDelaysNotSet", failed)


class RequestPutBack:
    """The put-back of a scheduled request on the request queue (ports.Requeue), for both functions:
    the status run's when due, the send function's for a request due within the lead."""

    def __init__(self, client: Callable[[], SQSClient], queue_url: str) -> None:
        self._sqs = OnFirstUse(client)
        self._queue_url = queue_url

    def put_back(self, request_id: str, body: str, *, delay_seconds: int) -> None:
        self._sqs().send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            DelaySeconds=delay_seconds,
            MessageAttributes={REQUEST_ID_ATTRIBUTE: {"DataType": "String", "StringValue": request_id}},
        )
