"""Two scheduler processes running the same job at the same moment on PostgreSQL: every due
row is handled by exactly one of them (FOR UPDATE SKIP LOCKED + the lease)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from test_jobs_support import T0, bot_posts, seed, user

from bot.clock import FakeClock
from bot.jobs import JobResult, escalation_sla, nudge_stale, post_escalations
from bot.sandbox.fake_slack import FakeSlack

pytestmark = pytest.mark.postgres_only


def _race(db_url: str, slack: FakeSlack, job: Any) -> list[JobResult]:
    from support import Harness

    harnesses = [Harness(db_url, slack, clock=FakeClock(T0), workers=1) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[JobResult] = []

    def run(h: Any) -> None:
        barrier.wait()
        results.append(job(h.svc, T0))

    threads = [threading.Thread(target=run, args=(h,)) for h in harnesses]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for h in harnesses:
        h.close()
    return results


def test_two_schedulers_nudge_each_session_once(db_url: str, engine: Engine,
                                                fake_slack: FakeSlack) -> None:
    from support import Harness

    h = Harness(db_url, fake_slack, clock=FakeClock(T0), workers=1)
    sessions = [seed(h.svc, fake_slack, owner=f"U{100 + i}") for i in range(30)]
    h.close()
    results = _race(db_url, fake_slack, nudge_stale)
    assert sum(r.done for r in results) == 30
    nudged = Counter(str(m["blocks"]).split("fp_nudge:")[1][:36] for m in bot_posts(fake_slack)
                     if "fp_nudge:" in str(m.get("blocks")))
    assert sorted(nudged) == sorted(str(s) for s in sessions)
    assert set(nudged.values()) == {1}


def test_two_schedulers_post_each_escalation_once(db_url: str, engine: Engine,
                                                  fake_slack: FakeSlack) -> None:
    from support import Harness

    h = Harness(db_url, fake_slack, clock=FakeClock(T0), workers=1)
    engineer = user(h.svc, "U500")
    for i in range(20):
        seed(h.svc, fake_slack, owner=f"U{100 + i}", status="requesting_escalation",
             escalation_channel_id="CESC", escalation_reason="Stuck", escalated_to_id=engineer,
             escalation_post_next_at=T0 - timedelta(seconds=1), next_nudge_at=None)
    h.close()
    results = _race(db_url, fake_slack, post_escalations)
    assert sum(r.done for r in results) == 20
    assert len(bot_posts(fake_slack, "CESC")) == 20
    # And their SLA re-pings, raced again an SLA later: one each.
    results = []
    for r in _race_at(db_url, fake_slack, escalation_sla, T0 + timedelta(minutes=15)):
        results.append(r)
    assert sum(r.done for r in results) == 20
    assert len(bot_posts(fake_slack, "CESC")) == 40


def _race_at(db_url: str, slack: FakeSlack, job: Any, at: Any) -> list[JobResult]:
    return _race(db_url, slack, lambda svc, _now: job(svc, at))
