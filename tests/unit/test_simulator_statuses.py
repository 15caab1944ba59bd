"""The simulator plays the provider adapter's status table (local/simulator/jobs.py): every
status a job can end with is a number away, and the ones meant to be unknown stay unknown."""

from __future__ import annotations

import pytest

from local.simulator import jobs as played
from sms_pipeline.outcomes import ProviderStatus, verdict


def final(dst: str, dn: bool) -> tuple[str, str]:
    report = played.lifecycle(dst, dn, poll=3, polls_to_final=2)
    return report.process_status, report.status


def test_every_status_of_the_table_has_a_number_that_ends_with_it() -> None:
    numbers = [f"+49170123456{suffix}" for suffix in played.FINAL_BY_SUFFIX] + ["+4917012345678"]
    finals = {final(dst, dn) for dst in numbers for dn in (True, False)}

    assert {("DONE", status) for status in played.PROVIDER_STATUSES} <= finals


def test_the_statuses_it_keeps_of_its_own_are_not_in_the_table() -> None:
    weird = verdict(ProviderStatus("DONE", played.UNKNOWN_STATUS))
    paused = verdict(ProviderStatus(played.UNKNOWN_PROCESS_STATUS, ""))

    assert final("+4917012345621", True) == ("DONE", played.UNKNOWN_STATUS)
    assert played.UNKNOWN_STATUS not in played.PROVIDER_STATUSES and "Unrecognised" in weird.reason
    assert not paused.known


def test_a_status_the_table_adds_takes_the_next_free_number_and_the_old_ones_keep_theirs() -> None:
    table = [*played.PROVIDER_STATUSES, "NEW_STATUS"]

    numbered = played._final_by_suffix(table)

    assert numbered["27"] == ("DONE", "NEW_STATUS")
    assert {suffix: numbered[suffix] for suffix in played.FINAL_BY_SUFFIX} == played.FINAL_BY_SUFFIX


def test_a_number_whose_status_left_the_table_is_an_error_at_import() -> None:
    table = [status for status in played.PROVIDER_STATUSES if status != "BLOCKED"]

    with pytest.raises(RuntimeError, match="BLOCKED"):
        played._final_by_suffix(table)
