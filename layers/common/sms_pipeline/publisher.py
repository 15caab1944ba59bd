"""Publishing outcome events to the outcomes topic, ten to a PublishBatch call.

Each message carries the `outcome` attribute so that subscribers can filter with an SNS filter
policy. A failed entry is reported back, not raised: its job stays due and a later run retries it;
each failure counts in the PublishFailures metric, which an alarm watches (a publish that keeps
failing would otherwise only show as an outcome that never comes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from sms_pipeline.lazy import OnFirstUse
from sms_pipeline.observability import count, logger
from sms_pipeline.outcomes import OutcomeEvent

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient

BATCH_SIZE = 10


class SnsPublisher:
    """`client` is the SNS client or a function that makes it on first use (lazy.py)."""

    def __init__(self, client: SNSClient | Callable[[], SNSClient], topic_arn: str) -> None:
        self._sns: Callable[[], SNSClient] = OnFirstUse(client) if callable(client) else lambda: client
        self._topic_arn = topic_arn

    def publish(self, events: Sequence[OutcomeEvent]) -> set[str]:
        """Publish every event; the request ids whose event was published."""
        published: set[str] = set()
        for start in range(0, len(events), BATCH_SIZE):
            chunk = events[start : start + BATCH_SIZE]
            entries = {f"e{index}": event for index, event in enumerate(chunk)}
            try:
                response = self._sns().publish_batch(
                    TopicArn=self._topic_arn,
                    PublishBatchRequestEntries=[
                        {
                            "Id": entry_id,
                            "Message": json.dumps(event.body(), ensure_ascii=False, separators=(",", ":")),
                            "MessageAttributes": {
                                "outcome": {"DataType": "String", "StringValue": event.outcome.value}
                            },
                        }
                        for entry_id, event in entries.items()
                    ],
                )
            except (ClientError, BotoCoreError) as error:
                logger.warning("outcome publish failed; will retry on a later run", extra={"error": str(error)})
                count("PublishFailures", len(entries))
                continue
            for success in response.get("Successful", []):
                event = entries[success["Id"]]
                published.add(event.request_id)
                # One line per outcome, so that an operator can follow a request to its end.
                logger.info(
                    "outcome published",
                    extra={
                        "request_id": event.request_id,
                        "outcome": event.outcome.value,
                        "to": event.masked_to,
                        "job_id": event.job_id,
                    },
                )
            for failure in response.get("Failed", []):
                logger.warning(
                    "outcome publish entry failed; will retry on a later run",
                    extra={"code": failure.get("Code"), "request_id": entries[failure["Id"]].request_id},
                )
            if response.get("Failed"):
                count("PublishFailures", len(response["Failed"]))
        return published
