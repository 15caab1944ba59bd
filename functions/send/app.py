"""Send function: SQS batch in, partial batch response out. Wiring only; the logic is sending.py.

The batch's records run concurrently (a batch of ten costs about one provider round trip, not
ten), and a record the use case fails comes back after the retry delay it asked for: both are the
batch processor's (sms_pipeline/batch_processor.py), so the handler is Powertools' plain
`process_partial_response`. After the batch, the first status checks' timers of the SMS it sent
are started (timers.py).
"""

from __future__ import annotations

from sms_pipeline.init_phase import init_phase

with init_phase():  # imports, settings checked once, clients: everything up to the handler
    from typing import TYPE_CHECKING, Any

    from aws_lambda_powertools.utilities.batch import process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from sms_pipeline import wiring
    from sms_pipeline.observability import logger, metrics, tracer
    from sms_pipeline.scheduling import REQUEST_ID_ATTRIBUTE
    from sms_pipeline.sending import Batch, Incoming, Result

    if TYPE_CHECKING:  # an annotation only: Powertools' own modules import it the same way
        from aws_lambda_powertools.utilities.typing import LambdaContext

    sender = wiring.sender()
    processor = wiring.send_processor()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = sender.batch(context.get_remaining_time_in_millis() / 1000)

    def record_handler(record: SQSRecord) -> str:
        return str(_handle(batch, record))

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    batch.start_timers()  # the first checks of the SMS it sent, in one call per ten
    return response  # type: ignore[return-value]


def _handle(batch: Batch, record: SQSRecord) -> Result:
    attributes = record.attributes
    put_back = record.message_attributes.get(REQUEST_ID_ATTRIBUTE)  # a scheduled request's copy (§11)
    incoming = Incoming(
        message_id=record.message_id,
        body=record.body,
        sent_at=int(attributes.sent_timestamp) / 1000,
        receive_count=int(attributes.approximate_receive_count),
        request_id=put_back.get("stringValue") if put_back is not None else None,
    )
    return batch.handle(incoming)
