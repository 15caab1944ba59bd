"""Powertools' BatchProcessor, with the records of a batch processed at once and failed records
given the delay their use case asked for.

The extension points are the ones Powertools documents for a custom partial processor: `process`
runs `_process_record` for each record, here over a thread pool, so a batch of ten costs about one
provider round trip, not ten; the success and failure handlers collect results, here under a lock
because they run on the pool's threads; `_clean`, at the end of the batch, builds the partial batch
response and here also hands the failed records' delays to the queue, in one call for the batch.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    ExceptionInfo,
    FailureResponse,
    SuccessResponse,
)

from sms_pipeline.ports import Redelivery
from sms_pipeline.sending import RetryLater


class ConcurrentSqsProcessor(BatchProcessor):
    """A whole batch that fails is returned as a partial failure of every record, not raised: the
    records still get their delays, and the event source treats both the same (it retries each)."""

    def __init__(self, pool: ThreadPoolExecutor, redelivery: Redelivery) -> None:
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._pool = pool
        self._redelivery = redelivery
        self._lock = threading.Lock()
        self._delays: list[tuple[str, int]] = []

    def _prepare(self) -> None:
        super()._prepare()  # type: ignore[no-untyped-call]
        self._delays = []

    def process(self) -> list[tuple[Any, ...]]:
        return list(self._pool.map(self._process_record, self.records))

    def success_handler(self, record: Any, result: Any) -> SuccessResponse:
        with self._lock:
            return super().success_handler(record, result)

    def failure_handler(self, record: Any, exception: ExceptionInfo) -> FailureResponse:
        with self._lock:
            entry = super().failure_handler(record, exception)
            if isinstance(exception[1], RetryLater) and record is not None:
                self._delays.append((record.receipt_handle, exception[1].after_seconds))
        return entry

    def _clean(self) -> None:
        if self._delays:
            self._redelivery.delay(self._delays)
        super()._clean()  # type: ignore[no-untyped-call]
