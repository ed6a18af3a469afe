"""auto_park and abandon_parked: idle sessions parked, long-parked ones abandoned, exactly."""

from __future__ import annotations

from datetime import timedelta

from test_jobs_support import T0, app, bot_posts, clock, load, seed, settings, svc

from bot.jobs import abandon_parked, auto_park
from bot.sandbox.fake_slack import FakeSlack
from bot.services.container import Services

__all__ = ["app", "clock", "svc"]  # fixtures


def test_idle_active_session_is_parked_with_exact_time(svc: Services, fake_slack: FakeSlack) -> None:
    sid = seed(svc, fake_slack, idle=timedelta(hours=5, milliseconds=400),
               total_active_seconds=120)
    fresh = seed(svc, fake_slack, owner="U200", idle=timedelta(hours=3))
    result = auto_park(svc, T0)
    assert (result.claimed, result.done) == (1, 1)
    s = load(svc, sid)
    assert s is not None and s.status == "paused" and s.next_nudge_at is None
    assert s.total_active_seconds == 120 + 5 * 3600
    # The sub-second remainder stays with the parked clock, so nothing is lost.
    assert s.status_changed_at == T0 - timedelta(milliseconds=400)
    assert s.job_lease_until is None
    assert "Parked automatically" in bot_posts(fake_slack, "C1", s.slack_thread_ts)[-1]["text"]
    f = load(svc, fresh)
    assert f is not None and f.status == "active"
    assert auto_park(svc, T0).claimed == 0


def test_snoozed_session_is_not_parked(svc: Services, fake_slack: FakeSlack) -> None:
    sid = seed(svc, fake_slack, idle=timedelta(hours=5), snoozed_until=T0 + timedelta(hours=1))
    assert auto_park(svc, T0).claimed == 0
    s = load(svc, sid)
    assert s is not None and s.status == "active"


def test_workspace_park_time_overrides_the_default(svc: Services, fake_slack: FakeSlack) -> None:
    settings(svc, team="T0002", park_after_minutes=60)
    quick = seed(svc, fake_slack, team="T0002", owner="U300", idle=timedelta(minutes=90))
    default = seed(svc, fake_slack, idle=timedelta(minutes=90))
    assert auto_park(svc, T0).done == 1
    q, d = load(svc, quick), load(svc, default)
    assert q is not None and q.status == "paused"
    assert d is not None and d.status == "active"


def test_long_parked_session_is_abandoned(svc: Services, fake_slack: FakeSlack) -> None:
    sid = seed(svc, fake_slack, status="paused", idle=timedelta(days=8), total_active_seconds=600,
               next_nudge_at=None)
    recent = seed(svc, fake_slack, owner="U200", status="paused", idle=timedelta(days=6),
                  next_nudge_at=None)
    result = abandon_parked(svc, T0)
    assert (result.claimed, result.done) == (1, 1)
    s = load(svc, sid)
    assert s is not None and s.status == "abandoned" and s.ended_at == T0
    assert s.total_active_seconds == 600 and s.total_parked_seconds == 8 * 86400
    assert "Closed without a resolution" in bot_posts(fake_slack, "C1", s.slack_thread_ts)[-1]["text"]
    r = load(svc, recent)
    assert r is not None and r.status == "paused"


def test_resumed_between_claim_and_work_is_left_alone(svc: Services, fake_slack: FakeSlack) -> None:
    from bot.jobs import _idle_one, abandon_where, claim
    from storage.db import unit_of_work
    from storage.models import AISession

    sid = seed(svc, fake_slack, status="paused", idle=timedelta(days=8), next_nudge_at=None)
    [claimed] = claim(svc, T0, abandon_where(T0 - timedelta(days=7)), AISession.status_changed_at)
    with unit_of_work(svc.factory) as db:
        row = db.get(AISession, sid)
        assert row is not None
        row.status, row.status_changed_at = "active", T0
    assert _idle_one(svc, claimed, T0, park=False) == "skipped"
    s = load(svc, sid)
    assert s is not None and s.status == "active" and s.job_lease_until is None
