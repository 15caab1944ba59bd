"""The DynamoDB side of the protection rules (protection.py): the opt-out list and the counters.

Counters live in a table of their own (the template's CountersTable), apart from the jobs table:
their keys hold full numbers, which the jobs table never does, and whatever reads the jobs
(`sms stats`, the bench) reads only jobs. Two kinds of item, both deleted by DynamoDB's TTL
(`expiresAt`) once they are of no use, so the table cannot grow without bound:

- `day#2026-12-03`: the day's SMS parts (`parts`), since 00:00 UTC. One UpdateItem adds parts
  only if the sum stays within the limit: DynamoDB applies conditional writes to one item one at a
  time, so concurrent sends never pass it. Kept a day past its end.
- `rate#+491701234567`: a number's rate window, the SMS the rate counted, newest first, at most
  the limit, their times (ms) and request ids in one string (`w`), and `v`, a version that every
  write raises. A window is read with the opt-out list (one BatchGetItem for a batch's numbers) and
  written whole (a PutItem) on condition that `v` is still what was read, so that a sliding
  window stays exact under concurrency at the cost of one write per SMS, and an item of a fixed
  size. A batch's windows go in one TransactWriteItems: one call for the batch, all or none, which
  costs the function about one call's CPU instead of one per SMS. A write refused because the
  window changed returns the window now stored (ALL_OLD), and the policy decides again. Expires one
  window after its last SMS.

Why a PutItem of the whole window and not an UpdateItem that shifts the slots in place (which
needs no read): the read is free, it rides on the opt-out read the batch makes anyway, and only a
put can go into a transaction at the cost of a put; the update expression of 2 × limit actions
costs moto about ten times a put (docs/performance.md), and in DynamoDB it needs a write per SMS.

The opt-out list is the table the contract names (output OptOutTableName), keyed by `number` as
the pipeline sends it, `00` written `+` (protection.number_key). The send function reads it with
strongly consistent reads, so an opt-out counts from the moment `sms optout add` returns.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sms_pipeline.protection import Looked, Window

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# What DynamoDB leaves unprocessed (throttling) is asked again this many times, after 50, 100, 200 ms.
UNPROCESSED_RETRIES = 3
RATE_PREFIX = "rate#"


def _conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def window_item(number: str, window: Window, *, expires_at: int) -> dict[str, Any]:
    """The window as written, its version raised by one: its SMS in one string attribute, `w`,
    newest first, "<time ms> <request id>" each, space-separated (an id holds no space). One value
    instead of two per SMS: the function's CPU to write and read a window is per value."""
    return {
        "id": {"S": RATE_PREFIX + number},
        "v": {"N": str(window.written_version)},
        "w": {"S": " ".join(f"{at} {request_id}" for at, request_id in zip(window.times, window.ids, strict=True))},
        "expiresAt": {"N": str(expires_at)},
    }


def window_of(item: dict[str, Any] | None) -> Window:
    """A stored window. An item written before windows had a version holds its SMS in slots
    (`t0…`, `i0…`, an empty slot written as time 0) and reads as version 0."""
    if not item:
        return Window()
    if "w" in item:
        fields = item["w"]["S"].split()
        return Window(tuple(int(at) for at in fields[0::2]), tuple(fields[1::2]), int(item["v"]["N"]))
    times: list[int] = []
    ids: list[str] = []
    while f"t{len(times)}" in item and f"i{len(times)}" in item:
        at, request_id = int(item[f"t{len(times)}"]["N"]), item[f"i{len(times)}"]["S"]
        if not at and not request_id:
            break
        times.append(at)
        ids.append(request_id)
    return Window(tuple(times), tuple(ids), 0)


def _unchanged(window: Window) -> tuple[str, dict[str, Any]]:
    """The condition that the stored window is still the one read: absent, or at its version (an
    unversioned item by its newest id)."""
    if window.version is None:
        return "attribute_not_exists(id)", {}
    if window.version:
        return "v = :v", {":v": {"N": str(window.version)}}
    if not window.ids:
        return "attribute_not_exists(v) AND attribute_not_exists(i0)", {}
    return "attribute_not_exists(v) AND i0 = :i0", {":i0": {"S": window.ids[0]}}


