"""Cold start: what a new container pays before its first invocation, and what it ships.

Each import is timed in a fresh interpreter set up as Lambda sets up the function: the template's
environment, LAMBDA_TASK_ROOT, AWS_EXECUTION_ENV and the function name (tracing as deployed, so
the X-Ray recorder loads as it does in Lambda), the function's folder first on the path and the
layer after it, as /var/task and /opt/python, and no bytecode written (both are read-only in
Lambda). The layer is built here the way `sam build` builds it, for this machine's platform,
twice: as BuildMethod python3.13 shipped it (no bytecode, botocore's data for every AWS service)
and by layers/common/Makefile itself (bytecode, botocore's data trimmed to the services the
functions call). The baseline is `import boto3` alone, as a function without our layer would
pay it. Rounds alternate between the measures so a busy moment of the machine hits them all; the
median is kept.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER_SOURCE = ROOT / "layers" / "common"
_TIMER = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"

# What each function's init needs at the least (bench/bare_init.py): its clients, and for the send
# function the batch utility. The send function's SNS client is made on first use, so not here.
BARE = {
    "send": {"BENCH_CLIENTS": "dynamodb,secretsmanager", "BENCH_BATCH": "1"},
    "status": {"BENCH_CLIENTS": "dynamodb,sns,secretsmanager", "BENCH_BATCH": "0"},
}


def build_layer(artifacts: Path, *, makefile: bool) -> Path:
    """The layer's python/ folder as `sam build` makes it into `artifacts`, for this interpreter
    and platform (Linux): by layers/common/Makefile itself, or as BuildMethod python3.13 did (its
    pip install and the package, nothing else)."""
    target = artifacts / "python"
    if target.exists():
        return target
    if makefile:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        make = ["make", "-s", "-C", str(LAYER_SOURCE), "build-SharedLayer", f"ARTIFACTS_DIR={artifacts}"]
        overrides = [f"PYTHON={sys.executable}", f"PLATFORM=manylinux2014_{platform.machine()}"]
        subprocess.run([*make, *overrides, f"PYTHON_VERSION={version}"], check=True)  # noqa: S603 — make, as sam runs it
        return target
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    requirements = str(LAYER_SOURCE / "requirements.txt")
    subprocess.run([*pip, "--target", str(target), "--requirement", requirements], check=True)  # noqa: S603
    shutil.copytree(
        LAYER_SOURCE / "sms_pipeline", target / "sms_pipeline", ignore=shutil.ignore_patterns("__pycache__")
    )
    return target


def import_seconds(module: str, code_dir: Path, layer: Path | None, env: Mapping[str, str]) -> float:
    """Seconds to import `module` in a fresh interpreter set up as Lambda sets up the function."""
    path = [str(code_dir)] + ([str(layer)] if layer else []) + [str(ROOT)]
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "AWS_"))},
        **env,
        "PYTHONPATH": os.pathsep.join(path),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LAMBDA_TASK_ROOT": str(code_dir),
        "AWS_LAMBDA_FUNCTION_NAME": code_dir.name,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
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


def cold_start(
    functions: Mapping[str, tuple[Path, str, Mapping[str, str]]], layers: Mapping[str, Path], rounds: int
) -> dict[str, float]:
    """Median import seconds: "boto3" alone; "<function> <layer>" for each function's handler
    module with each layer build; "<function> bare" for bench/bare_init.py on the built layer,
    "<function> clients" for its boto3 and clients alone, and "<function> libraries" for its
    libraries with no client made."""
    samples: dict[str, list[float]] = {}
    any_dir, _, any_env = next(iter(functions.values()))
    for _ in range(rounds):
        samples.setdefault("boto3", []).append(import_seconds("boto3", any_dir, None, any_env))
        for name, (code_dir, module, env) in functions.items():
            for build, layer in layers.items():
                samples.setdefault(f"{name} {build}", []).append(import_seconds(module, code_dir, layer, env))
            bare = import_seconds("bench.bare_init", code_dir, layers["built"], {**env, **BARE[name]})
            samples.setdefault(f"{name} bare", []).append(bare)
            clients_only = {**env, **BARE[name], "BENCH_LIBRARIES": "0"}
            clients = import_seconds("bench.bare_init", code_dir, layers["built"], clients_only)
            samples.setdefault(f"{name} clients", []).append(clients)
            no_clients = {**env, **BARE[name], "BENCH_CLIENTS": ""}
            libraries = import_seconds("bench.bare_init", code_dir, layers["built"], no_clients)
            samples.setdefault(f"{name} libraries", []).append(libraries)
    return {name: statistics.median(values) for name, values in samples.items()}


def sizes(layer: Path, archive: Path) -> dict[str, int]:
    """Bytes of the layer (unzipped, zipped) and of each function's code."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for file in layer.rglob("*"):
            if file.is_file():
                bundle.write(file, Path("python") / file.relative_to(layer))
    result = {"layer": _tree_bytes(layer, bytecode=True), "layer.zip": archive.stat().st_size}
    for name in ("send", "status"):
        result[name] = _tree_bytes(ROOT / "functions" / name, bytecode=False)
    return result


def _tree_bytes(path: Path, *, bytecode: bool) -> int:
    files = (f for f in path.rglob("*") if f.is_file())
    return sum(f.stat().st_size for f in files if bytecode or "__pycache__" not in f.parts)
