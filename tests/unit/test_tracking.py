"""The status use case over the in-memory fakes: what a run checks, decides, publishes and counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from fakes import FakeProvider, FakePublisher, FakeStore, make_tracker

from sms_pipeline import schedule
from sms_pipeline.config import ConfigError
from sms_pipeline.job import Delivery, Final, Job, Origin, State
from sms_pipeline.outcomes import TRACKING_LIMIT_REASON, Outcome, OutcomeEvent, ProviderStatus, Verdict
from sms_pipeline.ports import ConfigurationFault, TransientError

NOW = 1_800_000_000.0
SENT_AT = NOW - 60  # every job here was sent a minute ago; its first check was due 30 s after
DELIVERED = Verdict(
    Outcome.DELIVERED, "Successful (with delivery notification).", provider_status=ProviderStatus("DONE", "SUC_FIN")
)


def sent(store: FakeStore, request_id: str, *, first_check_at: float = SENT_AT + 30) -> None:
    """A request as the send use case leaves it: claimed, sent, due for its first check."""
    origin = Origin(request_id, "+4917*******78", "ref-1", {"order": 7}, SENT_AT, "f", "GSM-7", 1)
    store.claim(origin, Delivery("m", "t", SENT_AT + 60), now=SENT_AT, requested_after=0.0)
    store.record_sent(request_id, f"J-{request_id}", submitted_at=SENT_AT, first_check_at=first_check_at)


def tracker(store: FakeStore, provider: FakeProvider, publisher: FakePublisher | None = None, **overrides: Any) -> Any:
    return make_tracker(store, provider, publisher, clock=lambda: NOW, **overrides)


def test_a_final_verdict_is_published_once_with_what_the_request_left_and_the_job_is_done() -> None:
    store, provider, publisher = FakeStore(), FakeProvider(), FakePublisher()
    sent(store, "r")
    provider.verdicts["J-r"] = DELIVERED

    summary = tracker(store, provider, publisher).run(300)

    assert (summary.due, summary.checked, summary.published, summary.publish_failures) == (1, 1, 1, 0)
    assert summary.outcomes == {"DELIVERED": 1} and summary.lag_seconds == 30
    [event] = publisher.events
    assert (event.request_id, event.outcome, event.reason) == ("r", Outcome.DELIVERED, DELIVERED.reason)
    assert event.provider_status == ProviderStatus("DONE", "SUC_FIN") and event.job_id == "J-r"
    assert (event.masked_to, event.reference, event.metadata) == ("+4917*******78", "ref-1", {"order": 7})
    assert (event.requested_at, event.submitted_at, event.completed_at) == (SENT_AT, SENT_AT, NOW)
    assert (event.encoding, event.segments) == ("GSM-7", 1)
    assert store.items["r"]["state"] == State.DONE

    again = tracker(store, provider, publisher).run(300)
    assert again.due == 0 and len(publisher.events) == 1


def test_a_job_still_pending_is_checked_again_after_the_next_delay() -> None:
    store, provider, publisher = FakeStore(), FakeProvider(), FakePublisher()
    sent(store, "r")

    summary = tracker(store, provider, publisher).run(300)

    assert (summary.checked, summary.still_tracked, summary.published) == (1, 1, 0) and publisher.events == []
    assert store.items["r"]["checks"] == 1 and store.items["r"]["dueAt"] == (NOW + 60) * 1000  # the second delay


def test_a_status_the_provider_table_does_not_know_keeps_the_job_tracked() -> None:
    store, provider, publisher = FakeStore(), FakeProvider(), FakePublisher()
    sent(store, "r")
    provider.verdicts["J-r"] = Verdict(None, "Unrecognised processStatus 'PAUSED'; still tracked.", known=False)

    summary = tracker(store, provider, publisher).run(300)

    assert summary.still_tracked == 1 and publisher.events == [] and store.items["r"]["state"] == State.TRACKING


def test_a_failed_report_keeps_the_job_tracked_and_counts_the_error() -> None:
    store, provider = FakeStore(), FakeProvider()
    sent(store, "r")
    provider.verdicts["J-r"] = TransientError("provider answered 503", call="GET /reports")

    summary = tracker(store, provider).run(300)

    assert (summary.report_errors, summary.checked, summary.still_tracked) == (1, 1, 1)
    assert store.items["r"]["state"] == State.TRACKING


def test_a_job_past_the_tracking_limit_ends_unknown() -> None:
    store, provider, publisher = FakeStore(), FakeProvider(), FakePublisher()
    sent(store, "r")

    summary = tracker(store, provider, publisher, tracking_limit_seconds=60).run(300)

    [event] = publisher.events
    assert event.outcome is Outcome.UNKNOWN and event.reason == TRACKING_LIMIT_REASON and event.provider_status is None
    assert summary.outcomes == {"UNKNOWN": 1}


def test_a_configuration_fault_opens_the_circuit_and_no_more_reports_are_asked_for() -> None:
    store, provider = FakeStore(), FakeProvider()
    for index in range(3):
        sent(store, f"r{index}", first_check_at=SENT_AT + index)
    provider.verdicts["J-r0"] = ConfigurationFault("401, the provider refused the credentials", call="GET /reports")
    forgotten: list[bool] = []

    summary = tracker(store, provider, on_auth_failure=lambda: forgotten.append(True)).run(300)

    assert summary.circuit_open and forgotten == [True] and provider.reports == ["J-r0"]
    assert summary.checked == 0 and {item["state"] for item in store.items.values()} == {State.TRACKING}


def test_a_run_short_of_time_takes_no_job_and_leaves_them_due() -> None:
    store, provider = FakeStore(), FakeProvider()
    for index in range(3):
        sent(store, f"r{index}")

    summary = tracker(store, provider).run(10)  # less than the safety margin is left

    assert (summary.due, summary.skipped_for_time, summary.checked) == (3, 3, 0) and provider.reports == []
    assert len(store.due(now=NOW, limit=10)) == 3


class Refusing(FakePublisher):
    """A topic that refuses every publish until `up` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.up = False
        self.batches: list[int] = []

    def publish(self, events: Sequence[OutcomeEvent]) -> set[str]:
        self.batches.append(len(events))
        return super().publish(events) if self.up else set()


