"""The cancel message (contract §11): `{"cancel": "ID"}` on the request queue, beside the requests.

A body whose object has the name `cancel` is a cancel message, whatever else it holds: a body with
`cancel` and request fields is an invalid cancel, not a request, so that it can never make a
REJECTED outcome for the id it meant to cancel (an outcome ends that request: exactly one each, §5).
An invalid cancel is not a request either: it ends in no outcome at all. The send function logs it
(its reason names the field and never repeats a value) and acknowledges it; it is no batch failure,
as a redelivery could not make it valid. An SNS envelope may carry a cancel as it carries a request.

parse_message reads a message with the one strict parse the send path does for a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sms_pipeline import request
from sms_pipeline.request import CONTRACT_DEFAULTS, Defaults, InvalidRequest, SmsRequest

CANCEL = "cancel"


@dataclass(frozen=True)
class Cancel:
    """End the request with this id with CANCELED, if it is still waiting for its sendAt."""

    id: str


class InvalidCancel(ValueError):
    """A cancel message that breaks a rule: logged and dropped, never an outcome. `field` names the
    culprit; str() is the reason a log line may carry."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


def parse_message(
    body: str, default_id: str, defaults: Defaults = CONTRACT_DEFAULTS, *, requested_at: float | None = None
) -> SmsRequest | Cancel:
    """A request (§1, as request.parse reads it) or a cancel (§11).

    Raises InvalidRequest for an invalid request (it ends REJECTED) and InvalidCancel for an invalid
    cancel (logged and dropped). A body that is no JSON, or no object, is an invalid request, as
    before cancels existed: nothing in it says it meant to cancel.
    """
    try:
        document = request.unwrap(body)
    except InvalidRequest as invalid:
        if CANCEL in request.top_level_names(body):  # a name repeated in a cancel message
            raise InvalidCancel(invalid.field, invalid.problem) from None
        raise
    if isinstance(document, dict) and CANCEL in document:
        return cancel_from(document)
    return request.from_document(document, body, default_id, defaults, requested_at=requested_at)


def cancel_from(document: dict[str, Any]) -> Cancel:
    """The cancel a document holds: `cancel`, a request id (§1's rules), and no other field."""
    others = sorted(set(document) - {CANCEL})
    if others:
        name = request.shown_name(others[0])
        if name is None:
            raise InvalidCancel(
                "body", "a cancel message holds only cancel (it has a field whose name is not repeated)"
            )
        raise InvalidCancel(name, "not allowed in a cancel message, which holds only cancel")
    target = document[CANCEL]
    if not isinstance(target, str):
        raise InvalidCancel(
            CANCEL, f"must be the id of the request to cancel (a string), not {request.json_type(target)}"
        )
    try:
        request.check_id(CANCEL, target)
    except InvalidRequest as invalid:
        raise InvalidCancel(CANCEL, invalid.problem + " (a request id)") from None
    return Cancel(id=target)
