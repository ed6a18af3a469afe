"""A workspace's redaction patterns are read on every reply, before the ack: cached a minute
(on the cache's own ticker, a fake one here), and re-read by one thread at a time when the
minute is up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.services.container import PATTERNS_TTL
from bot.services.identity import ensure_account
from bot.services.sessions import workspace_patterns
from bot.ttlcache import FakeTicker, TtlCache
from storage.db import unit_of_work
from storage.settings_store import set_setting


@pytest.fixture()
def ticked(db_url: str, engine: Any, fake_slack: Any) -> Iterator[tuple[Any, FakeTicker]]:
    from support import Harness

    ticker = FakeTicker()
    h = Harness(db_url, fake_slack, ticker=ticker)
    yield h, ticker
    h.close()


def _set_patterns(h: Any, patterns: list[str]) -> None:
    with unit_of_work(h.svc.factory) as db:
        account = ensure_account(db, "T0001")
        db.flush()
        set_setting(db, account.id, "redaction_patterns", patterns)


def test_patterns_are_cached_then_re_read_by_one_thread(ticked: tuple[Any, FakeTicker]) -> None:
    h, ticker = ticked
    _set_patterns(h, [r"TICKET-\d+"])
    assert workspace_patterns(h.svc, "T0001") == [r"TICKET-\d+"]

    _set_patterns(h, [r"CASE-\d+"])
    ticker.advance(PATTERNS_TTL - 1)
    assert workspace_patterns(h.svc, "T0001") == [r"TICKET-\d+"], "cached for a minute"

    ticker.advance(2)  # the minute is up
    cache: TtlCache[str, list[str]] = h.svc.caches.redaction_patterns
    reading, release = threading.Event(), threading.Event()

    def slow_read() -> list[str]:  # another thread is re-reading another workspace's list
        reading.set()
        assert release.wait(10)
        return []

    other = threading.Thread(target=cache.get, args=("T0002", slow_read))
    cache.get("T0002", list)  # cached, so that its re-read below holds the refresh
    ticker.advance(PATTERNS_TTL + 1)
    other.start()
    try:
        assert reading.wait(10)
        assert workspace_patterns(h.svc, "T0001") == [r"TICKET-\d+"], \
            "the old list serves while another thread re-reads (nobody waits for it)"
    finally:
        release.set()
        other.join(10)
    assert workspace_patterns(h.svc, "T0001") == [r"CASE-\d+"], "then the new one"
    assert workspace_patterns(h.svc, "T9999") == [], "an unknown workspace has none"


def test_a_changed_setting_is_read_at_once(ticked: tuple[Any, FakeTicker]) -> None:
    """`/flowpilot settings` drops the cached entry: no minute of stale patterns."""
    h, _ = ticked
    _set_patterns(h, [r"TICKET-\d+"])
    assert workspace_patterns(h.svc, "T0001") == [r"TICKET-\d+"]
    _set_patterns(h, [r"CASE-\d+"])
    h.svc.caches.redaction_patterns.drop("T0001")
    assert workspace_patterns(h.svc, "T0001") == [r"CASE-\d+"]


def test_ttl_cache_expires_on_its_ticker() -> None:
    ticker = FakeTicker()
    cache: TtlCache[str, int] = TtlCache(10.0, ticker)
    reads: list[int] = []

    def load() -> int:
        reads.append(1)
        return len(reads)

    assert cache.get("k", load) == 1
    ticker.advance(9.9)
    assert cache.get("k", load) == 1
    ticker.advance(0.2)
    assert cache.get("k", load) == 2
    assert len(reads) == 2
