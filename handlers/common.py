"""What every listener shares: who/where a payload is from, and telling a person something."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from bot.errors import readable
from bot.services import notices
from bot.services.container import Services

log = logging.getLogger(__name__)
T = TypeVar("T")


def team_of(body: dict[str, Any]) -> str:
    return str(
        body.get("team_id") or (body.get("team") or {}).get("id")
        or (body.get("user") or {}).get("team_id") or ""
    )


def user_of(body: dict[str, Any]) -> str:
    user = body.get("user")
    if isinstance(user, dict):
        return str(user.get("id") or "")
    return str(body.get("user_id") or (body.get("event") or {}).get("user") or "")


def channel_of(body: dict[str, Any]) -> str:
    channel = body.get("channel")
    if isinstance(channel, dict):
        return str(channel.get("id") or "")
    return str(body.get("channel_id") or (body.get("container") or {}).get("channel_id") or "")


def thread_of(body: dict[str, Any]) -> str | None:
    container = body.get("container") or {}
    message = body.get("message") or {}
    return container.get("thread_ts") or message.get("thread_ts") or None


def tell(svc: Services, body: dict[str, Any], text: str) -> None:
    """An ephemeral note to the person behind ``body`` (falls back to a DM)."""
    notices.tell(svc, user_of(body), channel_of(body), thread_of(body), text)


def refuse(svc: Services, body: dict[str, Any], exc: Exception,
           event_id: uuid.UUID | None = None) -> None:
    """A click or command was refused: free its delivery (so it can be repeated once it is
    allowed) and tell the person why."""
    from handlers.middleware import delivery_key

    found = delivery_key(body) if event_id is None else None
    notices.refuse(svc, user_of(body), channel_of(body), thread_of(body), exc,
                   event_id=event_id, key=found[0] if found else None)


def action_value(body: dict[str, Any]) -> str:
    """The clicked button's value, or a menu's chosen option (block_actions carry the one
    action taken first)."""
    action = (body.get("actions") or [{}])[0]
    return str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")


def run_click(svc: Services, ack: Callable[..., Any], body: dict[str, Any],
              change: Callable[[], T], *, ack_first: bool = False) -> T | None:
    """The one error path of a button: the change, then the ack (``ack_first``: the ack,
    then the change, for work that may outlast Slack's 3 seconds). A refusal is acked, its
    delivery freed and told to the clicker ephemerally (``None``)."""
    if ack_first:
        ack()
    try:
        done = change()
    except Exception as exc:
        if not ack_first:
            ack()
        refuse(svc, body, exc)
        return None
    if not ack_first:
        ack()
    return done


def run_submit(ack: Callable[..., Any], block_id: str, change: Callable[[], T]) -> T | None:
    """A modal's change, then the ack; a refusal is shown under the modal's ``block_id``
    input (None) so the person can fix it without losing what they typed."""
    try:
        done = change()
    except Exception as exc:
        ack(response_action="errors", errors={block_id: _short(readable(exc))})
        return None
    ack()
    return done


def _short(text: str) -> str:
    """A modal field error (Slack shows a short line under the input)."""
    return text if len(text) <= 300 else text[:299] + "…"
