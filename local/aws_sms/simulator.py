"""An AWS End User Messaging SMS simulator: SendTextMessage over the JSON protocol boto3 speaks.

botocore's model of `pinpoint-sms-voice-v2` says `"protocol": "json"`, `"jsonVersion": "1.0"`,
`"targetPrefix": "PinpointSMSVoiceV2"`: every call is an HTTP POST of a JSON document to `/`, with
`Content-Type: application/x-amz-json-1.0` and the operation in `X-Amz-Target`
(`PinpointSMSVoiceV2.SendTextMessage`). An error is a 4xx/5xx whose JSON body names the error shape
in `__type` and carries its members (`message`, `Reason`, `Fields`, `ResourceType`, ...). A boto3
client reaches the simulator through `AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2` (or `endpoint_url`);
the signature is not checked.

    with AwsSmsSimulator(events=sns_sink(moto_url, topic_arn)) as sim:
        os.environ["AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2"] = sim.endpoint_url

SendTextMessage
---------------
Checked as the service checks it, in this order; the first failure answers (400 unless said):

1. an `X-Amz-Target` other than `PinpointSMSVoiceV2.SendTextMessage`: `UnknownOperationException`;
   a body that is no JSON object: `SerializationException`;
2. `DestinationPhoneNumber` (E.164, `\\+?[1-9][0-9]{1,18}`), `MessageBody` (1 to 1600 characters),
   `MessageType` (`TRANSACTIONAL`/`PROMOTIONAL`), `TimeToLive` (5 to 259200), `Context` (at most 5
   entries): `ValidationException` with `Reason` and `Fields`;
3. `OriginationIdentity` other than the simulator's `origination_identity`, or
   `ConfigurationSetName` other than its `configuration_set` (when either is set):
   `ResourceNotFoundException` with `ResourceType` `phone-number` or `configuration-set`;
4. the destination's last two digits: `40` `ValidationException` (Reason `INVALID_PARAMETER`),
   `41` `ConflictException` (Reason `DESTINATION_PHONE_NUMBER_OPTED_OUT`).

Otherwise the message is accepted: it is recorded in `accepted` (the number, the text, the TTL, the
context as they came: this is a test double, nothing leaves the process), the answer is 200 with
`{"MessageId": "<uuid>"}`, and its delivery events are published.

Delivery events
---------------
As the configuration set's event destination would: one JSON document per event (the shape of the
User Guide's "Example SMS event data": eventType, eventVersion, eventTimestamp, isFinal,
originationPhoneNumber, destinationPhoneNumber, isoCountryCode, isInternationalSend, mcc, mnc,
messageId, messageRequestTimestamp, messageEncoding, messageType, messageStatus,
messageStatusDescription, context, totalMessageParts, totalMessagePrice, totalCarrierFee),
handed to `events` (a callable taking the JSON text; `sns_sink` publishes it to an SNS topic, as an
SNS event destination does). The events of a message are `TEXT_PENDING`, then a final one chosen by
the destination's last two digits:

    10 TEXT_INVALID        11 TEXT_BLOCKED        12 TEXT_CARRIER_UNREACHABLE
    13 TEXT_UNREACHABLE    14 TEXT_TTL_EXPIRED    15 TEXT_SPAM
    16 TEXT_UNKNOWN        17 TEXT_CARRIER_BLOCKED 18 TEXT_SUCCESSFUL (no delivery notification)
    19 TEXT_SUCCESSFUL (isFinal false), then TEXT_DELIVERED
    22 TEXT_PENDING only: never final
    23 TEXT_INVALID_MESSAGE 24 TEXT_PROTECT_BLOCKED
    anything else: TEXT_DELIVERED

The final event types are the adapter's event table's (`sms_pipeline.aws_sms.events.FINAL`), so the
two cannot drift apart: a final event type the table adds takes the next free number from 23 up.

`repeat_events` (default 1) publishes every event that many times; `out_of_order` publishes a
message's events last first. Events go out on a thread of their own, in order of acceptance, so an
answer never waits for SNS; `hold_events()` keeps them back until `release_events()`, and
`wait_for_events(n)` waits (on a condition, not a sleep) until n have been handed over.

Faults
------
`inject(fault, count)` makes the next `count` SendTextMessage calls misbehave, in the order injected:

* "throttling": 400 `ThrottlingException`;  "500": 500 `InternalServerException`;
* "access-denied": 400 `AccessDeniedException` (Reason `ACCOUNT_DISABLED`);
* "quota": 400 `ServiceQuotaExceededException` (Reason `MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT`);
* "hang-after-accept": the message is accepted (recorded, its events published), then nothing is
  answered until `stop()` or 30 s: the client's read timeout, an unknown result that was sent;
* "reset-after-accept": accepted, then the connection is closed with SO_LINGER 0 (a reset).

A fault other than the "-after-accept" ones records the call and accepts nothing.
`set_outage(start, end)` answers every call between two wall-clock times with 500.

Standalone: `python -m local.aws_sms --port 8081 [--moto URL --topic-arn ARN]`.
"""

