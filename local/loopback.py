"""What the local test doubles' HTTP servers share: a threaded HTTP/1.1 server on loopback that
knows its open connections (so stop() can release them), binds without a reverse DNS lookup,
counts handler errors instead of printing them, and can answer with a connection reset; its life
cycle on a daemon thread (start, stop, restart on the same port); and the foreground loop of
their `python -m` entry points."""

from __future__ import annotations

import contextlib
import signal
import socket
import socketserver
import struct
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Generic, Self, TypeVar


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        on_error: Callable[[], None],
    ) -> None:
        self.on_error = on_error
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        """As HTTPServer's, without its reverse DNS lookup of the address (slow where DNS is absent)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: count, never print
        self.on_error()

    def close_connections(self) -> None:
        """Shut down every open connection: a handler blocked on one returns."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


_Service = TypeVar("_Service", bound="LoopbackService")


class SimulatorServer(LoopbackServer, Generic[_Service]):
    """A LoopbackServer whose handlers reach the test double they serve, as `self.server.simulator`."""

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        simulator: _Service,
        on_error: Callable[[], None],
    ) -> None:
        self.simulator = simulator
        super().__init__(address, handler, on_error)


class LoopbackHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: LoopbackServer

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

    def reset(self) -> None:
        """Close with SO_LINGER 0: the peer gets a RST, no response. The descriptor is really closed
        when the handler's files are (in finish()); the server's later shutdown() of it then fails quietly."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.connection.close()


class LoopbackService:
    """A test double served by a LoopbackServer on a daemon thread, and a context manager.

    Port 0 picks a free port, and a restart after stop() reuses it: a client's URL stays valid.
    stop() sets `_stopping` first, so that a handler that hangs on purpose (waiting on it) returns
    at once, then closes every connection. A subclass makes its server in `_new_server`.
    """

    thread_name = "loopback"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self._port = port
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def _new_server(self, address: tuple[str, int]) -> LoopbackServer:
        raise NotImplementedError

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Self:
        """Serve on a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping = threading.Event()
        self._server = self._new_server((self.host, self._port))
        self._port = self.port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
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
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_foreground(server: AbstractContextManager[Any], banner: Callable[[], str], note: str = "") -> int:
    """Run `server` (a started-on-enter context manager) until SIGTERM or Ctrl-C, printing `banner()`
    (its address, for a script: stdout) and `note` (for the person at the terminal: stderr)."""
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with server:
        print(banner(), flush=True)
        if note:
            print(note, file=sys.stderr, flush=True)
        while not done.wait(0.5):
            pass
    return 0
