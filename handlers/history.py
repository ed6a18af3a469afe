"""The header's History button (issue 19): the session's history in a modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import ids
from bot.render.history import render_history_modal
from bot.services import history
from bot.services.container import Services
from handlers.common import action_value, run_click, team_of, user_of
from handlers.lifecycle import _open


def register(app: App, svc: Services) -> None:
    @app.action(ids.prefixed(ids.HISTORY))
    def on_history(ack: Ack, body: dict[str, Any]) -> None:
        found = run_click(svc, ack, body, lambda: history.session_history(
            svc, team_id=team_of(body), user_id=user_of(body), session_id=action_value(body)))
        if found is not None:
            _open(svc, body, render_history_modal(found))
