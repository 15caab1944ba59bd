"""enqueue → POST /sms: what a user of one-time codes waits before the provider has the SMS.

Measured through the local event source (local/event_source.py) as the template configures the
send function's SQS event (batch size, `SendBatchingWindowSeconds`), with the real send handler,
moto and the Retarus simulator in processes of their own (bench/harness.py). Requests are enqueued
one at a time at a steady pace, as one-time codes come; each one's time runs from just before its
SendMessage to the simulator's answer to its POST /sms, at provider latency 0 (so the answer is its
arrival). The producer paces itself with sleeps: the load, not a measurement.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.harness import Harness
from local.event_source import SqsEventSource
from local.lambda_runtime import Handler


@dataclass
class Latencies:
    seconds: list[float]  # one per request, in the order sent
    invocations: int  # send-function invocations that carried them


def enqueue_to_post(h: Harness, send: Handler, *, window: float | None, count: int, interval: float) -> Latencies:
    """One round: `count` requests enqueued `interval` apart, delivered by one poller of the event
    source with this batching window (None: the template's)."""
    mapping = h.stack.sqs_event("SendFunction")
    assert mapping is not None, "the template's SendFunction has no SQS event"
    window = mapping.maximum_batching_window if window is None else window
    producer, poller = h.admin.client("sqs"), h.admin.client("sqs")
    source = SqsEventSource(
        poller,
        mapping.queue_url,
        region=h.admin.region_name,
        batch_size=mapping.batch_size,
        wait_seconds=1,
        batching_window_seconds=window,
    )
    stop = threading.Event()
    invocations = [0]

    def invoke(event: dict[str, Any]) -> Any:
        invocations[0] += 1
        return send(event, h.context("SendFunction"))

    def poll() -> None:
        while not stop.is_set():
            source.poll_once(invoke)

    thread = threading.Thread(target=poll, name="event-source", daemon=True)
    started = time.time()
    thread.start()
    sent: dict[str, float] = {}
    try:
        for _ in range(count):
            request = h.request()
            sent[request["to"][-6:]] = time.time()
            producer.send_message(QueueUrl=mapping.queue_url, MessageBody=json.dumps(request))
            time.sleep(interval)
        arrived = _arrivals(h, sent, started, timeout=30 + window)
    finally:
        stop.set()
        thread.join(timeout=5)
    return Latencies([arrived[key] - at for key, at in sent.items()], invocations[0])


def _arrivals(h: Harness, sent: dict[str, float], since: float, *, timeout: float) -> dict[str, float]:
    """When each sent request's POST /sms arrived, by the last six digits of its number."""
    deadline = time.monotonic() + timeout
    while True:
        arrived = {dst[-6:]: at for dst, at in h.simulator.arrivals(since) if dst[-6:] in sent}
        if len(arrived) == len(sent):
            return arrived
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(arrived)} of {len(sent)} requests reached the provider")
        time.sleep(0.2)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