from __future__ import annotations

import collections
import json
import queue
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from local.loopback import LoopbackHandler, LoopbackService, SimulatorServer
from local.simulator.faults import HANG_SECONDS, Faults

# The one import of the adapter's event table (final event type -> outcome and reason).
from sms_pipeline.aws_sms.events import FINAL as _TABLE

TARGET_PREFIX: Final = "PinpointSMSVoiceV2"
SEND_TARGET: Final = f"{TARGET_PREFIX}.SendTextMessage"
JSON_TYPE: Final = "application/x-amz-json-1.0"
FAULTS: Final = frozenset({"throttling", "500", "access-denied", "quota", "hang-after-accept", "reset-after-accept"})
MAX_BODY_BYTES: Final = 1 << 20
MIN_TTL: Final = 5
MAX_TTL: Final = 259_200

_DESTINATION: Final = re.compile(r"\+?[1-9][0-9]{1,18}")
NEVER_FINAL_SUFFIX: Final = "22"
INTERIM_SUCCESS_SUFFIX: Final = "19"
# What any number without a final event of its own gets.
DEFAULT_FINAL: Final = "TEXT_DELIVERED"
# The numbers are the simulator's interface (tests and the docstring name them), so the event types
# that had one keep it: these take 10, 11, ... in this order, and a final event type the adapter's
# table adds takes the next of _LATER_SUFFIXES (23 up; 40 and 41 mean something else).
_NUMBERED_FIRST: Final = (
    "TEXT_INVALID",
    "TEXT_BLOCKED",
    "TEXT_CARRIER_UNREACHABLE",
    "TEXT_UNREACHABLE",
    "TEXT_TTL_EXPIRED",
    "TEXT_SPAM",
    "TEXT_UNKNOWN",
    "TEXT_CARRIER_BLOCKED",
    "TEXT_SUCCESSFUL",
)
_LATER_SUFFIXES: Final = tuple(str(n) for n in (*range(23, 40), *range(42, 100)))


def _final_by_suffix(table: Iterable[str]) -> dict[str, str]:
    """The final event type of each number with one of its own, from the adapter's final event types."""
    event_types = list(table)
    missing = [event_type for event_type in (*_NUMBERED_FIRST, DEFAULT_FINAL) if event_type not in event_types]
    if missing:
        raise RuntimeError(f"the simulator's numbers and the adapter's event table differ: {missing}")
    later = [event_type for event_type in event_types if event_type not in (*_NUMBERED_FIRST, DEFAULT_FINAL)]
    numbered = {str(10 + index): event_type for index, event_type in enumerate(_NUMBERED_FIRST)}
    return numbered | dict(zip(_LATER_SUFFIXES, later, strict=False))


# The final event by the destination's last two digits; see the module docstring.
FINAL_BY_SUFFIX: Final[Mapping[str, str]] = _final_by_suffix(_TABLE)
_DESCRIPTIONS: Final[dict[str, str]] = {
    "TEXT_PENDING": "Message is pending delivery",
    "TEXT_DELIVERED": "Message has been delivered to the handset",
    "TEXT_SUCCESSFUL": "Message has been accepted by phone carrier",
}


