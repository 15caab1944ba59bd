"""What the local test doubles' HTTP servers share: a threaded HTTP/1.1 server on loopback that
knows its open connections (so stop() can release them), binds without a reverse DNS lookup,
counts handler errors instead of printing them, and can answer with a connection reset; and the
foreground loop of their `python -m` entry points."""

from __future__ import annotations

import contextlib
import signal
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any


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
        """Close with SO_LINGER 0: the peer gets a RST, no response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.connection.close()


def serve_in_foreground(server: AbstractContextManager[Any], banner: Callable[[], str]) -> int:
    """Run `server` (a started-on-enter context manager) until SIGTERM or Ctrl-C, printing `banner()`."""
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with server:
        print(banner(), flush=True)
        while not done.wait(0.5):
            pass
    return 0
