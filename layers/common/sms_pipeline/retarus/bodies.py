"""The provider's response bodies (contract §7), read liberally: its documentation shows none.

Strict about what it recognises, never crashing on what it does not: anything else raises
UnexpectedBody, and the caller keeps the job tracked.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from sms_pipeline.outcomes import ProviderStatus

MAX_BODY_CHARS = 4096
_JOB_ID = re.compile(r"^\S{1,256}$")
_WORD = re.compile(r"^[A-Za-z_]+$")
_SEPARATORS = re.compile(r"[\s;,|]+")


class UnexpectedBody(ValueError):
    """A body in none of the §7 forms. The message carries a short, printable excerpt only."""

    def __init__(self, what: str, body: str) -> None:
        excerpt = body[:80].encode("unicode_escape").decode("ascii")[:80]
        super().__init__(f"unexpected {what} body ({len(body)} chars): {excerpt!r}")


def job_id(body: str) -> str:
    """POST /sms 201: the id as plain text, `jobId=<id>`, or JSON `{"jobId": "<id>"}`."""
    text = body.strip()
    document = _json(text)
    if isinstance(document, dict):
        value = _field(document, "jobId")
        if isinstance(value, str) and _JOB_ID.match(value.strip()):
            return value.strip()
        raise UnexpectedBody("send", body)
    if text.lower().startswith("jobid="):
        value = text[len("jobid=") :].strip()
        if _JOB_ID.match(value):
            return value
    elif text[:1] not in ("{", "[", "<") and _JOB_ID.match(text):
        return text
    raise UnexpectedBody("send", body)


def report(body: str) -> ProviderStatus:
    """GET /reports 200, in any §7 form; the result is normalised (upper case, no surrounding space)."""
    text = body.strip()
    if not text or len(text) > MAX_BODY_CHARS:
        raise UnexpectedBody("report", body)
    document = _json(text)
    if isinstance(document, list):
        document = document[0] if document else None
    if isinstance(document, dict):
        return _status(_field(document, "processStatus"), _field(document, "status"), body)
    if document is not None:
        raise UnexpectedBody("report", body)
    if "=" in text:
        pairs = dict(
            (key.strip().lower(), value.strip())
            for line in text.splitlines()
            for key, value in parse_qsl(line.strip(), keep_blank_values=True)
        )
        return _status(pairs.get("processstatus"), pairs.get("status", ""), body)
    words = [word for word in _SEPARATORS.split(text) if word]
    if 1 <= len(words) <= 2:
        return _status(words[0], words[1] if len(words) == 2 else "", body)
    raise UnexpectedBody("report", body)


def _status(process: Any, status: Any, body: str) -> ProviderStatus:
    if status is None:
        status = ""
    if not isinstance(process, str) or not isinstance(status, str):
        raise UnexpectedBody("report", body)
    process, status = process.strip().upper(), status.strip().upper()
    if not _WORD.match(process) or (status and not _WORD.match(status)):
        raise UnexpectedBody("report", body)
    return ProviderStatus(process, status)


def _field(document: dict[str, Any], name: str) -> Any:
    """A JSON field looked up case-insensitively (`jobId`, `jobid`, `JobID` are the same)."""
    lowered = name.lower()
    for key, value in document.items():
        if key.lower() == lowered:
            return value
    return None


def _json(text: str) -> Any:
    if not text or text[0] not in "[{":
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None
