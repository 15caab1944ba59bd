"""A Retarus SMS HTTP API simulator: a real HTTP/1.1 server on loopback, standard library only.

It speaks the interface of `retarus-sms-http-api.txt` (POST /sms, GET /reports under a base path,
default `/httpsimple/v1`), records every request it receives, and can be told to misbehave. Tests
drive it without sleeping: a job's status moves on with the number of times it is polled, never
with wall time.

    with RetarusSimulator(user="u", password="p") as sim:
        requests.post(f"{sim.base_url}/sms", data={"user": "u", "pass": "p", "dst": "+4917012345678", "msg": "hi"})

Requests
--------
Parameters come from the query string and, when the Content-Type is
`application/x-www-form-urlencoded`, from the body; a name in both takes the body's value, a name
repeated within one source takes its first value. Everything is decoded as UTF-8 (invalid UTF-8 is
a 400). Checks run in this order, and the first one that fails answers, with an empty body:

1. a path other than `<base>/sms` and `<base>/reports`: 404;
2. a method other than POST on /sms or GET on /reports: 405;
3. `user` and `pass` not equal to the configured ones: 401;
4. invalid parameters: 400 (see below).

POST /sms checks what the real provider checks: `dst` (required) matches `^(\\+|00)?[0-9]{3,20}$`
as sent (nothing is stripped); `msg` (required) is 1 to 1600 characters; `dn` is `true` or `false`
and `qos` is `normal` or `express` (both case-insensitive); `src` is up to 20 digits with an
optional leading `+`, or 1 to 11 characters of letters, digits, space and ASCII punctuation; `bc`
and `ref` are at most 70 characters. A `dst` ending in `40` is refused with 400 as well (the
"provider refuses this number" case). Otherwise the answer is 201 with a new job id.

Job ids look like real ones, `J.20221116-102407.583-0lajfsfmoXIZJO93PQ` (UTC timestamp, 20 random
letters and digits). Every `odd_job_ids`-th job id (default 7: the 7th, 14th, ...; 1 = all, 0 =
none) ends in characters that must be URL-encoded, one of `+/=@`, `&a=b%2B@`, `#?;@` (the
provider's message ids end in `@`): a client that does not encode the job id in GET /reports gets
a 400 for an unknown job. Job ids never hold white space.

GET /reports needs `jobid`; an unknown or missing job id is a 400. Every other call is one poll of
that job and answers 200 with the job's current `(processStatus, status)`.

Lifecycle (per job, driven by its poll count n = 1, 2, ...; k = `polls_to_final`, at least 1)
-------------------------------------------------------------------------------------------
* polls 1 .. k-1: `OPEN` with an empty status;
* without delivery notification (dn absent or false): poll k and every later poll: the final status;
* with `dn=true`: poll k is `RUNNING` (empty status), poll k+1 and every later poll: the final status.

So with the default k = 2: a plain job answers OPEN, then final; a dn job OPEN, RUNNING, then final.
With k = 1: a plain job is final at its first poll; a dn job is RUNNING at the first, final from
the second. The final status is chosen by the last two digits of `dst`:

    10 DONE/INVALID_DST   11 DONE/BLOCKED      12 DONE/CON_ERR      13 DONE/NOT_ACC_FIN
    14 DONE/TIMEOUT       15 DONE/FAILED_FIN   16 DONE/SEND_ERR     17 DONE/STATUS_ERR
    18 CANCELED/(empty)   19 CANCELED/NOT_ACC_REC                   20 KILL/(empty)
    21 DONE/WEIRD_STATUS (a status not in the provider's table)
    22 OPEN (empty status) at every poll, forever
    23 PAUSED (a processStatus not in the table, empty status) at every poll, forever
    24 OPEN for polls 1 .. k-1, then RUNNING forever (dn or not)
    25 DONE/SUC_FIN (or the dn rule's earlier answers), the final one in lower case with white
       space around and inside it, e.g. `  done ; suc_fin \\n`
    26 an unparseable body, `<html><body>oops</body></html>` (text/html), at every poll, forever
    40 never a job: POST /sms answers 400
    50 never a job: POST /sms answers 500, every time (a request that waits until its validity
       ends: EXPIRED)
    51 POST /sms answers 503 to the first `refusals_before_accept` (default 4) POSTs for that
       number, then accepts as for any other number (a request that waits out an outage: SENT)
    anything else: DONE/SUC_FIN with dn=true, DONE/SUC_ACC without.

Response bodies (the reference for the client's parser, contract §7)
------------------------------------------------------------------
`body_form` chooses the form: "text", "kv", "json", "jsonarray" (reports only; /sms then answers
"json") or "rotate" (the default), which cycles through the forms on successive answers, one
cycle for /sms (text, kv, json) and one for /reports (text, kv, json, jsonarray). It may be
changed while the server runs.

POST /sms, 201:

* text: the job id and a newline, `J.20221116-102407.583-0lajfsfmoXIZJO93PQ\\n` (text/plain);
* kv: `jobId=<id>`, the id as it is, not URL-encoded (text/plain);
* json: `{"jobId": "<id>"}` (application/json).

GET /reports, 200 (shown for DONE/SUC_FIN; the status may be empty):

* text: `DONE SUC_FIN\\n`, the separator rotating through ` `, `;`, `,`, `|`, ` ; `, a tab; an empty
  status alternates between `OPEN\\n` and `OPEN;\\n` (text/plain);
* kv: alternately `processStatus=DONE&status=SUC_FIN` (URL-encoded) and one pair per line,
  `processStatus=DONE\\nstatus=SUC_FIN\\n`; an empty status is `status=` (text/plain);
* json: `{"processStatus": "DONE", "status": "SUC_FIN"}`; an empty status is `""` (application/json);
* jsonarray: `[{"processStatus": "DONE", "status": "SUC_FIN"}]` (application/json).

Every response carries Content-Length and keeps the connection alive (HTTP/1.1), so a pooled
client reuses its connections.

Faults
------
`inject(fault, count, path)` makes the next `count` requests to `path` ("/sms", "/reports", or
None for any) misbehave; injections are used in the order they were made. `set_fault_rates(...)`
makes requests misbehave at random, at the given rates, from `random.Random(seed)`: reproducible
for a given sequence of requests. An injection takes precedence over the rates. A faulted request
is recorded (its `fault` says which) but not processed: it creates no job and counts as no poll
("slow" excepted, which is processed normally, late). The kinds:

* "500", "503": that status, empty body;  "429": 429 with `Retry-After: 0`;
* "reset": the request is read in full, then the connection is closed with SO_LINGER 0, so the
  client sees a connection reset and no response;
* "hang": the request is read in full and nothing is sent until `stop()` or 30 s, then the
  connection is closed;
* "slow": the normal answer, after `slow_seconds` (default 2.0) on top of `latency`.

`set_outage(start, end)` takes the provider down between two wall-clock times (epoch seconds):
every request in that window answers 503 (recorded with the fault "outage"), before any other
fault or check.

Standalone: `python -m local.simulator --port 8080` serves in the foreground and prints its base
URL. The password comes from `--password-file` or the environment variable RETARUS_SIM_PASSWORD
(never from the command line); without either, it is `sim-pass`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import os
import random
import re
import secrets
import signal
import socket
import socketserver
import string
import struct
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit

FAULTS: Final = frozenset({"500", "503", "429", "reset", "hang", "slow"})
BODY_FORMS: Final = ("text", "kv", "json", "jsonarray", "rotate")
SMS_FORMS: Final = ("text", "kv", "json")
REPORT_FORMS: Final = ("text", "kv", "json", "jsonarray")
HANG_SECONDS: Final = 30.0
MAX_BODY_BYTES: Final = 1 << 20
GARBLED_BODY: Final = "<html><body>oops</body></html>"
ODD_SUFFIXES: Final = ("+/=@", "&a=b%2B@", "#?;@")
TEXT_SEPARATORS: Final = (" ", ";", ",", "|", " ; ", "\t")
DEFAULT_PASSWORD: Final = "sim-pass"  # noqa: S105 - the documented default of a local test double

_DST: Final = re.compile(r"(\+|00)?[0-9]{3,20}")
_SRC_NUMBER: Final = re.compile(r"\+?[0-9]{1,20}")
_SRC_TEXT: Final = re.compile(r"[A-Za-z0-9 \x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]{1,11}")
_ALNUM: Final = string.ascii_letters + string.digits

# Final (processStatus, status) by the last two digits of dst; see the module docstring.
FINAL_BY_SUFFIX: Final[dict[str, tuple[str, str]]] = {
    "10": ("DONE", "INVALID_DST"),
    "11": ("DONE", "BLOCKED"),
    "12": ("DONE", "CON_ERR"),
    "13": ("DONE", "NOT_ACC_FIN"),
    "14": ("DONE", "TIMEOUT"),
    "15": ("DONE", "FAILED_FIN"),
    "16": ("DONE", "SEND_ERR"),
    "17": ("DONE", "STATUS_ERR"),
    "18": ("CANCELED", ""),
    "19": ("CANCELED", "NOT_ACC_REC"),
    "20": ("KILL", ""),
    "21": ("DONE", "WEIRD_STATUS"),
    "25": ("DONE", "SUC_FIN"),
}
REJECTED_SUFFIX: Final = "40"


@dataclass(frozen=True)
class ReceivedRequest:
    method: str  # "POST" / "GET" / ...
    path: str  # relative to the base path ("/sms", "/reports"); a path outside it as it came
    params: dict[str, str]  # query and form body merged (the form wins), decoded as UTF-8
    query: str  # the raw query string
    body: bytes  # the raw request body
    content_type: str
    fault: str | None  # the fault injected into this request, if any


@dataclass(frozen=True)
class Report:
    """One answer of GET /reports: a status, or (garbled) an unparseable body."""

    process_status: str
    status: str
    sloppy: bool = False  # lower case, white space around and inside
    garbled: bool = False


GARBLED: Final = Report("", "", garbled=True)


def lifecycle(dst: str, dn: bool, poll: int, polls_to_final: int) -> Report:
    """The answer to the `poll`-th poll (1-based) of a job sent to `dst`: the module docstring's rule."""
    suffix = dst[-2:]
    if suffix == "26":
        return GARBLED
    if suffix == "22":
        return Report("OPEN", "")
    if suffix == "23":
        return Report("PAUSED", "")
    if poll < polls_to_final:
        return Report("OPEN", "")
    if suffix == "24" or (dn and poll == polls_to_final):
        return Report("RUNNING", "")
    if suffix in FINAL_BY_SUFFIX:
        return Report(*FINAL_BY_SUFFIX[suffix], sloppy=suffix == "25")
    return Report("DONE", "SUC_FIN" if dn else "SUC_ACC")


