"""Seen before: resolved sessions become a searchable index of their workspace; a new session
(and one whose summary changed) is shown the best past resolutions in its thread, and one
click adds that fix (and its approved script) to the session.

Engine-independent: the offline engine and Claude both get the thread message; Claude also
reads the offers as context (``context_for``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from bot.domain import knowledge as rules
from bot.domain import status as st
from bot.errors import DomainError, NotFoundError, SlackError
from bot.redact import redact
from bot.render.knowledge import (
    ScriptView,
    SeenBeforeView,
    parse_seen_before_value,
    render_adopted,
    render_seen_before,
)
from bot.render.views import TurnView
from bot.services import workspace
from bot.services.container import Services
from bot.services.identity import ensure_user, meet
from bot.services.refresh import post_turn, turn_message_view
from bot.services.sessions import add_step, load_for_team, require_may_act
from storage.db import unit_of_work
from storage.knowledge_search import search_ids
from storage.models import (
    AISession,
    KnowledgeEntry,
    ScriptTemplate,
    SeenBeforeOffer,
    SessionFact,
    SessionSuggestedFix,
)

log = logging.getLogger(__name__)
CANDIDATES = 9  # read this many, keep the relevant best SEEN_BEFORE
SEEN_BEFORE = 3
MAX_FIELD = 4000


def _clean(text: str, patterns: list[str], limit: int = MAX_FIELD) -> str:
    return redact(text or "", patterns).text[:limit]


def index_session(db: Session, session: AISession, resolver: str | None, now: datetime,
                  patterns: list[str]) -> None:
    """Index a session just resolved (inside the resolve transaction), redacted first."""
    from bot.services.outputs import worked_fix

    intake = session.intake_content or {}
    fix = worked_fix(session)
    # Without a fix marked Worked, what resolved it is the resolution action (the
    # technician's words or the note's Resolution section): searched and shown the same way.
    action = [ln for ln in (session.resolution_action or "").splitlines() if ln.strip()]
    title = fix.title if fix else (action[0] if action else "")
    steps = [str(s) for s in (fix.steps or [])] if fix else action[1:]
    values = {
        "account_id": session.account_id,
        "problem": _clean(f"{session.problem_summary or ''}\n{intake.get('text') or ''}",
                          patterns),
        "facts": _clean("\n".join(f.text for f in session.facts if f.is_active), patterns),
        "fix_title": _clean(title, patterns, 500),
        "fix_steps": [_clean(s, patterns, 500) for s in steps][:20],
        "note": _clean("\n\n".join(x for x in (session.resolution_summary,
                                               session.resolution_note_markdown) if x),
                       patterns, 8000),
        "domain": session.problem_domain or "other",
        "resolved_by_slack_id": resolver, "resolved_at": now,
        "channel_id": session.slack_channel_id, "thread_ts": session.slack_thread_ts,
    }
    entry = db.execute(select(KnowledgeEntry).where(KnowledgeEntry.session_id == session.id)
                       ).scalar_one_or_none()
    if entry is None:
        db.add(KnowledgeEntry(session_id=session.id, **values))
    else:
        for key, value in values.items():
            setattr(entry, key, value)


def _entry_text(e: KnowledgeEntry) -> str:
    return " ".join((e.problem, e.facts, e.fix_title, " ".join(map(str, e.fix_steps)), e.note))


def find(db: Session, account_id: uuid.UUID, text: str, *, exclude: uuid.UUID | None = None,
         limit: int = SEEN_BEFORE) -> list[KnowledgeEntry]:
    """The workspace's best relevant past resolutions for ``text`` (never another's)."""
    words = rules.terms(text)
    ids_ = search_ids(db, account_id, words, text, limit=max(CANDIDATES, limit * 3),
                      exclude_session=exclude)
    if not ids_:
        return []
    rows = {e.id: e for e in db.execute(
        select(KnowledgeEntry).where(KnowledgeEntry.id.in_(ids_),
                                     KnowledgeEntry.account_id == account_id)).scalars()}
    ranked = [rows[i] for i in ids_ if i in rows]
    return [e for e in ranked if rules.relevant(words, _entry_text(e))][:limit]


def _query_text(db: Session, session: AISession) -> str:
    intake = session.intake_content or {}
    facts = db.execute(select(SessionFact.text).where(
        SessionFact.session_id == session.id, SessionFact.is_active.is_(True))).scalars().all()
    return "\n".join([session.problem_summary or "", str(intake.get("text") or "")[:1500],
                      *facts[:20]])


def _script_for(db: Session, entry: KnowledgeEntry) -> ScriptTemplate | None:
    return db.execute(
        select(ScriptTemplate).where(ScriptTemplate.account_id == entry.account_id,
                                     ScriptTemplate.source_session_id == entry.session_id)
        .order_by(ScriptTemplate.created_at.desc()).limit(1)).scalar_one_or_none()


def _script_view(script: ScriptTemplate, facts: list[str]) -> ScriptView:
    body, missing = rules.fill(script.body, list(script.parameters or []), facts)
    return ScriptView(str(script.id), script.title, script.language, body, missing,
                      script.use_count)


def _when(at: datetime) -> str:
    return f"resolved {at:%Y-%m-%d}"


@dataclass
class _Hit:
    entry: KnowledgeEntry
    script: ScriptView | None
    summary: str = ""


def _summaries(db: Session, account_id: uuid.UUID, entries: list[KnowledgeEntry],
               patterns: list[str]) -> dict[uuid.UUID, str]:
    """The resolution summaries of the entries' sessions (same workspace only), redacted
    with today's patterns like the index itself."""
    ids_ = [e.session_id for e in entries if e.session_id is not None]
    if not ids_:
        return {}
    rows = db.execute(select(AISession.id, AISession.resolution_summary).where(
        AISession.id.in_(ids_), AISession.account_id == account_id))
    return {sid: _clean(summary, patterns, 500) for sid, summary in rows if summary}


