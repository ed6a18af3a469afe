"""nudge_stale and the nudge's buttons, on both databases, with a fake clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_jobs_support import T0, app, bot_posts, clock, load, seed, settings, svc

from bot.clock import FakeClock
from bot.jobs import nudge_stale
from bot.sandbox.fake_slack import FakeSlack
from bot.services.container import Services

__all__ = ["app", "clock", "svc"]  # fixtures


def _nudges(slack: FakeSlack) -> list[dict[str, Any]]:
    return [m for m in bot_posts(slack) if "Still working" in str(m.get("blocks"))]


def test_due_session_gets_one_nudge_tagging_the_owner(svc: Services, fake_slack: FakeSlack) -> None:
    sid = seed(svc, fake_slack)
    result = nudge_stale(svc, T0)
    assert (result.claimed, result.done) == (1, 1)
    [nudge] = _nudges(fake_slack)
    assert "<@U100>" in nudge["text"]
    s = load(svc, sid)
    assert s is not None
    assert s.nudge_count == 1 and s.last_nudged_at == T0
    assert s.next_nudge_at == T0 + timedelta(minutes=30)
    assert s.job_lease_until is None
    # The same pass again finds nothing due: no second nudge.
    assert nudge_stale(svc, T0).claimed == 0
    assert len(_nudges(fake_slack)) == 1


def test_not_yet_due(svc: Services, fake_slack: FakeSlack) -> None:
    seed(svc, fake_slack, idle=timedelta(minutes=10))
    assert nudge_stale(svc, T0).claimed == 0
    assert _nudges(fake_slack) == []


def test_snoozed_session_waits(svc: Services, fake_slack: FakeSlack) -> None:
    sid = seed(svc, fake_slack, snoozed_until=T0 + timedelta(hours=2))
    assert nudge_stale(svc, T0).claimed == 0
    assert nudge_stale(svc, T0 + timedelta(hours=2)).done == 1
    s = load(svc, sid)
    assert s is not None and s.snoozed_until is None


def test_outside_working_hours_reschedules_to_the_owners_morning(
        svc: Services, fake_slack: FakeSlack) -> None:
    # 10:00 UTC is 02:00 in Los Angeles: wait for 08:00 there (16:00 UTC).
    sid = seed(svc, fake_slack, owner="U200", tz="America/Los_Angeles")
    result = nudge_stale(svc, T0)
    assert (result.claimed, result.skipped) == (1, 1)
    assert _nudges(fake_slack) == []
    s = load(svc, sid)
    assert s is not None and s.next_nudge_at == T0 + timedelta(hours=6)


def test_workspace_working_hours_and_weekends(svc: Services, fake_slack: FakeSlack) -> None:
    settings(svc, working_hours_start="11:00", working_hours_end="17:00")
    sid = seed(svc, fake_slack)
    assert nudge_stale(svc, T0).skipped == 1
    s = load(svc, sid)
    assert s is not None and s.next_nudge_at == T0 + timedelta(hours=1)
    saturday = T0 + timedelta(days=4)
    seed(svc, fake_slack, owner="U300")
    assert nudge_stale(svc, saturday).done == 0


def test_owner_spoke_recently_reschedules(svc: Services, fake_slack: FakeSlack) -> None:
    # The nudge came due, but someone spoke ten minutes ago (a reply without a turn).
    sid = seed(svc, fake_slack, last_human_activity_at=T0 - timedelta(minutes=10))
    result = nudge_stale(svc, T0)
    assert result.skipped == 1 and _nudges(fake_slack) == []
    s = load(svc, sid)
    assert s is not None and s.next_nudge_at == T0 + timedelta(minutes=20)


def test_after_max_nudges_the_session_is_parked(svc: Services, fake_slack: FakeSlack,
                                               clock: FakeClock) -> None:
    settings(svc, max_nudges=2)
    sid = seed(svc, fake_slack)
    for _ in range(2):
        assert nudge_stale(svc, clock()).done == 1
        clock.advance(minutes=30)
    assert len(_nudges(fake_slack)) == 2
    assert nudge_stale(svc, clock()).done == 1
    s = load(svc, sid)
    assert s is not None and s.status == "paused" and s.next_nudge_at is None
    # 45 min idle before T0 + 60 min of nudges, all active; parking is exact.
    assert s.total_active_seconds == 105 * 60
    assert "Parked automatically" in bot_posts(fake_slack)[-1]["text"]


def test_slack_failure_is_retried_later_without_a_duplicate(
        svc: Services, fake_slack: FakeSlack) -> None:
    from bot.jobs.outputs import deliver_outputs

    sid = seed(svc, fake_slack)
    fake_slack.fail("chat.postMessage", status=200, error="internal_error")
    assert nudge_stale(svc, T0).failed == 1  # recorded; the outbox retries the post
    s = load(svc, sid)
    assert s is not None and s.nudge_count == 1 and s.job_lease_until is None
    assert s.next_nudge_at == T0 + timedelta(minutes=30)
    assert _nudges(fake_slack) == []
    assert nudge_stale(svc, T0 + timedelta(minutes=1)).claimed == 0
    assert deliver_outputs(svc, T0 + timedelta(minutes=1)).done == 1
    assert deliver_outputs(svc, T0 + timedelta(minutes=10)).claimed == 0
    assert len(_nudges(fake_slack)) == 1


def test_session_resolved_or_deleted_between_claim_and_post(
        svc: Services, fake_slack: FakeSlack) -> None:
    from bot.jobs import _nudge_one, claim, nudge_where
    from storage.db import unit_of_work
    from storage.models import AISession

    a = seed(svc, fake_slack)
    b = seed(svc, fake_slack, owner="U200")
    claimed = claim(svc, T0, nudge_where(T0), AISession.next_nudge_at)
    assert set(claimed) == {a, b}
    with unit_of_work(svc.factory) as db:
        row = db.get(AISession, a)
        assert row is not None
        row.status = "resolved"
        db.delete(db.get(AISession, b))
    assert [_nudge_one(svc, sid, T0) for sid in claimed] == ["skipped", "skipped"]
    assert _nudges(fake_slack) == []
    s = load(svc, a)
    assert s is not None and s.job_lease_until is None


def test_a_lease_held_by_another_pass_is_left_alone(svc: Services, fake_slack: FakeSlack) -> None:
    sid = seed(svc, fake_slack, job_lease_until=T0 + timedelta(minutes=3))
    assert nudge_stale(svc, T0).claimed == 0
    # The holder died: its lease ran out, the row is due again.
    assert nudge_stale(svc, T0 + timedelta(minutes=4)).done == 1
    assert load(svc, sid) is not None


def test_still_working_button_resets_the_schedule(app: Any, fake_slack: FakeSlack,
                                                  svc: Services, clock: FakeClock) -> None:
    sid = seed(svc, fake_slack)
    nudge_stale(svc, T0)
    [nudge] = _nudges(fake_slack)
    clock.advance(minutes=3)
    app.click("fp_nudge_ok", str(sid), message_ts=nudge["ts"], user="U100")
    app.settle()
    s = load(svc, sid)
    assert s is not None and s.nudge_count == 0
    assert s.next_nudge_at == T0 + timedelta(minutes=33)
    assert s.last_human_activity_at == T0 + timedelta(minutes=3)
    updated = [m for m in fake_slack.messages("C1") if m["ts"] == nudge["ts"]][0]
    assert "still working" in updated["text"]


def test_snooze_tomorrow_uses_the_owners_zone_and_working_days(
        app: Any, fake_slack: FakeSlack, svc: Services) -> None:
    sid = seed(svc, fake_slack, owner="U400", tz="Europe/Berlin")  # 11:00 in Berlin
    nudge_stale(svc, T0)
    [nudge] = _nudges(fake_slack)
    app.click("fp_nudge_snooze:tomorrow", f"{sid}|tomorrow", message_ts=nudge["ts"], user="U400")
    app.settle()
    s = load(svc, sid)
    # Wednesday 08:00 in Berlin is 07:00 UTC.
    assert s is not None and s.snoozed_until == T0 + timedelta(hours=21)
    assert s.next_nudge_at == s.snoozed_until
    assert nudge_stale(svc, T0 + timedelta(hours=20)).claimed == 0


def test_snooze_by_a_stranger_is_refused(app: Any, fake_slack: FakeSlack, svc: Services) -> None:
    sid = seed(svc, fake_slack)
    nudge_stale(svc, T0)
    [nudge] = _nudges(fake_slack)
    app.click("fp_nudge_snooze:2h", f"{sid}|2h", message_ts=nudge["ts"], user="U900")
    app.settle()
    s = load(svc, sid)
    assert s is not None and s.snoozed_until is None
    assert "Only the session's owner" in app.ephemerals_text("U900")
