"""The SMS request (contract §1): parsing and validation of one SQS message body.

Validation is strict so that a producer learns of a mistake from a REJECTED outcome whose reason
names the field, instead of from an SMS that reads wrong. Nothing here does I/O.

The body is I-JSON (RFC 7493): a name repeated in one object is invalid, found by the one parse the
send path does. Parsers disagree on which copy wins, so a producer that checked one copy (the
number, say) and this pipeline could otherwise read two different requests in one body.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sms_pipeline import phone, segments
from sms_pipeline.limits import MAX_SEGMENTS, MAX_VALIDITY_SECONDS, MIN_VALIDITY_SECONDS

MAX_TEXT_CHARS = 1600
MAX_METADATA_BYTES = 2048
MAX_BILLING_CODE_CHARS = 70
MAX_REFERENCE_CHARS = 70
# How far ahead a request may be scheduled (contract §11): as far as the anchors' (Twilio's SendAt).
MAX_SCHEDULE_SECONDS = 35 * 86_400

# \Z, not $: $ also matches before a final line feed, and "abc\n" is no id.
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}\Z")
_NUMERIC_SENDER = re.compile(r"^\+?[0-9]{1,20}\Z")
_ALPHA_SENDER = re.compile("^[A-Za-z0-9 " + re.escape(string.punctuation) + r"]{1,11}\Z")
# What `text` may not hold (contract §1): the C0 controls but line feed, form feed and carriage
# return (the three that GSM-7 has), DEL, and the C1 controls.
_TEXT_CONTROL = re.compile(r"[\x00-\x09\x0b\x0e-\x1f\x7f-\x9f]")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's Cc: C0, DEL, C1
# sendAt (contract §11): RFC 3339's date-time, the profile of ISO 8601 every serializer writes, with
# an offset or Z that it must have (a time without one is a different instant in every time zone).
# Upper-case T and Z only, and at most 9 fraction digits (nanoseconds; kept to the microsecond).
# [0-9], not \d: \d also matches other scripts' digits, which datetime would read as digits too.
_SEND_AT = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))\Z"
)
_SEND_AT_FORM = (
    "must be an ISO 8601 date and time with a UTC offset or Z: YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)"
)
_SHOWN_PATH_CHARS = 120  # a repeated name deeper than this is named by its top-level field only
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
        "maxSegments",
        "smartEncoding",
        "sendAt",
    }
)
_PRIORITIES = ("normal", "express")
_SHOWN_NAME = re.compile(r"^[A-Za-z_$@][A-Za-z0-9_.$@-]{0,63}\Z")
_DIGIT_RUN = re.compile(r"[0-9]{7}")


class _RepeatedName(ValueError):
    """Raised from inside the strict parse: an object holds a name more than once."""


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _RepeatedName
    return document


class _Repeats(dict[str, Any]):
    """An object of the lenient parse that holds a name more than once (the last copy kept, as in
    a dict): what the reason of a rejection and the echo of a rejected request need to know."""

    names: tuple[str, ...]  # every name that appears again, in the order of their second copies
    copies: int  # how often the first of them appears


def _lenient_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) == len(pairs):
        return document
    marked = _Repeats(document)
    seen: set[str] = set()
    names: dict[str, None] = {}
    for name, _ in pairs:
        if name in seen:
            names[name] = None
        seen.add(name)
    marked.names = tuple(names)
    marked.copies = sum(1 for name, _ in pairs if name == marked.names[0])
    return marked


# Module-level decoders: json.loads with a hook would build a new decoder per call.
_STRICT = json.JSONDecoder(object_pairs_hook=_strict_object)
_LENIENT = json.JSONDecoder(object_pairs_hook=_lenient_object)


class InvalidRequest(ValueError):
    """A request that breaks a rule of §1. `field` names the culprit; str() is the outcome reason."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


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
    parts: segments.Parts | None = None  # of `text`, as it is sent
    smart_encoded: bool = False  # `text` is the request's text with its look-alikes replaced
    fingerprint: str | None = None  # of the request document: tells two requests with one id apart
    send_at: float | None = None  # sendAt in epoch seconds (§11), as written: it may be past; None: now

    @property
    def masked_to(self) -> str:
        return phone.mask(self.to) or ""

    def validity_starts_at(self, requested_at: float) -> float:
        """When the validity (§8) starts counting: at sendAt (§11), or at requestedAt when that is
        later (a past sendAt means now) or the request is not scheduled."""
        return requested_at if self.send_at is None else max(requested_at, self.send_at)

    def wait_seconds(self, now: float) -> float:
        """How long the request must still wait before it may be handed to the provider: 0 when
        it may go now (no sendAt, or a sendAt that has come)."""
        return 0.0 if self.send_at is None else max(0.0, self.send_at - now)


