"""The Retarus status table (contract §4): a GET /reports answer, (processStatus, status), to an
outcome. It exists here and nowhere else: the status use case gets it as the client's verdict, and
the simulator (local/) plays the statuses it lists.

The provider's own descriptions (retarus-sms-http-api.txt) are the events' reasons.
"""

from __future__ import annotations

from typing import Final

from sms_pipeline.outcomes import Outcome, ProviderStatus, Verdict

ANY: Final = "*"  # a row for every status of its processStatus that has no row of its own

# (processStatus, status) -> (the outcome, or None: keep tracking; the reason).
STATUSES: Final[dict[tuple[str, str], tuple[Outcome | None, str]]] = {
    ("OPEN", ""): (None, "Pending SMS, not yet scheduled."),
    ("OPEN", ANY): (None, "In re-try state (e.g., during a connection error to service provider)."),
    ("RUNNING", ANY): (None, "SMS was sent, but no delivery notification was received."),
    ("DONE", "SUC_FIN"): (Outcome.DELIVERED, "Successful (with delivery notification)."),
    ("DONE", "SUC_ACC"): (Outcome.SENT, "Successful (without delivery notification)."),
    ("DONE", "FAILED_FIN"): (Outcome.UNDELIVERED, "Failed; delivery notification returns this status."),
    ("DONE", "INVALID_DST"): (Outcome.FAILED, "Invalid number (e.g., 999999)."),
    ("DONE", "BLOCKED"): (Outcome.FAILED, "Blocklisted number."),
    ("DONE", "CON_ERR"): (Outcome.FAILED, "Failed; all retry attempts were unsuccessful."),
    ("DONE", "NOT_ACC_FIN"): (Outcome.FAILED, "Failed; delivery to the provider was/is not possible."),
    ("DONE", "TIMEOUT"): (Outcome.EXPIRED, "Sent, but the validity period was exceeded."),
    ("DONE", "SEND_ERR"): (Outcome.UNKNOWN, "Internal error (in most cases, the SMS has arrived anyway)."),
    ("DONE", "STATUS_ERR"): (Outcome.UNKNOWN, "Internal error during the query for the delivery notification."),
    ("CANCELED", "NOT_ACC_REC"): (Outcome.CANCELED, "Transmission was cancelled after the initial delivery attempt."),
    ("CANCELED", ANY): (Outcome.CANCELED, "Transmission was cancelled before the initial delivery attempt."),
    ("KILL", ANY): (Outcome.UNKNOWN, "SMS was sent, but cancelled and no delivery notification has been received."),
}
# DONE's rows: the statuses a job can end with (the simulator plays each of them).
DONE_STATUSES: Final[dict[str, tuple[Outcome | None, str]]] = {
    status: row for (process, status), row in STATUSES.items() if process == "DONE"
}


def verdict(status: ProviderStatus) -> Verdict:
    """Map a GET /reports answer with the table (case-insensitive, surrounding space ignored). A
    DONE with a status the table lacks is final and UNKNOWN; a processStatus it lacks is tracked."""
    process = status.process_status.strip().upper()
    detail = status.status.strip().upper()
    row = STATUSES.get((process, detail)) or STATUSES.get((process, ANY))
    if row is not None:
        return Verdict(row[0], row[1], provider_status=status)
    if process == "DONE":
        return Verdict(Outcome.UNKNOWN, f"Unrecognised provider status {detail!r}.", provider_status=status)
    return Verdict(None, f"Unrecognised processStatus {process!r}; still tracked.", known=False, provider_status=status)
