"""The DynamoDB side of the protection rules (protection.py): the counters and the opt-out list.

Counters live in a table of their own (the template's CountersTable), apart from the jobs table:
their keys hold full numbers, which the jobs table never does, and whatever reads the jobs
(`sms stats`, the bench) reads only jobs. Two kinds of item, both deleted by DynamoDB's TTL
(`expiresAt`) once they are of no use, so the table cannot grow without bound:

- `day#2026-12-03`: the day's SMS parts (`parts`), since 00:00 UTC. One UpdateItem adds parts
  only if the sum stays within the limit: DynamoDB applies conditional writes to one item one at a
  time, so concurrent sends never pass it. The records of a batch that reach it together add
  their parts in one write; when that would pass the limit, each adds its own, so that exactly as
  many as fit are taken. Kept a day past its end.
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
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from botocore.exceptions import ClientError

from sms_pipeline.protection import window_cutoff_ms

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


# How long the first question of a round waits for the batch's other records to join it, and the
# most one round takes (BatchGetItem's limit).
GATHER_SECONDS = 0.003
BATCH_GET_LIMIT = 100
T = TypeVar("T")
R = TypeVar("R")
_DayQuestion = tuple[str, int, int, int]  # day, parts, limit, expiresAt


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
        self._days = Gathered(self._take_together, gather_seconds=GATHER_SECONDS, limit=BATCH_GET_LIMIT)

    def take_parts(self, day: str, parts: int, *, limit: int, expires_at: int) -> int | None:
        return self._days.ask((day, parts, limit, expires_at))

    def _take_together(self, questions: list[_DayQuestion]) -> list[int | None]:
        """A batch's parts in one conditional write when their sum fits the day; when it would
        pass the limit, each request's on its own (as many as fit, exactly)."""
        answers: dict[int, int | None] = {}
        days: dict[tuple[str, int, int], list[int]] = {}
        for index, (day, _, limit, expires_at) in enumerate(questions):
            days.setdefault((day, limit, expires_at), []).append(index)
        for (day, limit, expires_at), indexes in days.items():
            parts = [questions[index][1] for index in indexes]
            together = self._take_parts(day, sum(parts), limit=limit, expires_at=expires_at)
            for index, own in zip(indexes, parts, strict=True):
                if together is not None or len(parts) == 1:
                    answers[index] = together
                else:
                    answers[index] = self._take_parts(day, own, limit=limit, expires_at=expires_at)
        return [answers[index] for index in range(len(questions))]

    def _take_parts(self, day: str, parts: int, *, limit: int, expires_at: int) -> int | None:
        if parts > limit:
            return None
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


UNPROCESSED_RETRIES = 3


class _Round(Generic[T, R]):
    def __init__(self) -> None:
        self.items: list[T] = []
        self.answers: list[R] = []
        self.error: BaseException | None = None
        self.done = threading.Event()


class Gathered(Generic[T, R]):
    """Questions asked at about the same moment on several threads (a batch's records), answered
    by one call of `resolve` (the questions → their answers, in order). The first question of a
    round waits `gather_seconds` for others, then resolves them all; a full round starts the next."""

    def __init__(self, resolve: Callable[[list[T]], list[R]], *, gather_seconds: float, limit: int) -> None:
        self._resolve = resolve
        self._gather = gather_seconds
        self._limit = limit
        self._lock = threading.Lock()
        self._open: _Round[T, R] | None = None

    def ask(self, item: T) -> R:
        with self._lock:
            current = self._open
            leader = current is None
            if current is None:
                current = self._open = _Round()
            index = len(current.items)
            current.items.append(item)
            if len(current.items) >= self._limit:
                self._open = None  # full: the next question opens a round of its own
        if leader:
            time.sleep(self._gather)
            with self._lock:
                if self._open is current:
                    self._open = None
            try:
                current.answers = self._resolve(list(current.items))
            except BaseException as error:  # every question of the round fails with it
                current.error = error
            finally:
                current.done.set()
        else:
            current.done.wait()
        if current.error is not None:
            raise current.error
        return current.answers[index]


class DynamoOptOuts:
    """The opt-out list: the send function's look-up, and what `sms optout` does."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name
        self._gathered = Gathered(self._answers, gather_seconds=GATHER_SECONDS, limit=BATCH_GET_LIMIT)

    def contains(self, number: str) -> bool:
        return self._gathered.ask(number)

    def _answers(self, numbers: list[str]) -> list[bool]:
        found = self._found(set(numbers))
        return [number in found for number in numbers]

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
