"""The DynamoDB side of the protection rules (protection.py): the counters and the opt-out list.

Counters live in a table of their own (the template's CountersTable), apart from the jobs table:
their keys hold full numbers, which the jobs table never does, and whatever reads the jobs
(`sms stats`, the bench) reads only jobs. Two kinds of item, both deleted by DynamoDB's TTL
(`expiresAt`) once they are of no use, so the table cannot grow without bound:

- `day#2026-12-03`: the day's SMS parts (`parts`), since 00:00 UTC. One UpdateItem adds a
  request's parts only if the sum stays within the limit: DynamoDB applies conditional writes to
  one item one at a time, so concurrent sends never pass it. Kept a day past its end.
- `rate#+491701234567`: the last SMS to one number, one slot per SMS the window allows, newest
  first: `t0…t{n-1}` their times (ms), `i0…i{n-1}` their request ids. One UpdateItem shifts every
  slot one down and writes the new SMS into slot 0, on condition that the last slot (the n-th most
  recent SMS) is empty or out of the window, and that the request id is in no slot. That is a
  sliding window, exact under concurrency, in one write and an item of a fixed size. A write
  refused because the id is there already is a retry or a duplicate of a counted request: it
  passes and takes nothing more. Expires one window after its last SMS.

The opt-out list is the table the contract names (output OptOutTableName), keyed by `number` as
the pipeline sends it, `00` written `+` (protection.number_key). The send function reads it with
strongly consistent reads, so an opt-out counts from the moment `sms optout add` returns. The
records of a batch are checked on threads of their own at about the same moment; their look-ups
are gathered for a few milliseconds into one BatchGetItem, which costs the function about one
call's CPU for the batch instead of one per SMS (docs/performance.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sms_pipeline.protection import window_cutoff_ms

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


def _conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@cache
def _rate_expressions(limit: int) -> tuple[str, str]:
    """The rate's update and condition for `limit` slots; built once per limit."""
    shifts = [
        f"t{k} = if_not_exists(t{k - 1}, :z), i{k} = if_not_exists(i{k - 1}, :e)" for k in range(limit - 1, 0, -1)
    ]
    update = "SET " + ", ".join([*shifts, "t0 = :now", "i0 = :id", "expiresAt = :exp"])
    last = f"t{limit - 1}"
    ids = " OR ".join(f"i{k} = :id" for k in range(limit))
    return update, f"(attribute_not_exists({last}) OR {last} <= :cutoff) AND NOT ({ids})"


class DynamoCounters:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def take_parts(self, day: str, parts: int, *, limit: int, expires_at: int) -> int | None:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": f"day#{day}"}},
                UpdateExpression="ADD parts :parts SET expiresAt = :exp",
                ConditionExpression="attribute_not_exists(parts) OR parts <= :room",
                ExpressionAttributeValues={
                    ":parts": {"N": str(parts)},
                    ":room": {"N": str(limit - parts)},
                    ":exp": {"N": str(expires_at)},
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as error:
            if _conditional_failure(error):
                return None
            raise
        return int(response["Attributes"]["parts"]["N"])

    def give_back_parts(self, day: str, parts: int) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": f"day#{day}"}},
                UpdateExpression="ADD parts :minus",
                ConditionExpression="attribute_exists(parts)",  # never makes a day of its own
                ExpressionAttributeValues={":minus": {"N": str(-parts)}},
            )
        except ClientError as error:
            if not _conditional_failure(error):
                raise

    def take_rate(self, number: str, request_id: str, *, limit: int, now: float, window_seconds: int) -> bool:
        update, condition = _rate_expressions(limit)
        values: dict[str, Any] = {
            ":now": {"N": str(math.floor(now * 1000))},
            ":id": {"S": request_id},
            ":cutoff": {"N": str(window_cutoff_ms(now, window_seconds))},
            ":exp": {"N": str(math.ceil(now + window_seconds))},
        }
        if limit > 1:  # what a slot shifted from an empty one gets
            values.update({":z": {"N": "0"}, ":e": {"S": ""}})
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"id": {"S": f"rate#{number}"}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _conditional_failure(error):
                raise
            old: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
            return _counted(old, request_id, limit)
        return True

    def rate_refuses(self, number: str, request_id: str, *, limit: int, now: float, window_seconds: int) -> bool:
        found = self._client.get_item(TableName=self._table, Key={"id": {"S": f"rate#{number}"}}, ConsistentRead=True)
        item: dict[str, Any] = dict(found.get("Item") or {})
        if _counted(item, request_id, limit):
            return False
        last = item.get(f"t{limit - 1}")
        return last is not None and int(last["N"]) > window_cutoff_ms(now, window_seconds)


