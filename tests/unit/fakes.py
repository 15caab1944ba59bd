"""In-memory fakes of the use cases' ports (fakes over mocks: they keep state and rules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sms_pipeline.job import ClaimResult, Final, Job, Origin, State
from sms_pipeline.outcomes import OutcomeEvent, Verdict
from sms_pipeline.request import CONTRACT_DEFAULTS, SmsRequest
from sms_pipeline.sending import Sender


class FakeStore:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def claim(
        self, origin: Origin, *, message_id: str, token: str, now: float, claim_until: float, requested_after: float
    ) -> tuple[ClaimResult, Job]:
        item = self.items.get(origin.id)
        if item is None and origin.requested_at <= requested_after:
            item = self.items[origin.id] = {"state": State.RELEASED, "requestedAt": origin.requested_at, "attempts": 0}
        if item is not None and item["state"] == State.RELEASED and item.get("requestedAt", 0.0) <= requested_after:
            return ClaimResult.PAST_VALIDITY, self._job(origin, item)
        if item is None or item["state"] == State.RELEASED:
            kept = item or {}
            item = self.items[origin.id] = {
                **kept,
                "state": State.SENDING,
                "claimUntil": claim_until,
                "messageId": message_id,
                "claimToken": token,
                "requestedAt": kept.get("requestedAt", origin.requested_at),
                "attempts": kept.get("attempts", 0) + 1,
                "contentHash": origin.fingerprint,
            }
            return ClaimResult.GRANTED, self._job(origin, item)
        job = self._job(origin, item)
        if item["state"] == State.SENDING:
            if item["claimUntil"] < now:
                return ClaimResult.EXPIRED, job
            if item["messageId"] == message_id:
                return ClaimResult.IN_FLIGHT, job
        return ClaimResult.DUPLICATE, job

    def note_failure(self, origin: Origin, *, error: str, now: float) -> None:
        item = self.items.get(origin.id)
        if item is None or item["state"] == State.RELEASED:
            kept = item or {}
            self.items[origin.id] = {
                **kept,
                "state": State.RELEASED,
                "lastError": error,
                "requestedAt": kept.get("requestedAt", origin.requested_at),
            }

    @staticmethod
    def _job(origin: Origin, item: dict[str, Any]) -> Job:
        stored = Origin(origin.id, origin.masked_to, origin.reference, origin.metadata, item.get("requestedAt", 0.0))
        return Job(
            origin=stored,
            state=item["state"],
            attempts=item.get("attempts"),
            last_error=item.get("lastError"),
            claim_until=item.get("claimUntil"),
            message_id=item.get("messageId"),
            claim_token=item.get("claimToken"),
        )

    def take_over(
        self, request_id: str, *, message_id: str, token: str, stale_claim_until: float, claim_until: float
    ) -> bool:
        item = self.items[request_id]
        if item["state"] != State.SENDING or item["claimUntil"] != stale_claim_until:
            return False
        item.update(claimUntil=claim_until, messageId=message_id, claimToken=token)
        return True

    def release(self, request_id: str, *, token: str, error: str) -> None:
        item = self.items[request_id]
        if item["state"] == State.SENDING and item.get("claimToken") == token:
            item.update(state=State.RELEASED, lastError=error)

    def record_sent(self, request_id: str, job_id: str, *, submitted_at: float, first_check_at: float) -> None:
        self.items[request_id].update(state=State.TRACKING, jobId=job_id)

    def finish_claimed(self, request_id: str, final: Final, *, publish_lease_until: float) -> bool:
        if self.items[request_id]["state"] != State.SENDING:
            return False
        self.items[request_id].update(state=State.PUBLISHING, final=final)
        return True

    def finish_released(self, request_id: str, final: Final, *, publish_lease_until: float) -> bool:
        if self.items[request_id]["state"] != State.RELEASED:
            return False
        self.items[request_id].update(state=State.PUBLISHING, final=final)
        return True

    def put_rejected(self, origin: Origin, final: Final, *, now: float, publish_lease_until: float) -> Job | None:
        if origin.id in self.items:
            return self._job(origin, self.items[origin.id])
        self.items[origin.id] = {"state": State.PUBLISHING, "final": final, "contentHash": origin.fingerprint}
        return None

    def mark_published(self, request_id: str) -> None:
        self.items[request_id]["state"] = State.DONE

    def publish_failed(self, request_id: str, *, retry_at: float) -> None:
        pass


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[OutcomeEvent] = []

    def publish(self, events: Sequence[OutcomeEvent]) -> set[str]:
        self.events.extend(events)
        return {event.request_id for event in events}


class FakeProvider:
    def __init__(self) -> None:
        self.sent: list[SmsRequest] = []

    def ready(self) -> None:
        pass

    def send(self, sms: SmsRequest, *, deadline: float | None = None, retries: bool = True) -> str:
        self.sent.append(sms)
        return f"J.{len(self.sent)}"

    def report(self, job_id: str, *, deadline: float | None = None) -> Verdict:
        return Verdict(None, "still pending")


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
