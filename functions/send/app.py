"""Send function: SQS batch in, partial batch response out. Wiring only; the logic is sending.py.

The batch's records run concurrently, so a batch of ten costs about one provider round trip, not
ten: each record is handed to a thread of the pool as the invocation starts, and Powertools'
BatchProcessor then collects their results in order, turning a record's exception into its
entry in the partial batch response.
"""

from __future__ import annotations

from sms_pipeline.init_phase import init_phase

with init_phase():  # imports, settings checked once, clients: everything up to the handler
    from concurrent.futures import Future, ThreadPoolExecutor
    from typing import Any

    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from sms_pipeline import wiring
    from sms_pipeline.observability import logger, metrics, tracer
    from sms_pipeline.sending import Batch, Incoming, Result

    sender = wiring.sender()
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    pool = ThreadPoolExecutor(max_workers=wiring.settings().send_concurrency, thread_name_prefix="send")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = sender.batch(context.get_remaining_time_in_millis() / 1000)
    # Keyed by the record's own dict, which the processor hands back wrapped: two deliveries of one
    # message in a batch stay two records.
    running: dict[int, Future[Result]] = {
        id(raw): pool.submit(_handle, batch, SQSRecord(raw)) for raw in event.get("Records") or []
    }

    def collect(record: SQSRecord) -> str:
        return str(running[id(record.raw_event)].result())

    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=collect, processor=processor, context=context
    )


def _handle(batch: Batch, record: SQSRecord) -> Result:
    """In a thread of the pool, so that whatever a record raises fails that record alone."""
    incoming = Incoming(
        message_id=record.message_id,
        body=record.body,
        sent_at=int(record.attributes.sent_timestamp) / 1000,
    )
    return batch.handle(incoming)
