"""Open and drive a session with the Claude engine (fake Anthropic API at the wire)."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import AISession, InboundEvent


def _session(h):  # type: ignore[no-untyped-def]
    with h.svc.factory() as db:
        return db.execute(select(AISession)).scalar_one()


def test_open_by_command_answer_by_button_and_reply(claude_harness, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    h = claude_harness
    fake_anthropic.reply_turn(
        summary="Outlook prompts for a password repeatedly", domain="email", confidence=0.6,
        message="Let's narrow it down.", facts=[{"text": "Outlook desktop", "source": "intake"}],
        questions=[{"text": "Does Outlook on the web work?", "options": ["Yes", "No"]}],
        actions=[{"text": "Check sign-in logs", "command": None, "risk": "low"}],
        fixes=[], recommend="continue",
    )
    status, _ = h.command("Outlook keeps asking for a password")
    assert status == 200
    h.settle()
    header = h.slack.messages("C1")[0]
    assert header["thread_ts"] is None or header["thread_ts"] == header["ts"]
    thread = header["ts"]
    turn = [m for m in h.bot_messages("C1", thread) if m["ts"] != thread]
    assert turn, "the first turn was posted in the thread"
    assert "Does Outlook on the web work?" in str(turn[-1]["blocks"])
    s = _session(h)
    assert s.problem_summary == "Outlook prompts for a password repeatedly"
    assert s.confidence_tier == "exploring" and s.problem_domain == "email"
    assert s.total_input_tokens > 0 and s.step_count >= 2

    ts, button = h.find_button("fp_answer", where=lambda b: b["text"]["text"] == "No")
    fake_anthropic.reply_turn(summary="Outlook prompts for a password repeatedly", domain="email",
                              confidence=0.85, message="Server side then.", recommend="continue")
    status, _ = h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    assert status == 200
    h.settle()
    updated = [c for c in h.slack.calls("chat.update") if c.body.get("ts") == ts]
    assert updated and "No" in str(updated[-1].body["blocks"])
    assert "fp_answer" not in str(updated[-1].body["blocks"]).split("Does Outlook")[1][:400]
    second = fake_anthropic.message_requests[-1].body
    assert "No" in str(second["messages"][-1])
    s = _session(h)
    assert s.confidence_tier == "guided"

    status, _ = h.reply("It started after the password change yesterday", thread)
    assert status == 200
    h.settle()
    third = fake_anthropic.message_requests[-1].body
    assert "password change yesterday" in str(third["messages"][-1])
    with h.svc.factory() as db:
        statuses = set(db.execute(select(InboundEvent.status)).scalars())
    assert "pending" not in statuses and "processing" not in statuses
