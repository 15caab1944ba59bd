"""Status function: on a schedule, check due jobs and publish final outcomes (tracking.py).

The schedule's event is read here (schedule.py: which shards of the due index this run takes);
the use case gets the time left and the shards.
"""

from __future__ import annotations

from sms_pipeline.init_phase import init_phase

with init_phase():  # imports, settings checked once, clients: everything up to the handler
    from dataclasses import asdict
    from typing import Any

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from sms_pipeline import schedule, wiring
    from sms_pipeline.observability import logger, metrics, tracer

    tracker = wiring.tracker()
    shard_count = wiring.settings().due_index_shards


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    shards = schedule.shards(event, shard_count)
    summary = tracker.run(context.get_remaining_time_in_millis() / 1000, shards=shards)
    return asdict(summary)
