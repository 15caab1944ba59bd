"""The emulator's transactions (local/moto_server.py keeps only the touched items for a rollback):
what moto decides, writes and rolls back must stay what it was, since the rate windows' exactness
is tested through it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def table(moto_endpoint: str) -> Iterator[tuple[Any, str]]:
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint)
    name = "transactions-test"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for key in ("a", "b", "c"):
        client.put_item(TableName=name, Item={"id": {"S": key}, "n": {"N": "1"}, "tags": {"L": [{"S": key}]}})
    yield client, name
    client.delete_table(TableName=name)


def items(client: Any, name: str) -> dict[str, dict[str, Any]]:
    return {item["id"]["S"]: item for item in client.scan(TableName=name, ConsistentRead=True)["Items"]}


def test_a_cancelled_transaction_changes_nothing_and_names_the_failed_condition(table: tuple[Any, str]) -> None:
    client, name = table
    before = items(client, name)
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {"id": {"S": "a"}, "n": {"N": "9"}}}},
                {"Put": {"TableName": name, "Item": {"id": {"S": "new"}, "n": {"N": "9"}}}},
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"id": {"S": "b"}},
                        "UpdateExpression": "SET n = n + :one, tags = list_append(tags, :t)",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":t": {"L": [{"S": "x"}]}},
                    }
                },
                {
                    "Put": {
                        "TableName": name,
                        "Item": {"id": {"S": "c"}, "n": {"N": "9"}},
                        "ConditionExpression": "n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    reasons = cancelled.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert reasons[3]["Item"] == before["c"]
    assert items(client, name) == before  # the put, the new item and the in-place update rolled back


def test_a_transaction_that_passes_writes_every_item(table: tuple[Any, str]) -> None:
    client, name = table
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"id": {"S": "a"}, "n": {"N": "9"}}}},
            {
                "Update": {
                    "TableName": name,
                    "Key": {"id": {"S": "b"}},
                    "UpdateExpression": "SET n = n + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    after = items(client, name)
    assert (after["a"]["n"], after["b"]["n"], after["c"]["n"]) == ({"N": "9"}, {"N": "2"}, {"N": "1"})
