"""Events: mentions open sessions, thread replies drive them; install lifecycle."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App
from slack_bolt.context import BoltContext

from bot import ids
from bot.domain import status as st
from bot.errors import SlackError
from bot.services import mentions
from bot.services.container import Services

log = logging.getLogger(__name__)


def register(app: App, svc: Services) -> None:
    assert ids.EVENTS  # the manifest test keeps this list and these listeners in step

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], context: BoltContext) -> None:
        event_id = context.get("fp_event_id")
        svc.later("mention", {"event": event, "team_id": context.team_id,
                              "event_id": str(event_id) if event_id else None})

    @app.event("message")
    def on_message(event: dict[str, Any], context: BoltContext) -> None:
        handle_reply(svc, event, context)

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any], context: BoltContext) -> None:
        from handlers.home import publish_home

        publish_home(svc, str(context.team_id), str(event.get("user")))


def handle_reply(svc: Services, event: dict[str, Any], context: BoltContext) -> None:
    session_id = context.get("fp_session_id")
    if not isinstance(session_id, uuid.UUID):
        return
    channel, user = str(event.get("channel")), str(event.get("user"))
    status = str(context.get("fp_session_status"))
    if not st.accepts_turns(status):
        _explain_once(svc, session_id, status, channel, user, str(event.get("thread_ts")),
                      str(context.get("fp_status_since") or ""))
        return
    # The turn creates unseen users, notes who spoke and reacts 👀 (in a worker process in
    # queue mode, where the delivery's own transaction already woke it): nothing else here.
    if not svc.dispatch.queued:
        svc.kick(session_id)


def _explain_once(svc: Services, session_id: uuid.UUID, status: str, channel: str, user: str,
                  thread_ts: str, since: str) -> None:
    """A parked session says so once per person per park (``since``: when it was parked)."""
    first = mentions.first_notice(svc, session_id, status, since, user)
    if not first and status == "paused":
        return  # a parked session says so once
    try:
        svc.notifier.ephemeral(channel, user, st.explain_no_turns(status), thread_ts=thread_ts)
    except SlackError:
        pass


__all__ = ["register"]
