"""Ending sessions well, through signed requests: resolve and rate; escalate, take over and
carry on; park and resume with exact time accounting."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lifecycle_support import ESC, fix_button, load, open_session
from sqlalchemy import select
from support import Harness

from bot.clock import FakeClock
from bot.domain.refs import session_ref
from storage.models import AISession, SessionHandoff, SessionResolutionOutput

Make = Callable[..., Harness]  # the ``make`` fixture (tests/conftest.py)


def _header(h: Harness, thread: str) -> dict[str, Any]:
    return next(m for m in h.slack.messages("C1") if m["ts"] == thread)


def _view(h: Harness, callback_id: str) -> dict[str, Any]:
    views = [v for v in h.slack.views() if v.get("callback_id") == callback_id]
    assert views, f"no {callback_id} modal was opened"
    return views[-1]


def test_open_fix_worked_resolve_and_rate(make: Make, fake_anthropic: Any) -> None:
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    thread, sid = open_session(h, fake_anthropic)

    ts, button = fix_button(h, "fp_fix_worked", "Remove the stale Office credentials")
    assert h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)[0] == 200
    h.settle()

    # Resolve from the header: the modal opens with the note's preview.
    ts, button = h.find_button("fp_resolve", where=lambda b: b["value"] == str(sid))
    assert h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)[0] == 200
    h.settle()
    modal = _view(h, "fp_resolve_modal")
    assert modal["private_metadata"].split(":")[0] == str(sid)
    assert "Remove the stale Office credentials" in json.dumps(modal["blocks"])
    assert load(h, sid).status == "active"  # a preview changes nothing

    # The note is prefilled in a multiline input; the edited text is what is stored and posted.
    (note_input,) = [b["element"] for b in modal["blocks"]
                     if b.get("block_id") == "fp_resolve_note"]
    assert note_input["multiline"] is True and "## Problem" in note_input["initial_value"]
    edited = note_input["initial_value"] + "\n\nUser confirmed on her phone."
    status, _ = h.submit("fp_resolve_modal", {"fp_resolve_note": edited},
                         private_metadata=modal["private_metadata"])
    assert status == 200
    h.settle()

    s = load(h, sid)
    assert s.status == "resolved" and s.resolved_at is not None
    assert s.analysis_status == "pending"
    assert s.resolution_summary and "Remove the stale Office credentials" in s.resolution_summary
    assert s.resolution_action and "MicrosoftOffice16_Data" in s.resolution_action
    note = s.resolution_note_markdown or ""
    for part in ("## Problem", "## What we confirmed", "Outlook on the web signs in fine",
                 "## Root cause", "cached Office token", "## Resolution",
                 "1. Close Outlook", "User confirmed on her phone", "## Time spent"):
        assert part in note, part
    (out,) = s.resolution_outputs
    assert (out.output_type, out.target, out.status) == ("resolution_note", "slack", "posted")
    assert out.external_id and s.resolution_note_posted_at is not None

    texts = [m.get("text", "") for m in h.bot_messages("C1", thread)]
    assert any("Resolution note" in t for t in texts)
    assert "resolved" in json.dumps(_header(h, thread)["blocks"])
    assert "fp_resolve" not in json.dumps(_header(h, thread)["blocks"])

    ts, button = h.find_button("fp_rate", where=lambda b: b["value"] == f"{sid}|4")
    assert h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)[0] == 200
    h.settle()
    assert load(h, sid).session_rating == 4
    assert "rated 4/5" in h.ephemerals_text("U1")

    # A second rating replaces the first; feedback goes through its modal.
    _, button = h.find_button("fp_rate", where=lambda b: b["value"] == f"{sid}|5")
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    assert load(h, sid).session_rating == 5
    # CONTRACTS.md's plain value (``1``…``5``): the message's thread names the session.
    h.click("fp_rate:3", "3", message_ts=ts, thread_ts=thread)
    h.settle()
    assert load(h, sid).session_rating == 3
    _, button = h.find_button("fp_feedback")
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    assert _view(h, "fp_feedback_modal")["private_metadata"] == str(sid)
    h.submit("fp_feedback_modal", {"fp_feedback_text": "Spot on, saved me an hour."},
             private_metadata=str(sid))
    h.settle()
    assert load(h, sid).session_feedback == "Spot on, saved me an hour."


def test_fix_failed_escalate_take_over_and_engineer_drives(
    make: Make, fake_anthropic: Any
) -> None:
    clock = FakeClock()
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC, clock=clock)
    thread, sid = open_session(h, fake_anthropic)

    h.slack.set_user("UENG", tz="UTC")
    ts, button = fix_button(h, "fp_fix_failed", "Remove the stale Office credentials")
    fake_anthropic.reply_turn(summary="Outlook prompts for a password after a password change",
                              domain="email", confidence=0.5,
                              message="Then look at Conditional Access for this user.")
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    clock.advance(minutes=12)

    ts, button = h.find_button("fp_escalate", where=lambda b: b["value"] == str(sid))
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    assert _view(h, "fp_escalate_modal")["private_metadata"] == str(sid)

    # The reason is required: an empty one keeps the modal open with an error.
    status, body = h.submit("fp_escalate_modal", {"fp_escalate_reason": "  "},
                            private_metadata=str(sid))
    assert status == 200 and "errors" in body and "fp_escalate_reason" in body
    assert load(h, sid).status == "active"

    urgency = {"type": "static_select", "selected_option": {"value": "high"}}
    status, body = h.submit(
        "fp_escalate_modal",
        {"fp_escalate_reason": "Credentials cleared, still prompting; suspect CA policy.",
         "fp_escalate_to": "UENG", "fp_escalate_urgency": urgency},
        private_metadata=str(sid))
    assert status == 200 and "errors" not in body
    h.settle()

    s = load(h, sid)
    assert s.status == "escalated"
    assert s.escalated_to is not None and s.escalated_to.slack_user_id == "UENG"
    assert s.escalation_reason and "CA policy" in s.escalation_reason
    assert s.escalation_urgency == "high" and s.escalation_message_ts
    assert s.escalation_deadline_at == clock() + __import__("datetime").timedelta(minutes=15)
    package = s.escalation_package_markdown or ""
    for part in ("## Reason for escalation", "## Fixes tried",
                 "Remove the stale Office credentials** — didn't work", "## Hypotheses",
                 "Recreate the Outlook profile", "## Open questions", "Is MFA enabled",
                 "## Suggested next steps", "cmdkey /list", "## Time spent", "12m 00s"):
        assert part in package, part
    assert s.escalation_package and s.escalation_package["urgency"] == "high"

    posted = h.slack.messages(ESC)
    assert len(posted) == 1
    assert "<@UENG>" in posted[0]["text"]
    assert "fp_take_over" in json.dumps(posted[0]["blocks"])
    assert any("Escalated" in m.get("text", "") for m in h.bot_messages("C1", thread))

    # The engineer takes over from the escalation channel.
    ts, button = h.find_button("fp_take_over", channel=ESC)
    assert h.click(button["action_id"], button["value"], message_ts=ts, user="UENG",
                   channel=ESC)[0] == 200
    h.settle()
    s = load(h, sid)
    assert s.status == "active" and s.user.slack_user_id == "UENG"
    assert s.handoff_count == 1 and s.escalated_to.slack_user_id == "UENG"
    (handoff,) = s.handoffs
    assert handoff.kind == "take_over"
    updated = h.slack.messages(ESC)[0]
    assert "Taken over by <@UENG> at 09:12" in json.dumps(updated["blocks"])
    assert "fp_take_over" not in [el.get("action_id") for b in updated["blocks"]
                                  for el in b.get("elements") or []]
    assert any("took over this session" in m.get("text", "") for m in h.bot_messages("C1", thread))

    # …and carries on in the same thread: a reply is a turn.
    before = len(fake_anthropic.message_requests)
    fake_anthropic.reply_turn(summary="Outlook prompts for a password after a password change",
                              domain="email", confidence=0.8, message="Check sign-in logs.")
    h.reply("Sign-in logs show a CA policy block on legacy auth", thread, user="UENG")
    h.settle()
    assert len(fake_anthropic.message_requests) == before + 1
    assert "CA policy block" in json.dumps(fake_anthropic.message_requests[-1].body["messages"][-1])


def test_park_and_resume_count_exact_seconds(make: Make, fake_anthropic: Any) -> None:
    clock = FakeClock()
    h = make(clock=clock)
    thread, sid = open_session(h, fake_anthropic)
    header_ts = thread

    clock.advance(seconds=95)
    h.click("fp_park", str(sid), message_ts=header_ts, thread_ts=thread)
    h.settle()
    s = load(h, sid)
    assert s.status == "paused"
    assert (s.total_active_seconds, s.total_parked_seconds) == (95, 0)
    assert "parked" in json.dumps(_header(h, thread)["blocks"])
    assert any("parked this session" in m.get("text", "") for m in h.bot_messages("C1", thread))

    # A parked session ignores replies, and says so once.
    clock.advance(seconds=10)
    before = len(fake_anthropic.message_requests)
    h.reply("hello?", thread)
    h.reply("anyone?", thread)
    h.settle()
    assert len(fake_anthropic.message_requests) == before
    assert h.ephemerals_text("U1").count("parked") == 1

    clock.advance(seconds=3590)
    h.click("fp_resume", str(sid), message_ts=header_ts, thread_ts=thread)
    h.settle()
    s = load(h, sid)
    assert s.status == "active"
    assert (s.total_active_seconds, s.total_parked_seconds) == (95, 3600)

    # Parked again later: it says so again (once per park), and the seconds keep adding up.
    h.click("fp_park", str(sid), message_ts=header_ts, thread_ts=thread)
    h.settle()
    h.reply("still there?", thread)
    h.settle()
    assert h.ephemerals_text("U1").count("parked") == 2
    h.click("fp_resume", str(sid), message_ts=header_ts, thread_ts=thread)
    h.settle()

    clock.advance(seconds=47)
    status, _ = h.command(f"resolve {session_ref(str(sid))}")
    assert status == 200
    h.settle()
    s = load(h, sid)
    assert s.status == "resolved"
    assert (s.total_active_seconds, s.total_parked_seconds) == (142, 3600)
    assert "2m 22s active, 1h 00m parked" in (s.resolution_note_markdown or "")


def test_slash_commands_park_resume_handoff_escalate(make: Make, fake_anthropic: Any) -> None:
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    thread, sid = open_session(h, fake_anthropic)

    ref = session_ref(str(sid))
    h.command("park")  # unnamed: never guessed, the person is told how to name it
    h.settle()
    assert load(h, sid).status == "active"
    told = h.ephemerals_text("U1")
    assert "Which session?" in told and ref in told
    h.command(f"park {ref}")
    h.settle()
    assert load(h, sid).status == "paused"
    link = f"<https://fake-workspace.slack.com/archives/C1/p{thread.replace('.', '')}>"
    h.command(f"resume {link}")  # the thread's link names it too
    h.settle()
    assert load(h, sid).status == "active"

    h.command(f"handoff {ref} <@UBOB|bob>")
    h.settle()
    s = load(h, sid)
    assert s.user.slack_user_id == "UBOB" and s.handoff_count == 1
    assert [x.kind for x in s.handoffs] == ["handoff"]
    assert any("handed this session to <@UBOB>" in m.get("text", "")
               for m in h.bot_messages("C1", thread))

    h.command(f"escalate {ref} Needs an Exchange admin", user="UBOB")
    h.settle()
    s = load(h, sid)
    assert s.status == "escalated" and len(h.slack.messages(ESC)) == 1
    with h.svc.factory() as db:
        outs = db.execute(select(SessionResolutionOutput.output_type)).scalars().all()
        assert outs == ["escalation_package"]
        assert db.execute(select(SessionHandoff)).scalars().all()
        assert db.execute(select(AISession.status)).scalar_one() == "escalated"
