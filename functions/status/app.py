"""Status function: check due jobs and publish final outcomes (tracking.py), on two events.

- The schedule's event (schedule.py: which shards of the due index this run takes): the safety
  net, a run over the due jobs that have no check timer on its way.
- A batch from the check queue (check_queue.py): the timers of jobs due now, checked by the same
  Run (timed_checks.py); a timer whose check failed on a storage error fails its record in the
  partial batch response (Powertools), so that it comes back.

Which of the two it is, is read here, at the edge; the use case gets the time left and the shards
or the timers.
"""

from __future__ import annotations

from sms_pipeline.init_phase import init_phase

with init_phase():  # imports, settings checked once, clients: everything up to the handler
    from dataclasses import asdict
    from typing import TYPE_CHECKING, Any

    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from sms_pipeline import check_queue, schedule, wiring
    from sms_pipeline.observability import logger, metrics, tracer
    from sms_pipeline.timed_checks import check_timers
    from sms_pipeline.timers import Timer

    if TYPE_CHECKING:  # an annotation only: Powertools' own modules import it the same way
        from aws_lambda_powertools.utilities.typing import LambdaContext

    tracker = wiring.tracker()
    shard_count = wiring.settings().due_index_shards
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class CheckFailed(Exception):
    """The job's check failed on a storage error: its timer comes back."""


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if check_queue.is_batch(event):
        return _timers(event, context)
    shards = schedule.shards(event, shard_count)
    summary = tracker.run(context.get_remaining_time_in_millis() / 1000, shards=shards)
    return asdict(summary)


def _timers(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    timers: dict[str, Timer] = {}
    for record in event["Records"]:
        try:
            timers[record["messageId"]] = check_queue.timer(record.get("body", ""))
        except check_queue.NotATimer as error:
            logger.error("not a check timer; it goes to the check queue's DLQ", extra={"error": str(error)})
    run = check_timers(tracker, list(timers.values()), context.get_remaining_time_in_millis() / 1000)

    def record_handler(record: SQSRecord) -> None:
        timer = timers.get(record.message_id)
        if timer is None:
            raise check_queue.NotATimer("not a check timer")
        if timer.request_id in run.failed:
            raise CheckFailed(timer.request_id)

    return process_partial_response(  # type: ignore[return-value]
        event=event, record_handler=record_handler, processor=processor, context=context
    )