@dataclass
class SimJob:
    job_id: str
    params: dict[str, str]  # what POST /sms carried (credentials included)
    created: float  # time.time() at creation
    polls: int = 0
    reports: list[Report] = field(default_factory=list)  # the answers given, one per poll

    @property
    def dst(self) -> str:
        return self.params["dst"]

    @property
    def dn(self) -> bool:
        return self.params.get("dn", "false").lower() == "true"

    def next_report(self, polls_to_final: int) -> Report:
        self.polls += 1
        report = lifecycle(self.dst, self.dn, self.polls, polls_to_final)
        self.reports.append(report)
        return report


@dataclass
class _Injection:
    fault: str
    remaining: int
    path: str | None


@dataclass(frozen=True)
class _Rates:
    error_500: float
    reset: float
    hang: float
    slow: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: RetarusSimulator, stopping: threading.Event) -> None:
        self.simulator = simulator
        self.stopping = stopping
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """As HTTPServer's, without its reverse DNS lookup of the address (slow where DNS is absent)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: count, never print
        self.simulator._count_handler_error()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "RetarusSimulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

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

    def reset(self) -> None:
        """Close with SO_LINGER 0: the peer gets a RST, no response. The descriptor is really closed
        when the handler's files are (in finish()); the server's later shutdown() of it then fails quietly."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.connection.close()


