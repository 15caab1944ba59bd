"""A handler module's init, run without the cyclic garbage collector.

Init creates some 85,000 objects (modules, botocore's service models, the clients) that live as
long as the container; none of them is garbage. Yet their allocation keeps triggering the
collector, which walks them again and again while they are made: about 15 % of a handler's import
(bench/coldstart.py). So the init runs with the collector off. At its end, in Lambda, everything
init made is frozen (`gc.freeze`: moved to a generation no collection visits, the pattern the gc
documentation gives for a server's long-lived state); otherwise the first collection after the
init would walk all of it in the first invocation, and every full collection of the container's
life again. The price is that the few cycles init leaves behind are never freed.

Only in Lambda, where init happens once per process: tests and the local pipeline load handlers
many times in one process and would freeze each test's garbage for good.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def init_phase() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_"):
            gc.freeze()
        if was_enabled:
            gc.enable()
