"""Send function: SQS batch in, partial batch response out. Wiring only; the logic is sending.py.

The batch's records run concurrently (AsyncBatchProcessor over a thread pool), so a batch of ten
costs about one provider round trip, not ten.
"""

from __future__ import annotations

from sms_pipeline.init_phase import init_phase

with init_phase():  # imports, settings checked once, clients: everything up to the handler
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from typing import Any

    from aws_lambda_powertools.utilities.batch import (
        AsyncBatchProcessor,
        EventType,
        async_process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from sms_pipeline import wiring
    from sms_pipeline.observability import logger, metrics, tracer
    from sms_pipeline.sending import Batch, Incoming

    sender = wiring.sender()
    processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    pool = ThreadPoolExecutor(max_workers=wiring.settings().send_concurrency, thread_name_prefix="send")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = sender.batch(context.get_remaining_time_in_millis() / 1000)
    return async_process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=_record_handler(batch), processor=processor, context=context
    )


def _record_handler(batch: Batch) -> Any:
    async def handle(record: SQSRecord) -> str:
        incoming = Incoming(
            message_id=record.message_id,
            body=record.body,
            sent_at=int(record.attributes.sent_timestamp) / 1000,
        )
        loop = asyncio.get_running_loop()
        return str(await loop.run_in_executor(pool, batch.handle, incoming))

    return handle
