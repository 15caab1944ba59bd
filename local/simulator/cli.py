"""`python -m local.simulator`: the simulator in the foreground, for a client run by hand."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from local.simulator.bodies import BODY_FORMS
from local.simulator.server import DEFAULT_PASSWORD, RetarusSimulator


def _read_password(path: str | None) -> str:
    if path:
        with open(path, encoding="utf-8") as file:
            return file.read().rstrip("\r\n")
    return os.environ.get("RETARUS_SIM_PASSWORD") or DEFAULT_PASSWORD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.simulator",
        description="Serve a Retarus SMS HTTP API simulator in the foreground (Ctrl-C stops it).",
        epilog=f"The password comes from --password-file or RETARUS_SIM_PASSWORD; default {DEFAULT_PASSWORD!r}.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 picks a free one; default 8080)")
    parser.add_argument("--user", default="sim-user", help="the API login (default sim-user)")
    parser.add_argument("--password-file", help="a file holding the API password")
    parser.add_argument("--base-path", default="/httpsimple/v1")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added before every answer")
    parser.add_argument("--polls-to-final", type=int, default=2)
    parser.add_argument("--body-form", choices=BODY_FORMS, default="rotate")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args(argv)
    try:
        password = _read_password(options.password_file)
    except OSError as error:
        parser.error(f"cannot read the password file: {error.strerror}")
    simulator = RetarusSimulator(
        options.user,
        password,
        host=options.host,
        port=options.port,
        base_path=options.base_path,
        latency=options.latency,
        polls_to_final=options.polls_to_final,
        body_form=options.body_form,
        seed=options.seed,
    )
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with simulator:
        print(simulator.base_url, flush=True)
        print(f"user {simulator.user!r}; Ctrl-C stops", file=sys.stderr, flush=True)
        while not done.wait(0.5):
            pass
    return 0
