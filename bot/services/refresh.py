"""Keep Slack in step with stored state: post a turn, re-render a turn or the header."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import SlackError
from bot.render.session import render_header
from bot.render.turn import render_turn
from bot.services import present
from bot.services.container import Services
from bot.services.sessions import LOCK_ROW
from storage.db import in_transaction, unit_of_work
from storage.models import AISession, AISessionStep, User

log = logging.getLogger(__name__)


def _users(db: object, session: AISession) -> dict[object, User]:
    ids = {f.decided_by_id for f in session.fixes if f.decided_by_id}
    if not ids:
        return {}
    rows = db.execute(select(User).where(User.id.in_(ids))).scalars()  # type: ignore[attr-defined]
    return {u.id: u for u in rows}


def post_turn_message(svc: Services, session_id: uuid.UUID, step_id: uuid.UUID) -> str | None:
    """Post a turn's message in the thread and remember its ts on the step and its items."""
    with unit_of_work(svc.factory) as db:
        session = db.get(AISession, session_id)
        step = db.get(AISessionStep, step_id)
        if session is None or step is None:
            return None
        view = present.turn_view(session, step, _users(db, session), session.user.tz)
        channel, thread = session.slack_channel_id, session.slack_thread_ts
    msg = render_turn(view)
    try:
        ts = svc.notifier.post(channel, msg.text, msg.blocks, thread_ts=thread)
    except SlackError as exc:
        log.warning("could not post turn of session %s: %s", session_id, exc.message)
        return None

    def remember(db: Session) -> None:
        session = db.get(AISession, session_id, with_for_update=LOCK_ROW)
        step = db.get(AISessionStep, step_id)
        if session is None or step is None:
            return
        step.slack_ts = ts
        content = step.content or {}
        wanted = set(content.get("question_ids", [])) | set(content.get("action_ids", []))
        lane = dict(session.pending_task_lane or {})
        for key in ("questions", "actions"):
            lane[key] = [
                {**item, "message_ts": ts} if item.get("id") in wanted else item
                for item in lane.get(key) or []
            ]
        session.pending_task_lane = lane
        for fix in session.fixes:
            if str(fix.id) in content.get("fix_ids", []):
                fix.slack_message_ts = ts

    in_transaction(svc.factory, remember)
    return ts


def refresh_turn_messages(svc: Services, session_id: uuid.UUID, message_ts: list[str]) -> None:
    """Re-render turn messages in place (after a click, or when a fix was superseded)."""
    for ts in dict.fromkeys(message_ts):
        with unit_of_work(svc.factory) as db:
            session = db.get(AISession, session_id)
            if session is None:
                return
            step = db.execute(
                select(AISessionStep).where(
                    AISessionStep.session_id == session_id, AISessionStep.slack_ts == ts
                )
            ).scalar_one_or_none()
            if step is None:
                continue
            view = present.turn_view(session, step, _users(db, session), session.user.tz)
            channel = session.slack_channel_id
        msg = render_turn(view)
        try:
            svc.notifier.update(channel, ts, msg.text, msg.blocks)
        except SlackError as exc:
            log.warning("could not update a turn message of %s: %s", session_id, exc.message)


def refresh_header(svc: Services, session_id: uuid.UUID) -> None:
    now = svc.clock()
    with unit_of_work(svc.factory) as db:
        session = db.get(AISession, session_id)
        if session is None or not session.root_message_ts:
            return
        view = present.header_view(session, now)
        channel, ts = session.slack_channel_id, session.root_message_ts
    msg = render_header(view)
    try:
        svc.notifier.update(channel, ts, msg.text, msg.blocks)
    except SlackError as exc:
        log.warning("could not update the header of %s: %s", session_id, exc.message)
