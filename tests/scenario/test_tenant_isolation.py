"""Tenant isolation: two workspaces installed side by side through the OAuth endpoints; every
surface acts only within its own workspace and only with its own token.

``SURFACES`` is the table: one entry per surface, a function that drives it in workspace
``ws`` (``other`` is the workspace next door, for forged ids). After each, every Slack call
made must have used the token of the workspace that owns the channel it touched (and, for
calls without a channel, the token of ``ws``). To cover a new surface (PSA, knowledge search…)
add a function and a row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from support import Harness
from workspaces_support import OWNER, A, B, install, oauth_harness, workspace

from bot import ids
from bot.jobs.registry import run_job
from bot.sandbox.fake_slack import Call, FakeSlack
from bot.services.identity import ensure_account
from storage.db import unit_of_work
from storage.models import Account, AISession, Tree
from storage.settings_store import get_all_settings, set_setting

WS = dict[str, str]
PROBLEM = {A["team"]: "Outlook keeps asking for a password at Acme",
           B["team"]: "Printer offline on the third floor at Beta"}


@dataclass
class Ctx:
    h: Harness
    tmp: Path
    monkeypatch: pytest.MonkeyPatch


@pytest.fixture()
def two(db_url: str, engine: Engine, fake_slack: FakeSlack) -> Iterator[Harness]:
    h = oauth_harness(db_url, fake_slack)
    install(h, workspace(fake_slack, A))
    install(h, workspace(fake_slack, B))
    fake_slack.set_user(A["admin"], is_admin=True)
    fake_slack.set_user(B["admin"], is_admin=True)
    yield h
    h.close()


# ── helpers ─────────────────────────────────────────────────────────────────────────────


def sessions(h: Harness, ws: WS) -> list[AISession]:
    with h.svc.factory() as db:
        return list(db.execute(
            select(AISession).join(Account, Account.id == AISession.account_id)
            .where(Account.slack_team_id == ws["team"]).order_by(AISession.created_at)
        ).scalars())


def open_by_command(h: Harness, ws: WS, user: str | None = None) -> AISession:
    status, _ = h.command(PROBLEM[ws["team"]], user=user or ws["user"], channel=ws["channel"],
                          team=ws["team"])
    assert status == 200
    h.settle()
    found = sessions(h, ws)
    assert found and found[-1].slack_channel_id == ws["channel"]
    return found[-1]


def first_button(h: Harness, session: AISession) -> tuple[str, dict[str, Any]]:
    for prefix in ("fp_answer", "fp_action_done", "fp_fix_", "fp_park"):
        try:
            return h.find_button(prefix, channel=session.slack_channel_id,
                                 where=lambda b: str(session.id) in str(b.get("value")))
        except AssertionError:
            continue
    raise AssertionError("no button")


def team_of_channel(call: Call) -> str | None:
    channel = call.body.get("channel") or call.body.get("channel_id")
    return OWNER.get(str(channel)) if channel else None


def assert_own_tokens(slack: FakeSlack, ws: WS, calls: list[Call]) -> None:
    for call in calls:
        if call.method in ("oauth.v2.access", "response_url"):
            continue
        used = slack.team_of(call)
        assert used is not None, f"{call.method} used a token no install issued"
        expected = team_of_channel(call) or ws["team"]
        assert used == expected, f"{call.method} in {expected} used {used}'s token"


# ── the surfaces ────────────────────────────────────────────────────────────────────────


def command(c: Ctx, ws: WS, other: WS) -> None:
    s = open_by_command(c.h, ws)
    assert PROBLEM[ws["team"]] in str(s.intake_content)


def mention(c: Ctx, ws: WS, other: WS) -> None:
    msg = c.h.slack.add_message(ws["channel"], "<@UFPBOT> VPN drops every hour",
                                user=ws["user"])
    c.h.event({"type": "app_mention", "channel": ws["channel"], "user": ws["user"],
               "text": msg["text"], "ts": msg["ts"]}, team=ws["team"])
    c.h.settle()
    assert [s.slack_thread_ts for s in sessions(c.h, ws)] == [msg["ts"]]


def shortcut(c: Ctx, ws: WS, other: WS) -> None:
    msg = c.h.slack.add_message(ws["channel"], "Teams calls drop after 5 minutes",
                                user=ws["user"])
    c.h.shortcut({**msg, "channel": ws["channel"]}, user=ws["user"], channel=ws["channel"],
                 team=ws["team"])
    c.h.settle()
    assert [s.slack_channel_id for s in sessions(c.h, ws)] == [ws["channel"]]


def modal(c: Ctx, ws: WS, other: WS) -> None:
    c.h.submit(ids.INTAKE_MODAL, {ids.INTAKE_PROBLEM: "Laptop will not join the Wi-Fi"},
               private_metadata=ws["channel"], user=ws["user"], team=ws["team"])
    c.h.settle()
    assert [s.slack_channel_id for s in sessions(c.h, ws)] == [ws["channel"]]


def click(c: Ctx, ws: WS, other: WS) -> None:
    s = open_by_command(c.h, ws)
    c.h.slack.clear()
    ts, button = first_button(c.h, s)
    assert c.h.click(button["action_id"], button["value"], message_ts=ts, user=ws["user"],
                     channel=ws["channel"], thread_ts=s.slack_thread_ts, team=ws["team"])[0] == 200
    c.h.settle()
    assert c.h.slack.calls(), "the click did nothing"


def forged_click(c: Ctx, ws: WS, other: WS) -> None:
    """Someone in ``ws`` replays a button of ``other``'s session (ids copied over)."""
    victim = open_by_command(c.h, other)
    before = (victim.status, victim.updated_at)
    c.h.slack.clear()
    ts, button = first_button(c.h, victim)
    for action in (button["action_id"], ids.PARK, ids.RESOLVE, ids.ESCALATE):
        status, _ = c.h.click(action, str(victim.id) if action != button["action_id"]
                              else button["value"], message_ts=ts, user=ws["user"],
                              channel=ws["channel"], thread_ts=victim.slack_thread_ts,
                              team=ws["team"])
        assert status == 200
    c.h.settle()
    with c.h.svc.factory() as db:
        again = db.get(AISession, victim.id)
        assert again is not None and (again.status, again.updated_at) == before
    # Nothing was said in the other workspace.
    assert not [call for call in c.h.slack.calls() if c.h.slack.team_of(call) == other["team"]]


