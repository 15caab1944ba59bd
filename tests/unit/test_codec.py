"""The item codec: a record and its DynamoDB item, both ways, and the names the template declares.

The status run writes a published outcome's DONE record back whole, from the record it decoded
(one BatchWriteItem per ten outcomes, no condition): an item must come back exactly as it was read,
NULLs included, or the record would lose or gain attributes at its last write.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local.stack import load_template
from sms_pipeline.dynamodb import codec
from sms_pipeline.job import State

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

# What the send path leaves once a tracked outcome is decided: unknowns (no reference) are NULL.
TRACKED = {
    "id": "order-4711:otp",
    "to": "+4917*******78",
    "reference": None,
    "metadata": '{"order":4711,"note":"é"}',
    "requestedAt": Decimal("1800000000.123"),
    "expiresAt": Decimal("1800090000"),
    "contentHash": "3f9a",
    "encoding": "GSM-7",
    "segments": Decimal("1"),
    "smartEncoded": False,
    "state": "PUBLISHING",
    "attempts": Decimal("2"),
    "messageId": "m-2",
    "lastError": "provider answered 503",
    "jobId": "J.42",
    "submittedAt": Decimal("1800000001.5"),
    "checks": Decimal("3"),
    "dueShard": "2",
    "dueAt": Decimal("1800000090000"),
    "outcome": "DELIVERED",
    "reason": "Successful (with delivery notification).",
    "completedAt": Decimal("1800000030.001"),
    "providerStatus": {"processStatus": "DONE", "status": "SUC_FIN"},
}
# What a rejection on arrival writes: unknowns left out, never claimed, never sent.
REJECTED = {
    "id": "bad",
    "metadata": "{}",
    "requestedAt": Decimal("1800000000"),
    "expiresAt": Decimal("1800090000"),
    "contentHash": "77aa",
    "smartEncoded": False,
    "state": "PUBLISHING",
    "dueShard": "0",
    "dueAt": Decimal("1800000060000"),
    "outcome": "REJECTED",
    "reason": "text: must not be empty",
    "completedAt": Decimal("1800000000"),
}
# A send whose outcome the send itself decided (no job id): its provider status is NULL.
UNCONFIRMED = {
    **{key: value for key, value in TRACKED.items() if key not in ("jobId", "submittedAt", "checks")},
    "outcome": "UNKNOWN",
    "providerStatus": None,
}


def serialized(values: dict[str, Any]) -> dict[str, Any]:
    return codec.serialize(values)


@pytest.mark.parametrize("stored", [TRACKED, REJECTED, UNCONFIRMED], ids=["tracked", "rejected", "unconfirmed"])
def test_an_item_comes_back_from_its_record_exactly_as_it_was_read(stored: dict[str, Any]) -> None:
    job = codec.decode(serialized(stored))

    # The same attributes, NULLs included, and the same values (DynamoDB compares numbers as numbers).
    assert codec.item(job) == stored


def test_the_record_of_an_item_has_its_fields_typed() -> None:
    job = codec.job(TRACKED)

    assert job.state is State.PUBLISHING and job.due_at == 1800000090000 and job.due_shard == 2
    assert (job.attempts, job.checks, job.last_error, job.message_id) == (2, 3, "provider answered 503", "m-2")
    assert job.origin.metadata == {"order": 4711, "note": "é"} and job.origin.requested_at == 1800000000.123
    assert job.origin.reference is None and job.origin.segments == 1
    assert job.final is not None and job.final.provider_status is not None
    assert job.final.provider_status.as_event() == {"processStatus": "DONE", "status": "SUC_FIN"}


def test_the_attribute_and_index_names_are_the_templates() -> None:
    table = load_template(TEMPLATE)["Resources"]["JobsTable"]["Properties"]

    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == codec.DUE_INDEX
    assert [key["AttributeName"] for key in index["KeySchema"]] == [codec.DUE_SHARD, codec.DUE_AT]
    assert [key["AttributeName"] for key in table["KeySchema"]] == [codec.ID]
    assert table["TimeToLiveSpecification"]["AttributeName"] == codec.EXPIRES_AT
