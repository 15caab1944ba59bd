"""What a simulated job answers, poll by poll, chosen by the last two digits of its number.

The DONE statuses it plays are the provider adapter's status table's, so the table and what the
tests can play cannot drift apart: every status of the table has a number, and a number's status
is in the table unless it is there on purpose to be unknown (see below).
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

# The one import of the provider adapter's status table (DONE's statuses → outcome and reason).
from sms_pipeline.outcomes import _DONE as _TABLE

PROVIDER_STATUSES: Final[Mapping[str, object]] = _TABLE  # only its keys, the status names, are read here
ODD_SUFFIXES: Final = ("+/=@", "&a=b%2B@", "#?;@")
REJECTED_SUFFIX: Final = "40"
_ALNUM: Final = string.ascii_letters + string.digits

# What any number without a status of its own ends with (with, without delivery notification).
DEFAULT_FINALS: Final = ("SUC_FIN", "SUC_ACC")
# The numbers are the simulator's interface (tests, the soak's number mix and the docs name them),
# so the statuses that had one keep it: these take 10, 11, ... in this order, and a status the
# table adds later takes the next of _LATER_SUFFIXES (27 up; 40, 50 and 51 mean something else).
_NUMBERED_FIRST: Final = (
    "INVALID_DST",
    "BLOCKED",
    "CON_ERR",
    "NOT_ACC_FIN",
    "TIMEOUT",
    "FAILED_FIN",
    "SEND_ERR",
    "STATUS_ERR",
)
_LATER_SUFFIXES: Final = tuple(str(n) for n in (*range(27, 40), *range(41, 50), *range(52, 100)))
# Not in the table, and not meant to be: the simulator keeps these of its own to play what the
# table does not know. CANCELED and KILL are process statuses: the table holds DONE's statuses,
# and the adapter maps the process statuses (OPEN, RUNNING, CANCELED, KILL) by name, as the API
# document lists them. WEIRD_STATUS (21) and PAUSED (23) exercise the "unknown status" paths.
UNKNOWN_STATUS: Final = "WEIRD_STATUS"
UNKNOWN_PROCESS_STATUS: Final = "PAUSED"
_OWN_FINALS: Final[dict[str, tuple[str, str]]] = {
    "18": ("CANCELED", ""),
    "19": ("CANCELED", "NOT_ACC_REC"),
    "20": ("KILL", ""),
    "21": ("DONE", UNKNOWN_STATUS),
}
_SLOPPY_SUFFIX: Final = "25"  # DONE/SUC_FIN, written in lower case with white space


def _final_by_suffix(table: Iterable[str]) -> dict[str, tuple[str, str]]:
    """The final (processStatus, status) of each number with one of its own, from the table's statuses."""
    statuses = list(table)
    missing = [status for status in (*_NUMBERED_FIRST, *DEFAULT_FINALS) if status not in statuses]
    if missing or UNKNOWN_STATUS in statuses:
        raise RuntimeError(
            f"the simulator's numbers and the provider's status table differ: {missing or UNKNOWN_STATUS}"
        )
    later = [status for status in statuses if status not in _NUMBERED_FIRST and status not in DEFAULT_FINALS]
    numbered = {str(10 + index): status for index, status in enumerate(_NUMBERED_FIRST)}
    numbered |= dict(zip(_LATER_SUFFIXES, later, strict=False))
    finals = {suffix: ("DONE", status) for suffix, status in numbered.items()}
    return dict(sorted({**finals, **_OWN_FINALS, _SLOPPY_SUFFIX: ("DONE", DEFAULT_FINALS[0])}.items()))


# Final (processStatus, status) by the last two digits of dst; see the package docstring.
FINAL_BY_SUFFIX: Final[Mapping[str, tuple[str, str]]] = _final_by_suffix(PROVIDER_STATUSES)


@dataclass(frozen=True)
class Report:
    """One answer of GET /reports: a status, or (garbled) an unparseable body."""

    process_status: str
    status: str
    sloppy: bool = False  # lower case, white space around and inside
    garbled: bool = False


GARBLED: Final = Report("", "", garbled=True)


def lifecycle(dst: str, dn: bool, poll: int, polls_to_final: int) -> Report:
    """The answer to the `poll`-th poll (1-based) of a job sent to `dst`: the package docstring's rule."""
    suffix = dst[-2:]
    if suffix == "26":
        return GARBLED
    if suffix == "22":
        return Report("OPEN", "")
    if suffix == "23":
        return Report(UNKNOWN_PROCESS_STATUS, "")
    if poll < polls_to_final:
        return Report("OPEN", "")
    if suffix == "24" or (dn and poll == polls_to_final):
        return Report("RUNNING", "")
    if suffix in FINAL_BY_SUFFIX:
        return Report(*FINAL_BY_SUFFIX[suffix], sloppy=suffix == _SLOPPY_SUFFIX)
    return Report("DONE", DEFAULT_FINALS[0] if dn else DEFAULT_FINALS[1])


@dataclass
class SimJob:
    job_id: str
    params: dict[str, str]  # what POST /sms carried (credentials included)
    created: float  # time.time() at creation
    polls: int = 0
    reports: list[Report] = field(default_factory=list)  # the answers given, one per poll

    @property
    def dst(self) -> str:
        return self.params["dst"]

    @property
    def dn(self) -> bool:
        return self.params.get("dn", "false").lower() == "true"

    def next_report(self, polls_to_final: int) -> Report:
        self.polls += 1
        report = lifecycle(self.dst, self.dn, self.polls, polls_to_final)
        self.reports.append(report)
        return report


class JobIds:
    """Job ids that look like real ones; every `odd`-th ends in characters that need URL-encoding."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(f"job-ids-{seed}")

    def new(self, number: int, odd: int, taken: Mapping[str, object]) -> str:
        """The id of the `number`-th job (1-based), not one of `taken`."""
        while True:
            now = time.time()
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"
            tail = "".join(self._random.choice(_ALNUM) for _ in range(20))
            job_id = f"J.{stamp}-{tail}"
            if odd and number % odd == 0:
                job_id += ODD_SUFFIXES[(number // odd - 1) % len(ODD_SUFFIXES)]
            if job_id not in taken:
                return job_id