def thread_reply(c: Ctx, ws: WS, other: WS) -> None:
    s = open_by_command(c.h, ws)
    msg = c.h.slack.add_message(ws["channel"], "It started after the update", user=ws["user"],
                                thread_ts=s.slack_thread_ts)
    c.h.event({"type": "message", "channel": ws["channel"], "user": ws["user"],
               "text": msg["text"], "ts": msg["ts"], "thread_ts": s.slack_thread_ts,
               "channel_type": "channel"}, team=ws["team"])
    c.h.settle()


def app_home(c: Ctx, ws: WS, other: WS) -> None:
    """The same person id in both workspaces: each Home lists only that workspace's."""
    open_by_command(c.h, other, user="USAME")
    open_by_command(c.h, ws, user="USAME")
    c.h.slack.clear()
    c.h.event({"type": "app_home_opened", "user": "USAME", "tab": "home"}, team=ws["team"])
    c.h.settle()
    [publish] = c.h.slack.calls("views.publish")
    shown = str(publish.body.get("view"))
    assert f"archives/{ws['channel']}/" in shown and other["channel"] not in shown
    assert c.h.slack.team_of(publish) == ws["team"]


def settings(c: Ctx, ws: WS, other: WS) -> None:
    value = 45 if ws is A else 50
    c.h.command(f"settings set nudge_after_minutes {value}", user=ws["admin"],
                channel=ws["channel"], team=ws["team"])
    c.h.settle()
    with unit_of_work(c.h.svc.factory) as db:
        mine = get_all_settings(db, ensure_account(db, ws["team"]).id)
        theirs = get_all_settings(db, ensure_account(db, other["team"]).id)
    assert mine.get("nudge_after_minutes") == value
    assert theirs.get("nudge_after_minutes") != value


WEDNESDAY = datetime(2030, 1, 9, 15, 0, tzinfo=UTC)  # 10:00 in New York, a working day


def jobs(c: Ctx, ws: WS, other: WS) -> None:
    """Nudges for idle sessions of both workspaces: each posted with its own token."""
    open_by_command(c.h, ws)
    open_by_command(c.h, other)
    with unit_of_work(c.h.svc.factory) as db:
        db.execute(update(AISession).values(
            status="active", next_nudge_at=WEDNESDAY - timedelta(minutes=1),
            last_human_activity_at=None, snoozed_until=None, job_lease_until=None))
    c.h.slack.clear()
    result = run_job(c.h.svc, "nudge_stale", WEDNESDAY)
    assert result.done == len(sessions(c.h, ws)) + len(sessions(c.h, other)), str(result)
    posted = {c.h.slack.team_of(call) for call in c.h.slack.calls("chat.postMessage")}
    assert posted == {ws["team"], other["team"]}


def digest(c: Ctx, ws: WS, other: WS) -> None:
    open_by_command(c.h, ws)
    with unit_of_work(c.h.svc.factory) as db:
        set_setting(db, ensure_account(db, ws["team"]).id, "digest_channel", ws["channel"])
    c.h.slack.clear()
    result = run_job(c.h.svc, "daily_digest", WEDNESDAY)
    assert result.done == 1, str(result)
    [post] = c.h.slack.calls("chat.postMessage")
    assert post.body["channel"] == ws["channel"] and c.h.slack.team_of(post) == ws["team"]


FLOW = """\
id: outlook
title: {team} Outlook runbook
domain: email
match:
  - outlook keeps asking for a password
start: q
nodes:
  q:
    question: Is the {team} VPN connected?
    options:
      Yes: fix
      No: fix
  fix:
    fix:
      title: Recreate the profile
      steps:
        - Remove the profile and add it again
"""