class RetarusSimulator:
    """The simulated provider. See the module docstring for its behaviour."""

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
        self.user = user
        self.password = password
        self.host = host
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.latency = latency
        self.polls_to_final = polls_to_final
        self.body_form = body_form
        self.odd_job_ids = odd_job_ids
        self.slow_seconds = 2.0
        self.refusals_before_accept = 4
        self._refused: collections.Counter[str] = collections.Counter()
        self._outage: tuple[float, float] | None = None
        self.requests: list[ReceivedRequest] = []
        self.jobs: dict[str, SimJob] = {}
        self.faults_injected: collections.Counter[str] = collections.Counter()
        self.handler_errors = 0
        self._port = port
        self._lock = threading.Lock()
        self._injections: list[_Injection] = []
        self._rates: dict[str | None, _Rates] = {}
        self._fault_random = random.Random(seed)
        self._id_random = random.Random(f"job-ids-{seed}")
        self._sms_answers = itertools.count()
        self._report_answers = itertools.count()
        self._text_reports = itertools.count()
        self._kv_reports = itertools.count()
        self._empty_text_reports = itertools.count()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._gate: threading.Barrier | None = None
        self.gate_broken = False

    # -- life cycle -------------------------------------------------------------------------------

    @property
    def body_form(self) -> str:
        return self._body_form

    @body_form.setter
    def body_form(self, value: str) -> None:
        if value not in BODY_FORMS:
            raise ValueError(f"body_form must be one of {', '.join(BODY_FORMS)}")
        self._body_form = value

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.base_path}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> RetarusSimulator:
        """Serve on a daemon thread. Port 0 picks a free port; a restart after stop() reuses the port."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping = threading.Event()
        server = _Server((self.host, self._port), self, self._stopping)
        self._port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="retarus-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: releases hanging handlers and closes every open connection. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            connections = list(server.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> RetarusSimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # -- faults -----------------------------------------------------------------------------------

    def inject(self, fault: str, count: int = 1, path: str | None = None) -> None:
        """The next `count` requests to `path` (None: any) get `fault`; see the module docstring."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(sorted(FAULTS))}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._injections.append(_Injection(fault, count, path))

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
        rates = _Rates(error_500, reset, hang, slow)
        values = (error_500, reset, hang, slow)
        if any(value < 0 for value in values) or sum(values) > 1:
            raise ValueError("fault rates must be non-negative and add up to at most 1")
        with self._lock:
            self.slow_seconds = slow_seconds
            if sum(values) == 0:
                self._rates.pop(path, None)
            else:
                self._rates[path] = rates

    def set_outage(self, start: float, end: float) -> None:
        """Answer every request with 503 from `start` to `end` (epoch seconds)."""
        if end < start:
            raise ValueError("an outage ends after it starts")
        with self._lock:
            self._outage = (start, end)

    def clear_faults(self) -> None:
        """Forget pending injections, rates and the outage (faults_injected keeps its counts)."""
        with self._lock:
            self._injections.clear()
            self._rates.clear()
            self._outage = None

    def _next_fault(self, path: str) -> str | None:
        with self._lock:
            if self._outage is not None and self._outage[0] <= time.time() < self._outage[1]:
                self.faults_injected["outage"] += 1
                return "outage"
            for injection in self._injections:
                if injection.path is None or injection.path == path:
                    injection.remaining -= 1
                    if injection.remaining == 0:
                        self._injections.remove(injection)
                    self.faults_injected[injection.fault] += 1
                    return injection.fault
            rates = self._rates.get(path, self._rates.get(None))
            if rates is None:
                return None
            draw = self._fault_random.random()
            for fault, rate in (("500", rates.error_500), ("reset", rates.reset), ("hang", rates.hang)):
                if draw < rate:
                    self.faults_injected[fault] += 1
                    return fault
                draw -= rate
            if draw < rates.slow:
                self.faults_injected["slow"] += 1
                return "slow"
            return None

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
        params, decodable = _params(query, body, content_type)
        fault = self._next_fault(path)
        request = ReceivedRequest(handler.command, path, params, query, body, content_type, fault)
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
        elif not self._authorised(params):
            handler.respond(401)
        elif not decodable:
            handler.respond(400)
        elif path == "/sms":
            self._send(handler, params)
        else:
            self._report(handler, params)

    def _authorised(self, params: dict[str, str]) -> bool:
        user, password = params.get("user"), params.get("pass")
        if user is None or password is None:
            return False
        same_user = secrets.compare_digest(user.encode(), self.user.encode())
        same_password = secrets.compare_digest(password.encode(), self.password.encode())
        return same_user and same_password

    def _send(self, handler: _Handler, params: dict[str, str]) -> None:
        if not _valid_sms(params):
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
            job_id = self._new_job_id()
            self.jobs[job_id] = SimJob(job_id, dict(params), time.time())
            form = self._form(SMS_FORMS, self._sms_answers)
        if form == "text":
            handler.respond(201, job_id + "\n")
        elif form == "kv":
            handler.respond(201, f"jobId={job_id}")
        else:
            handler.respond(201, json.dumps({"jobId": job_id}), "application/json")

    def _report(self, handler: _Handler, params: dict[str, str]) -> None:
        with self._lock:
            job = self.jobs.get(params.get("jobid", ""))
            answer = None
            if job is not None:
                report = job.next_report(self.polls_to_final)
                answer = self._render(report, self._form(REPORT_FORMS, self._report_answers))
        if answer is None:
            handler.respond(400)
        else:
            handler.respond(200, *answer)

    def _form(self, forms: tuple[str, ...], counter: Iterator[int]) -> str:
        if self._body_form == "rotate":
            return forms[next(counter) % len(forms)]
        if self._body_form not in forms:  # "jsonarray" for /sms
            return "json"
        return self._body_form

    def _render(self, report: Report, form: str) -> tuple[str, str]:
        """A report's body and content type in `form` (called with the lock held, for the counters)."""
        if report.garbled:
            return GARBLED_BODY, "text/html; charset=utf-8"
        process, status = report.process_status, report.status
        if report.sloppy:
            process, status = f" {process.lower()} ", f" {status.lower()} "
        if form == "text":
            if not report.status:
                return (f"{process}\n" if next(self._empty_text_reports) % 2 == 0 else f"{process};\n"), _TEXT
            separator = TEXT_SEPARATORS[next(self._text_reports) % len(TEXT_SEPARATORS)]
            body = f"{process}{separator}{status}\n"
            return (f" {body}" if report.sloppy else body), _TEXT
        if form == "kv":
            if next(self._kv_reports) % 2 == 0:
                return urlencode({"processStatus": process, "status": status}), _TEXT
            return f"processStatus={process}\nstatus={status}\n", _TEXT
        document = {"processStatus": process, "status": status}
        return json.dumps([document] if form == "jsonarray" else document), "application/json"

    def _new_job_id(self) -> str:
        """Called with the lock held."""
        number = len(self.jobs) + 1
        while True:
            now = time.time()
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"
            tail = "".join(self._id_random.choice(_ALNUM) for _ in range(20))
            job_id = f"J.{stamp}-{tail}"
            if self.odd_job_ids and number % self.odd_job_ids == 0:
                job_id += ODD_SUFFIXES[(number // self.odd_job_ids - 1) % len(ODD_SUFFIXES)]
            if job_id not in self.jobs:
                return job_id


_TEXT: Final = "text/plain; charset=utf-8"


def _params(query: str, body: bytes, content_type: str) -> tuple[dict[str, str], bool]:
    """Query and form body merged (the form wins; the first of repeated names), and whether all of it
    was valid UTF-8. When it was not, the params hold replacement characters and the answer is 400."""
    sources = [query]
    valid = True
    if content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
        try:
            sources.append(body.decode("utf-8"))
        except UnicodeDecodeError:
            sources.append(body.decode("utf-8", errors="replace"))
            valid = False
    merged: dict[str, str] = {}
    for source in sources:
        try:
            pairs = parse_qsl(source, keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            pairs = parse_qsl(source, keep_blank_values=True, encoding="utf-8", errors="replace")
            valid = False
        these: dict[str, str] = {}
        for name, value in pairs:
            these.setdefault(name, value)
        merged.update(these)
    return merged, valid


def _valid_sms(params: dict[str, str]) -> bool:
    dst, msg = params.get("dst"), params.get("msg")
    if dst is None or not _DST.fullmatch(dst) or dst.endswith(REJECTED_SUFFIX):
        return False
    if not msg or len(msg) > 1600:
        return False
    if "dn" in params and params["dn"].lower() not in ("true", "false"):
        return False
    if "qos" in params and params["qos"].lower() not in ("normal", "express"):
        return False
    if "src" in params and not (_SRC_NUMBER.fullmatch(params["src"]) or _SRC_TEXT.fullmatch(params["src"])):
        return False
    return all(len(params.get(name, "")) <= 70 for name in ("bc", "ref"))


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


if __name__ == "__main__":
    sys.exit(main())