@dataclass(frozen=True)
class RequestEcho:
    """What an outcome event repeats of a request, including one that could not be parsed."""

    id: str
    to: str | None = None
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    parts: segments.Parts | None = None  # of the text, when it is a string
    fingerprint: str | None = None  # as SmsRequest's, or of the body itself when it is no JSON


@dataclass(frozen=True)
class Defaults:
    """What a request that does not say gets: the deployment's MaxSegments and SmartEncoding. The
    send function passes the template's; CONTRACT_DEFAULTS are the template parameters' defaults."""

    max_segments: int
    smart_encoding: bool


CONTRACT_DEFAULTS = Defaults(max_segments=10, smart_encoding=False)


def unwrap(body: str) -> Any:
    """The request document: the body's JSON, or the `Message` inside an SNS notification
    envelope. The id of a request that names none is the SQS messageId either way (contract §1),
    never the envelope's MessageId: a producer that subscribes an SNS topic to the queue sets `id`
    if SNS's rare second delivery of a notification must not be a second request.

    Raises InvalidRequest("body", …) when the body or the envelope's message is not JSON, and
    InvalidRequest naming the name when one object, the envelope's included, repeats a name.
    """
    try:
        return _open_envelope(_loads(body, "body", _STRICT), _STRICT)
    except _RepeatedName:
        raise _repeated_name(body) from None


def _is_envelope(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("Type") == "Notification"
        and "Message" in document
        and "TopicArn" in document
    )


def _open_envelope(document: Any, decoder: json.JSONDecoder) -> Any:
    if not _is_envelope(document):
        return document
    message = document["Message"]
    if not isinstance(message, str):
        raise InvalidRequest(
            "body.Message",
            f"must be a string holding the request as JSON (SNS envelope), not {json_type(message)}",
        )
    return _loads(message, "body.Message", decoder)


def _repeated_name(body: str) -> InvalidRequest:
    """The rejection of a body in which an object repeats a name: the body is read again, without
    the strict check, to find where (a rejection is rare; the valid path parses once)."""
    outer = _loads(body, "body", _LENIENT)
    prefix = "body" if _is_envelope(outer) or not isinstance(outer, dict) else ""
    found = _first_repeat(outer)
    if found is None and prefix == "body" and isinstance(outer, dict) and isinstance(outer["Message"], str):
        found = _first_repeat(_loads(outer["Message"], "body.Message", _LENIENT))
        prefix = ""  # the request's own fields are named as they are
    if found is None:  # not expected: the strict parse found one
        return InvalidRequest("body", "a name appears twice in one object")
    path, repeats = found
    keys = (*path, repeats.names[0])
    problem = "appears twice" if repeats.copies == 2 else f"appears {repeats.copies} times"
    name = prefix
    for key in keys:
        if isinstance(key, int):
            name += f"[{key}]"
            continue
        shown = shown_name(key)
        if shown is None:
            break
        name = f"{name}.{shown}" if name else shown
    else:
        if len(name) <= _SHOWN_PATH_CHARS:
            return InvalidRequest(name, problem)
    top = shown_name(keys[0]) if len(keys) > 1 and isinstance(keys[0], str) else None
    if top is None:
        return InvalidRequest(prefix or "body", f"a name {problem} (not repeated here)")
    return InvalidRequest(f"{prefix}.{top}" if prefix else top, f"a name in it {problem} (not repeated here)")


