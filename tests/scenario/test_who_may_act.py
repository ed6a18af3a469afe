"""Take over follows the rule of every other control; deliveries from another workspace never
touch a session."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from lifecycle_support import ESC, load, open_session
from sqlalchemy import func, select
from support import Harness

from bot.services import escalation, lifecycle
from bot.services.identity import ensure_account
from storage.db import unit_of_work
from storage.models import InboundEvent, SessionHandoff
from storage.settings_store import set_settings

Make = Callable[..., Harness]


def _escalate(h: Harness, sid: Any, engineer: str | None = None) -> tuple[str, dict[str, Any]]:
    lifecycle.request_escalation(h.svc, team_id="T0001", user_id="U1", session_id=str(sid),
                                 reason="needs tier 3", engineer=engineer)
    assert escalation.post_escalation_package(h.svc, sid)
    return h.find_button("fp_take_over", channel=ESC)


def _handoffs(h: Harness) -> int:
    with h.svc.factory() as db:
        return int(db.execute(select(func.count()).select_from(SessionHandoff)).scalar_one())


def test_take_over_of_a_named_engineers_escalation(make: Make, fake_anthropic: Any) -> None:
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    _thread, sid = open_session(h, fake_anthropic)
    ts, button = _escalate(h, sid, engineer="UENG")
    h.click(button["action_id"], button["value"], message_ts=ts, user="USTRANGER", channel=ESC)
    h.settle()
    assert "Only the engineer or group" in h.ephemerals_text("USTRANGER")
    assert load(h, sid).status == "escalated" and _handoffs(h) == 0
    h.click(button["action_id"], button["value"], message_ts=ts, user="UENG", channel=ESC)
    h.settle()
    s = load(h, sid)
    assert s.user.slack_user_id == "UENG" and _handoffs(h) == 1


def test_take_over_of_a_group_escalation(make: Make, fake_anthropic: Any) -> None:
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    _thread, sid = open_session(h, fake_anthropic)
    with unit_of_work(h.svc.factory) as db:
        set_settings(db, ensure_account(db, "T0001").id, {"escalation_group": "STIER3"})
    h.slack.set_usergroup("STIER3", ["UG1", "UG2"])
    ts, button = _escalate(h, sid)
    h.click(button["action_id"], button["value"], message_ts=ts, user="USTRANGER", channel=ESC)
    h.settle()
    assert "Only the engineer or group" in h.ephemerals_text("USTRANGER")
    assert _handoffs(h) == 0
    h.click(button["action_id"], button["value"], message_ts=ts, user="UG2", channel=ESC)
    h.settle()
    assert load(h, sid).user.slack_user_id == "UG2" and _handoffs(h) == 1


def _replies(h: Harness) -> int:
    with h.svc.factory() as db:
        return int(db.execute(select(func.count()).select_from(InboundEvent)
                              .where(InboundEvent.kind == "reply")).scalar_one())


def test_a_reply_from_another_workspaces_user_is_ignored_and_logged(
    make: Make, fake_anthropic: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    ts = h.slack.add_message("C1", "hi", user="UGUEST", thread_ts=thread)["ts"]
    with caplog.at_level(logging.INFO):
        status, _ = h.event({"type": "message", "channel": "C1", "user": "UGUEST",
                             "user_team": "T0002", "team": "T0002", "text": "try rebooting",
                             "ts": ts, "thread_ts": thread, "channel_type": "channel"})
        h.settle()
    assert status == 200 and _replies(h) == 0
    assert "UGUEST" not in (load(h, sid).participants or [])
    assert "ignored a message from a user of workspace T0002" in caplog.text


def test_a_delivery_from_another_workspace_for_our_thread_is_ignored(
    make: Make, fake_anthropic: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    ts = h.slack.add_message("C1", "hi", user="UX", thread_ts=thread)["ts"]
    with caplog.at_level(logging.INFO):
        status, _ = h.event({"type": "message", "channel": "C1", "user": "UX", "text": "hello",
                             "ts": ts, "thread_ts": thread, "channel_type": "channel"},
                            team="T0002")
        h.settle()
    assert status == 200 and _replies(h) == 0
    assert "UX" not in (load(h, sid).participants or [])
    assert "for a session of another workspace" in caplog.text
