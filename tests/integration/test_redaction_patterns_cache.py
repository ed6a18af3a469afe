"""A workspace's redaction patterns are read on every reply, before the ack: cached a minute,
and re-read by one thread at a time when the minute is up."""

from __future__ import annotations

import time
from typing import Any

from bot.services.identity import ensure_account
from bot.services.sessions import PATTERNS_TTL, workspace_patterns
from storage.db import unit_of_work
from storage.settings_store import set_setting


def _set_patterns(h: Any, patterns: list[str]) -> None:
    with unit_of_work(h.svc.factory) as db:
        account = ensure_account(db, "T0001")
        db.flush()
        set_setting(db, account.id, "redaction_patterns", patterns)


def test_patterns_are_cached_then_re_read_by_one_thread(harness: Any) -> None:
    h = harness
    _set_patterns(h, [r"TICKET-\d+"])
    assert workspace_patterns(h.svc, "T0001") == [r"TICKET-\d+"]

    _set_patterns(h, [r"CASE-\d+"])
    assert workspace_patterns(h.svc, "T0001") == [r"TICKET-\d+"], "cached for a minute"

    cache = h.svc.extras["redaction_patterns"]
    stamp, patterns = cache["T0001"]
    cache["T0001"] = (stamp - PATTERNS_TTL - 1, patterns)  # the minute is up
    lock = h.svc.extras["redaction_patterns_lock"]
    assert lock.acquire(blocking=False)  # another thread is re-reading them right now
    try:
        started = time.monotonic()
        assert workspace_patterns(h.svc, "T0001") == [r"TICKET-\d+"], "the old list serves"
        assert time.monotonic() - started < 1.0, "and nobody waits for the re-read"
    finally:
        lock.release()
    assert workspace_patterns(h.svc, "T0001") == [r"CASE-\d+"], "then the new one"
    assert workspace_patterns(h.svc, "T9999") == [], "an unknown workspace has none"