def _counted(item: dict[str, Any], request_id: str, limit: int) -> bool:
    return any(item.get(f"i{k}", {}).get("S") == request_id for k in range(limit))


# How long the first look-up of a round waits for the batch's other records to join it, and the
# most keys one BatchGetItem takes.
GATHER_SECONDS = 0.003
BATCH_GET_LIMIT = 100
UNPROCESSED_RETRIES = 3


class _Round:
    def __init__(self) -> None:
        self.numbers: set[str] = set()
        self.found: set[str] = set()
        self.error: BaseException | None = None
        self.done = threading.Event()


class Gathered:
    """Look-ups made at about the same moment on several threads, answered by one call of `fetch`
    (the numbers asked for → those found). The first look-up of a round waits `gather_seconds` for
    others, then fetches for all; a round that is full starts the next."""

    def __init__(self, fetch: Callable[[set[str]], set[str]], *, gather_seconds: float, limit: int) -> None:
        self._fetch = fetch
        self._gather = gather_seconds
        self._limit = limit
        self._lock = threading.Lock()
        self._open: _Round | None = None

    def contains(self, key: str) -> bool:
        with self._lock:
            current = self._open
            leader = current is None
            if current is None:
                current = self._open = _Round()
            current.numbers.add(key)
            if len(current.numbers) >= self._limit:
                self._open = None  # full: the next look-up opens a round of its own
        if leader:
            time.sleep(self._gather)
            with self._lock:
                if self._open is current:
                    self._open = None
            try:
                current.found = self._fetch(set(current.numbers))
            except BaseException as error:  # every look-up of the round fails with it
                current.error = error
            finally:
                current.done.set()
        else:
            current.done.wait()
        if current.error is not None:
            raise current.error
        return key in current.found


class DynamoOptOuts:
    """The opt-out list: the send function's look-up, and what `sms optout` does."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name
        self._gathered = Gathered(self._found, gather_seconds=GATHER_SECONDS, limit=BATCH_GET_LIMIT)

    def contains(self, number: str) -> bool:
        return self._gathered.contains(number)

    def _found(self, numbers: set[str]) -> set[str]:
        """The numbers of these that are on the list: one strongly consistent BatchGetItem, and
        again for the keys DynamoDB left unprocessed (throttling), after 50, 100, 200 ms."""
        found: set[str] = set()
        keys: list[Any] = [{"number": {"S": number}} for number in sorted(numbers)]
        for attempt in range(UNPROCESSED_RETRIES + 1):
            if attempt:
                time.sleep(0.025 * 2**attempt)
            response = self._client.batch_get_item(
                RequestItems={
                    self._table: {
                        "Keys": keys,
                        "ConsistentRead": True,
                        "ProjectionExpression": "#n",
                        "ExpressionAttributeNames": {"#n": "number"},
                    }
                }
            )
            answered: dict[str, Any] = dict(response)
            found.update(item["number"]["S"] for item in answered.get("Responses", {}).get(self._table, []))
            keys = list(answered.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", []))
            if not keys:
                return found
        raise RuntimeError(f"the opt-out list did not answer for {len(keys)} number(s); retrying")

    def add(self, number: str, *, now: float | None = None) -> bool:
        """True when added, False when it was on the list already."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"number": {"S": number}, "addedAt": {"N": str(round(now or time.time(), 3))}},
                ConditionExpression="attribute_not_exists(#n)",
                ExpressionAttributeNames={"#n": "number"},
            )
        except ClientError as error:
            if _conditional_failure(error):
                return False
            raise
        return True

    def remove(self, number: str) -> bool:
        """True when removed, False when it was not on the list."""
        response = self._client.delete_item(
            TableName=self._table, Key={"number": {"S": number}}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    def numbers(self) -> Iterator[tuple[str, float | None]]:
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table, ConsistentRead=True):
            for item in page.get("Items", []):
                added = item.get("addedAt", {}).get("N")
                yield item["number"]["S"], float(added) if added is not None else None
