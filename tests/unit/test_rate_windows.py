"""The rate window's item (protection_store.py): what is written reads back the same, and an item
written before windows had a version still counts."""

from __future__ import annotations

from sms_pipeline.protection import Window
from sms_pipeline.protection_store import _unchanged, window_item, window_of


def test_a_window_reads_back_as_written_one_version_on() -> None:
    window = Window((1_765_000_002_000, 1_765_000_001_000), ("b", "msg:1-x.y_z"), 4)
    item = window_item("+491701234567", window, expires_at=99)
    assert item["id"] == {"S": "rate#+491701234567"} and item["expiresAt"] == {"N": "99"}
    assert window_of(item) == Window(window.times, window.ids, 5)


def test_an_unversioned_window_of_slots_still_counts() -> None:
    """The slots an earlier version shifted in place, an empty slot written as time 0."""
    item = {
        "id": {"S": "rate#+491701234567"},
        "t0": {"N": "2000"},
        "i0": {"S": "b"},
        "t1": {"N": "1000"},
        "i1": {"S": "a"},
        "t2": {"N": "0"},
        "i2": {"S": ""},
    }
    assert window_of(item) == Window((2000, 1000), ("b", "a"), 0)
    assert _unchanged(window_of(item)) == ("attribute_not_exists(v) AND i0 = :i0", {":i0": {"S": "b"}})


def test_a_write_is_conditional_on_the_state_it_was_read_in() -> None:
    assert _unchanged(Window()) == ("attribute_not_exists(id)", {})
    assert _unchanged(Window((1,), ("a",), 7)) == ("v = :v", {":v": {"N": "7"}})
    assert window_of(None) == Window()
