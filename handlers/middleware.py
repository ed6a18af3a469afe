"""Global middleware: record every delivery (unique key) before Slack gets its 200.

A duplicate (Slack's retry, a double click, a mention that also arrives as a message event)
is answered 200 here and goes no further. A thread message costs one indexed lookup when its
thread holds no session, and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltResponse
from slack_bolt.context import BoltContext

from bot import ids
from bot.domain import status as st
from bot.redact import redact
from bot.services import acks
from bot.services.attachments import refs_from_event
from bot.services.container import Services
from bot.services.sessions import workspace_patterns

log = logging.getLogger(__name__)
COUNTED_SUBTYPES = (None, "thread_broadcast", "file_share")
MAX_REPLY_CHARS = 20_000


def delivery_key(body: dict[str, Any]) -> tuple[str, str] | None:
    """(key, kind) for a payload, or None for deliveries we do not record."""
    kind = body.get("type")
    if kind == "event_callback":
        event = body.get("event") or {}
        etype = event.get("type")
        if etype in ("message", "app_mention"):
            return f"msg:{event.get('channel')}:{event.get('ts')}", etype
        return f"evt:{body.get('event_id')}", str(etype)
    if body.get("command"):
        return f"cmd:{body.get('trigger_id') or body.get('response_url')}", "command"
    if kind == "block_actions":
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        where = container.get("message_ts") or container.get("view_id") or ""
        user = (body.get("user") or {}).get("id")
        value = action.get("value") or (action.get("selected_option") or {}).get("value")
        return f"act:{where}:{action.get('action_id')}:{value}:{user}:{_shown(body, action)}", \
            "block_action"
    if kind == "view_submission":
        view = body.get("view") or {}
        return f"view:{view.get('id')}:{view.get('hash')}", "view_submission"
    if kind in ("message_action", "shortcut"):
        return f"sc:{body.get('trigger_id')}", "shortcut"
    return None


def queued_work(svc: Services, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The work a delivery stands for, recorded in the same INSERT as the delivery, so an
    ack means the work is accepted: opening a session (both modes: it runs after the ack),
    and in queue mode a turn button too (inline, a click's change is made before its ack).
    None: handled by its listener as usual."""
    from handlers.actions import click_decision, click_payload
    from handlers.commands import command_payload, opens_session

    if body.get("command") and opens_session(body):
        return "open_command", command_payload(body)
    if not svc.dispatch.queued:
        return None
    if body.get("type") == "block_actions":
        decision = click_decision(body)
        if decision is not None:
            return "click", click_payload(body, decision, None)
    return None


def _shown(body: dict[str, Any], action: dict[str, Any]) -> str:
    """What the person clicked on: Slack sends the message as it was displayed. Two clicks on
    the same rendering are one decision (a double click); a click after the message changed
    (park, resume, park again) is a new one. Without a message (ephemeral, modal), each
    click stands alone and the domain's rules refuse a repeat."""
    message = body.get("message")
    if str(action.get("action_id") or "").startswith(ids.TURN_FEEDBACK):
        # 👍/👎 leave the message as it was: 👍, 👎, 👍 again is a change, not a repeat (the
        # service stores one vote per person per turn, so a real double click is harmless).
        return str(action.get("action_ts") or "")
    if isinstance(message, dict) and message.get("blocks"):
        digest = hashlib.sha1(
            json.dumps(message["blocks"], sort_keys=True).encode(), usedforsecurity=False
        )
        return digest.hexdigest()[:16]
    return str(action.get("action_ts") or "")


def ignorable_message(event: dict[str, Any], bot_user_id: str | None) -> bool:
    """Bots (ours included), edits, deletions, joins, top-level chatter, and message events
    that mention us (the ``app_mention`` event handles those, once)."""
    if event.get("type") != "message":
        return False
    if event.get("subtype") not in COUNTED_SUBTYPES or event.get("bot_id"):
        return True
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts"):
        return True
    return bool(bot_user_id and f"<@{bot_user_id}>" in (event.get("text") or ""))


