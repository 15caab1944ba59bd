"""The layers' rule that a second provider or another store is an adapter and its wiring: the use
cases import the ports, the job records, the outcomes and the domain modules, never an adapter or
the libraries adapters are built on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "common" / "sms_pipeline"
ADAPTERS = (
    "sms_pipeline.retarus",
    "sms_pipeline.aws_sms",
    "sms_pipeline.dynamodb",
    "sms_pipeline.publisher",
    "sms_pipeline.request_queue",
)
LIBRARIES = ("boto3", "botocore", "requests", "urllib3")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", ["sending.py", "tracking.py", "ports.py", "job.py", "outcomes.py"])
def test_the_use_cases_and_their_records_know_no_adapter(module: str) -> None:
    names = imported(PACKAGE / module)
    forbidden = sorted(name for name in names if name.startswith(ADAPTERS) or name.split(".")[0] in LIBRARIES)
    assert forbidden == [], f"{module} imports {forbidden}"


def test_the_provider_status_table_exists_in_the_retarus_adapter_only() -> None:
    holders = sorted(
        str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if '"SUC_FIN"' in path.read_text("utf-8")
    )
    assert holders == ["retarus/statuses.py"]
