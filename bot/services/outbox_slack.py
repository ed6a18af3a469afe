"""The outbox's Slack sender: ``chat.postMessage`` with our metadata marker (event_type
``flowpilot_outbox``, ``event_payload.outbox_id``), and the marker search that tells whether
an attempt whose outcome we never saw did post (https://api.slack.com/metadata/using)."""

from __future__ import annotations

import uuid
from typing import Any

from bot.errors import SlackError
from bot.services import outbox
from bot.services.container import Services

# Retrying cannot help with these (https://api.slack.com/methods/chat.postMessage#errors).
PERMANENT = frozenset({
    "channel_not_found", "is_archived", "not_in_channel", "invalid_auth", "account_inactive",
    "token_revoked", "no_permission", "missing_scope", "no_text", "too_many_attachments",
    "restricted_action", "msg_too_long", "invalid_blocks", "invalid_blocks_format",
    "msg_blocks_too_long", "invalid_metadata_format", "metadata_too_large",
})


def marker(message_id: uuid.UUID, session_id: object = None) -> dict[str, Any]:
    """Our marker; it also carries the session id that ``session_metadata`` would have."""
    event: dict[str, Any] = {"outbox_id": str(message_id)}
    if session_id:
        event["session_id"] = str(session_id)
    return {"event_type": outbox.MARKER, "event_payload": event}


class SlackSender:
    def send(self, svc: Services, message_id: uuid.UUID, payload: dict[str, Any]) -> outbox.Outcome:
        try:
            ts = svc.notifier.post(
                str(payload["channel"]), str(payload.get("text") or ""), payload.get("blocks"),
                thread_ts=payload.get("thread_ts"),
                metadata=marker(message_id, payload.get("session_id")),
            )
        except SlackError as exc:
            return outbox.Outcome(error=exc.code or "unreachable",
                                  retry_after=exc.retry_after,
                                  permanent=(exc.code or "") in PERMANENT)
        return outbox.Outcome(ref=ts) if ts else outbox.Outcome(error="no ts")

    def find(self, svc: Services, message_id: uuid.UUID, payload: dict[str, Any]) -> str | None:
        # Slack can't say (a 429 on the history read…): raise, so the attempt is retried
        # later instead of posting blind.
        thread = payload.get("thread_ts")
        if not thread:  # a top-level post (header, escalation package): the channel
            return svc.notifier.find_channel_marker(
                str(payload["channel"]), outbox.MARKER, "outbox_id", str(message_id),
                oldest=payload.get("oldest"))
        return svc.notifier.find_marker(str(payload["channel"]), str(thread),
                                        outbox.MARKER, "outbox_id", str(message_id))

outbox.SENDERS.setdefault("slack", SlackSender())
