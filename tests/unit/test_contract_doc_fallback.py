"""docs/contract.md's table of the fallback's delivery events is the one the code applies."""

from __future__ import annotations

import re
from pathlib import Path

from sms_pipeline.aws_sms import events
from sms_pipeline.outcomes import Outcome

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def test_the_documented_event_table_is_the_codes() -> None:
    # §12, the second provider's section, holds the table; it ends where the next section starts.
    section = DOC.read_text(encoding="utf-8").split("\n## 12. ", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, Outcome | None] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`TEXT_"):
            continue
        outcome = re.match(r"`([A-Z]+)`", cells[1])
        for event_type in re.findall(r"`(TEXT_[A-Z_]+)`", cells[0]):
            documented[event_type] = Outcome(outcome.group(1)) if outcome else None
    code = {event_type: events.verdict(_event(event_type)).outcome for event_type in events.EVENT_TYPES}
    assert documented == code


def _event(event_type: str) -> events.DeliveryEvent:
    return events.DeliveryEvent("m", event_type, "", None, None, None)
