"""Issue 18, branching: "Try another path from here" on a turn's message (``fp_branch``) and
the header's Paths menu (``fp_branch_switch``)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import ids
from bot.services import branching
from bot.services.container import Services
from handlers.common import action_value, run_click, team_of, user_of


def register(app: App, svc: Services) -> None:
    @app.action(ids.prefixed(ids.BRANCH))
    def on_branch(ack: Ack, body: dict[str, Any]) -> None:
        value = action_value(body)
        moved = run_click(svc, ack, body, lambda: branching.fork(
            svc, team_id=team_of(body), user_id=user_of(body), value=value))
        if moved is not None:
            branching.announce(svc, moved)

    @app.action(ids.prefixed(ids.BRANCH_SWITCH))
    def on_switch(ack: Ack, body: dict[str, Any]) -> None:
        value = action_value(body)
        moved = run_click(svc, ack, body, lambda: branching.switch(
            svc, team_id=team_of(body), user_id=user_of(body), value=value))
        if moved is not None:
            branching.announce(svc, moved)