def offer(svc: Services, session_id: uuid.UUID) -> int:
    """Post the best new past resolutions in the session's thread; returns how many (0: no
    message at all). Each is offered once per session."""
    now = svc.clock()
    try:
        with unit_of_work(svc.factory) as db:
            session = db.get(AISession, session_id)
            if session is None or not st.accepts_turns(session.status):
                return 0
            offered = set(db.execute(select(SeenBeforeOffer.entry_id).where(
                SeenBeforeOffer.session_id == session_id)).scalars())
            text = _query_text(db, session)
            found = [e for e in find(db, session.account_id, text, exclude=session_id,
                                     limit=SEEN_BEFORE + len(offered)) if e.id not in offered]
            found = found[:SEEN_BEFORE]
            if not found:
                return 0
            facts = text.splitlines()
            summaries = _summaries(db, session.account_id, found,
                                   workspace.redaction_patterns(db, session.account))
            hits = []
            for rank, entry in enumerate(found):
                db.add(SeenBeforeOffer(session_id=session_id, entry_id=entry.id, rank=rank,
                                       created_at=now))
                script = _script_for(db, entry)
                hits.append(_Hit(entry, _script_view(script, facts) if script else None,
                                 summaries.get(entry.session_id) or ""))
            db.flush()
            channel, thread = session.slack_channel_id, session.slack_thread_ts
            db.expunge_all()
    except IntegrityError:
        return 0  # offered at this very moment by another worker
    views = [
        SeenBeforeView(
            h.entry.id, h.entry.problem.splitlines()[0] if h.entry.problem else "",
            h.entry.fix_title, [str(s) for s in h.entry.fix_steps], h.entry.resolved_by_slack_id,
            _when(h.entry.resolved_at),
            svc.notifier.permalink(h.entry.channel_id, h.entry.thread_ts)
            if h.entry.channel_id and h.entry.thread_ts else None,
            h.script, h.summary,
        )
        for h in hits
    ]
    msg = render_seen_before(str(session_id), views)
    if msg is None:
        return 0
    try:
        ts = svc.notifier.post(channel, msg.text, msg.blocks, thread_ts=thread)
    except SlackError as exc:
        log.warning("could not post Seen before for %s: %s", session_id, exc.message)
        return 0
    with unit_of_work(svc.factory) as db:
        db.execute(update(SeenBeforeOffer).where(
            SeenBeforeOffer.session_id == session_id,
            SeenBeforeOffer.entry_id.in_([h.entry.id for h in hits])).values(message_ts=ts))
    return len(views)


def offer_quietly(svc: Services, session_id: uuid.UUID) -> None:
    """``offer`` for callers that must not fail because of it (opening a session, a turn)."""
    try:
        offer(svc, session_id)
    except Exception:
        log.exception("Seen before failed for session %s", session_id)


@dataclass(frozen=True)
class Adopted:
    session_id: uuid.UUID
    channel: str
    thread_ts: str
    step_id: uuid.UUID | None  # None: the fix was added before (a double click)
    view: TurnView | None
    fix_title: str
    script: ScriptView | None


