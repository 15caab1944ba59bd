"""In-memory fakes of the use cases' ports (fakes over mocks: they keep state and rules)."""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sms_pipeline.job import ClaimResult, Delivery, Final, Job, Origin, State
from sms_pipeline.outcomes import OutcomeEvent, Verdict
from sms_pipeline.protection import Looked, Window
from sms_pipeline.request import CONTRACT_DEFAULTS, SmsRequest
from sms_pipeline.sending import Sender
from sms_pipeline.timers import Timer
from sms_pipeline.tracking import Tracker


class FakeStore:
    """The job store in memory, with the DynamoDB store's rules: tests/unit/test_store_contract.py
    runs one suite against both, so that this fake cannot drift from the real store.

    `items` holds one dict per request id, keyed by the table's attribute names (and `origin`,
    `final` for the records); a test may put an item in as an earlier delivery would have left it.
    """

    def __init__(self, shards: int = 4) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.shards = shards

    # --- send path -------------------------------------------------------------------------------

    def claim(
        self, origin: Origin, delivery: Delivery, *, now: float, requested_after: float
    ) -> tuple[ClaimResult, Job]:
        item = self.items.get(origin.id)
        past = origin.validity_start <= requested_after
        if item is None and past:
            item = self.items[origin.id] = {
                "origin": origin,
                "state": State.RELEASED,
                "requestedAt": origin.requested_at,
                "attempts": 0,
            }
            return ClaimResult.PAST_VALIDITY, self._job(item)
        first = item.get("requestedAt", origin.requested_at) if item is not None else origin.requested_at
        start = max(first, item.get("sendAt") or first) if item is not None else first  # §11: from sendAt
        if item is not None and item["state"] in _CLAIMABLE and (past or start <= requested_after):
            return ClaimResult.PAST_VALIDITY, self._job(item, origin)
        if item is None or item["state"] in _CLAIMABLE:
            kept = {key: value for key, value in (item or {}).items() if key not in ("dueAt", "body")}
            item = self.items[origin.id] = {
                **kept,
                "origin": replace(origin, requested_at=first),
                "state": State.SENDING,
                "claimUntil": delivery.claim_until,
                "messageId": delivery.message_id,
                "claimToken": delivery.token,
                "requestedAt": first,
                "attempts": kept.get("attempts", 0) + 1,
                "provider": kept.get("provider", delivery.provider),
                "firstAttemptAt": kept.get("firstAttemptAt", now),
            }
            return ClaimResult.GRANTED, self._job(item)
        job = self._job(item, origin)
        if item["state"] == State.SENDING:
            if item["claimUntil"] < now:
                return ClaimResult.EXPIRED, job
            if item["messageId"] == delivery.message_id:
                return ClaimResult.IN_FLIGHT, job
        return ClaimResult.DUPLICATE, job

    def note_failure(self, origin: Origin, *, error: str, now: float) -> None:
        item = self.items.get(origin.id)
        if item is None or item["state"] == State.RELEASED:
            kept = item or {}
            first = kept.get("requestedAt", origin.requested_at)
            self.items[origin.id] = {
                **kept,
                "origin": replace(origin, requested_at=first),
                "state": State.RELEASED,
                "lastError": error,
                "requestedAt": first,
                "firstAttemptAt": kept.get("firstAttemptAt", now),
            }

    def take_over(
        self, request_id: str, delivery: Delivery, *, stale_claim_until: float, unconfirmed: bool = False
    ) -> bool:
        item = self.items[request_id]
        if item["state"] != State.SENDING or item["claimUntil"] != stale_claim_until:
            return False
        item.update(claimUntil=delivery.claim_until, messageId=delivery.message_id, claimToken=delivery.token)
        if unconfirmed:
            item["unconfirmed"] = True
        return True

    def release(self, request_id: str, *, token: str, error: str, unconfirmed: bool = False) -> None:
        item = self.items[request_id]
        if item["state"] == State.SENDING and item.get("claimToken") == token:
            item.update(state=State.RELEASED, lastError=error)
            if unconfirmed:
                item["unconfirmed"] = True
            _drop(item, "claimUntil", "claimToken")

    def switch_provider(self, request_id: str, *, token: str, provider: str) -> bool:
        item = self.items[request_id]
        if item["state"] != State.SENDING or item.get("claimToken") != token or item.get("unconfirmed"):
            return False
        item["provider"] = provider
        return True

    def record_sent(
        self, request_id: str, job_id: str, *, submitted_at: float, first_check_at: float, timer: bool = False
    ) -> None:
        item = self.items[request_id]
        if item["state"] == State.SENDING:
            item.update(state=State.TRACKING, jobId=job_id, submittedAt=submitted_at, checks=0)
            item["dueAt"] = _millis(first_check_at)
            if timer:
                item["timerAt"] = item["dueAt"]
            _drop(item, "claimUntil", "claimToken")

    def finish_claimed(self, request_id: str, final: Final, *, publish_lease_until: float) -> bool:
        item = self.items[request_id]
        if item["state"] != State.SENDING:
            return False
        item.update(state=State.PUBLISHING, final=final, dueAt=_millis(publish_lease_until))
        _drop(item, "claimUntil", "claimToken")
        return True

    def finish_released(self, request_id: str, final: Final, *, publish_lease_until: float) -> bool:
        item = self.items[request_id]
        if item["state"] not in _CLAIMABLE:
            return False
        item.update(state=State.PUBLISHING, final=final, dueAt=_millis(publish_lease_until))
        _drop(item, "body")
        return True

    def put_rejected(self, origin: Origin, final: Final, *, now: float, publish_lease_until: float) -> Job | None:
        return self._put_new(origin, State.PUBLISHING, final=final, dueAt=_millis(publish_lease_until))

    def mark_published(self, request_id: str) -> None:
        item = self.items[request_id]
        if item["state"] == State.PUBLISHING:
            item["state"] = State.DONE
            _drop(item, "dueAt")

    def publish_failed(self, request_id: str, *, retry_at: float) -> None:
        item = self.items[request_id]
        if item["state"] == State.PUBLISHING:
            item["dueAt"] = _millis(retry_at)

    # --- scheduled sending -------------------------------------------------------------------------

    def schedule(self, origin: Origin, *, body: str, due_at: float, validity_seconds: int, now: float) -> Job | None:
        return self._put_new(
            origin, State.SCHEDULED, sendAt=origin.send_at, body=body, attempts=0, dueAt=_millis(due_at)
        )

    def lease_scheduled(self, job: Job, *, lease_until: float) -> Job | None:
        return self._lease(job, State.SCHEDULED, lease_until)

    def cancel(self, request_id: str, final: Final, *, publish_lease_until: float) -> tuple[bool, Job | None]:
        item = self.items.get(request_id)
        if item is None:
            return False, None
        if item["state"] not in _CLAIMABLE:
            return False, self._job(item)
        item.update(state=State.PUBLISHING, final=final, dueAt=_millis(publish_lease_until))
        _drop(item, "body", "claimUntil", "claimToken")
        return True, self._job(item)

    # --- status path -----------------------------------------------------------------------------

    def due(self, *, now: float, limit: int, shards: Sequence[int] | None = None) -> list[Job]:
        wanted = range(self.shards) if shards is None else shards
        jobs = [
            self._job(item)
            for request_id, item in self.items.items()
            if "dueAt" in item and item["dueAt"] <= _millis(now) and self._shard(request_id) in wanted
        ]
        return sorted(jobs, key=lambda job: job.due_at)[:limit]

    def get(self, request_ids: Sequence[str]) -> list[Job]:
        return [
            self._job(self.items[request_id]) for request_id in dict.fromkeys(request_ids) if request_id in self.items
        ]

    def reschedule(self, job: Job, *, next_check_at: float, timer: bool = False) -> bool:
        item = self.items[job.origin.id]
        if item["state"] != State.TRACKING or item.get("dueAt") != job.due_at:
            return False
        item.update(dueAt=_millis(next_check_at), checks=job.checks + 1)
        if timer:
            item["timerAt"] = item["dueAt"]
        else:
            _drop(item, "timerAt")
        return True

    def finish_tracked(self, job: Job, final: Final, *, publish_lease_until: float) -> Job | None:
        item = self.items[job.origin.id]
        if item["state"] != State.TRACKING or item.get("dueAt") != job.due_at:
            return None
        item.update(state=State.PUBLISHING, checks=job.checks + 1, dueAt=_millis(publish_lease_until), final=final)
        _drop(item, "timerAt")
        return self._job(item)

    def lease_publish(self, job: Job, *, publish_lease_until: float) -> Job | None:
        return self._lease(job, State.PUBLISHING, publish_lease_until)

    def record_published(self, jobs: Sequence[Job]) -> set[str]:
        for job in jobs:
            item = self.items[job.origin.id]
            item["state"] = State.DONE
            _drop(item, "dueAt")
        return {job.origin.id for job in jobs}

    # --- internals -------------------------------------------------------------------------------

    def _put_new(self, origin: Origin, state: State, **fields: Any) -> Job | None:
        """The first record of an id, as the store's conditional put writes it: None when written;
        the record that already holds the id (a duplicate, another request with that id) when not."""
        if origin.id in self.items:
            return self._job(self.items[origin.id], origin)
        self.items[origin.id] = {"origin": origin, "state": state, "requestedAt": origin.requested_at, **fields}
        return None

    def _lease(self, job: Job, state: State, until: float) -> Job | None:
        """As the store's: due again at `until`, if still in `state` with the `due_at` it was read
        with; the job as it now stands, or None when another run (or a claim) was first."""
        item = self.items[job.origin.id]
        if item["state"] != state or item.get("dueAt") != job.due_at:
            return None
        item["dueAt"] = _millis(until)
        return self._job(item)

    def _shard(self, request_id: str) -> int:
        return zlib.crc32(request_id.encode("utf-8")) % self.shards

    def _job(self, item: dict[str, Any], origin: Origin | None = None) -> Job:
        """The record of an item; `origin` stands in for an item a test put in without one."""
        stored: Origin | None = item.get("origin") or origin
        assert stored is not None, "an item without its origin"
        stored = replace(stored, requested_at=item.get("requestedAt", stored.requested_at))
        due = "dueAt" in item
        return Job(
            origin=stored,
            state=item["state"],
            due_at=item.get("dueAt", 0),
            due_shard=self._shard(stored.id) if due else None,
            job_id=item.get("jobId"),
            submitted_at=item.get("submittedAt"),
            checks=item.get("checks", 0),
            final=item.get("final"),
            attempts=item.get("attempts"),
            last_error=item.get("lastError"),
            claim_until=item.get("claimUntil"),
            message_id=item.get("messageId"),
            claim_token=item.get("claimToken"),
            provider=item.get("provider"),
            first_attempt_at=item.get("firstAttemptAt"),
            unconfirmed=bool(item.get("unconfirmed", False)),
            body=item.get("body"),
            timer_at=item.get("timerAt"),
        )