def _first_repeat(value: Any) -> tuple[tuple[str | int, ...], _Repeats] | None:
    """The path to the first object, in document order, that repeats a name (lenient parse)."""
    # Parent links rather than a path per node: a deep document costs its size, not size x depth.
    links: list[tuple[int, str | int]] = [(-1, "")]
    stack: list[tuple[int, Any]] = [(0, value)]
    while stack:
        node, item = stack.pop()
        if isinstance(item, _Repeats):
            path: list[str | int] = []
            while node > 0:
                node, key = links[node]
                path.append(key)
            return tuple(reversed(path)), item
        children: list[tuple[str | int, Any]]
        if isinstance(item, dict):
            children = list(item.items())
        elif isinstance(item, list):
            children = list(enumerate(item))
        else:
            continue
        for key, child in reversed(children):
            links.append((node, key))
            stack.append((len(links) - 1, child))
    return None


def parse(
    body: str, default_id: str, defaults: Defaults = CONTRACT_DEFAULTS, *, requested_at: float | None = None
) -> SmsRequest:
    """Validate one message body; `default_id` (the SQS messageId) is used when `id` is absent.

    `requested_at` (the SQS SentTimestamp, epoch seconds) bounds sendAt (§11); see validate.
    """
    return from_document(unwrap(body), body, default_id, defaults, requested_at=requested_at)


def from_document(
    document: Any, body: str, default_id: str, defaults: Defaults = CONTRACT_DEFAULTS, *, requested_at: float | None
) -> SmsRequest:
    """parse's second half, for a caller that has unwrapped the body itself (to tell a cancel
    message from a request with the one parse): `document` is unwrap's."""
    return replace(
        validate(document, default_id, defaults, requested_at=requested_at), fingerprint=_fingerprint(document, body)
    )


def top_level_names(body: str) -> frozenset[str]:
    """The names of the body's object (an SNS envelope's Message's, when it is one), read without
    the strict checks, so that a message's kind is known even when it breaks a rule (a repeated
    name); empty when that is no JSON object."""
    try:
        document = _open_envelope(_loads(body, "body", _LENIENT), _LENIENT)
    except InvalidRequest:
        return frozenset()
    return frozenset(document) if isinstance(document, dict) else frozenset()


def _fingerprint(document: Any, body: str) -> str:
    """A hash of the request document, key order and white space aside, so that one request
    enqueued twice has one fingerprint; of the body itself when the document cannot be written."""
    try:
        canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):
        canonical = body
    return _digest(canonical)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def shown_name(name: str) -> str | None:
    """A field name as a reason or a log line may repeat it, or None when it must not be repeated:
    too long, or not name-like (a key may be anything, a phone number included)."""
    return name if _SHOWN_NAME.match(name) and not _DIGIT_RUN.search(name) else None


def echo(body: str, default_id: str, defaults: Defaults = CONTRACT_DEFAULTS) -> RequestEcho:
    """Best effort: the id, number, reference and metadata of a body that may be invalid.

    A rejected request's outcome should still carry the producer's id and correlation data when
    those fields themselves are fine; anything doubtful falls back to the SQS messageId / nothing.
    A name that appears twice (contract §1) makes its field doubtful: a repeated `id` gives the
    default id, a repeated `to`, `reference` or `metadata` (or a name repeated inside `metadata`)
    gives nothing. A repeated name in an SNS envelope makes the whole envelope doubtful: the id is
    the SQS messageId, nothing else is repeated.
    """
    try:
        outer = _loads(body, "body", _LENIENT)
        if isinstance(outer, _Repeats) and _is_envelope(outer):
            return RequestEcho(id=default_id, fingerprint=_digest(body))
        document = _open_envelope(outer, _LENIENT)
    except InvalidRequest:
        return RequestEcho(id=default_id, fingerprint=_digest(body))
    if not isinstance(document, dict):
        return RequestEcho(id=default_id, fingerprint=_fingerprint(document, body))
    doubtful = frozenset(document.names) if isinstance(document, _Repeats) else frozenset()
    raw_id, raw_to, raw_reference, raw_metadata, raw_text = (
        None if name in doubtful else document.get(name) for name in ("id", "to", "reference", "metadata", "text")
    )
    if raw_metadata is not None and _first_repeat(raw_metadata) is not None:
        raw_metadata = None
    number = phone.clean(raw_to) if isinstance(raw_to, str) and _invisible(raw_to) is None else None
    readable = raw_text if isinstance(raw_text, str) and raw_text and _encodable(raw_text) else None
    return RequestEcho(
        # A body that repeats a name is as many documents as a parser makes of it: its own hash.
        fingerprint=_digest(body) if _first_repeat(document) is not None else _fingerprint(document, body),
        parts=_text_parts(document, readable, defaults)[1] if readable else None,
        id=raw_id if isinstance(raw_id, str) and _ID.match(raw_id) else default_id,
        to=number,
        reference=raw_reference
        if isinstance(raw_reference, str) and len(raw_reference) <= MAX_REFERENCE_CHARS
        else None,
        metadata=raw_metadata if isinstance(raw_metadata, dict) and _metadata_size(raw_metadata) else {},
    )


