"""Clicks and replies racing running turns on one session: nothing is lost, nothing stuck."""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import select
from support import Harness

from storage.models import AISession, InboundEvent


def test_clicks_and_replies_during_turns_all_land(claude_harness: Harness,
                                                  fake_anthropic: Any) -> None:
    h = claude_harness
    fake_anthropic.reply_turn(
        summary="Printers", domain="printing", confidence=0.5, message="Checks first.",
        questions=[{"text": f"Question {i}?", "options": ["Yes", "No"]} for i in range(5)],
    )
    h.command("printers in all offices are offline")
    h.settle()
    with h.svc.factory() as db:
        session = db.execute(select(AISession)).scalar_one()
    thread = session.slack_thread_ts
    turn = h.bot_messages("C1", thread)[-1]
    buttons = [el for b in turn["blocks"] for el in b.get("elements") or []
               if str(el.get("action_id", "")).startswith("fp_answer") and el["text"]["text"] == "Yes"]
    assert len(buttons) == 5
    for _ in range(12):
        fake_anthropic.reply_turn(summary="Printers", domain="printing", confidence=0.5,
                                  message="Noted.", delay=0.15)
    work = [lambda b=b: h.click(b["action_id"], b["value"], message_ts=turn["ts"],  # type: ignore[misc]
                                thread_ts=thread, user="U1")
            for b in buttons]
    work += [lambda i=i: h.reply(f"observation {i}", thread, user=f"U{i}")  # type: ignore[misc]
             for i in range(5)]
    threads = [threading.Thread(target=w) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.settle(30)
    with h.svc.factory() as db:
        statuses = db.execute(select(InboundEvent.kind, InboundEvent.status)).all()
        session = db.execute(select(AISession)).scalar_one()
    turn_inputs = [s for k, s in statuses if k in ("reply", "answer")]
    assert len(turn_inputs) == 10 and set(turn_inputs) == {"done"}, statuses
    lane = session.pending_task_lane or {}
    assert [q["status"] for q in lane["questions"]] == ["answered"] * 5
    assert "U0" in session.participants and "U4" in session.participants
    sent = json.dumps([r.body["messages"][-1] for r in fake_anthropic.message_requests])
    for i in range(5):
        assert f"observation {i}" in sent


def test_workspace_token_totals_add_up_when_sessions_finish_together(
    claude_harness: Harness, fake_anthropic: Any
) -> None:
    """Account counters are incremented in the database, never read-modify-written."""
    from storage.models import Account

    h = claude_harness
    for _ in range(6):
        fake_anthropic.reply_turn(summary="Printers", domain="printing", confidence=0.5,
                                  message="Checks first.", delay=0.2,
                                  usage={"input_tokens": 1000, "output_tokens": 100})
    threads = [threading.Thread(target=h.command, args=(f"printer {i} offline",),
                                kwargs={"user": f"U{i}", "channel": f"C{i}"}) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.settle(30)
    with h.svc.factory() as db:
        sessions = db.execute(select(AISession)).scalars().all()
        account = db.execute(select(Account)).scalar_one()
    assert len(sessions) == 6 and all(s.total_input_tokens >= 1000 for s in sessions)
    assert account.total_input_tokens == sum(s.total_input_tokens for s in sessions)
    assert account.total_output_tokens == sum(s.total_output_tokens for s in sessions)
