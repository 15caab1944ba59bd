"""Fault injection inside a function's worker process, for the soak (never deployed).

Installed from the SMS_LOCAL_CHAOS environment variable (JSON) before the handler is imported, as
botocore event hooks on the default session, which is where the functions' clients come from:

- `throttle`: {"dynamodb": 0.05} answers that share of DynamoDB calls with a ThrottlingException
  at the HTTP level, so botocore's own retry logic sees it as it would see AWS's;
- `kill`: {"dynamodb.UpdateItem": 0.01} ends the process (as a crashed or timed-out Lambda) just
  before that share of such calls: in the send function that is between the POST and the record
  of its result, in the status function before a check's transition; before a
  "dynamodb.BatchWriteItem", between the status function's publish and its record;
- `sns_outage`: [from, to] answers every SNS call in that window with a 503;
- `kill_pause`: [from, to]: no process is killed in that window.

The windows are seconds after the start, which the soak writes (epoch seconds) into the file
`start_path` once the pipeline is up; until then no window is open.

Each injection is appended to `counts_path` (one line per fault kind) so the soak can report them.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

ENV = "SMS_LOCAL_CHAOS"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _response(url: str, status: int, body: dict[str, Any], target: str) -> AWSResponse:
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "chaos"}
    if target == "sns":  # SNS speaks XML; botocore reads the code from the status for 5xx
        headers = {"Content-Type": "text/xml"}
        text = (
            "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>"
            "<Message>chaos: topic unavailable</Message></Error><RequestId>chaos</RequestId></ErrorResponse>"
        )
        return AWSResponse(url, status, headers, _Raw(text.encode()))  # type: ignore[arg-type]
    return AWSResponse(url, status, headers, _Raw(json.dumps(body).encode()))  # type: ignore[arg-type]


def install_from_env() -> None:
    raw = os.environ.get(ENV)
    if not raw:
        return
    config = json.loads(raw)
    rng = random.Random(config.get("seed", 0) + os.getpid())
    counts_path = Path(config["counts_path"])
    events = boto3._get_default_session().events  # the session boto3.client() uses

    def note(kind: str) -> None:
        with counts_path.open("a", encoding="utf-8") as counts:
            counts.write(kind + "\n")

    throttle = config.get("throttle", {}).get("dynamodb", 0.0)
    kills: dict[str, float] = config.get("kill", {})
    start_path = Path(config["start_path"]) if "start_path" in config else None
    started: list[float] = []

    def within(window: list[float] | None) -> bool:
        if not window or start_path is None:
            return False
        if not started:
            try:
                started.append(float(start_path.read_text(encoding="utf-8")))
            except FileNotFoundError:
                return False  # the pipeline is still starting
        return window[0] <= time.time() - started[0] < window[1]

    def before_send(request: Any, **kwargs: Any) -> AWSResponse | None:
        event_name = kwargs.get("event_name", "")
        service = event_name.split(".")[1] if event_name.count(".") >= 1 else ""
        if service == "dynamodb" and throttle and rng.random() < throttle:
            note("dynamodb_throttle")
            body = {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "chaos"}
            return _response(request.url, 400, body, "dynamodb")
        if service == "sns" and within(config.get("sns_outage")):
            note("sns_unavailable")
            return _response(request.url, 503, {}, "sns")
        return None

    def before_call(model: Any, **_: Any) -> None:
        name = f"{model.service_model.endpoint_prefix}.{model.name}"
        if within(config.get("kill_pause")):
            return
        if kills.get(name) and rng.random() < kills[name]:
            note(f"kill_before_{name}")
            os._exit(137)

    events.register("before-send", before_send)  # type: ignore[arg-type]  # a response short-circuits
    events.register("before-call", before_call)
