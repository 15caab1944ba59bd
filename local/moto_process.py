"""A moto server in a process of its own: the emulated AWS does not share the runner's GIL.

In one process, moto's request handling and the runner's event-source and subscriber threads
compete for one interpreter lock; under load (the soak) that, not the functions, was the limit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class MotoProcess:
    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""

    def start(self) -> MotoProcess:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        log = self._log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 — our own interpreter and moto's module
            [sys.executable, "-m", "local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the moto server exited at start-up; see {self._log_path}")
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1).close()  # noqa: S310 — loopback
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the moto server did not answer within 30 s; see {self._log_path}")

    def cpu_seconds(self) -> float | None:
        """CPU time the server has used so far (Linux; None elsewhere): what the emulated AWS costs."""
        if self._process is None:
            return None
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
