"""👍/👎 on a turn (Block Kit ``feedback_buttons`` in a ``context_actions`` block; issue 19):
stored once per person per turn, acknowledged ephemerally."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import ids
from bot.services import feedback
from bot.services.container import Services
from handlers.common import action_value, run_click, team_of, tell, user_of

THANKS = {"up": "👍 Thanks — noted that this turn helped.",
          "down": "👎 Thanks — noted that this turn did not help."}


def register(app: App, svc: Services) -> None:
    @app.action(ids.prefixed(ids.TURN_FEEDBACK))
    def on_turn_feedback(ack: Ack, body: dict[str, Any]) -> None:
        done = run_click(svc, ack, body, lambda: feedback.vote(
            svc, team_id=team_of(body), user_id=user_of(body), value=action_value(body)))
        if done is not None and done.changed:
            tell(svc, body, THANKS[done.vote] + " Press the other one to change it.")
