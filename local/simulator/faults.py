"""Which request misbehaves, and how: injections, random rates and an outage window."""

from __future__ import annotations

import collections
import random
import threading
import time
from dataclasses import dataclass
from typing import Final

FAULTS: Final = frozenset({"500", "503", "429", "reset", "hang", "slow", "garbled"})
HANG_SECONDS: Final = 30.0


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


class Faults:
    """The faults to come. Thread-safe: every handler thread asks `next` for its request's."""

    def __init__(self, seed: int, kinds: frozenset[str] = FAULTS) -> None:
        self.kinds = kinds  # the faults `inject` accepts: the Retarus simulator's unless a simulator names its own
        self.injected: collections.Counter[str] = collections.Counter()  # by kind, "outage" included
        self._lock = threading.Lock()
        self._injections: list[_Injection] = []
        self._rates: dict[str | None, _Rates] = {}
        self._outage: tuple[float, float] | None = None
        self._random = random.Random(seed)

    def inject(self, fault: str, count: int, path: str | None) -> None:
        if fault not in self.kinds:
            raise ValueError(f"unknown fault {fault!r}; one of {', '.join(sorted(self.kinds))}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._injections.append(_Injection(fault, count, path))

    def set_rates(self, *, error_500: float, reset: float, hang: float, slow: float, path: str | None) -> None:
        rates = _Rates(error_500, reset, hang, slow)
        values = (error_500, reset, hang, slow)
        if any(value < 0 for value in values) or sum(values) > 1:
            raise ValueError("fault rates must be non-negative and add up to at most 1")
        with self._lock:
            if sum(values) == 0:
                self._rates.pop(path, None)
            else:
                self._rates[path] = rates

    def set_outage(self, start: float, end: float) -> None:
        if end < start:
            raise ValueError("an outage ends after it starts")
        with self._lock:
            self._outage = (start, end)

    def clear(self) -> None:
        with self._lock:
            self._injections.clear()
            self._rates.clear()
            self._outage = None

    def next(self, path: str) -> str | None:
        """The fault of the request now arriving at `path`, if any: the outage, else the oldest
        matching injection, else a draw from the rates."""
        with self._lock:
            if self._outage is not None and self._outage[0] <= time.time() < self._outage[1]:
                self.injected["outage"] += 1
                return "outage"
            for injection in self._injections:
                if injection.path is None or injection.path == path:
                    injection.remaining -= 1
                    if injection.remaining == 0:
                        self._injections.remove(injection)
                    self.injected[injection.fault] += 1
                    return injection.fault
            rates = self._rates.get(path, self._rates.get(None))
            if rates is None:
                return None
            draw = self._random.random()
            for fault, rate in (("500", rates.error_500), ("reset", rates.reset), ("hang", rates.hang)):
                if draw < rate:
                    self.injected[fault] += 1
                    return fault
                draw -= rate
            if draw < rates.slow:
                self.injected["slow"] += 1
                return "slow"
            return None
