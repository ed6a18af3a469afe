"""Events: mentions open sessions, thread replies drive them; install lifecycle."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from slack_bolt import App
from slack_bolt.context import BoltContext

from bot import ids
from bot.domain import status as st
from bot.errors import SlackError
from bot.redact import redact
from bot.services import mentions, tickets
from bot.services.attachments import refs_from_event
from bot.services.container import Services
from bot.services.sessions import (
    Intake,
    open_session,
    workspace_patterns,
)
from handlers.common import readable

log = logging.getLogger(__name__)
MENTION = re.compile(r"<@[UW][A-Z0-9]+(\|[^>]*)?>")


def register(app: App, svc: Services) -> None:
    assert ids.EVENTS  # the manifest test keeps this list and these listeners in step

    assert svc.dispatch is not None
    svc.dispatch.register("mention", mention_work)

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


def mention_work(svc: Services, p: dict[str, Any]) -> None:
    """Work after the ack: a mention opens a session (or is a reply in a session's thread)."""
    event_id = uuid.UUID(p["event_id"]) if p.get("event_id") else None
    handle_mention(svc, p["event"], str(p["team_id"]), event_id)


def handle_mention(svc: Services, event: dict[str, Any], team_id: str,
                   event_id: uuid.UUID | None) -> None:
    channel, user = str(event.get("channel")), str(event.get("user") or "")
    ts, thread_ts = str(event.get("ts")), event.get("thread_ts")
    text = MENTION.sub("", event.get("text") or "").strip()
    if not user or event.get("bot_id"):
        return
    if thread_ts:
        patterns = workspace_patterns(svc, team_id)
        session_id = mentions.mention_as_reply(svc, event, redact(text, patterns).text,
                                               team_id, event_id)
        if session_id is not None:
            _after_reply(svc, channel, ts, session_id)
            return
    intake = Intake(text=text, source="mention", files=refs_from_event(event))
    if thread_ts:
        intake.source = "thread"
        intake.thread_messages = [
            f"{m.get('user', 'someone')}: {m.get('text', '')}"
            for m in svc.notifier.thread_messages(channel, str(thread_ts))
            if m.get("ts") != ts and not m.get("bot_id")
        ]
    if not text and not intake.thread_messages and not intake.files:
        svc.notifier.ephemeral(channel, user, "Tell me the problem: `@FlowPilot <problem>`.",
                               thread_ts=thread_ts)
        return
    try:
        number = tickets.ticket_number(text)  # "#12345" or a ticket link (issue 13)
        if number is not None and tickets.has_psa(svc, team_id):
            tickets.open_from_ticket(svc, team_id=team_id, user_id=user, channel=channel,
                                     number=number, thread_ts=str(thread_ts or ts),
                                     source="mention", text=text)
            return
        open_session(svc, team_id=team_id, user_id=user, channel=channel,
                     thread_ts=str(thread_ts or ts), intake=intake)
    except Exception as exc:
        svc.notifier.ephemeral(channel, user, f"⚠️ Could not open the session: {readable(exc)}",
                               thread_ts=thread_ts)


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
    if svc.dispatch is not None and not svc.dispatch.queued:
        svc.kick(session_id)


def _after_reply(svc: Services, channel: str, ts: str, session_id: uuid.UUID) -> None:
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
