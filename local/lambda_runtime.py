"""What Lambda gives a handler, reproduced for tests and the local pipeline.

The context object, the handler loaded from the template's CodeUri and Handler string with the
template's environment, and the SQS event source's event shape.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]
_counter = itertools.count()


@dataclass
class LambdaContext:
    """The attributes Powertools and our handlers read from Lambda's context object."""

    function_name: str
    timeout_seconds: float
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-central-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._started + self.timeout_seconds - time.monotonic()) * 1000))


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def load_handler(code_dir: Path, handler: str, env: Mapping[str, str]) -> Handler:
    """Import `handler` ("module.function") from `code_dir` as a fresh module, with `env` set.

    A fresh import is a cold start: module-level set-up (settings, clients) runs again with the
    environment given, and the shared layer's caches are cleared first.
    """
    os.environ.update(env)  # before the layer's first import, as in a Lambda container
    from sms_pipeline import wiring

    caches = (wiring.settings, wiring.credentials, wiring.sender, wiring.send_processor, wiring.tracker)
    for cached in (*caches, wiring.delivery_outcomes):
        cached.cache_clear()
    module_name, function_name = handler.rsplit(".", 1)
    unique = f"_lambda_{code_dir.name}_{module_name}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(unique, code_dir / f"{module_name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    function: Handler = getattr(module, function_name)
    return function


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source builds from received messages (ReceiveMessage output)."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
                    "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
                    "ApproximateFirstReceiveTimestamp": attributes.get(
                        "ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000))
                    ),
                },
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}
