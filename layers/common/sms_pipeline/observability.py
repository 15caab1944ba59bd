"""Logger, Tracer and Metrics, created once per container and shared by every module.

Service name and metrics namespace come from POWERTOOLS_SERVICE_NAME and
POWERTOOLS_METRICS_NAMESPACE, which the template sets for both functions.
"""

from __future__ import annotations

import threading

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
# Only what the layer calls is traced: patching every library the X-Ray SDK knows costs cold start.
tracer = Tracer(patch_modules=["botocore", "requests"])
metrics = Metrics()

_metrics_lock = threading.Lock()


def count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    """Add a metric from any thread; a metric that cannot be recorded never fails the work it counts.

    Powertools' Metrics is not thread-safe (it flushes itself at 100 values), and the send and
    status functions record from worker threads: hence the lock.
    """
    try:
        with _metrics_lock:
            metrics.add_metric(name=name, unit=unit, value=value)
    except Exception as error:
        logger.warning("metric not recorded", extra={"metric": name, "error": str(error)})


__all__ = ["MetricUnit", "count", "logger", "metrics", "tracer"]
