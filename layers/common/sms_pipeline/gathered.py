"""Questions asked at about the same moment on several threads, answered by one call.

The send function handles a batch's records on threads of their own, at about the same moment;
what each would ask DynamoDB alone (is this number opted out, may it have one more SMS) is cheaper
asked once for the batch: one call costs the function about one call's CPU, however many items it
carries (docs/performance.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Round(Generic[T, R]):
    def __init__(self) -> None:
        self.items: list[T] = []
        self.answers: list[R] = []
        self.error: BaseException | None = None
        self.done = threading.Event()


class Gathered(Generic[T, R]):
    """Answers questions by rounds: the first question of a round waits `gather_seconds` for others,
    then `resolve` answers them all (the questions → their answers, in order); a full round starts
    the next. When `resolve` fails, every question of its round fails with it."""

    def __init__(self, resolve: Callable[[list[T]], list[R]], *, gather_seconds: float, limit: int) -> None:
        self._resolve = resolve
        self._gather = gather_seconds
        self._limit = limit
        self._lock = threading.Lock()
        self._open: _Round[T, R] | None = None

    def ask(self, item: T) -> R:
        with self._lock:
            current = self._open
            leader = current is None
            if current is None:
                current = self._open = _Round()
            index = len(current.items)
            current.items.append(item)
            if len(current.items) >= self._limit:
                self._open = None  # full: the next question opens a round of its own
        if leader:
            time.sleep(self._gather)
            with self._lock:
                if self._open is current:
                    self._open = None
            try:
                current.answers = self._resolve(list(current.items))
            except BaseException as error:  # every question of the round fails with it
                current.error = error
            finally:
                current.done.set()
        else:
            current.done.wait()
        if current.error is not None:
            raise current.error
        return current.answers[index]
