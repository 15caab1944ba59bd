"""`python -m local.simulator`: the simulator in the foreground, for a client run by hand."""

from __future__ import annotations

import argparse
import os

from local.loopback import serve_in_foreground
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
    settings = vars(parser.parse_args(argv))  # the simulator's keywords, but the password's file
    try:
        password = _read_password(settings.pop("password_file"))
    except OSError as error:
        parser.error(f"cannot read the password file: {error.strerror}")
    simulator = RetarusSimulator(password=password, **settings)
    return serve_in_foreground(simulator, lambda: simulator.base_url, f"user {simulator.user!r}; Ctrl-C stops")