def test_an_outcome_whose_publish_failed_is_due_at_once_and_the_next_run_publishes_it() -> None:
    store, provider, publisher = FakeStore(), FakeProvider(), Refusing()
    sent(store, "r")
    provider.verdicts["J-r"] = DELIVERED

    first = tracker(store, provider, publisher).run(300)

    assert (first.published, first.publish_failures) == (0, 1)
    assert store.items["r"]["state"] == State.PUBLISHING and store.items["r"]["dueAt"] == NOW * 1000
    publisher.up = True
    second = tracker(store, provider, publisher).run(300)
    assert (second.due, second.published, second.lost_race) == (1, 1, 0) and provider.reports == ["J-r"]
    [event] = publisher.events
    assert event.outcome is Outcome.DELIVERED and event.completed_at == NOW
    assert store.items["r"]["state"] == State.DONE


def test_outcomes_are_published_ten_to_a_batch_and_counted_whatever_the_threads() -> None:
    store, provider, publisher = FakeStore(), FakeProvider(), Refusing()
    publisher.up = True
    for index in range(25):
        sent(store, f"r{index:02d}")
        provider.verdicts[f"J-r{index:02d}"] = DELIVERED if index % 5 else TransientError("provider answered 503")

    summary = tracker(store, provider, publisher, concurrency=8).run(300)

    assert sorted(publisher.batches) == [10, 10]
    assert (summary.checked, summary.published, summary.report_errors, summary.still_tracked) == (25, 20, 5, 5)
    assert summary.outcomes == {"DELIVERED": 20}


class Overlapped(FakeStore):
    """Another run checks each job first, between this run's read and its write."""

    def finish_tracked(self, job: Job, final: Final, *, publish_lease_until: float) -> Job | None:
        super().reschedule(job, next_check_at=NOW + 30)
        return super().finish_tracked(job, final, publish_lease_until=publish_lease_until)


def test_a_run_that_loses_the_race_to_another_publishes_nothing() -> None:
    store, provider, publisher = Overlapped(), FakeProvider(), FakePublisher()
    sent(store, "r")
    provider.verdicts["J-r"] = DELIVERED

    summary = tracker(store, provider, publisher).run(300)

    assert (summary.lost_race, summary.published) == (1, 0) and publisher.events == []


class Throttled(FakeStore):
    """The store fails one job's write (throttling past botocore's retries)."""

    def reschedule(self, job: Job, *, next_check_at: float, timer: bool = False) -> bool:
        if job.origin.id == "r0":
            raise RuntimeError("ProvisionedThroughputExceededException")
        return super().reschedule(job, next_check_at=next_check_at, timer=timer)


def test_a_storage_error_of_one_job_leaves_it_due_and_the_run_goes_on() -> None:
    store, provider = Throttled(), FakeProvider()
    for index in range(3):
        sent(store, f"r{index}", first_check_at=SENT_AT + index)

    summary = tracker(store, provider).run(300)

    assert summary.check_failures == 1 and summary.checked == 3
    assert [job.origin.id for job in store.due(now=NOW, limit=10)] == ["r0"]


# --- the schedule's event, read at the edge -------------------------------------------------------------


def test_a_schedule_event_names_the_shards_of_its_run_or_takes_them_all() -> None:
    assert schedule.shards({"source": "aws.scheduler"}, 4) is None
    assert schedule.shards({"shards": [2, 0]}, 4) == (2, 0)


@pytest.mark.parametrize("shards", [[4], [], "0", [0, 0], [True], None])
def test_a_schedule_naming_shards_that_do_not_exist_says_what_to_fix(shards: Any) -> None:
    with pytest.raises(ConfigError, match=r"from 0 to 3 \(DueIndexShards is 4\); it is "):
        schedule.shards({"shards": shards}, 4)
