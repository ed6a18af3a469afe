"""Issue 18, escalation to a team, through signed Slack requests on the real app (offline
engine): the package tags the team's members or the member whose turn it is (the cursor
stored in the database), a team backed by a Slack user group takes its members from the
group, the SLA re-ping tags the team again (round-robin: the next member), and bad input
(unknown team, team without members, a member who left, a user group Slack cannot read,
a double submit, a resolved session) is told in one line and loses nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from sqlalchemy import select
from support import Harness

from bot.clock import FakeClock
from bot.domain.refs import session_ref
from bot.jobs.registry import run_job
from storage.models import AISession, Team

Make = Callable[..., Harness]
ESC = "CESC"
PROBLEM = "outlook keeps popping pw box since this morning"


def _app(make: Make, clock: FakeClock | None = None) -> Harness:
    h = make(anthropic_url=None, clock=clock or FakeClock(), FLOWPILOT_ESCALATION_CHANNEL=ESC)
    h.slack.set_user("UADMIN", is_admin=True)
    return h


def _admin(h: Harness, *commands: str) -> None:
    for text in commands:
        assert h.command(text, user="UADMIN")[0] == 200
        h.settle()  # one after the other, as a person types them


def _open(h: Harness, user: str = "U1", channel: str = "C1") -> AISession:
    assert h.command(PROBLEM, user=user, channel=channel)[0] == 200
    h.settle()
    with h.svc.factory() as db:
        s = db.execute(select(AISession).where(AISession.slack_channel_id == channel)
                       .order_by(AISession.created_at.desc())).scalars().first()
        assert s is not None
        return s


def _load(h: Harness, sid: uuid.UUID) -> AISession:
    with h.svc.factory() as db:
        s = db.get(AISession, sid)
        assert s is not None
        _ = (s.escalated_to, s.escalation_team, s.team, s.user)
        return s


def _header(h: Harness, s: AISession, channel: str = "C1") -> str:
    (header,) = [m for m in h.slack.messages(channel) if m["ts"] == s.slack_thread_ts]
    return json.dumps(header.get("blocks") or [], ensure_ascii=False)


def _said(h: Harness, s: AISession, channel: str = "C1") -> str:
    return " ".join(m.get("text", "") for m in h.bot_messages(channel, s.slack_thread_ts))


def _escalate(h: Harness, s: AISession, rest: str, user: str = "U1") -> None:
    assert h.command(f"escalate {session_ref(str(s.id))} {rest}", user=user)[0] == 200
    h.settle()


def _cursor(h: Harness, name: str) -> int:
    with h.svc.factory() as db:
        return db.execute(select(Team.next_member).where(Team.name == name)).scalar_one()


def test_round_robin_tags_one_member_in_turn_and_the_sla_repings_the_next(
        make: Make) -> None:
    clock = FakeClock()
    h = _app(make, clock)
    _admin(h, "team add tier2", "team members tier2 <@UCAT> <@UANA> <@UBEN>",
           "team routing tier2 round-robin")

    first = _open(h, user="U1")
    _escalate(h, first, "team:tier2 Exchange Online refuses the new password for everyone")
    (package,) = [m for m in h.bot_messages(ESC) if m.get("thread_ts") in (None, m["ts"])]
    shown = json.dumps(package["blocks"]) + package["text"]
    assert "<@UANA>" in shown and "<@UBEN>" not in shown and "<@UCAT>" not in shown
    assert "team *tier2*" in shown  # the package names the team
    s = _load(h, first.id)
    assert s.status == "escalated" and s.escalation_team is not None
    assert s.escalation_team.name == "tier2" and s.escalated_to is not None
    assert s.escalated_to.slack_user_id == "UANA"
    assert "escalated to team *tier2*" in _header(h, s)
    assert "tagging <@UANA>" in _said(h, s)
    assert "**Team:** tier2" in (s.escalation_package_markdown or "")
    assert _cursor(h, "tier2") == 1  # UANA is first of [UANA, UBEN, UCAT]: UBEN is next

    # Nobody took it over within the SLA: the re-ping tags the team's next member.
    result = run_job(h.svc, "escalation_sla", clock.advance(minutes=16))
    assert result.done == 1
    pings = [m for m in h.bot_messages(ESC, package["ts"]) if m["ts"] != package["ts"]]
    assert len(pings) == 1 and "<@UBEN>" in pings[0]["text"]
    assert "<!here>" not in pings[0]["text"] and "<@UANA>" not in pings[0]["text"]
    assert "re-pinged <@UBEN>" in _said(h, s)

    # A second escalation (another session, another process): the cursor is in the database.
    again = _app(make, clock)
    second = _open(again, user="U2", channel="C2")
    assert again.command(f"escalate {session_ref(str(second.id))} @tier2 VPN down for the branch",
                         user="U2", channel="C2")[0] == 200
    again.settle()
    newest = [m for m in again.bot_messages(ESC) if m.get("thread_ts") in (None, m["ts"])][-1]
    assert "<@UCAT>" in newest["text"] and "<@UANA>" not in newest["text"]

    # Any member of the team may take it over; someone outside it may not.
    h.click("fp_take_over", str(first.id), message_ts=package["ts"], channel=ESC, user="UZED")
    h.settle()
    assert "Only the engineer or group" in h.ephemerals_text("UZED")
    h.click("fp_take_over", str(first.id), message_ts=package["ts"], channel=ESC, user="UCAT")
    h.settle()
    s = _load(h, first.id)
    assert s.user.slack_user_id == "UCAT" and s.status == "active"
    assert s.team is not None and s.team.name == "tier2"  # the new owner's team
    assert "👥 tier2" in _header(h, s)


def test_tag_all_team_from_a_slack_user_group_through_the_modal(make: Make) -> None:
    h = _app(make)
    h.slack.set_usergroup("S0TIER3", ["UEVE", "UDAN"])
    _admin(h, "team add tier3", "team group tier3 <!subteam^S0TIER3|@tier3-oncall>",
           "team list")
    assert "members of <!subteam^S0TIER3>" in h.ephemerals_text("UADMIN")
    s = _open(h)

    # The Escalate button opens the modal with a team picker (the workspace has teams).
    ts, button = h.find_button("fp_escalate")
    h.click(button["action_id"], button["value"], message_ts=ts)
    h.settle()
    (opened,) = [c.body for c in h.slack.calls("views.open")]
    view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
    picker = [b for b in view["blocks"] if b.get("block_id") == "fp_escalate_team"]
    assert picker and [o["value"] for o in picker[0]["element"]["options"]] == ["tier3"]

    values = {"fp_escalate_reason": "Domain controller replication is failing",
              "fp_escalate_team": {"type": "static_select",
                                   "selected_option": {"value": "tier3"}}}
    h.submit("fp_escalate_modal", values, private_metadata=str(s.id))
    h.submit("fp_escalate_modal", values, private_metadata=str(s.id))  # a double submit
    h.settle()
    packages = [m for m in h.bot_messages(ESC) if m.get("thread_ts") in (None, m["ts"])]
    assert len(packages) == 1
    assert "<@UDAN>" in packages[0]["text"] and "<@UEVE>" in packages[0]["text"]
    s = _load(h, s.id)
    assert s.escalation_team is not None and s.escalated_to is None  # tag_all: no one person
    assert "tagging <@UDAN> <@UEVE>" in _said(h, s)

    # The user group's members may take it over (read from Slack).
    h.click("fp_take_over", str(s.id), message_ts=packages[0]["ts"], channel=ESC, user="UEVE")
    h.settle()
    assert _load(h, s.id).user.slack_user_id == "UEVE"


def test_a_user_group_slack_cannot_read_posts_to_the_channel_without_tags(make: Make) -> None:
    clock = FakeClock()
    h = _app(make, clock)
    _admin(h, "team add sec", "team group sec <!subteam^S0GONE|@security>")
    s = _open(h)
    _escalate(h, s, "team:sec Suspicious sign-ins from abroad")
    (package,) = [m for m in h.bot_messages(ESC) if m.get("thread_ts") in (None, m["ts"])]
    assert "<@" not in package["text"] and "<!subteam" not in package["text"]
    said = _said(h, s)
    assert "Slack did not give the members of team *sec*'s user group (no_such_subteam)" in said
    assert _load(h, s.id).status == "escalated"  # nothing lost: the package is out

    # The SLA re-ping falls back to the channel too (no team members to tag).
    run_job(h.svc, "escalation_sla", clock.advance(minutes=16))
    pings = [m for m in h.bot_messages(ESC, package["ts"]) if m["ts"] != package["ts"]]
    assert len(pings) == 1 and "<!here>" in pings[0]["text"], [p["text"] for p in pings]


def test_a_member_who_left_the_workspace_is_skipped_in_round_robin(make: Make) -> None:
    h = _app(make)
    _admin(h, "team add tier2", "team members tier2 <@UANA> <@UBEN> <@UCAT>",
           "team routing tier2 rr")
    h.slack.set_user("UANA", deleted=True)
    s = _open(h)
    _escalate(h, s, "team:tier2 Printer queue stuck on the print server")
    (package,) = [m for m in h.bot_messages(ESC) if m.get("thread_ts") in (None, m["ts"])]
    assert "<@UBEN>" in package["text"] and "<@UANA>" not in package["text"]
    assert _cursor(h, "tier2") == 2

    # Everyone gone: posted without tags, one line in the thread.
    h.slack.set_user("UBEN", deleted=True)
    h.slack.set_user("UCAT", deleted=True)
    other = _open(h, user="U2", channel="C2")
    assert h.command(f"escalate {session_ref(str(other.id))} team:tier2 Same printer, other site",
                     user="U2", channel="C2")[0] == 200
    h.settle()
    newest = [m for m in h.bot_messages(ESC) if m.get("thread_ts") in (None, m["ts"])][-1]
    assert "<@" not in newest["text"]
    assert "Every member of team *tier2* has left the workspace" in _said(h, other, "C2")


def test_refusals_unknown_team_no_members_resolved_session(make: Make) -> None:
    h = _app(make)
    _admin(h, "team add empty", "team add tier2", "team members tier2 <@UANA>")
    s = _open(h)
    _escalate(h, s, "team:nope Needs help")
    _escalate(h, s, "@nope")  # no reason: refused before any modal opens
    _escalate(h, s, "team:empty Needs help")
    # A forged modal value (not one of the picker's options) is refused the same way.
    status, answer = h.submit("fp_escalate_modal", {
        "fp_escalate_reason": "x", "fp_escalate_team": {
            "type": "static_select", "selected_option": {"value": "<!channel> " + "y" * 5000}}},
        private_metadata=str(s.id))
    h.settle()
    assert status == 200 and "A team name is one word" in answer and "<!channel>" not in answer
    told = h.ephemerals_text("U1")
    assert told.count("There is no team `nope`") == 2
    assert "Team `empty` has no members yet" in told
    assert h.slack.calls("views.open") == []
    assert [m for m in h.bot_messages(ESC)] == []
    assert _load(h, s.id).status == "active" and _cursor(h, "tier2") == 0

    # With a team and no reason the modal opens with the team chosen.
    _escalate(h, s, "team:TIER2")
    (opened,) = [c.body for c in h.slack.calls("views.open")]
    view = opened["view"] if isinstance(opened["view"], dict) else json.loads(opened["view"])
    (picker,) = [b for b in view["blocks"] if b.get("block_id") == "fp_escalate_team"]
    assert picker["element"]["initial_option"]["value"] == "tier2"

    assert h.command(f"resolve {session_ref(str(s.id))} Fixed it myself", user="U1")[0] == 200
    h.settle()
    _escalate(h, s, "team:tier2 Actually still broken")
    assert "resolved" in h.ephemerals_text("U1").split("There is no team")[-1].lower()
    assert [m for m in h.bot_messages(ESC)] == [] and _cursor(h, "tier2") == 0


def test_no_team_keeps_the_default_group(make: Make) -> None:
    h = _app(make)
    _admin(h, "team add tier2", "team members tier2 <@UANA>",
           "settings set escalation_group <!subteam^S0DEF|@engineers>")
    s = _open(h)
    _escalate(h, s, "Needs an Exchange admin")
    (package,) = [m for m in h.bot_messages(ESC) if m.get("thread_ts") in (None, m["ts"])]
    assert "<!subteam^S0DEF>" in package["text"] and "<@UANA>" not in package["text"]
    loaded = _load(h, s.id)
    assert loaded.escalation_team is None and "escalated to team" not in _header(h, loaded)


def test_a_session_takes_its_owners_team_at_intake_and_on_hand_off(make: Make) -> None:
    h = _app(make)
    _admin(h, "team add tier1", "team members tier1 <@U1>", "team add tier2",
           "team members tier2 <@UANA>")
    s = _open(h)
    assert s.team_id is not None and "👥 tier1" in _header(h, s), _header(h, s)
    assert h.command(f"handoff {session_ref(str(s.id))} <@UANA>", user="U1")[0] == 200
    h.settle()
    s = _load(h, s.id)
    assert s.team is not None and s.team.name == "tier2" and "👥 tier2" in _header(h, s)