@dataclass(frozen=True)
class AcceptedMessage:
    message_id: str
    destination: str
    origination_identity: str
    configuration_set: str | None
    body: str
    message_type: str | None
    time_to_live: int | None
    context: dict[str, str]
    accepted_at: float  # time.time()

    @property
    def request_id(self) -> str | None:
        return self.context.get("requestId")


@dataclass(frozen=True)
class ReceivedCall:
    target: str
    document: dict[str, Any] | None  # None: the body was no JSON object
    fault: str | None


class _Handler(LoopbackHandler):
    server_version = "AwsSmsSimulator/1.0"
    server: SimulatorServer[AwsSmsSimulator]

    def do_POST(self) -> None:
        try:
            self.server.simulator._handle(self)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def do_GET(self) -> None:
        self.respond(404, {"__type": "UnknownOperationException", "message": "POST only"})

    def respond(self, status: int, document: dict[str, Any]) -> None:
        data = json.dumps(document).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


class AwsSmsSimulator(LoopbackService):
    """The simulated service. See the module docstring for its behaviour."""

    thread_name = "aws-sms-sim"

    def __init__(
        self,
        *,
        origination_identity: str | None = None,
        configuration_set: str | None = None,
        events: Callable[[str], None] | None = None,
        repeat_events: int = 1,
        out_of_order: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
    ) -> None:
        if repeat_events < 1:
            raise ValueError("repeat_events must be at least 1")
        super().__init__(host, port)
        self.origination_identity = origination_identity
        self.configuration_set = configuration_set
        self.repeat_events = repeat_events
        self.out_of_order = out_of_order
        self.calls: list[ReceivedCall] = []
        self.accepted: list[AcceptedMessage] = []
        self.published: list[dict[str, Any]] = []
        self._faults = Faults(seed, kinds=FAULTS)
        self.faults_injected = self._faults.injected
        self.handler_errors = 0
        self._events = events
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._published = threading.Condition(self._lock)
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._held = threading.Event()
        self._held.set()
        self._publisher: threading.Thread | None = None

    # -- life cycle (port, running, the server's start and stop: LoopbackService's) ---------------

    def _new_server(self, address: tuple[str, int]) -> SimulatorServer[AwsSmsSimulator]:
        return SimulatorServer(address, _Handler, self, self._count_handler_error)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> AwsSmsSimulator:
        """Serve, and hand events over, on daemon threads."""
        super().start()
        self._publisher = threading.Thread(target=self._publish_loop, name="aws-sms-sim-events", daemon=True)
        self._publisher.start()
        return self

    def stop(self) -> None:
        """Stop serving (releasing hanging calls) and the event thread; events not handed over are dropped."""
        if not self.running:
            return
        self._stopping.set()  # first, as LoopbackService.stop does: the event thread drops what is left
        self._held.set()
        self._outbox.put(None)
        super().stop()
        if self._publisher is not None:
            self._publisher.join(timeout=5)
        self._publisher = None
        self._outbox = queue.Queue()

    # -- faults and events ------------------------------------------------------------------------

    def inject(self, fault: str, count: int = 1) -> None:
        self._faults.inject(fault, count, None)

    def set_outage(self, start: float, end: float) -> None:
        self._faults.set_outage(start, end)

    def clear_faults(self) -> None:
        self._faults.clear()

    def hold_events(self) -> None:
        """Keep events back (they queue up) until release_events()."""
        self._held.clear()

    def release_events(self) -> None:
        self._held.set()

    def wait_for_events(self, count: int, timeout: float = 5.0) -> bool:
        """True once `count` events in all have been handed to the sink; False after `timeout`."""
        with self._published:
            return self._published.wait_for(lambda: len(self.published) >= count, timeout)

    def sends_per_request(self) -> collections.Counter[str]:
        """Accepted messages per request id (the context's requestId): 2 or more is a request sent twice."""
        with self._lock:
            return collections.Counter(message.request_id or "?" for message in self.accepted)

    def message_for(self, key: str) -> AcceptedMessage:
        """The accepted message with this id, else the latest whose destination ends with `key`."""
        with self._lock:
            for message in reversed(self.accepted):
                if message.message_id == key or message.destination.endswith(key):
                    return message
        raise KeyError(key)

    def _count_handler_error(self) -> None:
        with self._lock:
            self.handler_errors += 1

    def _next_fault(self) -> str | None:
        """The oldest injection's fault; an outage answers as "500" does (and counts as "outage")."""
        fault = self._faults.next(SEND_TARGET)
        return "500" if fault == "outage" else fault

    # -- serving ----------------------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            handler.close_connection = True
            handler.respond(413, {"__type": "SerializationException", "message": "too large"})
            return
        raw = handler.rfile.read(length)
        target = handler.headers.get("X-Amz-Target", "")
        try:
            document = json.loads(raw or b"{}")
        except ValueError:
            document = None
        if not isinstance(document, dict):
            document = None
        fault = self._next_fault() if target == SEND_TARGET else None
        with self._lock:
            self.calls.append(ReceivedCall(target, document, fault))
        if target != SEND_TARGET:
            handler.respond(400, _error("UnknownOperationException", f"unknown operation {target!r}"))
            return
        if document is None:
            handler.respond(400, _error("SerializationException", "the body is not a JSON object"))
            return
        if fault == "throttling":
            handler.respond(400, _error("ThrottlingException", "Rate exceeded"))
            return
        if fault == "500":
            handler.respond(500, _error("InternalServerException", "Internal failure", RequestId=str(uuid.uuid4())))
            return
        if fault == "access-denied":
            handler.respond(400, _error("AccessDeniedException", "Account disabled", Reason="ACCOUNT_DISABLED"))
            return
        if fault == "quota":
            handler.respond(
                400,
                _error("ServiceQuotaExceededException", "Spend limit", Reason="MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"),
            )
            return
        status, answer = self._send(document)
        if fault == "hang-after-accept" and status == 200:
            handler.close_connection = True
            self._stopping.wait(HANG_SECONDS)
            return
        if fault == "reset-after-accept" and status == 200:
            handler.reset()
            return
        handler.respond(status, answer)

    def _send(self, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        invalid = _invalid_fields(document)
        if invalid:
            return 400, _error(
                "ValidationException",
                "Invalid parameters",
                Reason="FIELD_VALIDATION_FAILED",
                Fields=[{"Name": name, "Message": "invalid"} for name in invalid],
            )
        identity, configuration_set = document["OriginationIdentity"], document.get("ConfigurationSetName")
        if self.origination_identity is not None and identity != self.origination_identity:
            return 400, _error(
                "ResourceNotFoundException", "No such identity", ResourceType="phone-number", ResourceId=identity
            )
        if self.configuration_set is not None and configuration_set != self.configuration_set:
            return 400, _error(
                "ResourceNotFoundException",
                "No such configuration set",
                ResourceType="configuration-set",
                ResourceId=str(configuration_set),
            )
        destination = document["DestinationPhoneNumber"]
        if destination.endswith("40"):
            return 400, _error("ValidationException", "Refused", Reason="INVALID_PARAMETER", Fields=[])
        if destination.endswith("41"):
            return 400, _error("ConflictException", "Opted out", Reason="DESTINATION_PHONE_NUMBER_OPTED_OUT")
        with self._lock:
            message = AcceptedMessage(
                message_id=str(uuid.UUID(int=self._random.getrandbits(128), version=4)),
                destination=destination,
                origination_identity=identity,
                configuration_set=configuration_set,
                body=document["MessageBody"],
                message_type=document.get("MessageType"),
                time_to_live=document.get("TimeToLive"),
                context=dict(document.get("Context") or {}),
                accepted_at=time.time(),
            )
            self.accepted.append(message)
        for event in self._events_of(message):
            for _ in range(self.repeat_events):
                self._outbox.put(event)
        return 200, {"MessageId": message.message_id}

    def _events_of(self, message: AcceptedMessage) -> list[dict[str, Any]]:
        suffix = message.destination[-2:]
        sequence: list[tuple[str, bool]] = [("TEXT_PENDING", False)]
        if suffix == INTERIM_SUCCESS_SUFFIX:
            sequence += [("TEXT_SUCCESSFUL", False), ("TEXT_DELIVERED", True)]
        elif suffix != NEVER_FINAL_SUFFIX:
            sequence.append((FINAL_BY_SUFFIX.get(suffix, DEFAULT_FINAL), True))
        documents = [event_document(message, event_type, final) for event_type, final in sequence]
        return documents[::-1] if self.out_of_order else documents

    def _publish_loop(self) -> None:
        while True:
            event = self._outbox.get()
            if event is None or self._stopping.is_set():
                return
            self._held.wait()
            if self._stopping.is_set():
                return
            if self._events is not None:
                try:
                    self._events(json.dumps(event))
                except Exception:
                    self._count_handler_error()
                    continue
            with self._published:
                self.published.append(event)
                self._published.notify_all()


def event_document(message: AcceptedMessage, event_type: str, final: bool) -> dict[str, Any]:
    """One delivery event of `message`, in the shape the service publishes."""
    now_ms = int(time.time() * 1000)
    gsm = all(ord(character) < 128 for character in message.body)
    return {
        "eventType": event_type,
        "eventVersion": "1.0",
        "eventTimestamp": now_ms,
        "isFinal": final,
        "originationPhoneNumber": message.origination_identity,
        "destinationPhoneNumber": message.destination,
        "isoCountryCode": "DE" if message.destination.startswith("+49") else "US",
        "isInternationalSend": False,
        "mcc": "262",
        "mnc": "01",
        "messageId": message.message_id,
        "messageRequestTimestamp": int(message.accepted_at * 1000),
        "messageEncoding": "GSM" if gsm else "UCS2",
        "messageType": message.message_type or "TRANSACTIONAL",
        "messageStatus": event_type.removeprefix("TEXT_"),
        "messageStatusDescription": _DESCRIPTIONS.get(event_type, event_type.removeprefix("TEXT_").title()),
        "context": message.context,
        "totalMessageParts": 1,
        "totalMessagePrice": 0.0712,
        "totalCarrierFee": 0.0,
    }


def sns_sink(endpoint_url: str, topic_arn: str, region: str = "eu-west-1") -> Callable[[str], None]:
    """Publish each event to an SNS topic, as the configuration set's SNS event destination does."""
    import boto3

    client = boto3.client("sns", endpoint_url=endpoint_url, region_name=region)

    def publish(event: str) -> None:
        client.publish(TopicArn=topic_arn, Message=event)

    return publish


def _error(code: str, message: str, **members: Any) -> dict[str, Any]:
    return {"__type": code, "message": message, **members}


def _invalid_fields(document: dict[str, Any]) -> list[str]:
    """The names of the fields that break the service model's constraints."""
    invalid: list[str] = []
    destination = document.get("DestinationPhoneNumber")
    if not isinstance(destination, str) or not _DESTINATION.fullmatch(destination):
        invalid.append("DestinationPhoneNumber")
    identity = document.get("OriginationIdentity")
    if not isinstance(identity, str) or not 1 <= len(identity) <= 256:
        invalid.append("OriginationIdentity")
    body = document.get("MessageBody")
    if not isinstance(body, str) or not 1 <= len(body) <= 1600 or not body.strip():
        invalid.append("MessageBody")
    if document.get("MessageType", "TRANSACTIONAL") not in ("TRANSACTIONAL", "PROMOTIONAL"):
        invalid.append("MessageType")
    ttl = document.get("TimeToLive", MIN_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not MIN_TTL <= ttl <= MAX_TTL:
        invalid.append("TimeToLive")
    context = document.get("Context", {})
    if not isinstance(context, dict) or len(context) > 5:
        invalid.append("Context")
    return invalid
