"""The SMS request (contract §1): parsing and validation of one SQS message body.

Validation is strict so that a producer learns of a mistake from a REJECTED outcome whose reason
names the field, instead of from an SMS that reads wrong. Nothing here does I/O.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from typing import Any

from sms_pipeline import phone

MAX_TEXT_CHARS = 1600
MAX_METADATA_BYTES = 2048
MAX_BILLING_CODE_CHARS = 70
MAX_REFERENCE_CHARS = 70
# A request may wait for the provider at most this long (contract §1, §8): SQS keeps a message for
# days, and an SMS that arrives days late (a one-time code, an alert) does more harm than none.
MIN_VALIDITY_SECONDS = 5
MAX_VALIDITY_SECONDS = 345_600

_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_NUMERIC_SENDER = re.compile(r"^\+?[0-9]{1,20}$")
_ALPHA_SENDER = re.compile("^[A-Za-z0-9 " + re.escape(string.punctuation) + "]{1,11}$")
_FIELDS = frozenset(
    {
        "id",
        "to",
        "text",
        "from",
        "deliveryReport",
        "priority",
        "billingCode",
        "reference",
        "metadata",
        "validitySeconds",
    }
)
_PRIORITIES = ("normal", "express")


class InvalidRequest(ValueError):
    """A request that breaks a rule of §1. `field` names the culprit; str() is the outcome reason."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


@dataclass(frozen=True)
class SmsRequest:
    id: str
    to: str
    text: str
    sender: str | None = None
    delivery_report: bool = False
    priority: str = "normal"
    billing_code: str | None = None
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    validity_seconds: int | None = None  # None: the deployment's DefaultValiditySeconds

    @property
    def masked_to(self) -> str:
        return phone.mask(self.to) or ""


@dataclass(frozen=True)
class RequestEcho:
    """What an outcome event repeats of a request, including one that could not be parsed."""

    id: str
    to: str | None = None
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def unwrap(body: str) -> Any:
    """The request document: the body's JSON, or the `Message` inside an SNS notification envelope.

    Raises InvalidRequest("body", …) when the body or the envelope's message is not JSON.
    """
    document = _loads(body, "body")
    if (
        isinstance(document, dict)
        and document.get("Type") == "Notification"
        and isinstance(document.get("Message"), str)
        and "TopicArn" in document
    ):
        return _loads(document["Message"], "body.Message")
    return document


def parse(body: str, default_id: str) -> SmsRequest:
    """Validate one message body; `default_id` (the SQS messageId) is used when `id` is absent."""
    return validate(unwrap(body), default_id)


def echo(body: str, default_id: str) -> RequestEcho:
    """Best effort: the id, number, reference and metadata of a body that may be invalid.

    A rejected request's outcome should still carry the producer's id and correlation data when
    those fields themselves are fine; anything doubtful falls back to the SQS messageId / nothing.
    """
    try:
        document = unwrap(body)
    except InvalidRequest:
        return RequestEcho(id=default_id)
    if not isinstance(document, dict):
        return RequestEcho(id=default_id)
    raw_id = document.get("id")
    raw_to = document.get("to")
    raw_reference = document.get("reference")
    raw_metadata = document.get("metadata")
    number = phone.clean(raw_to) if isinstance(raw_to, str) else None
    return RequestEcho(
        id=raw_id if isinstance(raw_id, str) and _ID.match(raw_id) else default_id,
        to=number,
        reference=raw_reference
        if isinstance(raw_reference, str) and len(raw_reference) <= MAX_REFERENCE_CHARS
        else None,
        metadata=raw_metadata if isinstance(raw_metadata, dict) and _metadata_size(raw_metadata) else {},
    )


def validate(document: Any, default_id: str) -> SmsRequest:
    if not isinstance(document, dict):
        raise InvalidRequest("body", f"must be a JSON object, not {_json_type(document)}")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise InvalidRequest(unknown[0], "unknown field")

    request_id = _optional_str(document, "id")
    if request_id is None:
        request_id = default_id
    elif not _ID.match(request_id):
        raise InvalidRequest("id", "must be 1-128 characters of A-Z a-z 0-9 . _ : -")

    raw_to = _required_str(document, "to")
    number = phone.clean(raw_to)
    if number is None:
        raise InvalidRequest(
            "to", "must be a phone number: 3-20 digits, optionally after + or 00 (spaces - . ( ) allowed)"
        )

    text = _required_str(document, "text")
    if not 1 <= len(text) <= MAX_TEXT_CHARS:
        raise InvalidRequest("text", f"must be 1-{MAX_TEXT_CHARS} characters, got {len(text)}")

    sender = _optional_str(document, "from")
    if sender is not None and not (_NUMERIC_SENDER.match(sender) or _ALPHA_SENDER.match(sender)):
        raise InvalidRequest(
            "from",
            "must be up to 20 digits with an optional leading +, "
            "or up to 11 characters of letters, digits, space and ASCII punctuation",
        )

    delivery_report = document.get("deliveryReport")
    if delivery_report is None:
        delivery_report = False
    elif not isinstance(delivery_report, bool):
        raise InvalidRequest("deliveryReport", f"must be a boolean, not {_json_type(delivery_report)}")

    priority = _optional_str(document, "priority")
    if priority is None:
        priority = "normal"
    elif priority not in _PRIORITIES:
        raise InvalidRequest("priority", 'must be "normal" or "express"')

    billing_code = _bounded_str(document, "billingCode", MAX_BILLING_CODE_CHARS)
    reference = _bounded_str(document, "reference", MAX_REFERENCE_CHARS)

    metadata = document.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise InvalidRequest("metadata", f"must be a JSON object, not {_json_type(metadata)}")
    if not _metadata_size(metadata):
        raise InvalidRequest("metadata", f"must be at most {MAX_METADATA_BYTES} bytes serialized")

    validity = document.get("validitySeconds")
    if validity is not None and (
        isinstance(validity, bool)
        or not isinstance(validity, int)
        or not MIN_VALIDITY_SECONDS <= validity <= MAX_VALIDITY_SECONDS
    ):
        raise InvalidRequest(
            "validitySeconds",
            f"must be a whole number of seconds from {MIN_VALIDITY_SECONDS} to {MAX_VALIDITY_SECONDS} (4 days)",
        )

    return SmsRequest(
        id=request_id,
        to=number,
        text=text,
        sender=sender,
        delivery_report=delivery_report,
        priority=priority,
        billing_code=billing_code,
        reference=reference,
        metadata=metadata,
        validity_seconds=validity,
    )


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise InvalidRequest(where, "JSON nested too deeply") from None
    except ValueError as error:
        raise InvalidRequest(where, f"not valid JSON ({error.__class__.__name__})") from None


def _metadata_size(metadata: dict[str, Any]) -> bool:
    try:
        serialized = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):
        return False
    return len(serialized.encode("utf-8", "surrogatepass")) <= MAX_METADATA_BYTES


def _required_str(document: dict[str, Any], name: str) -> str:
    if name not in document:
        raise InvalidRequest(name, "is required")
    value = _optional_str(document, name)
    if value is None:
        raise InvalidRequest(name, "is required (null given)")
    return value


def _optional_str(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(name, f"must be a string, not {_json_type(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(name, "holds an unpaired surrogate (not valid Unicode)") from None
    return value


def _bounded_str(document: dict[str, Any], name: str, limit: int) -> str | None:
    value = _optional_str(document, name)
    if value is not None and len(value) > limit:
        raise InvalidRequest(name, f"must be at most {limit} characters, got {len(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