# A request waiting for a retry or for its sendAt: the claim takes it, and so does a cancel.
_CLAIMABLE = (State.RELEASED, State.SCHEDULED)


def _drop(item: dict[str, Any], *names: str) -> None:
    for name in names:
        item.pop(name, None)


def _millis(seconds: float) -> int:
    return int(seconds * 1000)


class FakeClock:
    """The use cases' clock, as the test moves it: it answers `now` (epoch seconds) until set again."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[OutcomeEvent] = []

    def publish(self, events: Sequence[OutcomeEvent]) -> set[str]:
        self.events.extend(events)
        return {event.request_id for event in events}


class FakeCheckTimers:
    """Check timers kept in a list, as the check queue would hold them; `fail` makes start() fail
    as the adapter does (it reports the number not started)."""

    def __init__(self, reach_seconds: int = 900) -> None:
        self.reach_seconds = reach_seconds
        self.started: list[Timer] = []
        self.fail = False

    def start(self, timers: Sequence[Timer]) -> int:
        if self.fail:
            return len(timers)
        self.started.extend(timers)
        return 0


class FakeProvider:
    """Accepts every SMS; reports what `verdicts` holds for a job id (a Verdict, or an error to
    raise), and "keep tracking" for any other."""

    def __init__(self) -> None:
        self.sent: list[SmsRequest] = []
        self.verdicts: dict[str, Verdict | Exception] = {}
        self.reports: list[str] = []

    def ready(self) -> None:
        pass

    def send(self, sms: SmsRequest, *, deadline: float | None = None, retries: bool = True) -> str:
        self.sent.append(sms)
        return f"J.{len(self.sent)}"

    def report(self, job_id: str, *, deadline: float | None = None) -> Verdict:
        self.reports.append(job_id)
        answer = self.verdicts.get(job_id, Verdict(None, "Pending SMS, not yet scheduled."))
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_sender(
    store: FakeStore,
    provider: FakeProvider,
    publisher: FakePublisher | None = None,
    **overrides: Any,
) -> Sender:
    """A Sender over the fakes with the template's defaults, but a validity of five minutes."""
    settings: dict[str, Any] = {
        "resend_unconfirmed": False,
        "first_check_delay": 30,
        "publish_lease_seconds": 60,
        "default_validity_seconds": 300,
        "retry_delays": (10, 30, 60, 120, 300, 600, 900),
        "request_defaults": CONTRACT_DEFAULTS,
        **overrides,
    }
    return Sender(store, publisher or FakePublisher(), provider, **settings)


