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
from types import FrameType

from cheroot import wsgi
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

# Long polls (the event source, the subscriber, the DLQ watch) each hold a thread for up to 20 s.
THREADS = 64


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.moto_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    options = parser.parse_args(argv)
    server = wsgi.Server(
        (options.host, options.port), DomainDispatcherApplication(create_backend_app), numthreads=THREADS
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        # moto keeps nothing worth flushing, and a graceful stop would wait for every long poll.
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
