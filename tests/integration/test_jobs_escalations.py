"""post_escalations and escalation_sla, on both databases, with a fake clock."""

from __future__ import annotations

import uuid
from datetime import timedelta

from test_jobs_support import T0, app, bot_posts, clock, load, seed, settings, svc, user

from bot.jobs import escalation_sla, post_escalations
from bot.sandbox.fake_slack import FakeSlack
from bot.services.container import Services

__all__ = ["app", "clock", "svc"]  # fixtures
ESC = "CESC"


def _waiting(svc: Services, slack: FakeSlack, **cols: object) -> uuid.UUID:
    engineer = user(svc, "U500")
    values: dict[str, object] = dict(
        status="requesting_escalation", escalation_channel_id=ESC, escalation_reason="Stuck",
        escalation_post_next_at=T0 - timedelta(seconds=5), escalated_to_id=engineer,
        next_nudge_at=None)
    values.update(cols)
    return seed(svc, slack, **values)  # type: ignore[arg-type]


def test_pending_package_is_posted_once(svc: Services, fake_slack: FakeSlack) -> None:
    sid = _waiting(svc, fake_slack)
    later = _waiting(svc, fake_slack, owner="U200", escalation_post_next_at=T0 + timedelta(minutes=1))
    result = post_escalations(svc, T0)
    assert (result.claimed, result.done) == (1, 1)
    [package] = bot_posts(fake_slack, ESC)
    assert "<@U500>" in package["text"]
    s = load(svc, sid)
    assert s is not None and s.status == "escalated" and s.escalation_message_ts == package["ts"]
    assert s.escalation_deadline_at == T0 + timedelta(minutes=15)
    assert post_escalations(svc, T0 + timedelta(seconds=30)).claimed == 0
    assert load(svc, later) is not None
    assert len(bot_posts(fake_slack, ESC)) == 1


def test_slack_failure_backs_off_and_retries_without_duplicate(
        svc: Services, fake_slack: FakeSlack) -> None:
    sid = _waiting(svc, fake_slack)
    fake_slack.fail_channel(ESC, "not_in_channel")
    assert post_escalations(svc, T0).skipped == 1
    s = load(svc, sid)
    assert s is not None and s.status == "requesting_escalation"
    assert s.escalation_post_next_at is not None and s.escalation_post_next_at > T0
    assert s.job_lease_until is None
    assert post_escalations(svc, T0 + timedelta(seconds=10)).claimed == 0
    fake_slack.unfail_channel(ESC)
    assert post_escalations(svc, s.escalation_post_next_at).done == 1
    assert len(bot_posts(fake_slack, ESC)) == 1


def test_resolved_or_deleted_between_pick_and_post(svc: Services, fake_slack: FakeSlack) -> None:
    from bot.jobs import claim, post_where
    from bot.services.escalation import post_escalation_package
    from storage.db import unit_of_work
    from storage.models import AISession

    a = _waiting(svc, fake_slack)
    b = _waiting(svc, fake_slack, owner="U200")
    picked = claim(svc, T0, post_where(T0), AISession.escalation_post_next_at, lease=None)
    assert set(picked) == {a, b}
    with unit_of_work(svc.factory) as db:
        row = db.get(AISession, a)
        assert row is not None
        row.status = "resolved"
        db.delete(db.get(AISession, b))
    assert [post_escalation_package(svc, sid) for sid in picked] == [False, False]
    assert bot_posts(fake_slack, ESC) == []


def _escalated(svc: Services, slack: FakeSlack, **cols: object) -> uuid.UUID:
    engineer = user(svc, "U500")
    package = slack.add_message(ESC, "package", user=slack.bot_user_id)["ts"]
    values: dict[str, object] = dict(
        status="escalated", escalation_channel_id=ESC, escalation_message_ts=package,
        escalated_to_id=engineer, escalation_deadline_at=T0 - timedelta(minutes=1),
        next_nudge_at=None, idle=timedelta(minutes=16))
    values.update(cols)
    return seed(svc, slack, **values)  # type: ignore[arg-type]


def test_sla_repings_engineer_then_group_then_stops(svc: Services, fake_slack: FakeSlack) -> None:
    settings(svc, escalation_group="SENGTEAM")
    sid = _escalated(svc, fake_slack)
    s = load(svc, sid)
    assert s is not None
    assert escalation_sla(svc, T0).done == 1
    pings = [m for m in bot_posts(fake_slack, ESC)
             if m.get("thread_ts") == s.escalation_message_ts != m["ts"]]
    assert len(pings) == 1 and "<@U500>" in pings[0]["text"]
    assert "re-pinged <@U500>" in bot_posts(fake_slack, "C1", s.slack_thread_ts)[-1]["text"]
    s = load(svc, sid)
    assert s is not None and s.escalation_reping_count == 1
    assert s.escalation_deadline_at == T0 + timedelta(minutes=15)
    assert escalation_sla(svc, T0 + timedelta(minutes=14)).claimed == 0
    assert escalation_sla(svc, T0 + timedelta(minutes=15)).done == 1
    pings = [m for m in bot_posts(fake_slack, ESC)
             if m.get("thread_ts") == s.escalation_message_ts != m["ts"]]
    assert len(pings) == 2 and "<!subteam^SENGTEAM>" in pings[1]["text"]
    s = load(svc, sid)
    assert s is not None and s.escalation_reping_count == 2 and s.escalation_deadline_at is None


def test_taken_over_or_not_yet_due_is_not_pinged(svc: Services, fake_slack: FakeSlack) -> None:
    _escalated(svc, fake_slack, status="active")
    _escalated(svc, fake_slack, owner="U200", escalation_deadline_at=T0 + timedelta(minutes=5))
    assert escalation_sla(svc, T0).claimed == 0
    assert all("waited" not in m["text"] for m in bot_posts(fake_slack, ESC))


def test_sla_ping_failing_is_retried_later(svc: Services, fake_slack: FakeSlack) -> None:
    sid = _escalated(svc, fake_slack)
    fake_slack.fail("chat.postMessage", status=200, error="internal_error", times=2)
    assert escalation_sla(svc, T0).failed == 1
    s = load(svc, sid)
    assert s is not None and s.escalation_reping_count == 0
    assert s.escalation_deadline_at == T0 + timedelta(minutes=2)
    assert escalation_sla(svc, T0 + timedelta(minutes=2)).done == 1