def validate(
    document: Any, default_id: str, defaults: Defaults = CONTRACT_DEFAULTS, *, requested_at: float | None = None
) -> SmsRequest:
    """The request a document holds, or InvalidRequest naming the first field that breaks a rule.

    A sendAt may be at most MAX_SCHEDULE_SECONDS after `requested_at`; without it (a caller that
    does not know the SQS SentTimestamp, as `sms send` before it enqueues), after the clock's now,
    which is no earlier than the SentTimestamp of a message already on the queue.
    """
    if not isinstance(document, dict):
        raise InvalidRequest("body", f"must be a JSON object, not {json_type(document)}")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        name = shown_name(unknown[0])
        if name is None:
            raise InvalidRequest(
                "body", f"has an unknown field, whose name is not repeated ({min(len(unknown[0]), 10_000)} characters)"
            )
        raise InvalidRequest(name, "unknown field")

    request_id = _optional_str(document, "id")
    if request_id is None:
        request_id = default_id
    else:
        check_id("id", request_id)

    raw_to = _required_str(document, "to")
    _refuse_invisible("to", raw_to)  # a tab or a line feed would otherwise be a separator
    number = phone.clean(raw_to)
    if number is None:
        raise InvalidRequest(
            "to", "must be a phone number: 3-20 digits, optionally after + or 00 (spaces - . ( ) allowed)"
        )

    text = _required_str(document, "text")
    if not 1 <= len(text) <= MAX_TEXT_CHARS:
        raise InvalidRequest("text", f"must be 1-{MAX_TEXT_CHARS} characters, got {len(text)}")
    control = _TEXT_CONTROL.search(text)
    if control:
        raise InvalidRequest("text", f"control character {_code_point(control.group())} is not allowed")

    sender = _optional_str(document, "from")
    if sender is not None:
        # Spaces anywhere, leading and trailing ones too (contract §1): sent as they are.
        _refuse_invisible("from", sender)
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
        raise InvalidRequest("deliveryReport", f"must be a boolean, not {json_type(delivery_report)}")

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
        raise InvalidRequest("metadata", f"must be a JSON object, not {json_type(metadata)}")
    if not _metadata_size(metadata):
        raise InvalidRequest("metadata", f"must be at most {MAX_METADATA_BYTES} bytes serialized")

    validity = _whole_number(
        document,
        "validitySeconds",
        MIN_VALIDITY_SECONDS,
        MAX_VALIDITY_SECONDS,
        f"must be a whole number of seconds from {MIN_VALIDITY_SECONDS} to {MAX_VALIDITY_SECONDS} (4 days)",
    )
    max_segments = _whole_number(
        document, "maxSegments", 1, MAX_SEGMENTS, f"must be a whole number from 1 to {MAX_SEGMENTS}"
    )
    smart = document.get("smartEncoding")
    if smart is not None and not isinstance(smart, bool):
        raise InvalidRequest("smartEncoding", f"must be a boolean, not {json_type(smart)}")
    send_at = _send_at(document, time.time() if requested_at is None else requested_at)
    sent, parts = _text_parts(document, text, defaults)
    limit = max_segments or defaults.max_segments
    if parts.segments > limit:
        raise InvalidRequest("text", f"{parts.segments} segments ({parts.encoding}), more than the limit of {limit}")

    return SmsRequest(
        id=request_id,
        to=number,
        text=sent,
        sender=sender,
        delivery_report=delivery_report,
        priority=priority,
        billing_code=billing_code,
        reference=reference,
        metadata=metadata,
        validity_seconds=validity,
        parts=parts,
        smart_encoded=sent != text,
        send_at=send_at,
    )


