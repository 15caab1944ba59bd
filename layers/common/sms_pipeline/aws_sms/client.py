"""The fallback provider's adapter: SendTextMessage of AWS End User Messaging SMS, errors typed.

The errors are the port's kinds (contract §3 and §12), so the send use case treats both providers
alike: throttling and 5xx are transient, a refused parameter is a rejection, a refused identity,
configuration set or permission is a configuration fault (no send can succeed until an operator
fixes it), and a call that was written but not answered is an unknown result (it may have been sent).

botocore's own retries are off. Its retry modes repeat a read timeout as well, and SendTextMessage
is not idempotent: a repeat after a timeout could send the SMS twice. Failures go back to the use
case after one call, and the request queue's retry delays (contract §8) do the retrying.

Nothing raised here carries the destination number, the message text or the service's own error
message (which may quote either): only the error code, its `Reason`, the names of the fields it
blames and the resource type it did not find.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    SSLError as BotoSSLError,
)

from sms_pipeline.aws_sms.events import REQUEST_ID_KEY
from sms_pipeline.ports import ConfigurationFault, Rejected, TransientError, UnexpectedResponse, UnknownResult
from sms_pipeline.request import SmsRequest

if TYPE_CHECKING:
    from mypy_boto3_pinpoint_sms_voice_v2 import PinpointSMSVoiceV2Client

SERVICE: Final = "pinpoint-sms-voice-v2"
# TimeToLive's range in the service model (botocore data/pinpoint-sms-voice-v2, SendTextMessageRequest).
MIN_TTL_SECONDS: Final = 5
MAX_TTL_SECONDS: Final = 259_200
OPERATION: Final = "SendTextMessage"

_TRANSIENT_CODES: Final = frozenset({"ThrottlingException", "InternalServerException"})
# The account cannot send until an operator acts: its permissions, resources or quotas (a spend
# limit reached, a configuration set or an identity that does not exist or does not match).
_CONFIGURATION_CODES: Final = frozenset(
    {
        "AccessDeniedException",
        "ResourceNotFoundException",
        "ServiceQuotaExceededException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
    }
)
# A ConflictException about the destination itself refuses this request only; any other conflict
# (identity, message type, configuration) refuses every send until the configuration is fixed.
_REJECTED_CONFLICTS: Final = frozenset({"DESTINATION_PHONE_NUMBER_OPTED_OUT", "DESTINATION_PHONE_NUMBER_NOT_VERIFIED"})
_PARAMETER: Final = re.compile(r"parameter ([A-Za-z][A-Za-z0-9_.\[\]]*)")


def boto3_client(*, connect_timeout: float, read_timeout: float, pool_size: int) -> PinpointSMSVoiceV2Client:
    """The boto3 client the adapter calls, with timeouts and without botocore's retries.
    AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2, when set, points it elsewhere (the local simulator)."""
    config = Config(
        retries={"total_max_attempts": 1},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max(pool_size, 10),
    )
    return boto3.client("pinpoint-sms-voice-v2", config=config)


class AwsSmsClient:
    """One SendTextMessage per call. `client` makes the boto3 client, on first use: most
    containers never fail over, and creating it costs a cold start a few milliseconds."""

    def __init__(
        self,
        client: Callable[[], PinpointSMSVoiceV2Client],
        *,
        origination_identity: str,
        configuration_set: str,
    ) -> None:
        self._client = client
        self._origination_identity = origination_identity
        self._configuration_set = configuration_set

    def ready(self) -> None:
        """Create the client, so that a send's claim is followed by its call and nothing else."""
        self._boto3()

    def send(self, sms: SmsRequest, *, seconds_left: float) -> str:
        """SendTextMessage; its MessageId. `seconds_left` is what remains of the request's validity:
        the provider stops trying to deliver the SMS when it ends (TimeToLive)."""
        client = self._boto3()
        try:
            answer = client.send_text_message(
                DestinationPhoneNumber=e164(sms.to),
                OriginationIdentity=self._origination_identity,
                ConfigurationSetName=self._configuration_set,
                MessageBody=sms.text,
                MessageType="TRANSACTIONAL",
                TimeToLive=time_to_live(seconds_left),
                Context={REQUEST_ID_KEY: sms.id},
            )
        except ClientError as error:
            raise _client_error(error) from None
        except ParamValidationError as error:
            fields = sorted(set(_PARAMETER.findall(str(error)))) or ["?"]
            raise Rejected(f"{OPERATION}: invalid parameter ({', '.join(fields)})") from None
        except (ConnectTimeoutError, EndpointConnectionError, BotoSSLError) as error:
            # Nothing was written: the connection was never made (refused, unreachable, TLS).
            raise TransientError(f"{OPERATION}: could not connect ({type(error).__name__})") from None
        except ReadTimeoutError:
            raise UnknownResult(f"{OPERATION}: no answer within the read timeout") from None
        except ConnectionClosedError:
            raise UnknownResult(f"{OPERATION}: the connection closed before an answer") from None
        except (NoCredentialsError, PartialCredentialsError) as error:
            raise ConfigurationFault(f"{OPERATION}: no AWS credentials ({type(error).__name__})") from None
        except BotoCoreError as error:
            # An HTTP failure botocore does not name: the request may have been written.
            raise UnknownResult(f"{OPERATION}: {type(error).__name__}") from None
        message_id = answer.get("MessageId")
        if not isinstance(message_id, str) or not message_id:
            # Accepted (2xx) but unreadable: the SMS is on its way and cannot be tracked.
            raise UnknownResult(f"{OPERATION}: answered without a MessageId", accepted=True)
        return message_id

    def _boto3(self) -> PinpointSMSVoiceV2Client:
        try:
            return self._client()
        except NoRegionError:
            raise ConfigurationFault(f"{SERVICE}: no AWS region configured") from None


