"""The simulator's HTTP server: `RetarusSimulator` serves the API on loopback and records what it got.

The behaviour it serves is the package docstring's; what each job answers is jobs.py's, how
bodies are read and written bodies.py's, which request misbehaves faults.py's.
"""

from __future__ import annotations

import collections
import contextlib
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from local.loopback import LoopbackHandler, LoopbackService, SimulatorServer
from local.simulator.bodies import GARBLED_BODY, Bodies, params, valid_sms
from local.simulator.faults import HANG_SECONDS, Faults
from local.simulator.jobs import JobIds, SimJob

MAX_BODY_BYTES: Final = 1 << 20
DEFAULT_PASSWORD: Final = "sim-pass"  # noqa: S105 - the documented default of a local test double
_GARBLED: Final = (GARBLED_BODY, "text/html; charset=utf-8")  # the "garbled" fault's answer


@dataclass(frozen=True)
class ReceivedRequest:
    method: str  # "POST" / "GET" / ...
    path: str  # relative to the base path ("/sms", "/reports"); a path outside it as it came
    params: dict[str, str]  # query and form body merged (the form wins), decoded as UTF-8
    query: str  # the raw query string
    body: bytes  # the raw request body
    content_type: str
    fault: str | None  # the fault injected into this request, if any


class _Handler(LoopbackHandler):
    server_version = "RetarusSimulator/1.0"
    server: SimulatorServer[RetarusSimulator]

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def _dispatch(self) -> None:
        try:
            self.server.simulator._handle(self)
        except (ConnectionError, TimeoutError, BrokenPipeError):
            self.close_connection = True
        except Exception:
            self.close_connection = True
            self.server.simulator._count_handler_error()
            with contextlib.suppress(Exception):
                self.respond(500)

    def respond(
        self,
        status: int,
        body: str | bytes = b"",
        content_type: str = "text/plain; charset=utf-8",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        if data:
            self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def read_body(self) -> bytes | None:
        """The request body, or None after answering a body that cannot be read (the connection closes)."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self.respond(411)
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self.respond(400)
            return None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self.respond(413)
            return None
        body = self.rfile.read(length)
        if len(body) < length:  # the client went away
            self.close_connection = True
            return None
        return body


class RetarusSimulator(LoopbackService):
    """The simulated provider. See the package docstring for its behaviour."""

    thread_name = "retarus-simulator"

    def __init__(
        self,
        user: str = "sim-user",
        password: str = DEFAULT_PASSWORD,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        base_path: str = "/httpsimple/v1",
        latency: float = 0.0,
        polls_to_final: int = 2,
        body_form: str = "rotate",
        seed: int = 0,
        odd_job_ids: int = 7,
    ) -> None:
        if polls_to_final < 1:
            raise ValueError("polls_to_final must be at least 1")
        if odd_job_ids < 0:
            raise ValueError("odd_job_ids must be 0 (never) or positive (every n-th job id)")
        super().__init__(host, port)
        self.user = user
        self.password = password
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.latency = latency
        self.polls_to_final = polls_to_final
        self._bodies = Bodies(body_form)
        self.odd_job_ids = odd_job_ids
        self.slow_seconds = 2.0
        self.refusals_before_accept = 4
        self._refused: collections.Counter[str] = collections.Counter()
        self.requests: list[ReceivedRequest] = []
        self.jobs: dict[str, SimJob] = {}
        self._faults = Faults(seed)
        self.faults_injected = self._faults.injected
        self.handler_errors = 0
        self._lock = threading.Lock()
        self._job_ids = JobIds(seed)
        self._gate: threading.Barrier | None = None
        self.gate_broken = False

    # -- life cycle (port, running, start, stop: LoopbackService's) -------------------------------

    def _new_server(self, address: tuple[str, int]) -> SimulatorServer[RetarusSimulator]:
        return SimulatorServer(address, _Handler, self, self._count_handler_error)

    @property
    def body_form(self) -> str:
        return self._bodies.form

    @body_form.setter
    def body_form(self, value: str) -> None:
        with self._lock:
            self._bodies.form = value

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.base_path}"

    # -- faults -----------------------------------------------------------------------------------

    def inject(self, fault: str, count: int = 1, path: str | None = None) -> None:
        """The next `count` requests to `path` (None: any) get `fault`; see the package docstring."""
        self._faults.inject(fault, count, path)

    def set_fault_rates(
        self,
        *,
        error_500: float = 0.0,
        reset: float = 0.0,
        hang: float = 0.0,
        slow: float = 0.0,
        slow_seconds: float = 2.0,
        path: str | None = None,
    ) -> None:
        """Random faults at these rates for requests to `path` (None: any path without rates of its own).
        A later call for the same path replaces the rates; all zero removes them."""
        self._faults.set_rates(error_500=error_500, reset=reset, hang=hang, slow=slow, path=path)
        self.slow_seconds = slow_seconds

    def set_outage(self, start: float, end: float) -> None:
        """Answer every request with 503 from `start` to `end` (epoch seconds)."""
        self._faults.set_outage(start, end)

    def clear_faults(self) -> None:
        """Forget pending injections, rates and the outage (faults_injected keeps its counts)."""
        self._faults.clear()

    # -- what happened ----------------------------------------------------------------------------

    def sms_posts(self) -> list[ReceivedRequest]:
        """Every POST /sms received, accepted or not, faulted or not, in order."""
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and r.path == "/sms"]

    def report_calls(self, job_id: str | None = None) -> list[ReceivedRequest]:
        """Every GET /reports received (for `job_id` only, if given), in order."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == "GET" and r.path == "/reports" and (job_id is None or r.params.get("jobid") == job_id)
            ]

    def job_for(self, key: str) -> SimJob:
        """The job with this id, else the latest job whose dst ends with `key` (e.g. "78" or "+4917012345678")."""
        with self._lock:
            if key in self.jobs:
                return self.jobs[key]
            for job in reversed(list(self.jobs.values())):
                if job.dst.endswith(key):
                    return job
        raise KeyError(key)

    def _count_handler_error(self) -> None:
        with self._lock:
            self.handler_errors += 1

    def gather_sends(self, parties: int, timeout: float = 5.0) -> None:
        """Hold each POST /sms until `parties` of them are held together, then answer them all.

        A test of concurrency that does not depend on timing: sends that go out one after the
        other never make up the party, and after `timeout` the gate breaks (`gate_broken`), the
        held POSTs are answered and every later one passes straight through.
        """
        self._gate = threading.Barrier(parties, timeout=timeout)
        self.gate_broken = False

    # -- serving ----------------------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        target = urlsplit(handler.path)
        query = target.query
        inside = target.path.startswith(self.base_path + "/")
        path = target.path[len(self.base_path) :] if inside else target.path  # outside: as it came, 404
        body = handler.read_body()
        if body is None:
            return
        content_type = handler.headers.get("Content-Type", "")
        merged, decodable = params(query, body, content_type)
        fault = self._faults.next(path)
        request = ReceivedRequest(handler.command, path, merged, query, body, content_type, fault)
        with self._lock:
            self.requests.append(request)

        if fault == "reset":
            handler.reset()
            return
        if fault == "hang":
            handler.close_connection = True
            self._stopping.wait(HANG_SECONDS)
            return
        if fault == "slow":
            self._stopping.wait(self.slow_seconds)
        if self._gate is not None and path == "/sms":
            try:
                self._gate.wait()
            except threading.BrokenBarrierError:
                self.gate_broken = True
        if self.latency > 0:
            self._stopping.wait(self.latency)
        if fault in ("500", "503", "outage"):
            handler.respond(503 if fault == "outage" else int(fault))
            return
        if fault == "429":
            handler.respond(429, headers=[("Retry-After", "0")])
            return

        expected = {"/sms": "POST", "/reports": "GET"}.get(path) if inside else None
        if expected is None:
            handler.respond(404)
        elif handler.command != expected:
            handler.respond(405, headers=[("Allow", expected)])
        elif not self._authorised(merged):
            handler.respond(401)
        elif not decodable:
            handler.respond(400)
        elif path == "/sms":
            self._send(handler, merged, garbled=fault == "garbled")
        else:
            self._report(handler, merged, garbled=fault == "garbled")

    def _authorised(self, params: dict[str, str]) -> bool:
        user, password = params.get("user"), params.get("pass")
        if user is None or password is None:
            return False
        same_user = secrets.compare_digest(user.encode(), self.user.encode())
        same_password = secrets.compare_digest(password.encode(), self.password.encode())
        return same_user and same_password

    def _send(self, handler: _Handler, params: dict[str, str], *, garbled: bool = False) -> None:
        if not valid_sms(params):
            handler.respond(400)
            return
        if params["dst"].endswith("50"):  # the provider fails this number every time
            handler.respond(500)
            return
        if params["dst"].endswith("51"):  # … and this one for a while
            with self._lock:
                self._refused[params["dst"]] += 1
                refuse = self._refused[params["dst"]] <= self.refusals_before_accept
            if refuse:
                handler.respond(503)
                return
        with self._lock:
            job_id = self._job_ids.new(len(self.jobs) + 1, self.odd_job_ids, self.jobs)
            self.jobs[job_id] = SimJob(job_id, dict(params), time.time())
            answer = _GARBLED if garbled else self._bodies.sms(job_id)
        handler.respond(201, *answer)

    def _report(self, handler: _Handler, params: dict[str, str], *, garbled: bool = False) -> None:
        with self._lock:
            job = self.jobs.get(params.get("jobid", ""))
            answer = None
            if job is not None:
                report = job.next_report(self.polls_to_final)
                answer = _GARBLED if garbled else self._bodies.report(report)
        if answer is None:
            handler.respond(400)
        else:
            handler.respond(200, *answer)
