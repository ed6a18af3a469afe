"""Read-only views of sessions for lists, the App Home and stats."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.services.container import Services
from storage.db import unit_of_work
from storage.models import Account, AISession, User
from storage.models.session import OPEN_STATUSES
from storage.queries.threads import latest_session_in_thread


@dataclass(frozen=True)
class SessionLine:
    session_id: str
    summary: str
    status: str
    channel: str
    thread_ts: str
    link: str | None


def my_open_sessions(svc: Services, team_id: str, slack_user_id: str, limit: int = 10) -> list[SessionLine]:
    with unit_of_work(svc.factory) as db:
        rows = db.execute(
            select(AISession)
            .join(Account, Account.id == AISession.account_id)
            .join(User, User.id == AISession.user_id)
            .where(Account.slack_team_id == team_id, User.slack_user_id == slack_user_id,
                   AISession.status.in_(OPEN_STATUSES))
            .order_by(AISession.last_activity_at.desc()).limit(limit)
        ).scalars().all()
        found = [(str(s.id), s.problem_summary or "", s.status, s.slack_channel_id,
                  s.slack_thread_ts) for s in rows]
    return [
        SessionLine(sid, summary, status, channel, ts, svc.notifier.permalink(channel, ts))
        for sid, summary, status, channel, ts in found
    ]


def session_in_thread(svc: Services, channel: str, thread_ts: str) -> str | None:
    """The id of the thread's latest session, or None."""
    with unit_of_work(svc.factory) as db:
        session = latest_session_in_thread(db, channel, thread_ts)
        return None if session is None else str(session.id)
