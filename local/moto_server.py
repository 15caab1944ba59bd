"""moto's application behind a server that keeps connections open (cheroot, HTTP/1.1 keep-alive).

`python -m moto.server` runs werkzeug's development server, which closes the connection after
every response, so each boto3 call opened a new TCP connection. Deployed, a function's clients
reuse theirs; here the reconnects cost the functions CPU they do not spend in AWS, diluted the
benchmarks' ratios and slowed the soak. The application is moto's own, with two changes in its
dispatcher (below): a backend cache, and DynamoDB's atomic writes; and one in its DynamoDB model:
a transaction's rollback keeps the items it touches, not whole tables (`_transaction_snapshot`).

`python -m local.moto_server` serves it in a process of its own (local/moto_process.py: make run,
the bench, the soak); `ServerThread` serves it in a thread of the tests' process.
"""

from __future__ import annotations

import argparse
import copy
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from cheroot import wsgi
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves each host, and serving DynamoDB
    requests one at a time.

    moto looks the backend up again for every request: it lists its own package folder (some 200
    stat calls) and tries every service's URL patterns, under a lock all requests share: about a
    sixth of the server's CPU per DynamoDB call, which is on the benchmarks' critical path (the
    server handles one request at a time, on one interpreter). A host's backend never changes while
    the server runs.

    DynamoDB applies a conditional write atomically: of two writes racing on one item, only one
    finds its condition true. moto checks the condition, then writes, with no lock, and the server
    runs requests on many threads, so two racing UpdateItems could both pass; a status run racing
    another then published one outcome twice (test_overlapping_runs_publish_each_outcome_once
    failed 3 runs in 23 on moto's own threaded server, 7 in 12 on this one without the lock), a
    failure of the emulator that DynamoDB does not have. moto does the work of a request on one
    interpreter anyway: serving DynamoDB's one at a time cost no throughput (4.3 ms of moto's CPU
    per UpdateItem with 1 client, 4.5 with 16).
    """

    def __init__(self, create_app: Callable[..., Any]) -> None:
        super().__init__(create_app)
        self._backends: dict[str | None, Any] = {}
        self._dynamodb = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self._dynamodb:  # moto has built the response by the time the call returns
                return super().__call__(environ, start_response)  # type: ignore[no-any-return]
        return super().__call__(environ, start_response)  # type: ignore[no-any-return]

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backends[host]
        except KeyError:
            backend = self._backends[host] = super().get_backend_for_host(host)
            return backend


_touched = threading.local()  # the items of the transaction under way: {table name: hash keys}
_transact_write_items = DynamoDBBackend.transact_write_items


def _transaction(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems, told which items it touches, so that its snapshot keeps those.

    moto rolls a cancelled transaction back by keeping a deep copy of every table it touches, made
    before it starts, whether it succeeds or not: a transaction on a table of N items costs N item
    copies. DynamoDB does nothing of the kind, and the send function writes a batch's rate windows
    in one transaction (sms_pipeline/protection_store.py): on the counters table of a bench or a
    soak, thousands of items, moto spent 100-250 ms per batch copying them, against 7-8 ms for the
    transaction itself, and that time was the benchmarks' critical path. The snapshot now copies
    the touched items alone (the others are not changed by the transaction); what moto decides,
    writes and rolls back is unchanged.
    """
    touched: dict[str, set[DynamoType]] = {}
    for item in transact_items:
        for operation in item.values():
            table = self.tables.get(operation.get("TableName", ""))
            if table is not None:
                key = operation.get("Item") or operation.get("Key") or {}
                if table.hash_key_attr in key:
                    touched.setdefault(table.name, set()).add(DynamoType(key[table.hash_key_attr]))
    _touched.keys = touched
    try:
        _transact_write_items(self, transact_items)
    finally:
        _touched.keys = None


def _transaction_snapshot(table: Table, memo: dict[int, Any]) -> Table:
    """A table's deep copy; during a transaction, one that copies only the items it touches (an
    item of a table with a range key: all the items of its hash key). Writes replace an item in the
    table's mapping, or change a touched item in place, so the untouched ones can be shared."""
    keys = getattr(_touched, "keys", None)
    snapshot = copy.copy(table)
    memo[id(table)] = snapshot
    if keys is None:  # any other deep copy (a backup, a restore): a whole one, as moto makes it
        snapshot.__dict__.update(copy.deepcopy(table.__dict__, memo))
        return snapshot
    snapshot.items = copy.copy(table.items)
    for hash_value in keys.get(table.name, ()):
        if hash_value in table.items:
            snapshot.items[hash_value] = copy.deepcopy(table.items[hash_value], memo)
    return snapshot


DynamoDBBackend.transact_write_items = _transaction  # type: ignore[method-assign]
Table.__deepcopy__ = _transaction_snapshot  # type: ignore[attr-defined]


# Long polls (the event source, the subscriber, the DLQ watch) each hold a thread for up to 20 s.
THREADS = 64


def _server(host: str, port: int) -> wsgi.Server:
    return wsgi.Server((host, port), _Dispatcher(create_backend_app), numthreads=THREADS)


class ServerThread:
    """The same server in a thread of this process, on a free port of loopback (the tests')."""

    def __init__(self) -> None:
        self._server = _server("127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve, name="moto", daemon=True)

    def start(self) -> str:
        """Starts serving; the endpoint URL."""
        self._server.prepare()  # binds, so the port is known
        self._thread.start()
        _, port = self._server.bind_addr
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.moto_server")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    options = parser.parse_args(argv)
    server = _server(options.host, options.port)

    def stop(signum: int, frame: FrameType | None) -> None:
        # moto keeps nothing worth flushing, and a graceful stop would wait for every long poll.
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
