"""Edits of a session's own state from Slack: its title (the header's Rename) and facts
marked wrong (the "That's wrong" menu on *What we know*)."""

from __future__ import annotations

import uuid
from contextlib import suppress
from dataclasses import dataclass

from bot.errors import DomainError, NotFoundError, SlackError
from bot.redact import redact
from bot.render.edits import render_fact_retracted
from bot.render.modals import TITLE_MAX
from bot.render.safe import clean
from bot.services import workspace
from bot.services.container import Services
from bot.services.identity import ensure_user
from bot.services.lifecycle import _load, _txn
from bot.services.refresh import refresh_header, refresh_turn_messages
from bot.services.sessions import load_for_team, require_may_act
from storage.models import SessionFact


def current_title(svc: Services, *, team_id: str, user_id: str, session_id: str) -> str:
    """The title to prefill the Rename modal with; refuses people who may not act."""
    with _txn(svc, team_id, user_id) as db:
        session = load_for_team(db, session_id, team_id)
        require_may_act(session, ensure_user(db, session.account, user_id))
        return session.title or session.problem_summary or ""


def validate_title(raw: str) -> str:
    title = " ".join(clean(raw or "").split())  # one line: control characters and runs of space go
    if not title:
        raise DomainError("The title was empty; the session keeps its old one.")
    if len(title) > TITLE_MAX:
        raise DomainError(f"A title fits in {TITLE_MAX} characters (this one has {len(title)}).")
    return title


def rename(svc: Services, *, team_id: str, user_id: str, session_id: str, title: str) -> str:
    """Set ``ai_sessions.title``; the header shows it above the problem summary."""
    new = validate_title(title)
    with _txn(svc, team_id, user_id) as db:
        session, user = _load(db, svc, team_id, user_id, session_id)
        require_may_act(session, user)
        new = redact(new, workspace.redaction_patterns(db, session.account)).text[:TITLE_MAX]
        session.title = new
        sid = session.id
    refresh_header(svc, sid)
    return new


@dataclass(frozen=True)
class Retracted:
    session_id: uuid.UUID
    channel: str
    thread_ts: str
    text: str


def retract_fact(svc: Services, *, team_id: str, user_id: str, value: str) -> Retracted:
    """"That's wrong" on a fact: ``is_active`` goes false, so the fact leaves the prompt, the
    note and the package (every reader filters on it); the row stays, struck through."""
    sid, sep, fact_id = (value or "").partition("|")
    if not sep:
        raise NotFoundError("That menu is no longer valid.")
    with _txn(svc, team_id, user_id) as db:
        session, user = _load(db, svc, team_id, user_id, sid)
        require_may_act(session, user)
        try:
            fact = db.get(SessionFact, uuid.UUID(fact_id))
        except ValueError:
            fact = None
        if fact is None or fact.session_id != session.id:
            raise NotFoundError("That fact is not part of this session.")
        if not fact.is_active:
            raise DomainError("That fact is already marked wrong.")
        fact.is_active = False
        # Touching the session row bumps state_version, so a cached note preview is stale.
        session.last_activity_at = session.last_human_activity_at = svc.clock()
        return Retracted(session.id, session.slack_channel_id, session.slack_thread_ts, fact.text)


def announce_retraction(svc: Services, done: Retracted, user_id: str, message_ts: str) -> None:
    refresh_turn_messages(svc, done.session_id, [message_ts] if message_ts else [])
    msg = render_fact_retracted(user_id, done.text)
    with suppress(SlackError):
        svc.notifier.post(done.channel, msg.text, msg.blocks, thread_ts=done.thread_ts)
