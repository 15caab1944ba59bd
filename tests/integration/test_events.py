"""The sample events in events/ are realistic: they run through the real handlers as they are."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sms_pipeline.outcomes import Outcome, OutcomeEvent, iso
from support import Pipeline

EVENTS = Path(__file__).resolve().parents[2] / "events"


def _sent_now(event: dict[str, Any]) -> int:
    """The sample's records as if sent now, a tenth of a second apart as in the file: a request is
    valid for hours, and the sample's own date is long past that (contract §8). The first record's
    new SentTimestamp, in milliseconds."""
    records = event["Records"]
    shift = int(time.time() * 1000) - int(records[0]["attributes"]["SentTimestamp"])
    for record in records:
        record["attributes"]["SentTimestamp"] = str(int(record["attributes"]["SentTimestamp"]) + shift)
    return int(records[0]["attributes"]["SentTimestamp"])


def test_sample_sqs_event_runs_through_the_send_handler(pipeline: Pipeline) -> None:
    event = json.loads((EVENTS / "send-sqs.json").read_text())
    first = _sent_now(event)
    response = pipeline.handler("SendFunction")(event, pipeline.context("SendFunction"))
    assert response == {"batchItemFailures": []}
    assert len(pipeline.simulator.sms_posts()) == 2
    [rejected] = pipeline.outcomes()
    assert rejected["outcome"] == "REJECTED" and rejected["reason"].startswith("text:")
    assert rejected["id"] == event["Records"][2]["messageId"]
    assert rejected["requestedAt"] == iso((first + 200) / 1000)


def test_the_sample_sqs_event_as_it_stands_is_long_past_its_validity(pipeline: Pipeline) -> None:
    """Received today, the sample's requests (sent on its own date) are never sent: EXPIRED."""
    event = json.loads((EVENTS / "send-sqs.json").read_text())
    response = pipeline.handler("SendFunction")(event, pipeline.context("SendFunction"))
    assert response == {"batchItemFailures": []}
    assert pipeline.simulator.sms_posts() == []
    outcomes = sorted(event["outcome"] for event in pipeline.outcomes())
    assert outcomes == ["EXPIRED", "EXPIRED", "REJECTED"]


def test_sample_schedule_event_runs_through_the_status_handler(pipeline: Pipeline) -> None:
    event = json.loads((EVENTS / "status-schedule.json").read_text())
    summary = pipeline.handler("StatusFunction")(event, pipeline.context("StatusFunction"))
    assert summary["due"] == 0 and summary["circuit_open"] is False


def test_sample_fan_out_schedule_input_runs_through_the_status_handler(pipeline: Pipeline) -> None:
    """What a schedule with `Input: '{"shards": [0, 1]}'` delivers (docs/scaling.md, 1,000×)."""
    event = json.loads((EVENTS / "status-schedule-shards.json").read_text())
    summary = pipeline.handler("StatusFunction")(event, pipeline.context("StatusFunction"))
    assert summary["due"] == 0 and summary["circuit_open"] is False


def test_sample_outcome_event_has_the_fields_the_publisher_writes() -> None:
    sample = json.loads((EVENTS / "outcome-event.json").read_text())
    written = OutcomeEvent(request_id="x", outcome=Outcome.SENT, reason="r", masked_to=None).body()
    assert list(sample) == list(written)
    assert sample["outcome"] in {outcome.value for outcome in Outcome}
    blocked = json.loads((EVENTS / "outcome-event-blocked.json").read_text())
    assert list(blocked) == list(written) and blocked["outcome"] == Outcome.BLOCKED.value
    assert blocked["eventId"] == OutcomeEvent(blocked["id"], Outcome.BLOCKED, "", None).event_id


def test_a_record_that_cannot_be_read_fails_alone(pipeline: Pipeline) -> None:
    """Whatever one record raises, even before its request is parsed, is that record's failure:
    the batch's other records are still sent."""
    event = json.loads((EVENTS / "send-sqs.json").read_text())
    _sent_now(event)
    broken = event["Records"][0]
    del broken["attributes"]["SentTimestamp"]
    response = pipeline.handler("SendFunction")(event, pipeline.context("SendFunction"))
    assert response == {"batchItemFailures": [{"itemIdentifier": broken["messageId"]}]}
    assert len(pipeline.simulator.sms_posts()) == 1
