"""Cold start: what a new container pays before its first invocation, and what it ships.

Each import is timed in a fresh interpreter set up as Lambda sets up the function: the template's
environment, LAMBDA_TASK_ROOT, AWS_EXECUTION_ENV and the function name (tracing as deployed, so
the X-Ray recorder loads as it does in Lambda), the function's folder first on the path and the
layer after it, as /var/task and /opt/python, and no bytecode written (both are read-only in
Lambda). The layer is built here the way `sam build` builds it, for this machine's platform,
twice: as BuildMethod python3.13 shipped it (no bytecode, botocore's data for every AWS service)
and by layers/common/Makefile itself (bytecode, botocore's data trimmed to the services the
functions call). The target's baseline is bench/bare_init.py: the init of the same libraries
with nothing of ours, on the built layer; `import boto3` alone, as a function without our layer
would pay it, is a second baseline for information. Rounds alternate between the measures so a
busy moment of the machine hits them all; each line is the median of the rounds' ratios of CPU
time. An import is CPU work in one thread, and Lambda gives init a full vCPU, so there its wall
time is its CPU time; here the wall time also holds whatever else the shared machine ran (the
figures print it too), and CPU time does not.

Every module outside the BuildMethod layer is precompiled before the rounds (this environment sets
PYTHONDONTWRITEBYTECODE, so an import from a folder without bytecode compiles at every run), and a
sample whose import still compiled a module is refused (bench/bytecode.py): a baseline that
compiles measures the compiler, and made the ratios move from run to run.
"""

from __future__ import annotations

import compileall
import json
import os
import platform
import py_compile
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER_SOURCE = ROOT / "layers" / "common"
# The import timed, then (untimed) the modules it compiled from source and the library modules it
# loaded (bench/bytecode.py). It runs inside `pad`, a frame of _PAD_SLOTS local variables: CPython
# keeps its frames on a data stack of 16 KiB chunks, and maps a chunk when a call crosses into it
# and unmaps it when the call returns, so that code which calls back and forth across a chunk's
# edge maps and unmaps one each time (a system call, a page fault). How often depends on the stack
# depth at which the import starts, which is arbitrary (the bench's `python -c`, Lambda's
# bootstrap): at the bench's depth the status handler's import crossed 200-650 times and its bare
# init about 10, a few milliseconds apart; over other depths both cross 1,000-1,600 times on
# average. A frame of 64 KiB gets a chunk of 128 KiB of its own, with room for the whole import
# above it, so neither side crosses at all and the ratio is of the imports' own work.
_PAD_SLOTS = 8200
_TIMER = """\
import json, sys, time
exec("def pad(go):\\n    " + " = ".join([f"v{{i}}" for i in range({pad})] + ["0"]) + "\\n    return go()")
def go():
    before, began = set(sys.modules), time.time()
    t, c = time.perf_counter(), time.process_time()
    import {module}
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    return before, began, seconds, cpu
before, began, seconds, cpu = pad(go)
new = set(sys.modules) - before
from bench.bytecode import compiled, libraries
found = {{"compiled": compiled(new, since=began), "libraries": libraries(new, ours={ours!r})}}
print(json.dumps({{"seconds": seconds, "cpu": cpu, **found}}))
"""
# Top-level packages of this project, with the function folder's own modules (`_modules_in`):
# whatever else an import loads from outside the standard library is a library's.
_OURS = ("sms_pipeline", "bench")

