"""``nudge_stale``: one nudge per idle active session, parking it after too many."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_

from bot.domain import status as st
from bot.domain.nudges import next_working_moment, within
from bot.domain.timekeeping import seconds_to_text
from bot.jobs.common import (
    DONE,
    FAILED,
    SKIPPED,
    JobResult,
    claim,
    each,
    move,
    note,
    refresh,
    release,
    say,
)
from bot.render.blocks import Message
from bot.render.outputs import render_nudge
from bot.services import outbox, outbox_slack  # noqa: F401  (outbox_slack: the sender)
from bot.services.container import Services
from bot.services.jobconfig import config
from storage.db import unit_of_work
from storage.models import AISession

log = logging.getLogger(__name__)



def nudge_where(now: datetime) -> list[ColumnElement[bool]]:
    return [AISession.status == st.ACTIVE, AISession.next_nudge_at <= now,
            or_(AISession.snoozed_until.is_(None), AISession.snoozed_until <= now)]


def nudge_stale(svc: Services, now: datetime) -> JobResult:
    """One nudge per idle active session, in working hours, unless someone spoke recently;
    after ``max_nudges`` unanswered nudges the session is parked."""
    ids_ = claim(svc, now, nudge_where(now), AISession.next_nudge_at)
    return each(svc, JobResult("nudge_stale"), ids_, lambda sid: _nudge_one(svc, sid, now))


def _nudge_one(svc: Services, sid: uuid.UUID, now: datetime) -> str:
    parked: Message | None = None
    message_id: uuid.UUID | None = None
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return SKIPPED
        if s.status != st.ACTIVE or s.next_nudge_at is None or s.next_nudge_at > now or (
                s.snoozed_until is not None and s.snoozed_until > now):
            s.job_lease_until = None  # changed since the claim
            return SKIPPED
        cfg = config(svc, db, s.account)
        tz = s.user.tz if s.user else "UTC"
        spoke = s.last_human_activity_at
        if spoke is not None and spoke > now - cfg.nudge_after:
            s.next_nudge_at, s.job_lease_until = spoke + cfg.nudge_after, None
            return SKIPPED
        if not within(cfg.hours, now, tz):
            s.next_nudge_at, s.job_lease_until = next_working_moment(cfg.hours, now, tz), None
            return SKIPPED
        idle = seconds_to_text((now - (s.last_activity_at or s.created_at)).total_seconds())
        if s.nudge_count >= cfg.max_nudges:
            move(db, s, st.PARK, now, f"{s.nudge_count} nudges unanswered")
            parked = note(f"⏸️ Parked automatically: {s.nudge_count} nudges went unanswered "
                          f"(quiet for {idle}). Press Resume to carry on.", sid, resume=True)
            channel, thread = s.slack_channel_id, s.slack_thread_ts
        else:
            # Recorded in the outbox with the nudge count: the post is retried (with the
            # marker check) until Slack has it, never doubled.
            msg = render_nudge(str(sid), s.user.slack_user_id if s.user else None, idle)
            previous = s.last_nudged_at
            message_id = outbox.enqueue(
                db, target="slack", kind="nudge", dedupe_key=f"nudge:{sid}:{now.isoformat()}",
                payload={"channel": s.slack_channel_id, "thread_ts": s.slack_thread_ts,
                         "text": msg.text, "blocks": msg.blocks, "session_id": str(sid),
                         "after": {"nudged_at": now.isoformat(),
                                   "previous": previous.isoformat() if previous else None}},
                now=now, session_id=sid)
            s.nudge_count += 1
            s.last_nudged_at = now
            s.next_nudge_at = now + cfg.nudge_after
            s.snoozed_until = None
    if parked is not None:
        svc.metrics.sessions.labels("auto_parked").inc()
        say(svc, channel, thread, parked)
        refresh(svc, sid)
        return DONE
    release(svc, sid)
    if message_id is not None and outbox.attempt(svc, message_id) is None:
        log.warning("nudge of %s not posted yet; the outbox will retry", sid)
        return FAILED
    return DONE


def _nudge_undeliverable(svc: Services, payload: dict[str, Any]) -> None:
    """A nudge Slack never took does not count towards parking the session."""
    after = payload.get("after") or {}
    previous = after.get("previous")
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, uuid.UUID(str(payload["session_id"])))
        if s is not None and s.last_nudged_at is not None and \
                s.last_nudged_at.isoformat() == after.get("nudged_at"):
            s.nudge_count = max(0, s.nudge_count - 1)
            s.last_nudged_at = datetime.fromisoformat(previous) if previous else None


outbox.ON_GIVE_UP["nudge"] = _nudge_undeliverable