def check_id(name: str, value: str) -> None:
    """A request id as §1 allows it (1-128 of A-Z a-z 0-9 . _ : -), or InvalidRequest naming `name`
    (the reason gives a control or format character's code point, never the value)."""
    if not _ID.match(value):
        _refuse_invisible(name, value)
        raise InvalidRequest(name, "must be 1-128 characters of A-Z a-z 0-9 . _ : -")


def _send_at(document: dict[str, Any], requested_at: float) -> float | None:
    """sendAt in epoch seconds (§11), or None when absent; a past one is kept as it is (it means
    now: wait_seconds is 0), a later one than MAX_SCHEDULE_SECONDS after requestedAt is invalid."""
    value = _optional_str(document, "sendAt")
    if value is None:
        return None
    found = _SEND_AT.match(value)
    if found is None:
        raise InvalidRequest("sendAt", _SEND_AT_FORM)
    year, month, day, hour, minute, second, fraction, sign, offset_hours, offset_minutes = found.groups()
    try:
        zone = UTC
        if sign is not None:
            if int(offset_minutes) > 59:
                raise ValueError("offset minutes")
            offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
            zone = timezone(-offset if sign == "-" else offset)  # ValueError from 24:00 on
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone)
        epoch = moment.timestamp()
    except (ValueError, OverflowError):
        raise InvalidRequest(
            "sendAt",
            "is not a time that exists (month 01-12, a day of that month, 00:00:00-23:59:59, offset below 24:00)",
        ) from None
    if fraction:
        epoch += int(fraction[:6].ljust(6, "0")) / 1_000_000
    if epoch - requested_at > MAX_SCHEDULE_SECONDS:
        raise InvalidRequest(
            "sendAt", f"more than {MAX_SCHEDULE_SECONDS // 86_400} days after the request was enqueued (requestedAt)"
        )
    return epoch


def _text_parts(document: dict[str, Any], text: str, defaults: Defaults) -> tuple[str, segments.Parts]:
    """The text as it will be sent (smart encoding, when the request or the deployment asks for it
    and it makes the whole text GSM-7) and its parts."""
    smart = document.get("smartEncoding")
    if not isinstance(smart, bool):
        smart = defaults.smart_encoding
    replaced = segments.smart_encoded(text) if smart else None
    sent = replaced if replaced is not None else text
    return sent, segments.parts(sent)


def _refuse_invisible(name: str, value: str) -> None:
    """`to`, `from` and `id` hold no control or format character (Unicode categories Cc and Cf):
    an invisible character makes two values that look the same differ, or the other way round. The
    reason gives the code point, never the value."""
    character = _invisible(value)
    if character is not None:
        kind = "control character" if _CONTROL.match(character) else "invisible format character"
        raise InvalidRequest(name, f"{kind} {_code_point(character)} is not allowed")


def _invisible(value: str) -> str | None:
    """The first control or format character (Cc, Cf) of `value`, if it has one."""
    if value.isascii():
        found = _ASCII_CONTROL.search(value)
        return found.group() if found else None
    import unicodedata  # only for the rare value that is not ASCII

    return next((c for c in value if unicodedata.category(c) in ("Cc", "Cf")), None)


def _code_point(character: str) -> str:
    return f"U+{ord(character):04X}"


def _whole_number(document: dict[str, Any], name: str, low: int, high: int, problem: str) -> int | None:
    """An optional integer field within [low, high] (a boolean is no number here, though Python's is)."""
    value = document.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
        raise InvalidRequest(name, problem)
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _loads(text: str, where: str, decoder: json.JSONDecoder) -> Any:
    try:
        return decoder.decode(text)
    except _RepeatedName:
        raise
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
        raise InvalidRequest(name, f"must be a string, not {json_type(value)}")
    if not _encodable(value):
        raise InvalidRequest(name, "holds an unpaired surrogate (not valid Unicode)")
    return value


def _bounded_str(document: dict[str, Any], name: str, limit: int) -> str | None:
    value = _optional_str(document, name)
    if value is not None and len(value) > limit:
        raise InvalidRequest(name, f"must be at most {limit} characters, got {len(value)}")
    return value


def json_type(value: Any) -> str:
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
