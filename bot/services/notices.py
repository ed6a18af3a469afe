"""Telling a person something outside a turn: an ephemeral note in the channel (a DM when
that fails), a refusal that frees its delivery, a private reply to a slash command."""

from __future__ import annotations

import logging
import uuid

from slack_sdk.webhook import WebhookClient

from bot.errors import SlackError, readable
from bot.services import acks
from bot.services.container import Services

log = logging.getLogger(__name__)


def tell(svc: Services, user: str, channel: str, thread_ts: str | None, text: str) -> None:
    """An ephemeral note to ``user`` in ``channel`` (falls back to a DM)."""
    if not user:
        return
    try:
        if channel:
            svc.notifier.ephemeral(channel, user, text, thread_ts=thread_ts)
            return
    except SlackError:
        pass
    try:
        svc.notifier.post(user, text)
    except SlackError:
        log.warning("could not tell %s: %s", user, text[:80])


def refuse(svc: Services, user: str, channel: str, thread_ts: str | None, exc: Exception, *,
           event_id: uuid.UUID | None = None, key: str | None = None) -> None:
    """A click or command was refused: free its delivery (so it can be repeated once it is
    allowed) and tell the person why."""
    acks.release(svc.factory, event_id=event_id, key=key)
    tell(svc, user, channel, thread_ts, f"⚠️ {readable(exc)}")


def reply_privately(response_url: str | None, text: str) -> None:
    """An ephemeral answer to a slash command through its ``response_url``."""
    if not response_url:
        return
    try:
        WebhookClient(response_url).send(text=text, response_type="ephemeral")
    except Exception:
        pass
