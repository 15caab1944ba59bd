"""Fallback events function: the fallback provider's delivery events (SQS) in, outcomes out.

Wiring only; the use case is delivery.py, the event's parse and table aws_sms/events.py. A record
whose job is not recorded yet fails in the partial batch response and comes back; an event that
cannot be read is logged and acknowledged (it would fail the same way every time).
"""

from __future__ import annotations

from sms_pipeline.init_phase import init_phase

with init_phase():  # imports, settings checked once, clients: everything up to the handler
    from typing import TYPE_CHECKING, Any

    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from sms_pipeline import wiring
    from sms_pipeline.aws_sms import events
    from sms_pipeline.observability import count, logger, metrics, tracer

    if TYPE_CHECKING:  # an annotation only: Powertools' own modules import it the same way
        from aws_lambda_powertools.utilities.typing import LambdaContext

    outcomes = wiring.delivery_outcomes()
    processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    try:
        event = events.parse(record.body)
    except events.MalformedEvent as malformed:
        logger.error(
            "unreadable delivery event; acknowledged", extra={"message_id": record.message_id, "error": str(malformed)}
        )
        count("MalformedDeliveryEvents")
        return "malformed"
    handled = outcomes.handle(
        request_id=event.request_id,
        message_id=event.message_id,
        verdict=events.verdict(event),
        status=event.provider_status,
    )
    return str(handled)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=record_handler, processor=processor, context=context
    )
