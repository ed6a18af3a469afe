"""Use cases behind the event listeners (handlers/events.py): a mention in a session's thread
is a reply to it, and a parked session says why it ignores replies once per person."""

from __future__ import annotations

import uuid
from typing import Any

from bot.services.attachments import refs_from_event
from bot.services.container import Services
from storage.db import unit_of_work
from storage.models import AISession
from storage.queries import deliveries
from storage.queries.threads import open_session_in_thread


def mention_as_reply(svc: Services, event: dict[str, Any], text: str, team_id: str,
                     event_id: uuid.UUID | None) -> uuid.UUID | None:
    """A mention in the thread of an open session is that session's turn input: the id of
    the session it went to, or None when the thread holds no open session."""
    channel, thread_ts = str(event.get("channel")), str(event.get("thread_ts"))
    with unit_of_work(svc.factory) as db:
        session = open_session_in_thread(db, channel, thread_ts)
        if session is None:
            return None
        _as_reply(svc, db, session, event, text, team_id, event_id)
        return session.id


def _as_reply(svc: Services, db: Any, session: AISession, event: dict[str, Any], text: str,
              team_id: str, event_id: uuid.UUID | None) -> None:
    payload: dict[str, Any] = {"author": event.get("user"), "text": text, "ts": event.get("ts"),
                               "team_id": team_id}
    files = refs_from_event(event)  # read by the turn (bot/services/attachments.py)
    if files:
        payload["files"] = files
    if event_id is not None:
        deliveries.attach(db, event_id, session_id=session.id, kind="reply", payload=payload)
    else:
        deliveries.add_turn_input(db, session, kind="reply", now=svc.clock(), payload=payload)


def first_notice(svc: Services, session_id: uuid.UUID, status: str, since: str,
                 user: str) -> bool:
    """True the first time this person is told about this status (since ``since``)."""
    with unit_of_work(svc.factory) as db:
        first = deliveries.record(db, key=f"told:{session_id}:{status}:{since}:{user}",
                                  kind="notice",
                                  now=svc.clock(), status="done")
    return first is not None
