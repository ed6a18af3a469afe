"""daily_digest: once a day per workspace, at its hour, in its channel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_jobs_support import T0, app, bot_posts, clock, seed, settings, svc

from bot.jobs import daily_digest
from bot.sandbox.fake_slack import FakeSlack
from bot.services.container import Services

__all__ = ["app", "clock", "svc"]  # fixtures
DIGEST = "CDIGEST"


def digests(slack: FakeSlack) -> list[dict[str, Any]]:
    """The digest messages (not the chart shared under each)."""
    return [m for m in bot_posts(slack, DIGEST) if m.get("subtype") != "file_share"]


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
    [digest] = digests(fake_slack)
    blocks = str(digest["blocks"])
    assert "3 opened · 2 resolved · 1 escalated · median time to resolve 3h 00m" in blocks
    assert "m365 (2)" in blocks and "Stale now (1)" in blocks and "<@U400>" in blocks
    assert "https://fake-workspace.slack.com/archives/C1/" in blocks
    assert daily_digest(svc, T0 + timedelta(hours=5)).claimed == 0
    assert daily_digest(svc, T0 + timedelta(hours=23)).done == 1  # next morning, 09:00
    assert len(digests(fake_slack)) == 2


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
    fake_slack.fail_channel(DIGEST, "internal_error")
    assert daily_digest(svc, T0).failed == 1
    fake_slack.unfail_channel(DIGEST)
    assert daily_digest(svc, T0 + timedelta(minutes=15)).done == 1
    assert len(digests(fake_slack)) == 1


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
    assert "1 draft script waits for review" in str(digests(fake_slack)[-1]["blocks"])
    assert daily_digest(svc, T0).done == 1  # Tuesday: not again
    assert "draft script" not in str(digests(fake_slack)[-1]["blocks"])


def test_digest_carries_the_weeks_chart_as_a_png(svc: Services, fake_slack: FakeSlack) -> None:
    import io

    from PIL import Image

    settings(svc, digest_channel=DIGEST)
    _yesterday(svc, fake_slack)
    assert daily_digest(svc, T0).done == 1
    [chart] = fake_slack.uploads(DIGEST)
    image = Image.open(io.BytesIO(chart["data"]))
    assert image.format == "PNG" and image.size == (1000, 440)
    posts = bot_posts(fake_slack, DIGEST)
    assert [m.get("subtype") for m in posts] == [None, "file_share"]  # the chart under it


def test_without_files_write_the_digest_still_posts(svc: Services, fake_slack: FakeSlack) -> None:
    settings(svc, digest_channel=DIGEST)
    _yesterday(svc, fake_slack)
    fake_slack.scopes.discard("files:write")
    assert daily_digest(svc, T0).done == 1
    assert len(digests(fake_slack)) == 1 and fake_slack.uploads() == []


def test_escalations_nobody_took_over_stay_in_the_digest(svc: Services,
                                                         fake_slack: FakeSlack) -> None:
    from bot import ids

    settings(svc, digest_channel=DIGEST)
    waiting = seed(svc, fake_slack, owner="U500", status="escalated", next_nudge_at=None,
                   problem_summary="VPN drops every hour", escalation_reping_count=2,
                   escalation_deadline_at=None, status_changed_at=T0 - timedelta(days=2))
    seed(svc, fake_slack, owner="U600", status="paused", problem_summary="Taken over already",
         handoff_count=1, idle=timedelta(minutes=1))
    for day in range(3):  # every morning, long after the two re-pings
        assert daily_digest(svc, T0 + timedelta(days=day)).done == 1
        blocks = str(digests(fake_slack)[-1]["blocks"])
        assert "Waiting for someone to take over (1)" in blocks
        assert "VPN drops every hour" in blocks and "<@U500>" in blocks
        assert "Taken over already" not in blocks
        assert f"'action_id': '{ids.TAKE_OVER}', 'value': '{waiting}'" in blocks
    assert "waiting 96h 00m" in str(digests(fake_slack)[-1]["blocks"])


def test_a_channel_the_bot_is_not_in_logs_once_and_tells_admins_once(
        svc: Services, fake_slack: FakeSlack, caplog: Any) -> None:
    import logging

    from test_jobs_support import user

    from storage.db import unit_of_work
    from storage.models import User

    settings(svc, digest_channel=DIGEST, admins=["UBOSS2"])
    admin = user(svc, "UBOSS")
    with unit_of_work(svc.factory) as db:
        found = db.get(User, admin)
        assert found is not None
        found.is_admin = True
    fake_slack.fail_channel(DIGEST, "not_in_channel")
    with caplog.at_level(logging.ERROR, logger="bot.jobs.digest"):
        assert daily_digest(svc, T0).failed == 1
        for minutes in (15, 30, 45):  # later passes the same day: nothing, not a loop
            assert daily_digest(svc, T0 + timedelta(minutes=minutes)).claimed == 0
        assert daily_digest(svc, T0 + timedelta(days=1)).failed == 1  # tomorrow: tries again
    lines = [r for r in caplog.records if "cannot post in the digest channel" in r.message]
    assert len(lines) == 2 and "not_in_channel" in lines[0].message  # one per day
    for boss in ("UBOSS", "UBOSS2"):
        [notice] = bot_posts(fake_slack, boss)  # once, not every day
        assert "could not post the daily digest" in notice["text"] and "/invite" in notice["text"]
    fake_slack.unfail_channel(DIGEST)
    assert daily_digest(svc, T0 + timedelta(days=2)).done == 1
    fake_slack.fail_channel(DIGEST, "channel_not_found")  # a new problem: told again
    assert daily_digest(svc, T0 + timedelta(days=3)).failed == 1
    assert len(bot_posts(fake_slack, "UBOSS")) == 2
