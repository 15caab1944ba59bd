"""What the simulated API reads from a request, and how it writes its answers (contract §7's forms)."""

from __future__ import annotations

import itertools
import json
import re
from typing import Final
from urllib.parse import parse_qsl, urlencode

from local.simulator.jobs import REJECTED_SUFFIX, Report

BODY_FORMS: Final = ("text", "kv", "json", "jsonarray", "rotate")
SMS_FORMS: Final = ("text", "kv", "json")
REPORT_FORMS: Final = ("text", "kv", "json", "jsonarray")
GARBLED_BODY: Final = "<html><body>oops</body></html>"
TEXT_SEPARATORS: Final = (" ", ";", ",", "|", " ; ", "\t")
TEXT: Final = "text/plain; charset=utf-8"

_DST: Final = re.compile(r"(\+|00)?[0-9]{3,20}")
_SRC_NUMBER: Final = re.compile(r"\+?[0-9]{1,20}")
_SRC_TEXT: Final = re.compile(r"[A-Za-z0-9 \x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]{1,11}")


def params(query: str, body: bytes, content_type: str) -> tuple[dict[str, str], bool]:
    """Query and form body merged (the form wins; the first of repeated names), and whether all of it
    was valid UTF-8. When it was not, the params hold replacement characters and the answer is 400."""
    sources = [query]
    valid = True
    if content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            sources.append(body.decode("utf-8"))
        except UnicodeDecodeError:
            sources.append(body.decode("utf-8", errors="replace"))
            valid = False
    merged: dict[str, str] = {}
    for source in sources:
        try:
            pairs = parse_qsl(source, keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            pairs = parse_qsl(source, keep_blank_values=True, encoding="utf-8", errors="replace")
            valid = False
        these: dict[str, str] = {}
        for name, value in pairs:
            these.setdefault(name, value)
        merged.update(these)
    return merged, valid


def valid_sms(params: dict[str, str]) -> bool:
    """What the real provider checks of POST /sms (the package docstring lists it)."""
    dst, msg = params.get("dst"), params.get("msg")
    if dst is None or not _DST.fullmatch(dst) or dst.endswith(REJECTED_SUFFIX):
        return False
    if not msg or len(msg) > 1600:
        return False
    if "dn" in params and params["dn"].lower() not in ("true", "false"):
        return False
    if "qos" in params and params["qos"].lower() not in ("normal", "express"):
        return False
    if "src" in params and not (_SRC_NUMBER.fullmatch(params["src"]) or _SRC_TEXT.fullmatch(params["src"])):
        return False
    return all(len(params.get(name, "")) <= 70 for name in ("bc", "ref"))


class Bodies:
    """The answers' bodies in the chosen form, or rotating through the forms. Not thread-safe: the
    simulator calls it with its lock held (the rotations are counters)."""

    def __init__(self, form: str) -> None:
        self.form = form
        self._sms_answers = itertools.count()
        self._report_answers = itertools.count()
        self._text_reports = itertools.count()
        self._kv_reports = itertools.count()
        self._empty_text_reports = itertools.count()

    @property
    def form(self) -> str:
        return self._form

    @form.setter
    def form(self, value: str) -> None:
        if value not in BODY_FORMS:
            raise ValueError(f"body_form must be one of {', '.join(BODY_FORMS)}")
        self._form = value

    def sms(self, job_id: str) -> tuple[str, str]:
        """POST /sms's 201 body and content type."""
        form = self._next_form(SMS_FORMS, self._sms_answers)
        if form == "text":
            return job_id + "\n", TEXT
        if form == "kv":
            return f"jobId={job_id}", TEXT
        return json.dumps({"jobId": job_id}), "application/json"

    def report(self, report: Report) -> tuple[str, str]:
        """GET /reports's 200 body and content type."""
        return self._render(report, self._next_form(REPORT_FORMS, self._report_answers))

    def _next_form(self, forms: tuple[str, ...], counter: itertools.count[int]) -> str:
        if self._form == "rotate":
            return forms[next(counter) % len(forms)]
        if self._form not in forms:  # "jsonarray" for /sms
            return "json"
        return self._form

    def _render(self, report: Report, form: str) -> tuple[str, str]:
        if report.garbled:
            return GARBLED_BODY, "text/html; charset=utf-8"
        process, status = report.process_status, report.status
        if report.sloppy:
            process, status = f" {process.lower()} ", f" {status.lower()} "
        if form == "text":
            if not report.status:
                return (f"{process}\n" if next(self._empty_text_reports) % 2 == 0 else f"{process};\n"), TEXT
            separator = TEXT_SEPARATORS[next(self._text_reports) % len(TEXT_SEPARATORS)]
            body = f"{process}{separator}{status}\n"
            return (f" {body}" if report.sloppy else body), TEXT
        if form == "kv":
            if next(self._kv_reports) % 2 == 0:
                return urlencode({"processStatus": process, "status": status}), TEXT
            return f"processStatus={process}\nstatus={status}\n", TEXT
        document = {"processStatus": process, "status": status}
        return json.dumps([document] if form == "jsonarray" else document), "application/json"