class DynamoRules:
    """The send function's side of the rules: the round's read, the day's parts, the windows."""

    def __init__(self, client: DynamoDBClient, *, opt_out_table: str, counters_table: str) -> None:
        self._client = client
        self._opt_outs = opt_out_table
        self._counters = counters_table

    def look_up(self, numbers: Collection[str], *, windows: bool) -> Looked:
        """One strongly consistent BatchGetItem for the numbers' opt-out entries and, with
        `windows`, their rate windows; again for the keys DynamoDB left unprocessed (throttling),
        after 50, 100, 200 ms."""
        request: dict[str, Any] = {
            self._opt_outs: {
                "Keys": [{"number": {"S": number}} for number in sorted(numbers)],
                "ConsistentRead": True,
                "ProjectionExpression": "#n",
                "ExpressionAttributeNames": {"#n": "number"},
            }
        }
        if windows:
            request[self._counters] = {
                "Keys": [{"id": {"S": RATE_PREFIX + number}} for number in sorted(numbers)],
                "ConsistentRead": True,
            }
        opted_out: set[str] = set()
        found: dict[str, Window] = {}
        for attempt in range(UNPROCESSED_RETRIES + 1):
            if attempt:
                time.sleep(0.025 * 2**attempt)
            response: dict[str, Any] = dict(self._client.batch_get_item(RequestItems=request))
            answered = response.get("Responses", {})
            opted_out.update(item["number"]["S"] for item in answered.get(self._opt_outs, []))
            for item in answered.get(self._counters, []):
                found[item["id"]["S"].removeprefix(RATE_PREFIX)] = window_of(item)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return Looked(frozenset(opted_out), found)
        left = sum(len(table["Keys"]) for table in request.values())
        raise RuntimeError(f"the opt-out list and the rate windows did not answer for {left} key(s); retrying")

    def take_parts(self, day: str, parts: int, *, limit: int, expires_at: int) -> int | None:
        if parts > limit:
            return None
        try:
            response = self._client.update_item(
                TableName=self._counters,
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
                TableName=self._counters,
                Key={"id": {"S": f"day#{day}"}},
                UpdateExpression="ADD parts :minus",
                ConditionExpression="attribute_exists(parts)",  # never makes a day of its own
                ExpressionAttributeValues={":minus": {"N": str(-parts)}},
            )
        except ClientError as error:
            if not _conditional_failure(error):
                raise

    def write_windows(self, writes: Sequence[tuple[str, Window]], *, expires_at: int) -> dict[int, Window]:
        puts = [self._put(number, window, expires_at) for number, window in writes]
        if len(puts) == 1:  # a put alone costs half a transaction's write
            try:
                self._client.put_item(**puts[0])
            except ClientError as error:
                if not _conditional_failure(error):
                    raise
                return {0: window_of(error.response.get("Item"))}  # type: ignore[arg-type]
            return {}
        try:
            items: Any = [{"Put": put} for put in puts]
            self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons: Any = error.response.get("CancellationReasons", [])
            return self._changed(writes, reasons)
        return {}

    def _put(self, number: str, window: Window, expires_at: int) -> dict[str, Any]:
        condition, values = _unchanged(window)
        put: dict[str, Any] = {
            "TableName": self._counters,
            "Item": window_item(number, window, expires_at=expires_at),
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            put["ExpressionAttributeValues"] = values
        return put

    def _changed(self, writes: Sequence[tuple[str, Window]], reasons: list[dict[str, Any]]) -> dict[int, Window]:
        """The windows now stored for the writes a cancelled transaction found changed: returned
        with the reason, or read again where another transaction held the item (a conflict)."""
        changed: dict[int, Window] = {}
        for index, reason in enumerate(reasons):
            code = reason.get("Code")
            if code == "ConditionalCheckFailed":
                changed[index] = window_of(reason.get("Item"))
            elif code == "TransactionConflict":
                number = writes[index][0]
                changed[index] = self.look_up([number], windows=True).windows.get(number, Window())
            elif code not in (None, "None"):
                raise RuntimeError(f"the rate windows' transaction was cancelled: {code}")
        if not changed:
            raise RuntimeError("the rate windows' transaction was cancelled with no reason given")
        return changed


class DynamoOptOuts:
    """The opt-out list as `sms optout` manages it (the send function reads it with DynamoRules.look_up)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

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
