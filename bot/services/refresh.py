"""Keep Slack in step with stored state: post a turn, re-render a turn or the header."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, defer, joinedload, selectinload

from bot import ids
from bot.errors import SlackError
from bot.render.session import render_header
from bot.render.turn import render_turn
from bot.render.views import HeaderView, TurnView
from bot.services import outbox, outbox_slack, present  # noqa: F401  (outbox_slack: the sender)
from bot.services.container import Services
from bot.services.sessions import LOCK_ROW
from storage.db import unit_of_work
from storage.models import AISession, AISessionStep, SessionFact, SessionSuggestedFix, Tree, User

log = logging.getLogger(__name__)

# The session's large JSON columns, which neither the header nor a turn message shows.
HISTORY = (defer(AISession.conversation_messages), defer(AISession.engine_state))
# What a header shows, read with the session row (one statement, not one per relation).
HEADER_LOAD = (
    joinedload(AISession.user),
    joinedload(AISession.escalated_to),
    joinedload(AISession.matched_flow).load_only(Tree.id, Tree.title),
    *HISTORY,
)
# Lock the session row only: the joined rows are read, not locked (PostgreSQL refuses to
# lock the nullable side of an outer join).
LOCK_SESSION: dict[str, Any] = {**LOCK_ROW, "of": AISession}


def _users(db: Session, fixes: Iterable[SessionSuggestedFix]) -> dict[object, User]:
    ids = {f.decided_by_id for f in fixes if f.decided_by_id}
    if not ids:
        return {}
    return {u.id: u for u in db.execute(select(User).where(User.id.in_(ids))).scalars()}


def turn_message_view(
    db: Session, session: AISession, step: AISessionStep,
    facts: list[SessionFact] | None = None,
) -> TurnView:
    """The view of a turn's message; ``facts``: the turn's own facts when the caller has
    them (so the session's whole fact list need not be read)."""
    fix_ids = set((step.content or {}).get("fix_ids", []))
    shown = [f for f in session.fixes if str(f.id) in fix_ids]
    return present.turn_view(session, step, _users(db, shown), session.user.tz, facts=facts)


@dataclass(frozen=True)
class TurnMessage:
    """A turn's message recorded in the outbox as our attempt in flight (``deliver_turn``
    sends it right after the commit)."""
    session_id: uuid.UUID
    message_id: uuid.UUID | None  # None: recorded before (same dedupe key)
    payload: dict[str, Any]


def record_turn(
    svc: Services, db: Session, session_id: uuid.UUID, step_id: uuid.UUID, view: TurnView,
    channel: str, thread: str, *, dedupe_key: str | None = None,
) -> TurnMessage:
    """Record a turn's message in the outbox, in the caller's transaction (a turn records it
    in the one that stores the turn: the answer and its message commit together)."""
    msg = render_turn(view)
    after = {"session_id": str(session_id), "step_id": str(step_id),
             "fix_ids": [f.id for f in view.fixes],
             "item_ids": sorted({q.id for q in view.questions} | {a.id for a in view.actions})}
    payload = {"channel": channel, "thread_ts": thread, "text": msg.text, "blocks": msg.blocks,
               "after": after}
    message_id = outbox.enqueue(db, target="slack", kind="turn",
                                dedupe_key=dedupe_key or f"turn:{step_id}", payload=payload,
                                now=svc.clock(), session_id=session_id, claimed=True)
    return TurnMessage(session_id, message_id, payload)


def post_turn(
    svc: Services, session_id: uuid.UUID, step_id: uuid.UUID, view: TurnView,
    channel: str, thread: str, superseded_message_ts: list[str], *,
    dedupe_key: str | None = None,
) -> str | None:
    """Post a turn's message in the thread through the outbox (recorded first, retried by
    ``deliver_outputs`` when Slack fails), remember its ts on the step and its items once
    posted, re-render the turn messages whose fixes it superseded, and refresh the header."""
    with unit_of_work(svc.factory) as db:
        recorded = record_turn(svc, db, session_id, step_id, view, channel, thread,
                               dedupe_key=dedupe_key)
    return deliver_turn(svc, recorded, superseded_message_ts)


def deliver_turn(svc: Services, recorded: TurnMessage,
                 superseded_message_ts: list[str]) -> str | None:
    """Send a recorded turn message (``record_turn``); see ``post_turn``."""
    session_id = recorded.session_id
    ts = (outbox.send_claimed(svc, recorded.message_id, "slack", "turn", recorded.payload)
          if recorded.message_id is not None else None)
    if superseded_message_ts:
        refresh_turn_messages(svc, session_id, superseded_message_ts)
    if ts is None:
        log.warning("turn of session %s not posted yet; the outbox will retry", session_id)
        refresh_header(svc, session_id)
    return ts


def _turn_recorded(svc: Services, db: Session, payload: dict[str, Any],
                   ts: str) -> tuple[str, str, HeaderView] | None:
    """Once a turn's message is in Slack, in the transaction that marks it sent: its ts on the
    step, fixes and lane items; returns the header to show."""
    after = payload.get("after") or {}
    session_id, step_id = uuid.UUID(after["session_id"]), uuid.UUID(after["step_id"])
    fix_ids = [uuid.UUID(f) for f in after.get("fix_ids") or []]
    return _remember(svc, db, session_id, step_id, fix_ids, set(after.get("item_ids") or []), ts)


def _turn_sent(svc: Services, payload: dict[str, Any], ts: str,
               header: tuple[str, str, HeaderView] | None) -> None:
    session_id = uuid.UUID((payload.get("after") or {})["session_id"])
    if header is None:
        refresh_header(svc, session_id)
    else:
        _update_header(svc, session_id, *header)


def _turn_undeliverable(svc: Services, payload: dict[str, Any]) -> None:
    """Told once in the thread (plain, so a layout problem can't refuse it too), with Retry."""
    text = ("⚠️ My last answer could not be posted to Slack after several tries. "
            "Nothing is lost: press Retry to post it again.")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "elements": [{
            "type": "button", "action_id": ids.RESEND, "value": payload["outbox_id"],
            "text": {"type": "plain_text", "text": "Retry"}}]},
    ]
    try:
        svc.notifier.post(str(payload["channel"]), text, blocks,
                          thread_ts=payload.get("thread_ts"))
    except SlackError as exc:
        log.warning("could not tell the thread about an undelivered answer: %s", exc.message)


