"""``auto_park`` and ``abandon_parked``: idle sessions are parked, long-parked ones closed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_

from bot.domain import status as st
from bot.domain.timekeeping import seconds_to_text
from bot.jobs.common import (
    DONE,
    SKIPPED,
    JobResult,
    by_workspace,
    claim,
    each,
    move,
    note,
    refresh,
    say,
)
from bot.services.container import Services
from bot.services.jobconfig import config
from storage.db import unit_of_work
from storage.models import AISession


def park_where(now: datetime, cutoff: datetime) -> list[ColumnElement[bool]]:
    return [AISession.status == st.ACTIVE, AISession.last_activity_at <= cutoff,
            or_(AISession.snoozed_until.is_(None), AISession.snoozed_until <= now)]


def auto_park(svc: Services, now: datetime) -> JobResult:
    """Active sessions idle past the workspace's park time are parked, with a note."""
    result = JobResult("auto_park")
    with unit_of_work(svc.factory) as db:
        groups = by_workspace(svc, db, "park_after_minutes", svc.settings.park_after_minutes)
    for minutes, scope in groups:
        where = park_where(now, now - timedelta(minutes=minutes))
        ids_ = claim(svc, now, [*where, *([scope] if scope is not None else [])],
                     AISession.last_activity_at)
        each(svc, result, ids_, lambda sid: _idle_one(svc, sid, now, park=True))
    return result


def abandon_where(cutoff: datetime) -> list[ColumnElement[bool]]:
    return [AISession.status == st.PAUSED, AISession.status_changed_at <= cutoff]


def abandon_parked(svc: Services, now: datetime) -> JobResult:
    """Sessions parked longer than the workspace's abandon time are abandoned, with a note."""
    result = JobResult("abandon_parked")
    with unit_of_work(svc.factory) as db:
        groups = by_workspace(svc, db, "abandon_after_days", svc.settings.abandon_after_days)
    for days, scope in groups:
        where = abandon_where(now - timedelta(days=days))
        ids_ = claim(svc, now, [*where, *([scope] if scope is not None else [])],
                     AISession.status_changed_at)
        each(svc, result, ids_, lambda sid: _idle_one(svc, sid, now, park=False))
    return result


def _idle_one(svc: Services, sid: uuid.UUID, now: datetime, *, park: bool) -> str:
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return SKIPPED
        cfg = config(svc, db, s.account)
        if park:
            idle_since = s.last_activity_at or s.created_at
            due = (s.status == st.ACTIVE and idle_since <= now - cfg.park_after
                   and not (s.snoozed_until and s.snoozed_until > now)
                   and not (s.turn_lease_until and s.turn_lease_until > now))
        else:
            idle_since = s.status_changed_at or s.created_at
            due = s.status == st.PAUSED and idle_since <= now - cfg.abandon_after
        if not due:
            s.job_lease_until = None
            return SKIPPED
        idle = seconds_to_text((now - idle_since).total_seconds())
        if park:
            move(db, s, st.PARK, now, "idle")
            text = (f"⏸️ Parked automatically after {idle} without activity. The clock now "
                    "counts parked time. Press Resume to carry on.")
        else:
            move(db, s, st.ABANDON, now, "parked too long")
            text = (f"⚪ Closed without a resolution: parked for {idle}. Start a new session "
                    "with `/flowpilot <problem>` if it comes back.")
        channel, thread = s.slack_channel_id, s.slack_thread_ts
    svc.metrics.sessions.labels("auto_parked" if park else "abandoned").inc()
    say(svc, channel, thread, note(text, sid, resume=park))
    refresh(svc, sid)
    return DONE
