"""The layer `sam build` ships, built by the same Makefile target (`make layer`), for Lambda's
arm64 python3.13: what a cold start in Lambda loads from /opt/python.

It needs python3.13 (as `make build` does) and the package registry (as `make test`'s own set-up
does); without python3.13 it is skipped, and says so.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from trim_botocore import SERVICES

ROOT = Path(__file__).resolve().parents[2]
ELF_MACHINE_AARCH64 = 183
PYC_FLAG_HASH_BASED = 0b01  # PEP 552: set, and check_source (0b10) unset, is "unchecked-hash"


def _python313_available() -> bool:
    found = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "--eval", "print-py313: ; @echo $(PY313)", "print-py313"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return found.returncode == 0 and bool(found.stdout.strip())


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _python313_available():
        pytest.skip("python3.13 is not installed: the layer is built for Lambda's python3.13")
    artifacts = tmp_path_factory.mktemp("layer")
    subprocess.run(["make", "-s", "-C", str(ROOT), "layer", f"ARTIFACTS_DIR={artifacts}"], check=True)  # noqa: S607
    return artifacts / "python"


def test_the_layer_holds_our_package_and_its_libraries(layer: Path) -> None:
    for package in ("sms_pipeline", "boto3", "botocore", "aws_lambda_powertools", "requests", "aws_xray_sdk"):
        assert (layer / package / "__init__.py").is_file(), package
    source = ROOT / "layers" / "common" / "sms_pipeline"
    ours = {p.relative_to(source) for p in source.rglob("*.py")}
    assert {p.relative_to(layer / "sms_pipeline") for p in (layer / "sms_pipeline").rglob("*.py")} == ours


def test_botocore_keeps_the_data_of_the_services_the_functions_call_only(layer: Path) -> None:
    data = layer / "botocore" / "data"
    # SERVICES: what trim_botocore.py keeps; tests/unit/test_layer_trim.py ties it to the code.
    assert {p.name for p in data.iterdir() if p.is_dir()} == SERVICES
    assert (data / "endpoints.json").stat().st_size < 100_000


def test_every_module_has_python313_bytecode_that_is_never_checked_against_its_source(layer: Path) -> None:
    tag = "cpython-313"
    modules = [p for p in layer.rglob("*.py") if "bin" not in p.relative_to(layer).parts]
    assert len(modules) > 500
    missing, checked = [], []
    for module in modules:
        pyc = module.parent / "__pycache__" / f"{module.stem}.{tag}.pyc"
        if not pyc.is_file():
            missing.append(str(module.relative_to(layer)))
            continue
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        if flags != PYC_FLAG_HASH_BASED:
            checked.append(str(module.relative_to(layer)))
    assert missing == [] and checked == []
    # Nothing compiled by another Python (this checkout's own __pycache__ must not be copied).
    assert {p.name.split(".")[-2] for p in layer.rglob("*.pyc")} == {tag}


def test_compiled_extensions_are_built_for_arm64(layer: Path) -> None:
    extensions = list(layer.rglob("*.so"))
    assert extensions, "charset_normalizer and wrapt ship compiled extensions"
    for extension in extensions:
        header = extension.read_bytes()[:20]
        assert header[:4] == b"\x7fELF"
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64, extension.name
