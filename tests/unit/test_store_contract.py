"""The job store's contract: one suite, run against the in-memory FakeStore the use cases' unit
tests use and against the DynamoDB JobStore on moto (server mode, the template's table), so that
the fake keeps the real store's rules: who gets a claim, what a release keeps, which of two
overlapping transitions wins, what is due when."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Protocol

import pytest
from fakes import FakeStore

from sms_pipeline.job import ClaimResult, Delivery, Final, Job, Origin, State
from sms_pipeline.outcomes import PRIMARY_PROVIDER, Outcome, ProviderStatus
from sms_pipeline.ports import SendStore, StatusStore


class Store(SendStore, StatusStore, Protocol):
    """Both ports: the one store the two use cases share."""


@pytest.fixture(params=["fake", "dynamodb"])
def store(request: pytest.FixtureRequest, moto_endpoint: str) -> Store:
    """`moto_endpoint` for both: a session fixture named here is set up before the test saves its
    environment (conftest.py), so the endpoint stays set for every test that follows."""
    if request.param == "fake":
        return FakeStore()
    real: Store = request.getfixturevalue("pipeline").job_store()
    return real


NOW = round(time.time(), 3)  # to the millisecond, as the real store keeps times
VALID_FROM = NOW - 300  # requests first requested after this are within their validity


def origin(request_id: str, *, at: float = NOW, fingerprint: str = "f1") -> Origin:
    return Origin(request_id, "+4917*******78", None, {"k": "v"}, at, fingerprint, "GSM-7", 1)


def claim(store: Store, request_id: str, message_id: str = "m-1", **changes: Any) -> tuple[ClaimResult, Job]:
    at = changes.pop("at", NOW)
    delivery = Delivery(message_id, f"token-{message_id}", NOW + 60, changes.pop("provider", PRIMARY_PROVIDER))
    arguments: dict[str, Any] = {"now": NOW, "requested_after": VALID_FROM, **changes}
    return store.claim(origin(request_id, at=at), delivery, **arguments)


def tracked(store: Store, request_id: str) -> Job:
    """A request sent and due for its first check."""
    assert claim(store, request_id)[0] is ClaimResult.GRANTED
    store.record_sent(request_id, f"J-{request_id}", submitted_at=NOW, first_check_at=NOW)
    [job] = [job for job in store.due(now=NOW, limit=100) if job.origin.id == request_id]
    return job


FINAL = Final(Outcome.DELIVERED, "Successful (with delivery notification).", NOW, ProviderStatus("DONE", "SUC_FIN"))


# --- the claim ----------------------------------------------------------------------------------------


def test_only_the_first_delivery_is_granted_the_claim(store: Store) -> None:
    result, job = claim(store, "r")
    assert result is ClaimResult.GRANTED
    assert job.state is State.SENDING and job.attempts == 1 and job.message_id == "m-1"
    assert job.origin.fingerprint == "f1" and job.origin.metadata == {"k": "v"}

    assert claim(store, "r", "m-2")[0] is ClaimResult.DUPLICATE  # another message: the id is spent
    assert claim(store, "r", "m-1")[0] is ClaimResult.IN_FLIGHT  # another copy of the same message


def test_an_expired_claim_is_taken_over_once(store: Store) -> None:
    claim(store, "r")
    result, job = claim(store, "r", "m-2", now=NOW + 61)
    assert result is ClaimResult.EXPIRED and job.claim_until == pytest.approx(NOW + 60, abs=0.001)
    assert job.claim_until is not None

    def take(message: str) -> bool:
        return store.take_over("r", Delivery(message, message, NOW + 200), stale_claim_until=job.claim_until or 0.0)

    assert take("m-2")
    assert not take("m-3")  # the claim it saw is gone


def test_a_release_lets_a_later_delivery_claim_again_keeping_the_first_request_time_and_the_error(
    store: Store,
) -> None:
    claim(store, "r")
    store.release("r", token="token-m-1", error="provider answered 503")

    result, job = claim(store, "r", "m-2", at=NOW + 30)

    assert result is ClaimResult.GRANTED and job.state is State.SENDING
    assert job.attempts == 2 and job.last_error == "provider answered 503"
    assert job.origin.requested_at == pytest.approx(NOW, abs=0.001)


def test_a_release_by_another_delivery_changes_nothing(store: Store) -> None:
    claim(store, "r")
    store.release("r", token="not-mine", error="x")
    assert claim(store, "r", "m-1")[0] is ClaimResult.IN_FLIGHT


def test_a_request_past_its_validity_is_never_claimed_and_ends_from_released_once(store: Store) -> None:
    result, job = claim(store, "old", at=VALID_FROM - 1)
    assert result is ClaimResult.PAST_VALIDITY and job.state is State.RELEASED and job.claim_until is None

    expired = Final(Outcome.EXPIRED, "not sent within its validity of 300 s", NOW)
    assert store.finish_released("old", expired, publish_lease_until=NOW + 60)
    assert not store.finish_released("old", expired, publish_lease_until=NOW + 60)


def test_a_released_request_whose_first_attempt_is_past_the_validity_is_not_claimed(store: Store) -> None:
    claim(store, "r", at=VALID_FROM + 1)
    store.release("r", token="token-m-1", error="provider answered 503")

    result, job = claim(store, "r", "m-2", requested_after=VALID_FROM + 2)  # this message's own time is recent

    assert result is ClaimResult.PAST_VALIDITY and job.last_error == "provider answered 503"


def test_a_failure_before_the_claim_is_kept_for_the_next_attempt_and_never_touches_a_claim(store: Store) -> None:
    store.note_failure(origin("r"), error="cannot read the secret", now=NOW)
    result, job = claim(store, "r")
    assert result is ClaimResult.GRANTED and job.last_error == "cannot read the secret" and job.attempts == 1

    store.note_failure(origin("r"), error="later", now=NOW)
    assert claim(store, "r", "m-1")[0] is ClaimResult.IN_FLIGHT  # still the live claim


def test_an_outcome_the_send_decided_ends_the_claim_once(store: Store) -> None:
    claim(store, "r")
    unknown = Final(Outcome.UNKNOWN, "The send was interrupted; the SMS may or may not have been sent.", NOW)
    assert store.finish_claimed("r", unknown, publish_lease_until=NOW + 60)
    assert not store.finish_claimed("r", unknown, publish_lease_until=NOW + 60)
    assert claim(store, "r", "m-2")[0] is ClaimResult.DUPLICATE


def test_a_rejected_request_spends_its_id(store: Store) -> None:
    rejected = Final(Outcome.REJECTED, "text: must not be empty", NOW)
    assert store.put_rejected(origin("bad"), rejected, now=NOW, publish_lease_until=NOW + 60) is None

    existing = store.put_rejected(origin("bad", fingerprint="f2"), rejected, now=NOW, publish_lease_until=NOW + 60)

    assert existing is not None and existing.state is State.PUBLISHING and existing.origin.fingerprint == "f1"
    assert claim(store, "bad")[0] is ClaimResult.DUPLICATE


# --- what is due ----------------------------------------------------------------------------------------


def test_a_sent_request_is_due_from_its_first_check_on(store: Store) -> None:
    claim(store, "r")
    store.record_sent("r", "J-1", submitted_at=NOW, first_check_at=NOW + 30)

    assert store.due(now=NOW + 29, limit=10) == []
    [job] = store.due(now=NOW + 30, limit=10)
    assert job.state is State.TRACKING and job.job_id == "J-1" and job.checks == 0
    assert job.submitted_at == pytest.approx(NOW, abs=0.001) and job.claim_until is None
    assert job.origin.masked_to == "+4917*******78" and job.origin.segments == 1


def test_due_jobs_come_oldest_first_up_to_the_limit_each_from_one_shard(store: Store) -> None:
    for index in range(6):
        claim(store, f"r{index}")
        store.record_sent(f"r{index}", f"J{index}", submitted_at=NOW, first_check_at=NOW - 60 + index)

    assert [job.origin.id for job in store.due(now=NOW, limit=4)] == ["r0", "r1", "r2", "r3"]
    per_shard = [{job.origin.id for job in store.due(now=NOW, limit=10, shards=[shard])} for shard in range(4)]
    assert sorted(request_id for ids in per_shard for request_id in ids) == [f"r{index}" for index in range(6)]


def test_a_reschedule_is_made_by_one_of_two_runs_that_read_the_job(store: Store) -> None:
    job = tracked(store, "r")
    assert store.reschedule(job, next_check_at=NOW + 60)
    assert not store.reschedule(job, next_check_at=NOW + 60)  # the other run read the same version

    assert store.due(now=NOW + 59, limit=10) == []
    [again] = store.due(now=NOW + 60, limit=10)
    assert again.checks == 1


def test_only_one_of_two_runs_decides_a_tracked_outcome(store: Store) -> None:
    job = tracked(store, "r")

    finished = store.finish_tracked(job, FINAL, publish_lease_until=NOW + 60)

    assert finished is not None and finished.state is State.PUBLISHING and finished.checks == 1
    assert finished.final is not None and finished.final.outcome is Outcome.DELIVERED
    assert finished.final.provider_status == ProviderStatus("DONE", "SUC_FIN")
    assert finished.job_id == job.job_id and finished.origin == job.origin
    assert store.finish_tracked(job, FINAL, publish_lease_until=NOW + 60) is None
    assert store.lease_publish(job, publish_lease_until=NOW + 60) is None  # a stale read of it


def test_a_job_whose_check_timer_is_on_its_way_says_so_until_it_moves_on(store: Store) -> None:
    claim(store, "r")
    store.record_sent("r", "J-1", submitted_at=NOW, first_check_at=NOW + 30, timer=True)
    [job] = store.due(now=NOW + 30, limit=10)
    assert job.timer_at == job.due_at == int((NOW + 30) * 1000)

    assert store.reschedule(job, next_check_at=NOW + 90, timer=True)
    [again] = store.get(["r"])
    assert again.timer_at == again.due_at == int((NOW + 90) * 1000)
    assert store.reschedule(again, next_check_at=NOW + 1990)  # beyond a timer's reach: no timer
    [later] = store.get(["r"])
    assert later.timer_at is None and later.checks == 2

    finished = store.finish_tracked(later, FINAL, publish_lease_until=NOW + 60)
    assert finished is not None and finished.timer_at is None
    assert store.get(["r"])[0].timer_at is None


def test_jobs_are_read_by_id_as_they_stand_and_unknown_ids_are_left_out(store: Store) -> None:
    job = tracked(store, "a")
    tracked(store, "b")
    store.reschedule(job, next_check_at=NOW + 60)

    read = {found.origin.id: found for found in store.get(["a", "gone", "b", "a"])}

    assert sorted(read) == ["a", "b"]
    assert read["a"].checks == 1 and read["a"].due_at == int((NOW + 60) * 1000) and read["a"].job_id == "J-a"
    assert read["b"].state is State.TRACKING and read["b"].origin == origin("b")
    assert store.get([]) == []


def test_a_published_outcome_is_done_and_never_due_again(store: Store) -> None:
    finished = store.finish_tracked(tracked(store, "r"), FINAL, publish_lease_until=NOW + 60)
    assert finished is not None

    assert store.record_published([finished]) == {"r"}

    assert store.due(now=NOW + 3600, limit=10) == []
    assert claim(store, "r", "m-2")[0] is ClaimResult.DUPLICATE


def test_a_failed_publish_is_due_again_at_once_and_leased_by_one_run(store: Store) -> None:
    finished = store.finish_tracked(tracked(store, "r"), FINAL, publish_lease_until=NOW + 60)
    assert finished is not None
    assert store.due(now=NOW + 1, limit=10) == []  # the lease holds it

    store.publish_failed("r", retry_at=NOW + 1)

    [due] = store.due(now=NOW + 1, limit=10)
    assert due.state is State.PUBLISHING and due.final is not None and due.final.reason == FINAL.reason
    leased = store.lease_publish(due, publish_lease_until=NOW + 61)
    assert leased is not None and leased.final == due.final
    assert store.lease_publish(due, publish_lease_until=NOW + 61) is None
    assert store.record_published([leased]) == {"r"}


def test_an_outcome_the_send_published_leaves_the_due_jobs(store: Store) -> None:
    rejected = Final(Outcome.REJECTED, "text: must not be empty", NOW)
    store.put_rejected(origin("bad"), rejected, now=NOW, publish_lease_until=NOW + 60)
    [due] = store.due(now=NOW + 60, limit=10)
    assert due.state is State.PUBLISHING and due.final == rejected

    store.mark_published("bad")

    assert store.due(now=NOW + 3600, limit=10) == []


# --- the provider a claim hands the request to (contract §12) ----------------------------------------


def test_the_claim_names_its_provider_and_the_first_attempt_and_a_later_claim_keeps_both(store: Store) -> None:
    result, job = claim(store, "r", provider="retarus")
    assert result is ClaimResult.GRANTED and job.provider == "retarus" and job.first_attempt_at == NOW
    assert store.switch_provider("r", token="token-m-2", provider="aws-sms") is False  # not this delivery's claim
    assert store.switch_provider("r", token="token-m-1", provider="aws-sms") is True
    store.release("r", token="token-m-1", error="SendTextMessage: ThrottlingException")

    result, job = claim(store, "r", "m-2", now=NOW + 30, provider="retarus")
    assert result is ClaimResult.GRANTED
    assert job.provider == "aws-sms" and job.first_attempt_at == NOW and not job.unconfirmed  # it stays failed over


def test_a_failure_before_the_claim_starts_the_failover_clock(store: Store) -> None:
    store.note_failure(origin("r"), error="credentials refused", now=NOW - 20)
    store.note_failure(origin("r"), error="credentials refused", now=NOW - 10)
    result, job = claim(store, "r")
    assert result is ClaimResult.GRANTED and job.first_attempt_at == NOW - 20 and job.provider == "retarus"


def test_a_request_whose_send_may_have_happened_is_unconfirmed_and_cannot_switch(store: Store) -> None:
    claim(store, "r")
    store.release("r", token="token-m-1", error="no answer", unconfirmed=True)
    result, job = claim(store, "r", "m-2")
    assert result is ClaimResult.GRANTED and job.unconfirmed
    assert store.switch_provider("r", token="token-m-2", provider="aws-sms") is False

    claim(store, "s")
    assert store.take_over("s", Delivery("m-3", "t-3", NOW + 120), stale_claim_until=NOW + 60, unconfirmed=True)
    assert store.switch_provider("s", token="t-3", provider="aws-sms") is False
    [taken_over] = store.get(["s"])
    assert taken_over.unconfirmed


# --- scheduled sending (contract §11) -------------------------------------------------------------------

SEND_AT = NOW + 3600
CANCELED = Final(Outcome.CANCELED, "cancelled before sending", NOW)


def scheduled(store: Store, request_id: str, *, send_at: float = SEND_AT, due_at: float = NOW) -> None:
    """A request waiting for its sendAt, due (to be put back) at `due_at`."""
    waiting = replace(origin(request_id), send_at=send_at)
    assert store.schedule(waiting, body='{"text":"x"}', due_at=due_at, validity_seconds=300, now=NOW) is None


def test_a_scheduled_request_is_stored_once_and_due_when_it_is_to_be_put_back(store: Store) -> None:
    scheduled(store, "s", due_at=NOW + 10)
    assert [job.origin.id for job in store.due(now=NOW, limit=10)] == []
    [job] = store.due(now=NOW + 10, limit=10)
    assert job.state is State.SCHEDULED and job.body == '{"text":"x"}' and job.origin.send_at == SEND_AT

    again = store.schedule(replace(origin("s"), send_at=SEND_AT), body="{}", due_at=NOW, validity_seconds=9, now=NOW)
    assert again is not None and again.state is State.SCHEDULED  # a duplicate: the first record stays
    assert [job.origin.id for job in store.due(now=NOW + 10, limit=10)] == ["s"]


def test_of_two_runs_one_leases_a_due_scheduled_request(store: Store) -> None:
    scheduled(store, "s")
    [job] = store.due(now=NOW, limit=10)

    leased = store.lease_scheduled(job, lease_until=SEND_AT + 900)
    assert leased is not None and leased.due_at == int((SEND_AT + 900) * 1000)
    assert store.lease_scheduled(job, lease_until=SEND_AT + 900) is None  # the other run read the old dueAt
    assert store.due(now=NOW, limit=10) == []  # not due again until the lease ends
    assert [job.origin.id for job in store.due(now=SEND_AT + 900, limit=10)] == ["s"]


def test_the_claim_takes_a_scheduled_request_out_of_the_due_index(store: Store) -> None:
    scheduled(store, "s")
    result, job = store.claim(
        replace(origin("s"), send_at=SEND_AT),
        Delivery("copy", "t", SEND_AT + 60),
        now=SEND_AT,
        requested_after=SEND_AT - 300,
    )
    assert result is ClaimResult.GRANTED and job.state is State.SENDING and job.attempts == 1
    assert job.body is None and job.origin.requested_at == NOW
    assert store.due(now=SEND_AT + 10_000, limit=10) == []
    assert store.cancel("s", CANCELED, publish_lease_until=SEND_AT + 60) == (False, job)  # too late


def test_a_scheduled_requests_validity_counts_from_its_send_at(store: Store) -> None:
    """requestedAt is an hour before: a claim right after sendAt is within a validity of 300 s,
    and one 300 s after sendAt is past it (the write's own condition)."""
    scheduled(store, "on-time")
    scheduled(store, "late")
    waiting = {name: replace(origin(name), send_at=SEND_AT) for name in ("on-time", "late")}
    on_time = store.claim(
        waiting["on-time"], Delivery("m", "t", SEND_AT + 60), now=SEND_AT + 1, requested_after=SEND_AT + 1 - 300
    )
    late = store.claim(waiting["late"], Delivery("m", "t", SEND_AT + 360), now=SEND_AT + 300, requested_after=SEND_AT)
    assert on_time[0] is ClaimResult.GRANTED
    assert late[0] is ClaimResult.PAST_VALIDITY and late[1].state is State.SCHEDULED
    assert store.finish_released("late", Final(Outcome.EXPIRED, "not sent", SEND_AT + 300), publish_lease_until=NOW)


def test_a_cancel_ends_a_scheduled_or_released_request_and_then_the_claim_loses(store: Store) -> None:
    scheduled(store, "s")
    cancelled, job = store.cancel("s", CANCELED, publish_lease_until=NOW + 60)
    assert cancelled and job is not None and job.state is State.PUBLISHING and job.final == CANCELED
    assert job.body is None
    assert claim(store, "s", "copy", requested_after=NOW - 7200)[0] is ClaimResult.DUPLICATE

    claim(store, "r")
    store.release("r", token="token-m-1", error="provider answered 503")
    assert store.cancel("r", CANCELED, publish_lease_until=NOW + 60)[0]


def test_a_cancel_of_an_unknown_sent_or_ended_id_changes_nothing(store: Store) -> None:
    assert store.cancel("nobody", CANCELED, publish_lease_until=NOW) == (False, None)
    job = tracked(store, "t")
    cancelled, found = store.cancel("t", CANCELED, publish_lease_until=NOW)
    assert not cancelled and found is not None and found.state is State.TRACKING and found.final is None
    assert [due.origin.id for due in store.due(now=NOW, limit=10)] == ["t"] and job.due_at == found.due_at
