"""The fallback provider's delivery events and what each one means (contract §12).

AWS End User Messaging SMS reports a message's progress as events, which the configuration set's
event destination publishes to an SNS topic; nothing is polled. This module reads one event, in
any of the wrappers it arrives in, and maps its `eventType` to an outcome of contract §4 with the
same kind of value as the Retarus status table (`outcomes.verdict`): a `Verdict` whose outcome is
None while the message is still on its way. The table lives here and nowhere else; docs/contract.md
repeats it.

Event types and the event's fields: AWS End User Messaging SMS User Guide, "Event types for SMS,
MMS, and voice" (configuration-sets-event-types) and "Example SMS event data"
(configuration-sets-event-format); botocore's `pinpoint-sms-voice-v2` model lists the same
`TEXT_*` values in its EventType shape, plus `TEXT_SENT`.

An event carries the full destination number (`destinationPhoneNumber`): it is read by nothing
here and never copied into a `DeliveryEvent`, an exception or a log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sms_pipeline.outcomes import Outcome, ProviderStatus, Verdict

PROVIDER: Final = "aws-sms"
# The `Context` key the adapter sends the request id under; the event repeats the context.
REQUEST_ID_KEY: Final = "requestId"
EVENTBRIDGE_DETAIL_TYPE: Final = "Text Message Delivery Status Updated"

# Still on its way: the job stays tracked.
_IN_FLIGHT: Final[dict[str, str]] = {
    "TEXT_QUEUED": "The message is queued for delivery, but not delivered yet.",
    "TEXT_PENDING": "The message is being delivered, but has not been delivered (or failed) yet.",
    "TEXT_SENT": "The message was sent to the carrier; no delivery report yet.",
}

# Final events, with the provider's own description (paraphrased from the User Guide) as reason.
# FAILED: the message never reached the handset's network (invalid, blocked, refused as spam);
# UNDELIVERED: the carrier took it and reports that it could not deliver it, as Retarus's FAILED_FIN.
FINAL: Final[dict[str, tuple[Outcome, str]]] = {
    "TEXT_DELIVERED": (Outcome.DELIVERED, "Delivered to the recipient's device."),
    "TEXT_SUCCESSFUL": (Outcome.SENT, "Accepted by the recipient's carrier (no delivery notification)."),
    "TEXT_TTL_EXPIRED": (Outcome.EXPIRED, "Delivery took longer than the message's time to live."),
    "TEXT_BLOCKED": (Outcome.FAILED, "The recipient's device or carrier blocks messages to this recipient."),
    "TEXT_CARRIER_BLOCKED": (Outcome.FAILED, "The recipient's carrier blocked the message as malicious or abusive."),
    "TEXT_SPAM": (Outcome.FAILED, "The recipient's carrier blocked the message as unsolicited commercial content."),
    "TEXT_INVALID": (Outcome.FAILED, "The destination phone number is not valid."),
    "TEXT_INVALID_MESSAGE": (Outcome.FAILED, "The message body is not valid and cannot be delivered."),
    "TEXT_PROTECT_BLOCKED": (Outcome.FAILED, "The account's protect configuration blocked the message."),
    "TEXT_UNREACHABLE": (Outcome.UNDELIVERED, "The recipient's device is unavailable (off or out of coverage)."),
    "TEXT_CARRIER_UNREACHABLE": (Outcome.UNDELIVERED, "The recipient's carrier network had an error."),
    "TEXT_UNKNOWN": (Outcome.UNKNOWN, "The message could not be delivered, for a reason the provider does not know."),
}
EVENT_TYPES: Final = frozenset(_IN_FLIGHT) | frozenset(FINAL)


class MalformedEvent(ValueError):
    """Not a delivery event this module can read; the message names the field, never a value."""


@dataclass(frozen=True)
class DeliveryEvent:
    message_id: str  # the MessageId SendTextMessage returned: the job id of a fallback send
    event_type: str  # upper case, white space stripped
    message_status: str
    is_final: bool | None  # None: the event did not say
    event_timestamp_ms: int | None
    request_id: str | None  # the request id the adapter put in the context, when the event carries it

    @property
    def provider_status(self) -> ProviderStatus:
        return ProviderStatus(self.event_type, self.message_status)


def parse(body: str | bytes | Mapping[str, Any]) -> DeliveryEvent:
    """One event, as the configuration set's event destination produced it and as it reaches a
    consumer: the event JSON itself (an SQS subscription with raw message delivery), an SNS
    notification (an SQS subscription without it: the event is the string in `Message`), a Lambda
    SNS record (`Sns.Message`), or an EventBridge event (`detail`)."""
    document = _unwrap(_load(body, "body"))
    message_id = document.get("messageId")
    if not isinstance(message_id, str) or not message_id.strip():
        raise MalformedEvent("messageId is missing or not a string")
    event_type = document.get("eventType")
    if not isinstance(event_type, str) or not event_type.strip():
        raise MalformedEvent("eventType is missing or not a string")
    status = document.get("messageStatus", "")
    if not isinstance(status, str):
        raise MalformedEvent("messageStatus is not a string")
    is_final = document.get("isFinal")
    if is_final is not None and not isinstance(is_final, bool):
        raise MalformedEvent("isFinal is not a boolean")
    timestamp = document.get("eventTimestamp")
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
        raise MalformedEvent("eventTimestamp is not whole milliseconds")
    context = document.get("context") or {}
    if not isinstance(context, Mapping):
        raise MalformedEvent("context is not an object")
    request_id = context.get(REQUEST_ID_KEY)
    return DeliveryEvent(
        message_id=message_id.strip(),
        event_type=event_type.strip().upper(),
        message_status=status.strip().upper(),
        is_final=is_final,
        event_timestamp_ms=timestamp,
        request_id=request_id if isinstance(request_id, str) and request_id else None,
    )


def verdict(event: DeliveryEvent) -> Verdict:
    """The outcome an event means, with the §4 table's semantics: None keeps the job tracked.

    An event the provider marks `isFinal: false` keeps the job tracked even when its type is a
    final one: the provider says more will come (TEXT_SUCCESSFUL before TEXT_DELIVERED, in the
    countries that report both), and the later, final event is the one that decides. An event type
    not in the table decides UNKNOWN when the provider says it is final, and otherwise keeps the job
    tracked with a warning, as an unknown Retarus processStatus does."""
    if event.event_type in _IN_FLIGHT:
        return Verdict(None, _IN_FLIGHT[event.event_type])
    if event.event_type in FINAL:
        outcome, reason = FINAL[event.event_type]
        if event.is_final is False:
            return Verdict(None, f"{event.event_type} reported as not final; waiting for the final event.")
        return Verdict(outcome, reason)
    if event.is_final:
        return Verdict(Outcome.UNKNOWN, f"Unrecognised final event type {event.event_type!r}.")
    return Verdict(None, f"Unrecognised event type {event.event_type!r}; still tracked.", known=False)


def _load(raw: str | bytes | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        return raw
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedEvent(f"{what} is not JSON") from None
    if not isinstance(document, Mapping):
        raise MalformedEvent(f"{what} is not a JSON object")
    return document


def _unwrap(document: Mapping[str, Any]) -> Mapping[str, Any]:
    if "eventType" in document:
        return document
    sns = document.get("Sns")
    if isinstance(sns, Mapping):  # a Lambda SNS record
        document = sns
    if document.get("Type") == "Notification" or "Message" in document:  # an SNS notification
        message = document.get("Message")
        if not isinstance(message, str):
            raise MalformedEvent("Message of the SNS notification is not a string")
        return _load(message, "Message of the SNS notification")
    detail = document.get("detail")
    if isinstance(detail, Mapping):  # EventBridge
        return detail
    raise MalformedEvent("eventType is missing (not an SMS event, an SNS notification of one, nor EventBridge's)")
