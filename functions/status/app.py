"""Status function: on a schedule, check due jobs and publish final outcomes (tracking.py)."""

from __future__ import annotations

from sms_pipeline.init_phase import init_phase

with init_phase():  # imports, settings checked once, clients: everything up to the handler
    from typing import Any

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from sms_pipeline import wiring
    from sms_pipeline.observability import logger, metrics, tracer

    tracker = wiring.tracker()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = tracker.run_scheduled(event, context.get_remaining_time_in_millis() / 1000)
    return summary.__dict__
