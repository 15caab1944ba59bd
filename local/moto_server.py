"""moto's application behind a server that keeps connections open (cheroot, HTTP/1.1 keep-alive).

`python -m moto.server` runs werkzeug's development server, which closes the connection after
every response, so each boto3 call opened a new TCP connection. Deployed, a function's clients
reuse theirs; here the reconnects cost the functions CPU they do not spend in AWS, diluted the
benchmarks' ratios and slowed the soak. The application is moto's own, unchanged.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from cheroot import wsgi
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves each host.

    moto looks the backend up again for every request: it lists its own package folder (some 200
    stat calls) and tries every service's URL patterns, under a lock all requests share: about a
    sixth of the server's CPU per DynamoDB call, which is on the benchmarks' critical path (the
    server handles one request at a time, on one interpreter). A host's backend never changes while
    the server runs.
    """

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backends[host]
        except KeyError:
            backend = self._backends[host] = super().get_backend_for_host(host)
            return backend


# Long polls (the event source, the subscriber, the DLQ watch) each hold a thread for up to 20 s.
THREADS = 64


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.moto_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    options = parser.parse_args(argv)
    server = wsgi.Server((options.host, options.port), _Dispatcher(create_backend_app), numthreads=THREADS)

    def stop(signum: int, frame: FrameType | None) -> None:
        # moto keeps nothing worth flushing, and a graceful stop would wait for every long poll.
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