def time_to_live(seconds_left: float) -> int:
    """The request's remaining validity in whole seconds, within the range the service takes."""
    return min(MAX_TTL_SECONDS, max(MIN_TTL_SECONDS, math.floor(seconds_left)))


def e164(number: str) -> str:
    """A cleaned number (phone.clean) as the service wants it: `+` and the digits. A number given
    with the international prefix `00` gets `+` instead; one given without either prefix is taken as
    international too, as Retarus takes it (the service refuses a national number's leading 0)."""
    if number.startswith("+"):
        return number
    if number.startswith("00"):
        return "+" + number[2:]
    return "+" + number


def _client_error(error: ClientError) -> Exception:
    details: dict[str, Any] = dict(error.response.get("Error", {}))
    code = str(details.get("Code") or "?")
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    body: dict[str, Any] = {key: value for key, value in error.response.items() if key not in ("Error",)}
    reason = str(details.get("Reason") or body.get("Reason") or "")
    what = f"{OPERATION}: {code}" + (f" ({reason})" if reason else "") + (f", HTTP {status}" if status else "")
    if code in _TRANSIENT_CODES or status >= 500:
        return TransientError(what)
    if code == "ValidationException":
        fields = [str(field.get("Name")) for field in body.get("Fields") or [] if isinstance(field, dict)]
        return Rejected(what + (f"; fields: {', '.join(fields)}" if fields else ""))
    if code == "ConflictException" and reason in _REJECTED_CONFLICTS:
        return Rejected(what)
    if code == "ResourceNotFoundException":
        kind = str(body.get("ResourceType") or details.get("ResourceType") or "resource")
        return ConfigurationFault(f"{what}: the {kind} does not exist; check FallbackOriginationIdentity")
    if code in _CONFIGURATION_CODES or code == "ConflictException" or status in (401, 403):
        return ConfigurationFault(what)
    return UnexpectedResponse(what)
