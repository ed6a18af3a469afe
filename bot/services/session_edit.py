"""Edits of a session's own seed columns from Slack: its title (the header's Rename)."""

from __future__ import annotations

from bot.errors import DomainError
from bot.redact import redact
from bot.render.modals import TITLE_MAX
from bot.render.safe import clean
from bot.services import workspace
from bot.services.container import Services
from bot.services.identity import ensure_user
from bot.services.lifecycle import _load, _txn
from bot.services.refresh import refresh_header
from bot.services.sessions import load_for_team, require_may_act


def current_title(svc: Services, *, team_id: str, user_id: str, session_id: str) -> str:
    """The title to prefill the Rename modal with; refuses people who may not act."""
    with _txn(svc) as db:
        session = load_for_team(db, session_id, team_id)
        require_may_act(session, ensure_user(db, session.account, user_id, svc.notifier))
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
    with _txn(svc) as db:
        session, user = _load(db, svc, team_id, user_id, session_id)
        require_may_act(session, user)
        new = redact(new, workspace.redaction_patterns(db, session.account)).text[:TITLE_MAX]
        session.title = new
        sid = session.id
    refresh_header(svc, sid)
    return new
