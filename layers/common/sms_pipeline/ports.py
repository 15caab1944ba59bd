"""Every port of the two use cases, and the provider-neutral errors a provider raises (contract §3).

The use cases (sending.py, tracking.py) know only these: a store of jobs, a publisher of outcome
events, an SMS provider, the redelivery of a request later, the check timers and the put-back of a
scheduled request. The adapters implement them (dynamodb/, publisher.py, retarus/,
request_queue.py, check_queue.py) and the unit tests' fakes replace them, so a second provider is
a new adapter and its wiring, not a change to the use cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sms_pipeline.job import ClaimResult, Delivery, Final, Job, Origin
    from sms_pipeline.outcomes import OutcomeEvent, Verdict
    from sms_pipeline.request import SmsRequest
    from sms_pipeline.timers import Timer


# --- the provider's errors: the rows of contract §3 ---------------------------------------------


class ProviderError(Exception):
    """Base of a provider's errors. `reason` is what an outcome or a record repeats: short, in no
    provider's vocabulary, never holding credentials, numbers or message text; the message (str)
    also names the call it came from, for the logs."""

    def __init__(self, reason: str, *, call: str | None = None) -> None:
        super().__init__(f"{call}: {reason}" if call else reason)
        self.reason = reason


class Rejected(ProviderError):
    """The provider refuses the request's parameters. Final: the request ends as REJECTED."""


class ConfigurationFault(ProviderError):
    """Wrong credentials, unreadable credentials or a wrong URL: no call can succeed until an
    operator fixes it."""


class TransientError(ProviderError):
    """Certainly not accepted (a 5xx, a 429, a connection that failed before the request was
    sent): safe to try again later, after `retry_after` seconds if the provider said so."""

    def __init__(self, reason: str, *, call: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason, call=call)
        self.retry_after = retry_after


class UnknownResult(ProviderError):
    """The request reached the provider but no usable answer came: it may have been accepted.

    `accepted`: the provider did say it accepted the request, but its answer named no readable
    job id. The SMS is then certainly on its way: it is never sent again (contract §2: at most
    once), whatever ResendUnconfirmed says, and it cannot be tracked."""

    def __init__(self, reason: str, *, call: str | None = None, accepted: bool = False) -> None:
        super().__init__(reason, call=call)
        self.accepted = accepted


class UnexpectedResponse(ProviderError):
    """An answer in no known form. A report's: the job stays tracked; nothing is decided."""


# --- the ports ------------------------------------------------------------------------------------


class Provider(Protocol):
    def ready(self) -> None:
        """Whatever a send needs before it may claim (the credentials): raises ConfigurationFault."""

    def send(self, sms: SmsRequest, *, deadline: float | None = None, retries: bool = True) -> str:
        """Submit one SMS; the provider's job id. Raises one of the errors above."""

    def report(self, job_id: str, *, deadline: float | None = None) -> Verdict:
        """What the provider says of one job, as a provider-neutral verdict."""


class Fallback(Protocol):
    """The second provider, as the failover needs it (contract §12): it sends, raising the errors
    above; its outcomes come as delivery events, not from reports, so it has no `report`."""

    def ready(self) -> None:
        """Whatever its send needs first (its client, made on the first failover)."""

    def send(self, sms: SmsRequest, *, seconds_left: float) -> str:
        """Submit one SMS that may be delivered for `seconds_left` more; the provider's message id."""


class SendStore(Protocol):
    """The job store as the send use case uses it (the claim before the POST, its record after)."""

    def claim(
        self, origin: Origin, delivery: Delivery, *, now: float, requested_after: float
    ) -> tuple[ClaimResult, Job]: ...
    def note_failure(self, origin: Origin, *, error: str, now: float) -> None: ...
    def take_over(
        self, request_id: str, delivery: Delivery, *, stale_claim_until: float, unconfirmed: bool = False
    ) -> bool: ...
    def release(self, request_id: str, *, token: str, error: str, unconfirmed: bool = False) -> None: ...
    def switch_provider(self, request_id: str, *, token: str, provider: str) -> bool: ...
    def record_sent(
        self, request_id: str, job_id: str, *, submitted_at: float, first_check_at: float, timer: bool = False
    ) -> None: ...
    def finish_claimed(self, request_id: str, final: Final, *, publish_lease_until: float) -> bool: ...
    def finish_released(self, request_id: str, final: Final, *, publish_lease_until: float) -> bool: ...
    def put_rejected(self, origin: Origin, final: Final, *, now: float, publish_lease_until: float) -> Job | None: ...
    def mark_published(self, request_id: str) -> None: ...
    def publish_failed(self, request_id: str, *, retry_at: float) -> None: ...
    def schedule(
        self, origin: Origin, *, body: str, due_at: float, validity_seconds: int, now: float
    ) -> Job | None: ...
    def cancel(self, request_id: str, final: Final, *, publish_lease_until: float) -> tuple[bool, Job | None]: ...


class StatusStore(Protocol):
    """The job store as the status use case uses it (due jobs, their transitions, the publishes)."""

    def due(self, *, now: float, limit: int, shards: Sequence[int] | None = None) -> list[Job]: ...
    def get(self, request_ids: Sequence[str]) -> list[Job]: ...
    def reschedule(self, job: Job, *, next_check_at: float, timer: bool = False) -> bool: ...
    def finish_tracked(self, job: Job, final: Final, *, publish_lease_until: float) -> Job | None: ...
    def lease_publish(self, job: Job, *, publish_lease_until: float) -> Job | None: ...
    def record_published(self, jobs: Sequence[Job]) -> set[str]: ...
    def publish_failed(self, request_id: str, *, retry_at: float) -> None: ...
    def lease_scheduled(self, job: Job, *, lease_until: float) -> Job | None: ...


class CheckTimers(Protocol):
    """Timers that bring a job's check when it is due, instead of at the next scheduled run. The
    store marks a job whose timer is on its way (`timer=True` above), so that the scheduled run,
    the safety net, leaves it alone unless the timer is overdue."""

    reach_seconds: int  # the longest delay a timer brings (at most timers.TIMER_LIMIT_SECONDS)

    def start(self, timers: Sequence[Timer]) -> int:
        """Start each timer (due within `reach_seconds`); the number that could not be
        started. Failures are logged and counted, not raised: the scheduled run covers them."""


class Publisher(Protocol):
    def publish(self, events: Sequence[OutcomeEvent]) -> set[str]:
        """Publish the events; the request ids whose event was published (failures are reported, not raised)."""


class Redelivery(Protocol):
    def delay(self, delays: Sequence[tuple[str, int]]) -> None:
        """Make each message (by receipt handle) visible again after its number of seconds."""


class Requeue(Protocol):
    def put_back(self, request_id: str, body: str, *, delay_seconds: int) -> None:
        """Put a scheduled request's body back on the request queue, visible after `delay_seconds`
        (0-900), carrying its id as the `requestId` message attribute (contract §11). Raises when
        SQS refuses: the record's lease then ends and a later status run puts it back."""
