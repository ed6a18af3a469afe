"""The header's Rename button and its modal (``ai_sessions.title``), and the "That's wrong"
menu on a turn's facts (``session_facts.is_active``); issue 18."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import ids
from bot.render.modals import rename_modal
from bot.services import session_edit
from bot.services.container import Services
from handlers.common import action_value, run_click, run_submit, team_of, user_of
from handlers.lifecycle import _open
from handlers.views import field


def register(app: App, svc: Services) -> None:
    @app.action(ids.prefixed(ids.RENAME))
    def on_rename(ack: Ack, body: dict[str, Any]) -> None:
        sid = action_value(body)
        current = run_click(svc, ack, body, lambda: session_edit.current_title(
            svc, team_id=team_of(body), user_id=user_of(body), session_id=sid))
        if current is not None:
            _open(svc, body, rename_modal(sid, current))

    @app.view(ids.RENAME_MODAL)
    def on_rename_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        run_submit(ack, ids.RENAME_TITLE, lambda: session_edit.rename(
            svc, team_id=team_of(body), user_id=user_of(body),
            session_id=str(view.get("private_metadata")),
            title=str(field(view, ids.RENAME_TITLE) or "")))

    @app.action(ids.prefixed(ids.FACT_WRONG))
    def on_fact_wrong(ack: Ack, body: dict[str, Any]) -> None:
        value = action_value(body)
        done = run_click(svc, ack, body, lambda: session_edit.retract_fact(
            svc, team_id=team_of(body), user_id=user_of(body), value=value))
        if done is not None:
            ts = str((body.get("container") or {}).get("message_ts") or "")
            session_edit.announce_retraction(svc, done, user_of(body), ts)
