"""What the pipeline refuses to send (contract §10), through the real send handler against moto and
the simulator, with the rules set as template parameters."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from sms_pipeline.protection import utc_day
from sms_pipeline.protection_store import DynamoOptOuts, window_item, window_of
from support import Pipeline, aws_hook

PREFIXES = {"AllowedDestinationPrefixes": "+49,+4179"}
RATE_3 = {"MaxPerNumberPerWindow": "3", "NumberWindowSeconds": "3600"}
DAY_5 = {"DailySegmentLimit": "5"}
TWO_PARTS = "x" * 200  # GSM-7, 2 segments


def parametrized(parameters: dict[str, str]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("template_parameters", [parameters], ids=[",".join(parameters)])


def counters_table(pipeline: Pipeline) -> str:
    return pipeline.stack.function_environment("SendFunction")["COUNTERS_TABLE_NAME"]


def day_parts(pipeline: Pipeline) -> int:
    found = pipeline.dynamodb.get_item(
        TableName=counters_table(pipeline), Key={"id": {"S": f"day#{utc_day(time.time())}"}}
    )
    return int(found["Item"]["parts"]["N"]) if "Item" in found else 0


def drain(pipeline: Pipeline, send: Any) -> None:
    while pipeline.deliver(send).received:
        pass


def outcomes_by_id(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    events = pipeline.outcomes()
    by_id = {event["id"]: event for event in events}
    assert len(by_id) == len(events), "one outcome per request"
    return by_id


def posted_numbers(pipeline: Pipeline) -> list[str]:
    return [post.params["dst"] for post in pipeline.simulator.sms_posts() if post.fault is None]


def assert_blocked(event: dict[str, Any], reason: str) -> None:
    assert event["outcome"] == "BLOCKED" and event["_attributes"]["outcome"] == "BLOCKED"
    assert event["reason"] == reason
    assert event["jobId"] is None and event["providerStatus"] is None and event["submittedAt"] is None
    assert (event["encoding"], event["segments"]) == ("GSM-7", 1)


# --- each rule blocks what it should and nothing else ----------------------------------------------


@parametrized(PREFIXES)
def test_destination_prefixes(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.enqueue(
        {"id": "germany", "to": "+49 170 1234567", "text": "x"},
        {"id": "germany-00", "to": "0049 170 1234568", "text": "x"},
        {"id": "swiss-mobile", "to": "+41 79 123 45 67", "text": "x"},
        {"id": "national", "to": "0170 1234569", "text": "x"},  # the account's own country
        {"id": "russia", "to": "+7 916 123 45 67", "text": "x"},
        {"id": "swiss-other", "to": "+41 76 123 45 67", "text": "x"},
        {"id": "austria-00", "to": "0043 660 1234567", "text": "x"},
    )
    drain(pipeline, send)

    assert sorted(posted_numbers(pipeline)) == ["+41791234567", "+491701234567", "00491701234568", "01701234569"]
    events = outcomes_by_id(pipeline)
    assert set(events) == {"russia", "swiss-other", "austria-00"}
    assert_blocked(events["russia"], "blocked: +7 is not an allowed destination prefix")
    assert_blocked(events["swiss-other"], "blocked: +4176 is not an allowed destination prefix")
    assert_blocked(events["austria-00"], "blocked: +43 is not an allowed destination prefix")
    assert events["russia"]["to"] == "+791******67"
    assert pipeline.item("russia")["state"] in ("PUBLISHING", "DONE")


def test_opted_out_numbers_are_blocked_written_either_way(pipeline: Pipeline) -> None:
    opt_outs = DynamoOptOuts(pipeline.dynamodb, pipeline.stack.output("OptOutTableName"))
    assert opt_outs.add("+491701234567")
    send = pipeline.handler("SendFunction")
    pipeline.enqueue(
        {"id": "opted-out", "to": "+49 170 1234567", "text": "x"},
        {"id": "opted-out-00", "to": "0049-170-1234567", "text": "x"},
        {"id": "other", "to": "+491701234568", "text": "x"},
    )
    drain(pipeline, send)

    assert posted_numbers(pipeline) == ["+491701234568"]
    events = outcomes_by_id(pipeline)
    assert set(events) == {"opted-out", "opted-out-00"}
    for event in events.values():
        assert_blocked(event, "blocked: opted out")


@parametrized(RATE_3)
def test_the_per_number_rate_blocks_the_fourth_within_the_window(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    for n in range(4):
        pipeline.enqueue({"id": f"otp-{n}", "to": "+491701234567", "text": "x"})
        pipeline.deliver(send)  # one after the other: the fourth is the one over the limit
    pipeline.enqueue({"id": "other-number", "to": "+491701234568", "text": "x"})
    pipeline.enqueue({"id": "otp-0", "to": "+491701234567", "text": "x"})  # a duplicate of a sent one
    drain(pipeline, send)

    assert posted_numbers(pipeline) == ["+491701234567"] * 3 + ["+491701234568"]
    events = outcomes_by_id(pipeline)
    assert set(events) == {"otp-3"}
    assert_blocked(events["otp-3"], "blocked: more than 3 SMS to this number within 3600 s")


@parametrized(RATE_3)
def test_the_window_slides(pipeline: Pipeline) -> None:
    """The rate counts the SMS within the window before now, not within a calendar hour."""
    counters = counters_table(pipeline)
    send = pipeline.handler("SendFunction")
    for n in range(3):
        pipeline.enqueue({"id": f"old-{n}", "to": "+491701234567", "text": "x"})
    drain(pipeline, send)
    # The oldest of the three moves out of the window (an hour and a second ago), the others stay.
    item = pipeline.dynamodb.get_item(TableName=counters, Key={"id": {"S": "rate#+491701234567"}})["Item"]
    window = window_of(item)
    assert window.ids == ("old-2", "old-1", "old-0")
    moved = replace(window, times=(*window.times[:2], window.times[2] - 3_601_000), version=(window.version or 0) - 1)
    pipeline.dynamodb.put_item(TableName=counters, Item=window_item("+491701234567", moved, expires_at=2**31))
    pipeline.enqueue({"id": "new-0", "to": "+491701234567", "text": "x"})
    pipeline.deliver(send)
    pipeline.enqueue({"id": "new-1", "to": "+491701234567", "text": "x"})
    pipeline.deliver(send)

    assert len(posted_numbers(pipeline)) == 4
    assert set(outcomes_by_id(pipeline)) == {"new-1"}


@parametrized(DAY_5)
def test_the_day_limit_blocks_a_request_whose_parts_would_pass_it(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    for request_id, text in (("two", TWO_PARTS), ("four", TWO_PARTS), ("six", TWO_PARTS), ("five", "x")):
        pipeline.enqueue({"id": request_id, "to": "+491701234567", "text": text})
        pipeline.deliver(send)

    assert len(posted_numbers(pipeline)) == 3
    events = outcomes_by_id(pipeline)
    assert set(events) == {"six"}
    assert events["six"]["reason"] == "blocked: the day's limit of 5 SMS parts is reached"
    assert events["six"]["segments"] == 2 and events["six"]["jobId"] is None
    assert day_parts(pipeline) == 5  # the blocked request counted for nothing


@parametrized({"MaxPerNumberPerWindow": "1", "DailySegmentLimit": "10"})
def test_a_request_the_rate_blocks_gives_its_parts_back(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    for n in range(2):
        pipeline.enqueue({"id": f"rate-{n}", "to": "+491701234567", "text": TWO_PARTS})
        pipeline.deliver(send)
    assert len(posted_numbers(pipeline)) == 1
    assert outcomes_by_id(pipeline)["rate-1"]["reason"] == "blocked: more than 1 SMS to this number within 3600 s"
    assert day_parts(pipeline) == 2


@parametrized({"MaxPerNumberPerWindow": "1", "DailySegmentLimit": "1"})
def test_a_request_both_refuse_is_told_the_rate_as_the_contract_orders_them(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.enqueue({"id": "first", "to": "+491701234567", "text": "x"})
    pipeline.deliver(send)
    pipeline.enqueue({"id": "second", "to": "+491701234567", "text": "x"})
    pipeline.enqueue({"id": "elsewhere", "to": "+491701234568", "text": "x"})
    drain(pipeline, send)

    events = outcomes_by_id(pipeline)
    assert events["second"]["reason"] == "blocked: more than 1 SMS to this number within 3600 s"
    assert events["elsewhere"]["reason"] == "blocked: the day's limit of 1 SMS parts is reached"
    assert day_parts(pipeline) == 1


# --- faults: retries, duplicates, unknown results, kills ------------------------------------------


@parametrized({"MaxPerNumberPerWindow": "1", "DailySegmentLimit": "10"})
def test_a_request_the_provider_did_not_take_is_counted_once_when_it_is_retried(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.simulator.inject("500", count=100, path="/sms")
    pipeline.enqueue({"id": "retried", "to": "+491701234567", "text": TWO_PARTS})
    assert pipeline.deliver(send).failed  # certainly not accepted: its parts are given back
    assert pipeline.item("retried")["state"] == "RELEASED" and day_parts(pipeline) == 0

    pipeline.simulator.clear_faults()
    drain(pipeline, send)  # the retry: its id holds the number's one SMS already
    pipeline.enqueue({"id": "retried", "to": "+491701234567", "text": TWO_PARTS})  # and a late duplicate
    drain(pipeline, send)

    assert posted_numbers(pipeline) == ["+491701234567"]
    assert pipeline.item("retried")["state"] == "TRACKING"
    assert day_parts(pipeline) == 2 and pipeline.outcomes() == []


@parametrized({"DailySegmentLimit": "10"})
def test_a_send_whose_result_is_unknown_keeps_its_parts(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.simulator.inject("hang", count=1, path="/sms")
    pipeline.enqueue({"id": "maybe", "to": "+491701234567", "text": TWO_PARTS})
    pipeline.deliver(send)
    assert outcomes_by_id(pipeline)["maybe"]["outcome"] == "UNKNOWN"
    assert day_parts(pipeline) == 2  # it may have been sent


@parametrized({"MaxPerNumberPerWindow": "1", "DailySegmentLimit": "10"})
def test_a_delivery_killed_after_its_count_never_sends_more_than_the_limit(pipeline: Pipeline) -> None:
    """Killed between the counts and the claim: nothing is given back (the give-back dies with it).
    Redelivered, the request's id holds its place in the rate, and its parts are counted again:
    the day may end short of its limit by them, never over it."""
    counters = counters_table(pipeline)
    killed = {"armed": False}

    def kill_after_the_counts(params: dict[str, Any], **_: Any) -> None:
        if killed["armed"]:
            raise RuntimeError("killed")
        if any(op != "BatchGetItem" and key.startswith("rate#") for op, key in counter_items(params, counters)):
            killed["armed"] = True  # the rate was the last count: the process dies right after it

    with aws_hook("before-parameter-build.dynamodb", handler=kill_after_the_counts):
        send = pipeline.handler("SendFunction")
        pipeline.enqueue({"id": "killed", "to": "+491701234567", "text": TWO_PARTS})
        assert pipeline.deliver(send, visibility_seconds=0).failed  # back at once, as after a kill
    assert pipeline.simulator.sms_posts() == [] and day_parts(pipeline) == 2

    drain(pipeline, pipeline.handler("SendFunction"))
    pipeline.enqueue({"id": "next", "to": "+491701234567", "text": "x"})
    drain(pipeline, pipeline.handler("SendFunction"))

    assert posted_numbers(pipeline) == ["+491701234567"]
    assert day_parts(pipeline) == 4  # counted twice, sent once
    assert outcomes_by_id(pipeline)["next"]["reason"] == "blocked: more than 1 SMS to this number within 3600 s"


def test_a_request_released_by_an_earlier_attempt_ends_blocked_when_opted_out_meanwhile(pipeline: Pipeline) -> None:
    send = pipeline.handler("SendFunction")
    pipeline.simulator.inject("500", count=100, path="/sms")
    pipeline.enqueue({"id": "released", "to": "+491701234567", "text": "x"})
    assert pipeline.deliver(send).failed
    pipeline.simulator.clear_faults()
    DynamoOptOuts(pipeline.dynamodb, pipeline.stack.output("OptOutTableName")).add("+491701234567")

    drain(pipeline, send)

    assert posted_numbers(pipeline) == []
    assert_blocked(outcomes_by_id(pipeline)["released"], "blocked: opted out")


# --- exact under concurrency ------------------------------------------------------------------------


def concurrently(pipeline: Pipeline, bodies: list[dict[str, Any]]) -> None:
    """Twenty requests at once: two invocations of ten records, each handled on its own thread."""
    send = pipeline.handler("SendFunction")
    pipeline.enqueue(*bodies)
    threads = [threading.Thread(target=pipeline.deliver, args=(send,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain(pipeline, send)


@parametrized({"MaxPerNumberPerWindow": "5"})
def test_twenty_concurrent_sends_to_one_number_against_a_rate_of_five_send_five(pipeline: Pipeline) -> None:
    concurrently(pipeline, [{"id": f"burst-{n}", "to": "+491701234567", "text": "x"} for n in range(20)])

    assert len(posted_numbers(pipeline)) == 5
    events = outcomes_by_id(pipeline)
    assert len(events) == 15 and {event["outcome"] for event in events.values()} == {"BLOCKED"}


@parametrized({"MaxPerNumberPerWindow": "5"})
def test_two_containers_racing_for_one_numbers_window_send_five_of_twenty(pipeline: Pipeline) -> None:
    """Two containers, each with a batch of ten to one number, at once: their rounds read the same
    window, and the one whose write finds it changed decides again on the window now stored."""
    containers = [pipeline.handler("SendFunction"), pipeline.handler("SendFunction")]
    pipeline.enqueue(*({"id": f"race-{n}", "to": "+491701234567", "text": "x"} for n in range(20)))
    threads = [threading.Thread(target=pipeline.deliver, args=(send,)) for send in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for send in containers:
        drain(pipeline, send)

    assert len(posted_numbers(pipeline)) == 5
    events = outcomes_by_id(pipeline)
    assert len(events) == 15 and {event["reason"] for event in events.values()} == {
        "blocked: more than 5 SMS to this number within 3600 s"
    }


@parametrized({"DailySegmentLimit": "5"})
def test_twenty_concurrent_sends_against_a_day_of_five_parts_send_five(pipeline: Pipeline) -> None:
    concurrently(pipeline, [{"id": f"day-{n}", "to": f"+4917012345{n:02d}", "text": "x"} for n in range(20)])

    assert len(posted_numbers(pipeline)) == 5
    events = outcomes_by_id(pipeline)
    assert len(events) == 15 and {event["reason"] for event in events.values()} == {
        "blocked: the day's limit of 5 SMS parts is reached"
    }
    assert day_parts(pipeline) == 5


# --- a rule that is off costs nothing -----------------------------------------------------------------


def counter_items(params: dict[str, Any], counters: str) -> list[tuple[str, str]]:
    """(operation, key) of each item a DynamoDB call reads or writes in the counters table: the
    items of a TransactWriteItems and the keys of a BatchGetItem one by one."""
    if params.get("TableName") == counters:
        item = params.get("Key") or params.get("Item") or {}
        return [("", str(item.get("id", {}).get("S", "")))]
    if "TransactItems" in params:
        return [
            (f"TransactWriteItems.{operation}", write.get("Item", write.get("Key", {}))["id"]["S"])
            for item in params["TransactItems"]
            for operation, write in item.items()
            if write["TableName"] == counters
        ]
    keys = params.get("RequestItems", {}).get(counters, {}).get("Keys", [])
    return [("BatchGetItem", key["id"]["S"]) for key in keys]


def counter_calls(pipeline: Pipeline, *, requests: int = 3) -> list[tuple[str, str]]:
    """(operation, key) of every item the send function reads or writes in the counters table."""
    counters = counters_table(pipeline)
    calls: list[tuple[str, str]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.extend((operation or model.name, key) for operation, key in counter_items(params, counters))

    with aws_hook("before-parameter-build.dynamodb", handler=record):
        send = pipeline.handler("SendFunction")
        pipeline.enqueue(*({"id": f"r-{n}", "to": f"+49170123456{n}", "text": "x"} for n in range(requests)))
        drain(pipeline, send)
    assert len(posted_numbers(pipeline)) == requests
    return calls


def test_rules_that_are_off_make_no_call_to_the_counters(pipeline: Pipeline) -> None:
    assert counter_calls(pipeline) == []


@parametrized({"MaxPerNumberPerWindow": "5"})
def test_the_rate_alone_makes_one_write_per_request(pipeline: Pipeline) -> None:
    """Each request's window is read with the opt-out list and written once, on condition: a put
    of its own when its batch has one record, a transaction's put for a batch's several."""
    calls = counter_calls(pipeline)
    writes = sorted(key for operation, key in calls if operation in ("PutItem", "TransactWriteItems.Put"))
    reads = sorted(key for operation, key in calls if operation == "BatchGetItem")
    assert writes == reads == [f"rate#+49170123456{n}" for n in range(3)]
    assert len(calls) == 6


@parametrized({"DailySegmentLimit": "100"})
def test_the_day_limit_alone_makes_at_most_one_write_per_request(pipeline: Pipeline) -> None:
    """One per request at most: a batch's records that reach it together share one write."""
    calls = counter_calls(pipeline)
    assert set(calls) == {("UpdateItem", f"day#{utc_day(time.time())}")} and 1 <= len(calls) <= 3
