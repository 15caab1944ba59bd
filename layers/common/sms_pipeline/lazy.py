"""A client made on its first use, once, whatever the number of threads asking for it.

The send function publishes outcomes and sets retry delays only when a record needs it, so most of
its containers never pay for creating those clients (a few milliseconds of cold start each).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class OnFirstUse(Generic[T]):
    def __init__(self, make: Callable[[], T]) -> None:
        self._make: Callable[[], T] | None = make
        self._value: T | None = None
        self._lock = threading.Lock()  # a boto3 session must not create clients from two threads at once

    def __call__(self) -> T:
        if self._make is not None:
            with self._lock:
                if self._make is not None:
                    self._value = self._make()
                    self._make = None
        return self._value  # type: ignore[return-value]  # set, since _make is gone
