"""A session's history (the header's History button): hand-offs (``session_handoffs``), parks
and resumes, escalations and take-overs, and who decided what (steps' ``actor_user_id``, facts'
``created_by_id``, fixes marked). Read-only; bounded by index-driven queries, so a session
with thousands of steps costs the same as one with ten."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from bot.render.views import HistoryEvent, HistoryView
from bot.services.container import Services
from bot.services.sessions import load_for_team
from storage.db import unit_of_work
from storage.models import AISessionStep, SessionFact, SessionHandoff, SessionSuggestedFix, User

MAX_EVENTS = 60  # shown, newest kept; the modal says how many earlier ones were left out
# Steps that are a person's (or a job's) decision; model turns are the thread itself.
STEP_TYPES = ("intake", "status", "answer", "action", "fix_decision", "system")
FACT_FROM = {"technician": "from their reply", "action": "from an action's result"}
STATUS_KINDS = {"park", "resume", "resolve", "request_escalation", "escalation_posted",
                "abandon"}


def _epoch(at: datetime | None) -> int:
    return int(at.timestamp()) if at is not None else 0


def session_history(svc: Services, *, team_id: str, user_id: str,
                    session_id: str) -> HistoryView:
    """Anyone in the session's workspace may read it (it is what the thread shows, in order);
    another workspace's session is not found."""
    with unit_of_work(svc.factory) as db:
        session = load_for_team(db, session_id, team_id)
        events, earlier = _events(db, session.id)
        title = session.title or session.problem_summary or ""
        return HistoryView(session_id=str(session.id), title=title, events=events,
                           earlier=earlier)


def _key(at: datetime | None, order: int = 0) -> tuple[float, int]:
    """Oldest first; events of the same instant in the order they were recorded."""
    return (at.timestamp() if at is not None else 0.0, order)


def _events(db: Session, sid: uuid.UUID) -> tuple[list[HistoryEvent], int]:
    keyed: list[tuple[tuple[float, int], HistoryEvent]] = []
    total = 0
    # Hand-offs and take-overs: from, to, when, why.
    src, dst = aliased(User), aliased(User)
    rows = db.execute(
        select(SessionHandoff.kind, SessionHandoff.reason, SessionHandoff.created_at,
               src.slack_user_id, dst.slack_user_id)
        .outerjoin(src, src.id == SessionHandoff.from_user_id)
        .outerjoin(dst, dst.id == SessionHandoff.to_user_id)
        .where(SessionHandoff.session_id == sid)
        .order_by(SessionHandoff.created_at.desc(), SessionHandoff.id).limit(MAX_EVENTS)
    ).all()
    total += int(db.execute(select(func.count()).select_from(SessionHandoff)
                            .where(SessionHandoff.session_id == sid)).scalar_one())
    for kind, reason, at, from_id, to_id in rows:
        why = reason or ""
        if kind == "handoff" and why.startswith("handed off by "):
            why = ""  # the actor is already named
        keyed.append((_key(at), HistoryEvent(_epoch(at), from_id, "take_over"
                                             if kind == "take_over" else "handoff", why,
                                             other=to_id)))
    # Steps: parks, resumes, escalations, answers, actions, fixes marked, and who did each.
    step_filter = (AISessionStep.session_id == sid, AISessionStep.step_type.in_(STEP_TYPES))
    steps = db.execute(
        select(AISessionStep.step_type, AISessionStep.content, AISessionStep.created_at,
               User.slack_user_id, AISessionStep.step_order)
        .outerjoin(User, User.id == AISessionStep.actor_user_id)
        .where(*step_filter)
        .order_by(AISessionStep.step_order.desc()).limit(MAX_EVENTS)
    ).all()
    total += int(db.execute(select(func.count()).select_from(AISessionStep)
                            .where(*step_filter)).scalar_one())
    for step_type, content, at, actor, order in steps:
        event = _step_event(step_type, content or {}, _epoch(at), actor)
        if event is not None:
            keyed.append((_key(at, order), event))
    # Facts a person gave (the model's own inferences are the turns' business).
    fact_filter = (SessionFact.session_id == sid, SessionFact.created_by_id.is_not(None))
    facts = db.execute(
        select(SessionFact.text, SessionFact.created_at, User.slack_user_id,
               SessionFact.source_type)
        .join(User, User.id == SessionFact.created_by_id)
        .where(*fact_filter).order_by(SessionFact.created_at.desc()).limit(MAX_EVENTS)
    ).all()
    total += int(db.execute(select(func.count()).select_from(SessionFact)
                            .where(*fact_filter)).scalar_one())
    for text, at, author, source in facts:
        said = f"{text or ''} ({FACT_FROM[source]})" if source in FACT_FROM else (text or "")
        keyed.append((_key(at), HistoryEvent(_epoch(at), author, "fact", said)))
    # Fixes suggested (by the model or a flow), and whether they changed afterwards.
    fixes = db.execute(
        select(SessionSuggestedFix.title, SessionSuggestedFix.created_at,
               SessionSuggestedFix.updated_at)
        .where(SessionSuggestedFix.session_id == sid)
        .order_by(SessionSuggestedFix.created_at.desc()).limit(MAX_EVENTS)
    ).all()
    total += int(db.execute(select(func.count()).select_from(SessionSuggestedFix)
                            .where(SessionSuggestedFix.session_id == sid)).scalar_one())
    for title, at, changed in fixes:
        later = changed is not None and at is not None and (changed - at).total_seconds() >= 1
        keyed.append((_key(at), HistoryEvent(_epoch(at), None, "fix_suggested", (title or "")
                                             + (" (changed since)" if later else ""))))
    keyed.sort(key=lambda pair: pair[0])
    shown = [event for _key_, event in keyed[-MAX_EVENTS:]]
    return shown, max(0, total - len(shown))


def _step_event(step_type: str, content: dict[str, object], at: int,
                actor: str | None) -> HistoryEvent | None:
    text = str(content.get("text") or "")
    if step_type == "intake":
        return HistoryEvent(at, actor, "opened", "")
    if step_type == "status":
        event = str(content.get("event") or "")
        if event not in STATUS_KINDS:
            return None
        why = str(content.get("reason") or content.get("why") or "")
        return HistoryEvent(at, actor, event, why)
    if step_type in ("answer", "action", "fix_decision"):
        return HistoryEvent(at, actor, step_type, text)
    if step_type == "system" and content.get("seen_before"):
        return HistoryEvent(at, actor, "system", "added a past fix from Seen before")
    return None
