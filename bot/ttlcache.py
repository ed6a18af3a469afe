"""A small per-process cache whose entries live ``ttl`` seconds on an injected ticker.

When an entry is stale, one thread re-reads it while the others keep the old value instead
of all querying at once (the value is read on hot paths, e.g. before Slack's ack)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
Ticker = Callable[[], float]  # seconds, only differences matter (time.monotonic)


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, ticker: Ticker = time.monotonic) -> None:
        self.ttl = ttl
        self._ticker = ticker
        self._items: dict[K, tuple[float, V]] = {}
        self._refreshing = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The cached value, or ``load()``'s (stored). A stale value is re-read by one
        thread at a time; meanwhile the others get the stale value at once."""
        hit = self._items.get(key)
        if hit is not None and self._ticker() - hit[0] < self.ttl:
            return hit[1]
        if hit is not None and not self._refreshing.acquire(blocking=False):
            return hit[1]  # another thread is re-reading it
        try:
            value = load()
            self._items[key] = (self._ticker(), value)
        finally:
            if hit is not None:
                self._refreshing.release()
        return value

    def drop(self, key: K) -> None:
        """Forget ``key`` (its source changed): the next ``get`` reads it again."""
        self._items.pop(key, None)


class FakeTicker:
    """A ticker tests move by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