def make_tracker(
    store: FakeStore,
    provider: FakeProvider,
    publisher: FakePublisher | None = None,
    **overrides: Any,
) -> Tracker:
    """A Tracker over the fakes with the template's defaults but one report thread, so that the
    checks run in the order of the due jobs."""
    settings: dict[str, Any] = {
        "check_delays": (30, 60, 300),
        "tracking_limit_seconds": 172800,
        "publish_lease_seconds": 60,
        "concurrency": 1,
        "max_jobs": 500,
        **overrides,
    }
    return Tracker(store, publisher or FakePublisher(), provider, **settings)


class FakeRequeue:
    """The request queue's put-back: what was put back, in order (request id, body, delay)."""

    def __init__(self) -> None:
        self.copies: list[tuple[str, str, int]] = []

    def put_back(self, request_id: str, body: str, *, delay_seconds: int) -> None:
        self.copies.append((request_id, body, delay_seconds))


@dataclass
class FakeRuleState:
    """The store's semantics in memory: the opt-out list, the day's parts, and each number's window
    with its version (a write is refused when the window changed since it was read)."""

    opted_out: set[str] = field(default_factory=set)
    parts: dict[str, int] = field(default_factory=dict)
    windows: dict[str, Window] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def look_up(self, numbers: Collection[str], *, windows: bool) -> Looked:
        self.calls.append("look_up windows" if windows else "look_up")
        found = {number: self.windows[number] for number in numbers if windows and number in self.windows}
        return Looked(frozenset(self.opted_out & set(numbers)), found)

    def take_parts(self, day: str, parts: int, *, limit: int, expires_at: int) -> int | None:
        self.calls.append("take_parts")
        if self.parts.get(day, 0) + parts > limit:
            return None
        self.parts[day] = self.parts.get(day, 0) + parts
        return self.parts[day]

    def give_back_parts(self, day: str, parts: int) -> None:
        self.calls.append("give_back_parts")
        self.parts[day] -= parts

    def write_windows(self, writes: Sequence[tuple[str, Window]], *, expires_at: int) -> dict[int, Window]:
        self.calls.append("write_windows")
        changed = {
            k: self.windows.get(number, Window())
            for k, (number, window) in enumerate(writes)
            if self.windows.get(number, Window()).version != window.version
        }
        if not changed:
            for number, window in writes:
                self.windows[number] = replace(window, version=window.written_version)
        return changed

    @property
    def counted(self) -> dict[str, list[str]]:
        return {number: list(window.ids) for number, window in self.windows.items()}