def adopt(svc: Services, *, team_id: str, user_id: str, value: str) -> Adopted:
    """``fp_seen_before``: the past fix becomes one of this session's fixes (once)."""
    try:
        session_id, entry_id = parse_seen_before_value(value)
    except ValueError:
        raise NotFoundError("That suggestion was not found.") from None
    now = svc.clock()
    meet(svc, team_id, user_id)  # a new person's Slack profile, before the row lock
    with unit_of_work(svc.factory) as db:
        session = load_for_team(db, session_id, team_id, lock=True)
        user = ensure_user(db, session.account, user_id)
        require_may_act(session, user)
        if not st.accepts_turns(session.status):
            raise DomainError("This session is closed; its fixes cannot change any more.")
        found = db.execute(
            select(SeenBeforeOffer, KnowledgeEntry)
            .join(KnowledgeEntry, KnowledgeEntry.id == SeenBeforeOffer.entry_id)
            .where(SeenBeforeOffer.session_id == session.id, SeenBeforeOffer.entry_id == entry_id,
                   KnowledgeEntry.account_id == session.account_id)).first()
        if found is None:
            raise NotFoundError("That suggestion was not found.")
        offer_row, entry = found
        script = _script_for(db, entry)
        facts = _query_text(db, session).splitlines()
        shown = _script_view(script, facts) if script else None
        common = (session.id, session.slack_channel_id, session.slack_thread_ts)
        title = entry.fix_title or "Fix from a past session"
        if offer_row.added_fix_id is not None:
            return Adopted(*common, None, None, title, shown)
        db.refresh(session, attribute_names=["fixes"])
        fix = SessionSuggestedFix(
            id=uuid.uuid4(), session_id=session.id, position=len(session.fixes),
            title=title[:500], steps=[str(s) for s in entry.fix_steps][:20],
            rationale=f"Worked in a similar session of this workspace ({_when(entry.resolved_at)}).",
            verify="", confidence=0.7, risk="low", user_decision="pending", created_at=now,
        )
        session.fixes.append(fix)
        step = add_step(db, session, "system", user,
                        {"message": "", "fix_ids": [str(fix.id)], "seen_before": entry.id,
                         "author": user_id}, now)
        db.flush()  # the fix row exists before the offer points at it
        offer_row.added_fix_id = fix.id
        if script is not None:
            db.execute(update(ScriptTemplate).where(ScriptTemplate.id == script.id).values(
                use_count=ScriptTemplate.use_count + 1, last_used_at=now))
        db.flush()
        db.refresh(session, attribute_names=["fixes", "user"])
        view = turn_message_view(db, session, step)
        return Adopted(*common, step.id, view, title, shown)


def announce_adopted(svc: Services, done: Adopted, user_id: str) -> None:
    if done.step_id is None or done.view is None:
        return
    post_turn(svc, done.session_id, done.step_id, done.view, done.channel, done.thread_ts, [])
    try:
        svc.notifier.post(done.channel, f"{user_id} added a past fix",
                          [{"type": "section", "text": {"type": "mrkdwn", "text": render_adopted(
                              user_id, done.fix_title, done.script)[:3000]}}],
                          thread_ts=done.thread_ts)
    except SlackError as exc:
        log.warning("could not announce an adopted fix: %s", exc.message)


def context_for(db: Session, session_id: uuid.UUID) -> list[dict[str, str]]:
    """What Claude reads about the past resolutions shown in this session."""
    rows = db.execute(
        select(KnowledgeEntry).join(SeenBeforeOffer, SeenBeforeOffer.entry_id == KnowledgeEntry.id)
        .where(SeenBeforeOffer.session_id == session_id)
        .order_by(SeenBeforeOffer.created_at, SeenBeforeOffer.rank).limit(SEEN_BEFORE)
    ).scalars().all()
    return [{"problem": e.problem.splitlines()[0] if e.problem else "", "fix": e.fix_title,
             "steps": "; ".join(str(s) for s in e.fix_steps[:8]), "when": _when(e.resolved_at)}
            for e in rows]


SESSION_LOAD = (selectinload(AISession.facts), selectinload(AISession.fixes))


def offer_if_changed(svc: Services, session_id: uuid.UUID, before: str | None,
                     after: str | None) -> None:
    """After a turn: search again when the turn changed the problem summary."""
    if after and after != before:
        offer_quietly(svc, session_id)
