"""A warm "container" per function: a child process that imports the handler once and serves
invocations over a pipe, with exactly the environment the template gives the function.

Spawned (not forked), so module-level state starts clean, as in a fresh Lambda container. The
child's stdout/stderr (the functions' JSON logs) go to a log file, away from the run's display.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    code_dir: Path
    handler: str
    env: dict[str, str]
    timeout: int
    memory: int
    log_path: Path


def _serve(spec: FunctionSpec, connection: Connection) -> None:
    log = open(spec.log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 — lives as long as the process
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
    os.environ.update(spec.env)
    from local import chaos
    from local.lambda_runtime import LambdaContext, load_handler

    chaos.install_from_env()
    handler = load_handler(spec.code_dir, spec.handler, spec.env)
    connection.send(("ready", None))
    while True:
        try:
            event = connection.recv()
        except EOFError:
            return
        if event is None:
            return
        context = LambdaContext(function_name=spec.name, timeout_seconds=spec.timeout, memory_limit_in_mb=spec.memory)
        try:
            connection.send(("ok", handler(event, context)))
        except Exception as error:  # Lambda reports the error; so do we
            traceback.print_exc()
            connection.send(("error", f"{type(error).__name__}: {error}"))


class FunctionError(RuntimeError):
    """The handler raised: the invocation failed, as Lambda would report it."""


class FunctionWorker:
    def __init__(self, spec: FunctionSpec) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(spec, child), name=spec.name, daemon=True)
        self._process.start()
        self.spec = spec
        kind, detail = self._receive()
        if kind != "ready":
            raise FunctionError(f"{spec.name} did not start: {detail}")

    def invoke(self, event: dict[str, Any]) -> Any:
        self._connection.send(event)
        kind, result = self._receive()
        if kind == "error":
            raise FunctionError(result)
        return result

    def _receive(self) -> tuple[str, Any]:
        if not self._connection.poll(self.spec.timeout + 30):
            raise FunctionError(f"{self.spec.name} did not answer within its timeout")
        try:
            message: tuple[str, Any] = self._connection.recv()
        except EOFError:
            raise FunctionError(
                f"{self.spec.name} exited during start-up or an invocation; see {self.spec.log_path}"
            ) from None
        return message

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._connection.send(None)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
