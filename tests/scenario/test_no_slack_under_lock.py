"""Slack calls never happen while a session row is locked (issue 12).

Proved at the wire: the fake Slack hands every request to a watcher before answering it, and
the watcher asks PostgreSQL (``pg_locks``) whether any other backend holds a row lock on
``ai_sessions`` right then (``SELECT … FOR UPDATE``/``FOR NO KEY UPDATE`` take a RowShareLock
on the table, writes a RowExclusiveLock; both are held until the transaction ends). The app
is waiting for Slack's answer at that moment, so a lock seen there is one held across the
Slack call. PostgreSQL only: SQLite has no row locks to see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lifecycle_support import ESC, load, open_session
from sqlalchemy import text
from support import Harness

from bot.sandbox.fake_slack import Call
from bot.services import escalation, lifecycle
from bot.services.identity import ensure_account
from storage.db import unit_of_work
from storage.settings_store import set_settings

Make = Callable[..., Harness]
WATCHED = ("users.info", "usergroups.users.list")
_LOCKS = text("""
SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE c.relname = 'ai_sessions' AND l.granted AND l.pid <> pg_backend_pid()
  AND l.mode IN ('RowShareLock', 'RowExclusiveLock')
""")


def _watch(h: Harness) -> list[tuple[str, int]]:
    """(method, row locks on ai_sessions held by the app) for each watched Slack call."""
    seen: list[tuple[str, int]] = []

    def probe(call: Call) -> None:
        if call.method in WATCHED:
            with h.fp.db.connect() as conn:
                seen.append((call.method, int(conn.execute(_LOCKS).scalar_one())))

    h.slack.watch(probe)
    return seen


def _escalate_to_group(h: Harness, sid: Any) -> tuple[str, dict[str, Any]]:
    with unit_of_work(h.svc.factory) as db:
        set_settings(db, ensure_account(db, "T0001").id, {"escalation_group": "STIER3"})
    h.slack.set_usergroup("STIER3", ["UG1", "UG2"])
    lifecycle.request_escalation(h.svc, team_id="T0001", user_id="U1", session_id=str(sid),
                                 reason="needs tier 3")
    assert escalation.post_escalation_package(h.svc, sid)
    return h.find_button("fp_take_over", channel=ESC)


@pytest.mark.postgres_only
def test_take_over_asks_slack_before_the_row_lock(make: Make, fake_anthropic: Any) -> None:
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    _thread, sid = open_session(h, fake_anthropic)
    ts, button = _escalate_to_group(h, sid)
    seen = _watch(h)
    # UG2 was never seen: their profile (users.info) and the group (usergroups.users.list)
    # both come from Slack.
    h.click(button["action_id"], button["value"], message_ts=ts, user="UG2", channel=ESC)
    h.settle()
    assert load(h, sid).user.slack_user_id == "UG2", "the take over happened"
    assert sorted({m for m, _ in seen}) == sorted(WATCHED)
    assert [m for m, locks in seen if locks] == [], "no Slack call while a row was locked"


@pytest.mark.postgres_only
def test_escalation_to_a_user_group_team_asks_slack_before_the_row_lock(
        make: Make, fake_anthropic: Any) -> None:
    """Issue 18: a round-robin team backed by a Slack user group. The escalation reads the
    group and the member in turn (``users.info``: left the workspace? never seen?) before the
    session row is locked; the take over by another member of the group reads the group
    before its lock too."""
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    h.slack.set_user("UADMIN", is_admin=True)
    h.slack.set_usergroup("S0TIER2", ["UGA", "UGB"])
    for command in ("team add tier2", "team group tier2 <!subteam^S0TIER2|@tier2-oncall>",
                    "team routing tier2 round-robin"):
        assert h.command(command, user="UADMIN")[0] == 200
        h.settle()
    _thread, sid = open_session(h, fake_anthropic)
    seen = _watch(h)
    lifecycle.request_escalation(h.svc, team_id="T0001", user_id="U1", session_id=str(sid),
                                 reason="needs tier 2", team="tier2")
    assert escalation.post_escalation_package(h.svc, sid)
    assert load(h, sid).escalated_to.slack_user_id == "UGA", "the member in turn"
    escalated = list(seen)
    assert sorted({m for m, _ in escalated}) == sorted(WATCHED)
    ts, button = h.find_button("fp_take_over", channel=ESC)
    # UGB was never seen and is only in the team through the user group.
    h.click(button["action_id"], button["value"], message_ts=ts, user="UGB", channel=ESC)
    h.settle()
    assert load(h, sid).user.slack_user_id == "UGB", "a member of the team's group took it"
    assert sorted({m for m, _ in seen[len(escalated):]}) == sorted(WATCHED)
    assert [m for m, locks in seen if locks] == [], "no Slack call while a row was locked"


@pytest.mark.postgres_only
def test_a_newcomers_click_asks_slack_before_the_row_lock(make: Make,
                                                          fake_anthropic: Any) -> None:
    h = make()
    _thread, sid = open_session(h, fake_anthropic)
    ts, button = h.find_button("fp_answer")
    seen = _watch(h)
    h.click(button["action_id"], button["value"], message_ts=ts, user="UNEW")
    h.settle()
    assert "only" in h.ephemerals_text("UNEW").lower(), "a stranger is refused"
    assert [m for m, _ in seen] == ["users.info"]
    assert [m for m, locks in seen if locks] == [], "no Slack call while a row was locked"


@pytest.mark.postgres_only
def test_the_probe_sees_a_row_lock(make: Make, fake_anthropic: Any) -> None:
    """The check can fail: a Slack call made while a transaction holds the session row is
    seen as locked."""
    h = make()
    _thread, sid = open_session(h, fake_anthropic)
    seen = _watch(h)
    with h.svc.factory() as db:
        db.execute(text("SELECT id FROM ai_sessions WHERE id = :id FOR NO KEY UPDATE"),
                   {"id": sid})
        h.svc.notifier.user_info("UANY")
        db.rollback()
    assert seen == [("users.info", 1)]