def foreign_author(event: dict[str, Any], team_id: str | None) -> bool:
    """A message by a user of another workspace (a Slack Connect channel): never a turn input
    nor a participant. Logged, since it is a refusal nobody sees."""
    author_team = event.get("user_team") or event.get("team")
    if not (author_team and team_id and author_team != team_id):
        return False
    log.info("ignored a message from a user of workspace %s in channel %s (ours: %s)",
             author_team, event.get("channel"), team_id)
    return True


def make_delivery_middleware(svc: Services) -> Callable[..., Any]:
    def record_delivery(
        body: dict[str, Any], context: BoltContext, next: Callable[[], None]
    ) -> BoltResponse | None:
        found = delivery_key(body)
        if found is None:
            next()
            return None
        key, kind = found
        event = body.get("event") or {}
        bot_user_id = context.bot_user_id or svc.bot_user_id
        if kind == "message" and ignorable_message(event, bot_user_id):
            return BoltResponse(status=200, body="")
        team_id = context.team_id or body.get("team_id") or (body.get("team") or {}).get("id")
        if kind in ("message", "app_mention") and foreign_author(event, team_id):
            return BoltResponse(status=200, body="")
        now = svc.clock()
        if kind == "message":
            return _record_reply(svc, body, event, key, team_id, context, next)
        work = queued_work(svc, body)
        queued = work is not None and svc.dispatch.queued
        event_id = acks.record_delivery(
            svc.factory, key=key, kind=kind, now=now, team_id=team_id, work=work,
            wake=queued and svc.dispatch.notifies,
        )
        if event_id is None:
            svc.metrics.deliveries.labels(kind, "duplicate").inc()
            return BoltResponse(status=200, body="")
        svc.metrics.deliveries.labels(kind, "new").inc()
        if work is not None:
            # Recorded work is acked here: its listener would only ack (after Bolt's listener
            # runner polls for that ack every 10 ms on another thread). Queued, a worker
            # process takes it (woken by the job its statement deferred, or by ``recorded()``); on
            # threads, this process runs it now; if it dies first, ``recover_turns`` runs it
            # (exactly once).
            if queued:
                svc.dispatch.recorded()
            else:
                svc.later_recorded(event_id, *work)
            return BoltResponse(status=200, body="")
        context["fp_event_id"] = event_id
        next()
        return None

    return record_delivery


def _record_reply(
    svc: Services, body: dict[str, Any], event: dict[str, Any], key: str, team_id: str | None,
    context: BoltContext, next: Callable[[], None],
) -> BoltResponse | None:
    queued = svc.dispatch.queued
    patterns = workspace_patterns(svc, team_id or "")  # cached a minute
    text = (event.get("text") or "")[:MAX_REPLY_CHARS]
    red = redact(text, patterns)
    payload = {"author": event.get("user"), "text": red.text, "ts": event.get("ts"),
               "team_id": team_id, "redacted": red.count}
    files = refs_from_event(event)  # descriptions only: downloaded after the ack (issue 18)
    if files:
        payload["files"] = files
    # In queue mode the session's turn job is deferred with it; nothing is left here.
    found = acks.record_reply(
        svc.factory, channel=str(event.get("channel")), thread_ts=str(event.get("thread_ts")),
        key=key, now=svc.clock(), team_id=team_id, payload=payload,
        defer=queued and svc.dispatch.notifies,
    )
    if found is None:
        return BoltResponse(status=200, body="")  # not a session's thread
    if found.foreign:
        log.info("ignored a delivery from workspace %s for a session of another workspace "
                 "(channel %s)", team_id, event.get("channel"))
        return BoltResponse(status=200, body="")
    if found.event_id is None:
        svc.metrics.deliveries.labels("message", "duplicate").inc()
        return BoltResponse(status=200, body="")
    svc.metrics.deliveries.labels("message", "new").inc()
    if queued and st.accepts_turns(found.status):
        svc.dispatch.recorded()
        return BoltResponse(status=200, body="")  # the worker has it
    context["fp_event_id"] = found.event_id
    context["fp_session_id"] = found.session_id
    context["fp_session_status"] = found.status
    context["fp_status_since"] = (
        found.status_changed_at.isoformat() if found.status_changed_at else ""
    )
    next()
    return None