# What each function's init needs at the least (bench/bare_init.py): its clients, the batch
# utility (the send function's requests, the status function's check timers), and the other library
# modules its init loads: boto3's DynamoDB type serializer (the store's codec) and, for the send
# function, gsm0338 (a text's encoding and parts). The send function's SNS client and both
# functions' SQS clients are made on first use, so not here. A handler line whose import loads a
# library module its bare init does not, or the other way round, is refused (`same_libraries`).
BARE = {
    "send": {
        "BENCH_CLIENTS": "dynamodb,secretsmanager",
        "BENCH_BATCH": "1",
        "BENCH_IMPORTS": "boto3.dynamodb.types,gsm0338",
    },
    "status": {
        "BENCH_CLIENTS": "dynamodb,sns,secretsmanager",
        "BENCH_BATCH": "1",
        "BENCH_IMPORTS": "boto3.dynamodb.types",
    },
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


@dataclass(frozen=True)
class Sample:
    seconds: float  # wall
    cpu: float  # the process's CPU seconds: what a container with its own vCPU waits for
    compiled: tuple[str, ...]  # source files the timed import compiled (bench/bytecode.py)
    libraries: tuple[str, ...] = ()  # the library modules it loaded (bench/bytecode.py)


def import_seconds(module: str, code_dir: Path, layer: Path | None, env: Mapping[str, str]) -> Sample:
    """Seconds to import `module` in a fresh interpreter set up as Lambda sets up the function,
    and the modules that import compiled."""
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
        [sys.executable, "-c", _TIMER.format(module=module, ours=(*_OURS, *_modules_in(code_dir)), pad=_PAD_SLOTS)],
        env=environment,
        cwd=code_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(output.stdout.strip().splitlines()[-1])
    return Sample(float(result["seconds"]), float(result["cpu"]), tuple(result["compiled"]), tuple(result["libraries"]))


def _modules_in(code_dir: Path) -> list[str]:
    """The top-level modules of a function's own folder (its handler module): ours too."""
    return sorted(p.stem for p in code_dir.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists())


# Each measure: the module imported, the function it belongs to, the layer build, the extra env.
Measure = tuple[str, str, str, Mapping[str, str]]


def measures(
    functions: Mapping[str, tuple[Path, str, Mapping[str, str]]], builds: Iterable[str], compiling: Iterable[str] = ()
) -> dict[str, Measure]:
    """Every import timed, by name: "boto3" alone, and "boto3 <build>" from each layer build
    among `compiling` (a build without bytecode: its handler imports are compared with an import
    of boto3 that compiles as they do); "<function> <build>" for each function's handler module
    with each layer build; "<function> bare" for bench/bare_init.py on the built layer,
    "<function> clients" for its boto3 and clients alone, and "<function> libraries" for its
    libraries with no client made."""
    first = next(iter(functions))
    found: dict[str, Measure] = {"boto3": ("boto3", first, "", {})}
    for build in compiling:
        found[f"boto3 {build}"] = ("boto3", first, build, {})
    for name, (_, module, _) in functions.items():
        for build in builds:
            found[f"{name} {build}"] = (module, name, build, {})
        found[f"{name} bare"] = ("bench.bare_init", name, "built", BARE[name])
        found[f"{name} clients"] = ("bench.bare_init", name, "built", {**BARE[name], "BENCH_LIBRARIES": "0"})
        found[f"{name} libraries"] = ("bench.bare_init", name, "built", {**BARE[name], "BENCH_CLIENTS": ""})
    return found


def precompile(paths: Iterable[Path]) -> None:
    """Bytecode for every module the measures import from outside the layers, as the built layer
    has it for its own: the function folders, bench/ (bare_init), and any module of this worktree
    or a layer that a trial import compiled (a shared interpreter's site-packages is not written
    to: a module there without its .pyc gets its measure refused). Timestamp invalidation, which
    the source files next to them keep valid."""
    for path in paths:
        if path.is_dir():
            compileall.compile_dir(path, quiet=1)
        else:
            py_compile.compile(str(path), doraise=True)


def cold_start(
    functions: Mapping[str, tuple[Path, str, Mapping[str, str]]],
    layers: Mapping[str, Path],
    rounds: int,
    *,
    may_compile: Iterable[str] = (),
) -> dict[str, list[Sample]]:
    """Every round's sample of every measure (see `measures`); the rounds alternate between the
    measures so a busy moment of the machine hits them all, in the reverse order every other
    round. Before the timed rounds, everything is precompiled and each measure is imported once
    untimed, and what that import still compiled (outside the layers `may_compile` names, built
    without bytecode on purpose) is compiled too."""
    allowed = set(may_compile)
    todo = measures(functions, layers, [build for build in layers if build in allowed])

    def run(measure: Measure) -> Sample:
        module, function, build, extra = measure
        code_dir, _, env = functions[function]
        return import_seconds(module, code_dir, layers[build] if build else None, {**env, **extra})

    precompile([ROOT / "bench", *(code_dir for code_dir, _, _ in functions.values())])
    ours = [ROOT, *layers.values()]  # a shared interpreter's site-packages is left as it is
    for measure in todo.values():
        if measure[2] not in allowed:
            compiled = (Path(source) for source in run(measure).compiled)
            precompile(path for path in compiled if any(path.is_relative_to(root) for root in ours))
    samples: dict[str, list[Sample]] = {name: [] for name in todo}
    for round_ in range(rounds):
        names = list(todo) if round_ % 2 == 0 else list(reversed(todo))  # a drifting load weighs alike
        for name in names:
            samples[name].append(run(todo[name]))
    return samples


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