def flows_import(c: Ctx, ws: WS, other: WS) -> None:
    from bot.cli import main

    path = c.tmp / f"{ws['team']}.yaml"
    path.write_text(FLOW.format(team=ws["team"]), encoding="utf-8")
    c.monkeypatch.chdir(c.tmp)
    c.monkeypatch.setenv("FLOWPILOT_DATABASE_URL", str(c.h.fp.settings.database_url))
    assert main(["flows", "import", str(path), "--workspace", ws["team"]]) == 0
    with c.h.svc.factory() as db:
        rows = db.execute(select(Account.slack_team_id, Tree.title)
                          .join(Tree, Tree.account_id == Account.id)).all()
    assert (ws["team"], f"{ws['team']} Outlook runbook") in rows
    assert all(team == ws["team"] for team, title in rows if ws["team"] in title)


def psa(c: Ctx, ws: WS, other: WS) -> None:
    """Each workspace reads tickets from its own PSA only, with its own credentials."""
    from workspaces_support import KEY

    from bot.crypto import SecretBox
    from bot.psa.connections import CwDetails, save_connectwise
    from bot.sandbox.fake_psa import FakePsa

    with FakePsa() as mine, FakePsa() as theirs:
        for team, fake in ((ws["team"], mine), (other["team"], theirs)):
            details = CwDetails(site=fake.url, company=fake.company, public_key=fake.public_key,
                                private_key=fake.private_key, client_id=fake.client_id,
                                options={})
            with unit_of_work(c.h.svc.factory) as db:
                save_connectwise(db, SecretBox(KEY), ensure_account(db, team), details)
        status, _ = c.h.command("ticket 1001", user=ws["user"], channel=ws["channel"],
                                team=ws["team"])
        assert status == 200
        c.h.settle()
        assert any(s.psa_ticket_id == "1001" for s in sessions(c.h, ws))
        assert mine.calls() and not theirs.calls()


def knowledge_search(c: Ctx, ws: WS, other: WS) -> None:
    """Both workspaces solved the same problem: a new session is offered only its own
    workspace's past fix (who fixed it, where)."""
    import json

    from knowledge_support import open_and_resolve

    problem = "Outlook keeps asking for a password"
    for w in (other, ws):
        open_and_resolve(c.h, problem, team=w["team"], channel=w["channel"], user=w["user"])
    c.h.slack.clear()  # (the set-up in the other workspace used its own token, rightly)
    c.h.command(problem, user=ws["user"], channel=ws["channel"], team=ws["team"])
    c.h.settle()
    s = sessions(c.h, ws)[-1]
    shown = [m for m in c.h.bot_messages(ws["channel"], s.slack_thread_ts)
             if "Seen before" in m.get("text", "")]
    assert shown, "no Seen before in the new session"
    blob = json.dumps(shown)
    assert f"<@{ws['user']}>" in blob
    assert other["user"] not in blob and other["channel"] not in blob


# name -> (drive it in ws, must it call Slack?)
SURFACES: dict[str, tuple[Callable[[Ctx, WS, WS], None], bool]] = {
    "command": (command, True),
    "mention": (mention, True),
    "shortcut": (shortcut, True),
    "modal": (modal, True),
    "click": (click, True),
    "forged_click": (forged_click, False),
    "thread_reply": (thread_reply, True),
    "app_home": (app_home, True),
    "settings": (settings, True),
    "jobs": (jobs, True),
    "digest": (digest, True),
    "flows_import": (flows_import, False),
    "psa": (psa, True),
    "knowledge_search": (knowledge_search, True),
}


@pytest.mark.parametrize("name", list(SURFACES))
def test_each_surface_stays_in_its_workspace(
    name: str, two: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive, calls_slack = SURFACES[name]
    for ws, other in ((A, B), (B, A)):
        two.slack.clear()
        drive(Ctx(two, tmp_path, monkeypatch), ws, other)
        two.settle()
        calls = two.slack.calls()
        if calls_slack:
            assert calls, f"{name} made no Slack call in {ws['team']}"
        assert_own_tokens(two.slack, ws, calls)


def test_sessions_run_in_both_workspaces_at_once(two: Harness) -> None:
    """Two sessions driven turn by turn, interleaved: each moves on, each with its own token."""
    live = {A["team"]: open_by_command(two, A), B["team"]: open_by_command(two, B)}
    assert live[A["team"]].account_id != live[B["team"]].account_id
    for _ in range(2):
        for ws in (A, B):
            s = live[ws["team"]]
            before = len(two.slack.messages(ws["channel"], s.slack_thread_ts))
            ts, button = first_button(two, s)
            two.click(button["action_id"], button["value"], message_ts=ts, user=ws["user"],
                      channel=ws["channel"], thread_ts=s.slack_thread_ts, team=ws["team"])
            two.settle()
            assert len(two.slack.messages(ws["channel"], s.slack_thread_ts)) > before
    for ws in (A, B):
        assert_own_tokens(two.slack, ws, [c for c in two.slack.calls()
                                          if team_of_channel(c) == ws["team"]])
