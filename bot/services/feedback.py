"""👍/👎 on a turn (Block Kit ``feedback_buttons``), stored as a quality signal in
``turn_feedback``: one vote per person per turn, changeable; a double click counts once.

``turn_feedback_counts`` is the roll-up stats reads (``/flowpilot stats``, App Home)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.errors import DomainError, NotFoundError
from bot.services.container import Services
from bot.services.identity import ensure_user
from bot.services.sessions import load_for_team
from storage.db import unit_of_work
from storage.models import Account, AISessionStep, TurnFeedback, User

VOTES = ("up", "down")


@dataclass(frozen=True)
class Voted:
    vote: str
    changed: bool  # False: the same vote again (a double click), nothing stored twice


@dataclass(frozen=True)
class FeedbackCounts:
    up: int = 0
    down: int = 0

    @property
    def total(self) -> int:
        return self.up + self.down


def parse_feedback_value(value: str) -> tuple[str, str, str]:
    """``session id|step id|up|down``, as ``bot.render.turn.feedback_block`` writes it."""
    parts = (value or "").split("|")
    if len(parts) != 3 or parts[2] not in VOTES:
        raise NotFoundError("That feedback button is no longer valid.")
    return parts[0], parts[1], parts[2]


def vote(svc: Services, *, team_id: str, user_id: str, value: str) -> Voted:
    """Store (or change) this person's vote on the turn the button belongs to. The session
    must be this workspace's and the turn that session's, whatever the value claims."""
    session_id, step_id, choice = parse_feedback_value(value)
    try:
        step_uuid = uuid.UUID(step_id)
    except ValueError:
        raise NotFoundError("That feedback button is no longer valid.") from None
    for attempt in (1, 2):
        try:
            with unit_of_work(svc.factory) as db:
                return _vote(svc, db, team_id, user_id, session_id, step_uuid, choice)
        except IntegrityError:  # two clicks raced to insert: the second updates the first
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _vote(svc: Services, db: Session, team_id: str, user_id: str, session_id: str,
          step_id: uuid.UUID, choice: str) -> Voted:
    session = load_for_team(db, session_id, team_id)
    step = db.execute(select(AISessionStep.id).where(
        AISessionStep.id == step_id, AISessionStep.session_id == session.id,
        AISessionStep.step_type == "ai_turn")).scalar_one_or_none()
    if step is None:
        raise NotFoundError("That turn is not part of this session.")
    if not user_id:
        raise DomainError("Slack did not say who clicked.")
    user = ensure_user(db, session.account, user_id, svc.notifier)
    now = svc.clock()
    row = db.execute(select(TurnFeedback).where(
        TurnFeedback.step_id == step_id, TurnFeedback.user_id == user.id)).scalar_one_or_none()
    if row is None:
        db.add(TurnFeedback(id=uuid.uuid4(), account_id=session.account_id,
                            session_id=session.id, step_id=step_id, user_id=user.id,
                            vote=choice, created_at=now, updated_at=now))
        db.flush()
        return Voted(choice, True)
    if row.vote == choice:
        return Voted(choice, False)
    row.vote = choice
    row.updated_at = now
    return Voted(choice, True)


def turn_feedback_counts(db: Session, team_id: str, since: datetime,
                         user_id: str | None = None) -> FeedbackCounts:
    """👍 and 👎 on a workspace's turns since ``since`` (by when the vote was first cast);
    with ``user_id`` (a Slack id), only on the sessions that person owns. For stats."""
    stmt = (select(TurnFeedback.vote, func.count())
            .join(Account, Account.id == TurnFeedback.account_id)
            .where(Account.slack_team_id == team_id, TurnFeedback.created_at >= since)
            .group_by(TurnFeedback.vote))
    if user_id is not None:
        from storage.models import AISession

        stmt = (stmt.join(AISession, AISession.id == TurnFeedback.session_id)
                .join(User, User.id == AISession.user_id)
                .where(User.slack_user_id == user_id))
    counts = {vote: int(n) for vote, n in db.execute(stmt).all()}
    return FeedbackCounts(up=counts.get("up", 0), down=counts.get("down", 0))
