"""The suite-wide log check (conftest.py) would see a full number, and does not see masked ones."""

from __future__ import annotations

from support import FULL_NUMBER


def test_full_numbers_are_found_and_masked_ones_and_ids_are_not() -> None:
    assert FULL_NUMBER.findall('{"to":"+4917012345678"}') == ["+4917012345678"]
    assert FULL_NUMBER.findall("dst=004917012345678 x") == ["004917012345678"]
    assert FULL_NUMBER.findall("sent to 01701234567") == ["01701234567"]
    clean = (
        '{"to":"+49170******78","job_id":"J.20261125-084507.215-ab",'
        '"function_arn":"arn:aws:lambda:eu-central-1:123456789012:function:x","m":"4b4ebb40-4104-4034-a265-123456789012"}'
    )
    assert FULL_NUMBER.findall(clean) == []
