"""Cold start: what a new container pays before its first invocation, and what it ships.

Each import is timed in a fresh interpreter with the environment Lambda gives the function (the
template's variables, LAMBDA_TASK_ROOT, the function name; tracing as deployed, so the X-Ray
recorder loads as it does in Lambda), the function's folder and the layer on the path as Lambda
puts /var/task and /opt/python. The baseline is `import boto3` alone in the same conditions. Rounds
alternate between the two so a busy moment of the machine hits both; the median is kept.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "common"
_TIMER = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def import_seconds(module: str, code_dir: Path, env: Mapping[str, str]) -> float:
    """Seconds to import `module` in a fresh interpreter set up as Lambda sets up the function."""
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_"))},
        **env,
        "PYTHONPATH": os.pathsep.join([str(code_dir), str(LAYER), str(ROOT)]),
        "LAMBDA_TASK_ROOT": str(code_dir),
        "AWS_LAMBDA_FUNCTION_NAME": code_dir.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    }
    environment.pop("POWERTOOLS_TRACE_DISABLED", None)  # Tracing: Active in the template
    output = subprocess.run(  # noqa: S603 — our own interpreter
        [sys.executable, "-c", _TIMER.format(module=module)],
        env=environment,
        cwd=code_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(output.stdout.strip().splitlines()[-1])


# What each function's init needs at the least (bench/bare_init.py): its clients, and for the send
# function the batch utility. The send function's SNS client is made on first use, so not here.
BARE = {
    "send": {"BENCH_CLIENTS": "dynamodb,secretsmanager", "BENCH_BATCH": "1"},
    "status": {"BENCH_CLIENTS": "dynamodb,sns,secretsmanager", "BENCH_BATCH": "0"},
}


def cold_start(functions: Mapping[str, tuple[Path, str, Mapping[str, str]]], rounds: int) -> dict[str, float]:
    """Median import seconds of `boto3`, of each function's handler module, and of the same
    function's bare init (keys "boto3", name, name + " bare")."""
    samples: dict[str, list[float]] = {"boto3": []}
    any_dir, _, any_env = next(iter(functions.values()))
    for _ in range(rounds):
        samples["boto3"].append(import_seconds("boto3", any_dir, any_env))
        for name, (code_dir, module, env) in functions.items():
            samples.setdefault(name, []).append(import_seconds(module, code_dir, env))
            bare_env = {**env, **BARE[name]}
            samples.setdefault(f"{name} bare", []).append(import_seconds("bench.bare_init", code_dir, bare_env))
    return {name: statistics.median(values) for name, values in samples.items()}


def built_sizes() -> dict[str, int]:
    """Bytes, unzipped and zipped, of the layer as `sam build` packs it (requirements.txt for
    python3.13 on arm64, plus the shared package) and of each function's code."""
    with tempfile.TemporaryDirectory(prefix="sms-layer-") as work:
        target = Path(work) / "python"
        subprocess.run(  # noqa: S603 — pip of our own interpreter
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(target),
                "--platform",
                "manylinux2014_aarch64",
                "--implementation",
                "cp",
                "--python-version",
                "3.13",
                "--only-binary=:all:",
                "-r",
                str(LAYER / "requirements.txt"),
            ],
            check=True,
        )
        shutil.copytree(LAYER / "sms_pipeline", target / "sms_pipeline", ignore=shutil.ignore_patterns("__pycache__"))
        sizes = {"layer": _tree_bytes(target), "layer.zip": _zip_bytes(target, Path(work) / "layer.zip")}
    for name in ("send", "status"):
        code = ROOT / "functions" / name
        sizes[name] = _tree_bytes(code)
    return sizes


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)


def _zip_bytes(folder: Path, archive: Path) -> int:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for file in folder.rglob("*"):
            if file.is_file():
                bundle.write(file, file.relative_to(folder.parent))
    return archive.stat().st_size
