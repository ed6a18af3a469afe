"""A Slack thread's sessions (``ix_ai_sessions_thread``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AISession
from storage.models.session import OPEN_STATUSES


def open_session_in_thread(db: Session, channel: str, thread_ts: str) -> AISession | None:
    """The thread's open session (at most one is open per thread), or None."""
    return db.execute(
        select(AISession).where(
            AISession.slack_channel_id == channel, AISession.slack_thread_ts == thread_ts,
            AISession.status.in_(OPEN_STATUSES),
        )
    ).scalar_one_or_none()


def latest_session_in_thread(db: Session, channel: str, thread_ts: str) -> AISession | None:
    """One indexed lookup (``ix_ai_sessions_thread``): the newest session of a thread."""
    return db.execute(
        select(AISession)
        .where(AISession.slack_channel_id == channel, AISession.slack_thread_ts == thread_ts)
        .order_by(AISession.created_at.desc()).limit(1)
    ).scalar_one_or_none()
