"""Buttons of a turn: quick answers, actions, fix decisions, Retry.

The state change happens before the ack (fast, one transaction); re-rendering the message
and the next turn happen after it.
"""

from __future__ import annotations

import uuid
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.context import BoltContext

from bot import ids
from bot.services import decisions, outbox
from bot.services.container import Services
from handlers.common import (
    action_value,
    channel_of,
    run_click,
    team_of,
    thread_of,
    user_of,
)


def _event_id(context: BoltContext) -> uuid.UUID | None:
    value = context.get("fp_event_id")
    return value if isinstance(value, uuid.UUID) else None


def _queue_click(svc: Services, ack: Ack, body: dict[str, Any], context: BoltContext,
                 decision: str) -> None:
    """Ack at once; the decision is work after the ack. It waits for the session row while a
    turn stores its answer, and neither Slack's 3 seconds nor Bolt's listener threads should.
    The delivery itself is already recorded (middleware), so nothing is lost meanwhile."""
    ack()
    if not context.get("fp_queued"):  # queued already with its delivery record
        svc.later("click", click_payload(body, decision, _event_id(context)))


CLICKS = {ids.ANSWER: "answer", ids.ACTION_DONE: "done", ids.ACTION_SKIP: "skip",
          ids.FIX_WORKED: "worked", ids.FIX_FAILED: "failed", ids.FIX_REJECT: "rejected",
          ids.WRONG_FLOW: "wrong_flow", ids.FIX_TRYING: "trying"}


def click_decision(body: dict[str, Any]) -> str | None:
    """The decision a turn button stands for (``answer``, ``done``…), or None."""
    action_id = str(((body.get("actions") or [{}])[0]).get("action_id") or "")
    return CLICKS.get(action_id.split(":", 1)[0])


def click_payload(body: dict[str, Any], decision: str,
                  event_id: uuid.UUID | None) -> dict[str, Any]:
    return {"decision": decision, "team_id": team_of(body), "user_id": user_of(body),
            "value": action_value(body), "event_id": str(event_id) if event_id else None,
            "channel": channel_of(body), "thread_ts": thread_of(body)}


def register(app: App, svc: Services) -> None:
    for prefix, decision in CLICKS.items():
        _register_click(app, svc, prefix, decision)

    @app.action(ids.prefixed(ids.RESEND))
    def on_resend(ack: Ack, body: dict[str, Any]) -> None:
        run_click(svc, ack, body, lambda: outbox.resend(
            svc, team_id=team_of(body), outbox_id=action_value(body)), ack_first=True)

    @app.action(ids.prefixed(ids.RETRY))
    def on_retry(ack: Ack, body: dict[str, Any]) -> None:
        sid = run_click(svc, ack, body, lambda: decisions.retry(
            svc, team_id=team_of(body), user_id=user_of(body), session_id=action_value(body)))
        if sid is not None:
            svc.kick(sid)

    @app.action(ids.prefixed(ids.USE_FLOWS))
    def on_use_flows(ack: Ack, body: dict[str, Any]) -> None:
        sid = run_click(svc, ack, body, lambda: decisions.use_flows(
            svc, team_id=team_of(body), user_id=user_of(body), session_id=action_value(body)))
        if sid is not None:
            svc.kick(sid)

    @app.action(ids.prefixed(ids.OPEN_SESSION))
    def on_link(ack: Ack) -> None:
        ack()  # a link button: Slack opens the URL, nothing to do


def _register_click(app: App, svc: Services, prefix: str, decision: str) -> None:
    @app.action(ids.prefixed(prefix))
    def on_click(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        _queue_click(svc, ack, body, context, decision)
