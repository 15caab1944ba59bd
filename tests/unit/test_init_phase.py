"""The handlers' init runs without the garbage collector and, in Lambda, freezes what it made."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sms_pipeline.init_phase import init_phase


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()


def test_init_runs_without_the_collector_and_in_lambda_ends_with_what_it_made_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.13")
    gc.unfreeze()
    with init_phase():
        assert not gc.isenabled()
        made_at_init = [object() for _ in range(10)]
    assert gc.isenabled()
    assert gc.get_freeze_count() > len(made_at_init)


def test_outside_lambda_nothing_is_frozen_for_good(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    gc.unfreeze()
    with init_phase():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_failing_init_gives_the_collector_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    with pytest.raises(RuntimeError), init_phase():
        raise RuntimeError("JOBS_TABLE_NAME is not set")
    assert gc.isenabled()