outbox.SENT["turn"] = outbox.SentHooks(after=_turn_sent, in_tx=_turn_recorded)
outbox.ON_GIVE_UP["turn"] = _turn_undeliverable


def _remember(
    svc: Services, db: Session, session_id: uuid.UUID, step_id: uuid.UUID,
    fix_ids: list[uuid.UUID], wanted: set[str], ts: str,
) -> tuple[str, str, HeaderView] | None:
    # Clicks edit the lane too: its JSON is a read-modify-write under the row lock.
    session = db.get(AISession, session_id, with_for_update=LOCK_SESSION, options=HEADER_LOAD)
    if session is None:
        return None
    db.execute(update(AISessionStep).where(AISessionStep.id == step_id).values(slack_ts=ts))
    if fix_ids:
        db.execute(
            update(SessionSuggestedFix).where(SessionSuggestedFix.id.in_(fix_ids))
            .values(slack_message_ts=ts).execution_options(synchronize_session=False)
        )
    if wanted:
        lane = dict(session.pending_task_lane or {})
        for key in ("questions", "actions"):
            lane[key] = [
                {**item, "message_ts": ts} if item.get("id") in wanted else item
                for item in lane.get(key) or []
            ]
        session.pending_task_lane = lane
    return _header_of(svc, session)


def _header_of(svc: Services, session: AISession) -> tuple[str, str, HeaderView] | None:
    if not session.root_message_ts:
        return None
    view = present.header_view(session, svc.clock())
    return session.slack_channel_id, session.root_message_ts, view


def _update_header(svc: Services, session_id: uuid.UUID, channel: str, ts: str,
                   view: HeaderView) -> None:
    msg = render_header(view)
    try:
        svc.notifier.update(channel, ts, msg.text, msg.blocks)
    except SlackError as exc:
        log.warning("could not update the header of %s: %s", session_id, exc.message)


def refresh_turn_messages(svc: Services, session_id: uuid.UUID, message_ts: list[str]) -> None:
    """Re-render turn messages in place (after a click, or when a fix was superseded)."""
    for ts in dict.fromkeys(message_ts):
        with unit_of_work(svc.factory) as db:
            session = db.get(
                AISession, session_id,
                options=(joinedload(AISession.user), selectinload(AISession.fixes), *HISTORY),
            )
            if session is None:
                return
            step = db.execute(
                select(AISessionStep).where(
                    AISessionStep.session_id == session_id, AISessionStep.slack_ts == ts
                )
            ).scalar_one_or_none()
            if step is None:
                continue
            view = turn_message_view(db, session, step)
            channel = session.slack_channel_id
        msg = render_turn(view)
        try:
            svc.notifier.update(channel, ts, msg.text, msg.blocks)
        except SlackError as exc:
            log.warning("could not update a turn message of %s: %s", session_id, exc.message)


def refresh_header(svc: Services, session_id: uuid.UUID) -> None:
    with unit_of_work(svc.factory) as db:
        session = db.get(AISession, session_id, options=HEADER_LOAD)
        header = _header_of(svc, session) if session is not None else None
    if header is not None:
        _update_header(svc, session_id, *header)
