"""daily_digest: once a day per workspace, at its hour, in its channel."""

from __future__ import annotations

from datetime import timedelta

from test_jobs_support import T0, app, bot_posts, clock, seed, settings, svc

from bot.jobs import daily_digest
from bot.sandbox.fake_slack import FakeSlack
from bot.services.container import Services

__all__ = ["app", "clock", "svc"]  # fixtures
DIGEST = "CDIGEST"


def _yesterday(svc: Services, slack: FakeSlack) -> None:
    y = T0 - timedelta(days=1)
    seed(svc, slack, status="resolved", created_at=y, resolved_at=y + timedelta(hours=2),
         next_nudge_at=None)
    seed(svc, slack, owner="U200", status="resolved", created_at=y,
         resolved_at=y + timedelta(hours=4), next_nudge_at=None, problem_domain="printing")
    seed(svc, slack, owner="U300", status="escalated", created_at=y, next_nudge_at=None,
         escalation_package_posted_at=y + timedelta(hours=1))
    seed(svc, slack, owner="U400", idle=timedelta(hours=3))  # stale now


def test_digest_posts_yesterdays_numbers_once(svc: Services, fake_slack: FakeSlack) -> None:
    settings(svc, digest_channel=DIGEST)
    _yesterday(svc, fake_slack)
    assert daily_digest(svc, T0).done == 1
    [digest] = bot_posts(fake_slack, DIGEST)
    blocks = str(digest["blocks"])
    assert "3 opened · 2 resolved · 1 escalated · median time to resolve 3h 00m" in blocks
    assert "m365 (2)" in blocks and "Stale now (1)" in blocks and "<@U400>" in blocks
    assert "https://fake-workspace.slack.com/archives/C1/" in blocks
    assert daily_digest(svc, T0 + timedelta(hours=5)).claimed == 0
    assert daily_digest(svc, T0 + timedelta(hours=23)).done == 1  # next morning, 09:00
    assert len(bot_posts(fake_slack, DIGEST)) == 2


def test_digest_waits_for_the_workspaces_hour_and_zone(svc: Services, fake_slack: FakeSlack) -> None:
    settings(svc, digest_channel=DIGEST, tz="America/New_York", digest_hour=8)
    assert daily_digest(svc, T0).claimed == 0  # 05:00 in New York
    assert daily_digest(svc, T0 + timedelta(hours=3)).done == 1  # 08:00
    assert daily_digest(svc, T0 + timedelta(hours=10)).claimed == 0


def test_no_channel_no_digest(svc: Services, fake_slack: FakeSlack) -> None:
    _yesterday(svc, fake_slack)
    assert daily_digest(svc, T0).claimed == 0


def test_slack_failure_is_retried_on_a_later_pass(svc: Services, fake_slack: FakeSlack) -> None:
    settings(svc, digest_channel=DIGEST)
    fake_slack.fail_channel(DIGEST, "not_in_channel")
    assert daily_digest(svc, T0).failed == 1
    fake_slack.unfail_channel(DIGEST)
    assert daily_digest(svc, T0 + timedelta(minutes=15)).done == 1
    assert len(bot_posts(fake_slack, DIGEST)) == 1


def test_monday_digest_has_a_line_about_drafts_to_review(svc: Services,
                                                         fake_slack: FakeSlack) -> None:
    from storage.db import unit_of_work
    from storage.models import AISession, DraftTemplate

    settings(svc, digest_channel=DIGEST)
    sid = seed(svc, fake_slack, status="resolved", resolved_at=T0 - timedelta(days=2),
               next_nudge_at=None)
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        assert s is not None
        db.add(DraftTemplate(account_id=s.account_id, session_id=sid, title="Unlock",
                             body="Unlock-ADAccount", status="pending"))
    assert daily_digest(svc, T0 - timedelta(days=1)).done == 1  # Monday
    assert "1 draft script waits for review" in str(bot_posts(fake_slack, DIGEST)[-1]["blocks"])
    assert daily_digest(svc, T0).done == 1  # Tuesday: not again
    assert "draft script" not in str(bot_posts(fake_slack, DIGEST)[-1]["blocks"])
