"""The bench's fairness helpers: which modules an import loaded from a library (bench/bytecode.py,
for the cold-start line's same-libraries check), and the order of alternating rounds (bench/run.py)."""

from __future__ import annotations

import sys

import boto3

from bench.bytecode import libraries
from bench.run import alternating


def test_a_library_module_is_neither_the_standard_librarys_nor_ours() -> None:
    loaded = ["json", "os.path", "boto3", "sms_pipeline.config", "app"]
    assert libraries(loaded, ours=["sms_pipeline", "app"]) == ["boto3"]


def test_a_module_listed_under_a_second_name_is_not_counted_again() -> None:
    # requests.packages lists whichever urllib3 modules are loaded when it is, under its own names.
    sys.modules["bench_alias_of_boto3"] = boto3
    try:
        assert libraries(["boto3", "bench_alias_of_boto3"], ours=[]) == ["boto3"]
    finally:
        del sys.modules["bench_alias_of_boto3"]


def test_alternating_rounds_reverse_the_order_every_other_round() -> None:
    assert list(alternating(["handler", "bare"], 3)) == ["handler", "bare", "bare", "handler", "handler", "bare"]
