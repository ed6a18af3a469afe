"""The nudge's own buttons: Still working and Snooze (Park / Resolve / Escalate are the
session controls' handlers). The state change happens before the ack; the nudge message is
then replaced by a one-line note of what was chosen."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot import ids
from bot.errors import SlackError
from bot.render.blocks import Message
from bot.services import nudges
from bot.services.container import Services
from handlers.common import action_value, channel_of, run_click, team_of, user_of


def _replace_nudge(svc: Services, body: dict[str, Any], msg: Message) -> None:
    ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts")
    channel = channel_of(body)
    if not ts or not channel:
        return
    try:
        svc.notifier.update(channel, str(ts), msg.text, msg.blocks)
    except SlackError:
        pass  # the choice is saved; the old buttons just stay visible


def register(app: App, svc: Services) -> None:
    @app.action(ids.prefixed(ids.NUDGE_STILL_WORKING))
    def on_still_working(ack: Ack, body: dict[str, Any]) -> None:
        msg = run_click(svc, ack, body, lambda: nudges.still_working(
            svc, team_id=team_of(body), user_id=user_of(body), session_id=action_value(body)))
        if msg is not None:  # None: refused, and the clicker was told why
            _replace_nudge(svc, body, msg)

    @app.action(ids.prefixed(ids.NUDGE_SNOOZE))
    def on_snooze(ack: Ack, body: dict[str, Any]) -> None:
        msg = run_click(svc, ack, body, lambda: nudges.snooze(
            svc, team_id=team_of(body), user_id=user_of(body), value=action_value(body)))
        if msg is not None:
            _replace_nudge(svc, body, msg)
