"""Buttons of a turn: quick answers, actions, fix decisions, Retry.

The state change happens before the ack (fast, one transaction); re-rendering the message
and the next turn happen after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import Ack, App
from slack_bolt.context import BoltContext

from bot.services import decisions
from bot.services.container import Services
from bot.services.refresh import refresh_turn_messages
from handlers import ids
from handlers.common import readable, team_of, tell, user_of

T = TypeVar("T")


def _value(body: dict[str, Any]) -> str:
    action = (body.get("actions") or [{}])[0]
    return str(action.get("value") or "")


def _event_id(context: BoltContext) -> uuid.UUID | None:
    value = context.get("fp_event_id")
    return value if isinstance(value, uuid.UUID) else None


def run_click(svc: Services, ack: Ack, body: dict[str, Any], change: Callable[[], T]) -> T | None:
    """A button's state change, then the ack; a refusal is acked and told to the clicker
    ephemerally (``None``). Shared with the nudge's buttons."""
    try:
        done = change()
    except Exception as exc:
        ack()
        tell(svc, body, f"⚠️ {readable(exc)}")
        return None
    ack()
    return done


def _run(svc: Services, ack: Ack, body: dict[str, Any],
         change: Callable[[], decisions.Clicked]) -> None:
    clicked = run_click(svc, ack, body, change)
    if clicked is None:
        return
    if clicked.message_ts:
        refresh_turn_messages(svc, clicked.session_id, [clicked.message_ts])
    if clicked.kick and svc.runner is not None:
        svc.runner.kick(clicked.session_id)


def register(app: App, svc: Services) -> None:
    def common(body: dict[str, Any]) -> dict[str, Any]:
        return {"team_id": team_of(body), "user_id": user_of(body), "value": _value(body)}

    @app.action(ids.prefixed(ids.ANSWER))
    def on_answer(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        _run(svc, ack, body, lambda: decisions.answer(svc, **common(body),
                                                       event_id=_event_id(context)))

    @app.action(ids.prefixed(ids.ACTION_DONE))
    def on_done(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        _run(svc, ack, body, lambda: decisions.complete_action(
            svc, **common(body), done=True, event_id=_event_id(context)))

    @app.action(ids.prefixed(ids.ACTION_SKIP))
    def on_skip(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        _run(svc, ack, body, lambda: decisions.complete_action(
            svc, **common(body), done=False, event_id=_event_id(context)))

    for prefix, decision in ((ids.FIX_WORKED, "worked"), (ids.FIX_FAILED, "failed"),
                             (ids.FIX_REJECT, "rejected")):
        _register_fix(app, svc, prefix, decision, common)

    @app.action(ids.prefixed(ids.RETRY))
    def on_retry(ack: Ack, body: dict[str, Any]) -> None:
        try:
            sid = decisions.retry(svc, team_id=team_of(body), user_id=user_of(body),
                                  session_id=_value(body))
        except Exception as exc:
            ack()
            tell(svc, body, f"⚠️ {readable(exc)}")
            return
        ack()
        if svc.runner is not None:
            svc.runner.kick(sid)

    @app.action(ids.prefixed(ids.OPEN_SESSION))
    def on_link(ack: Ack) -> None:
        ack()  # a link button: Slack opens the URL, nothing to do


def _register_fix(app: App, svc: Services, prefix: str, decision: str,
                  common: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    @app.action(ids.prefixed(prefix))
    def on_fix(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        _run(svc, ack, body, lambda: decisions.decide_fix(
            svc, **common(body), decision=decision, event_id=_event_id(context)))
