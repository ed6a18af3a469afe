"""Drafts reviewed by admins: the queue, approve (a ScriptTemplate, exactly once) and reject;
approved scripts listed. Drafts come from ``analyze_resolved`` (Claude, or a fix's steps)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.domain import knowledge as rules
from bot.errors import DomainError, NotAllowedError, NotFoundError
from bot.redact import redact
from bot.render.knowledge import DraftView, RejectedView, ScriptAbout, ScriptView
from bot.services.admin import is_admin
from bot.services.container import Services
from bot.services.identity import ensure_account, ensure_user
from storage.db import unit_of_work
from storage.models import Account, AISession, DraftTemplate, ScriptTemplate, User

LANGUAGES = ("powershell", "bash", "cmd", "python", "text")
MAX_BODY = 20_000
MAX_REASON = 500


def _admin(db: Session, svc: Services, team_id: str, user_id: str) -> User:
    account = ensure_account(db, team_id)
    user = ensure_user(db, account, user_id, svc.notifier)
    if not is_admin(db, svc, user):
        raise NotAllowedError("Only a workspace admin can review drafts.")
    return user


def _draft(db: Session, user: User, draft_id: str) -> DraftTemplate:
    try:
        did = uuid.UUID(str(draft_id))
    except ValueError:
        raise NotFoundError("That draft was not found.") from None
    draft = db.get(DraftTemplate, did)
    if draft is None or draft.account_id != user.account_id:
        raise NotFoundError("That draft was not found.")
    return draft


def _day(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d}" if at is not None else ""


def _changed(created: datetime | None, updated: datetime | None) -> str:
    """The day it was last changed, when that is a later day than it was made."""
    return _day(updated) if created and updated and updated.date() > created.date() else ""


def draft_view(d: DraftTemplate, link: str | None = None) -> DraftView:
    edited = _changed(d.created_at, d.updated_at)
    return DraftView(str(d.id), d.title, d.description, d.language, d.body,
                     [str(p.get("name")) for p in d.parameters or [] if isinstance(p, dict)],
                     d.origin, _day(d.created_at) + (f", edited {edited}" if edited else ""),
                     link)


def pending_count(db: Session, account_id: uuid.UUID) -> int:
    return int(db.scalar(select(func.count()).select_from(DraftTemplate).where(
        DraftTemplate.account_id == account_id, DraftTemplate.status == "pending")) or 0)


def review_queue(svc: Services, team_id: str, user_id: str, limit: int = 10
                 ) -> tuple[list[DraftView], int]:
    """Pending drafts for an admin's App Home (empty for everyone else)."""
    with unit_of_work(svc.factory) as db:
        account = db.execute(select(Account).where(Account.slack_team_id == team_id)
                             ).scalar_one_or_none()
        if account is None or not pending_count(db, account.id):
            return [], 0  # nothing to review: no user looked up, no Slack call
        try:
            user = _admin(db, svc, team_id, user_id)
        except NotAllowedError:
            return [], 0
        rows = db.execute(
            select(DraftTemplate, AISession.slack_channel_id, AISession.slack_thread_ts)
            .outerjoin(AISession, AISession.id == DraftTemplate.session_id)
            .where(DraftTemplate.account_id == user.account_id, DraftTemplate.status == "pending")
            .order_by(DraftTemplate.created_at.desc()).limit(limit)).all()
        total = pending_count(db, user.account_id)
        found = [(d, c, t) for d, c, t in rows]
        views = [draft_view(d) for d, _, _ in found]
        where = [(c, t) for _, c, t in found]
    links = [svc.notifier.permalink(c, t) if c and t else None for c, t in where]
    return [DraftView(**{**v.__dict__, "source_link": link}) for v, link in zip(views, links,
                                                                                 strict=True)], total


def get_draft(svc: Services, team_id: str, user_id: str, draft_id: str) -> DraftView:
    with unit_of_work(svc.factory) as db:
        user = _admin(db, svc, team_id, user_id)
        draft = _draft(db, user, draft_id)
        if draft.status != "pending":
            raise DomainError("That draft was already reviewed.")
        return draft_view(draft)


@dataclass(frozen=True)
class Reviewed:
    draft_id: str
    status: str  # promoted | dismissed
    script_id: str | None
    done_now: bool  # False: someone reviewed it first (a double click)


def _claim(db: Session, draft: DraftTemplate, user: User, status: str, now: datetime,
           note: str | None = None) -> bool:
    """pending → ``status`` as one conditional UPDATE: of two approvals at once, exactly one
    changes the row (the other waits for it on PostgreSQL and then matches nothing)."""
    result = db.execute(
        update(DraftTemplate)
        .where(DraftTemplate.id == draft.id, DraftTemplate.status == "pending")
        .values(status=status, reviewed_by_id=user.id, reviewed_at=now, review_note=note,
                updated_at=now)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def approve(svc: Services, *, team_id: str, user_id: str, draft_id: str,
            edits: dict[str, str] | None = None) -> Reviewed:
    """Promote a draft to a ScriptTemplate (parameters, language, body); once."""
    now = svc.clock()
    with unit_of_work(svc.factory) as db:
        user = _admin(db, svc, team_id, user_id)
        draft = _draft(db, user, draft_id)
        title, language, body, params = _edited(draft, edits or {})
        if not _claim(db, draft, user, "promoted", now):
            db.refresh(draft)
            return Reviewed(str(draft.id), draft.status, _str(draft.promoted_template_id), False)
        source = db.get(AISession, draft.session_id) if draft.session_id else None
        script = ScriptTemplate(
            id=uuid.uuid4(), account_id=draft.account_id, title=title, language=language,
            body=body, parameters=params, description=draft.description,
            source_session_id=draft.session_id, source_user_id=source.user_id if source else None,
            source_ticket_ref=source.psa_ticket_id if source else None,
            created_at=now, updated_at=now)
        db.add(script)
        db.flush()
        db.execute(update(DraftTemplate).where(DraftTemplate.id == draft.id).values(
            promoted_template_id=script.id).execution_options(synchronize_session=False))
        return Reviewed(str(draft.id), "promoted", str(script.id), True)


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None


def _edited(draft: DraftTemplate, edits: dict[str, str]
            ) -> tuple[str, str, str, list[dict[str, Any]]]:
    title = (edits.get("title") or draft.title).strip()[:255]
    language = (edits.get("language") or draft.language or "text").strip().lower()[:40]
    body = edits.get("body")
    if not title:
        raise DomainError("A script needs a title.")
    if language not in LANGUAGES:
        raise DomainError(f"Language must be one of: {', '.join(LANGUAGES)}.")
    if body is None:
        return title, language, draft.body, list(draft.parameters or [])
    body = redact(body[:MAX_BODY]).text
    if not body.strip():
        raise DomainError("The script is empty.")
    _, found = rules.parameterise(body)  # {{name}} placeholders the admin wrote
    old = {str(p.get("name")): p for p in draft.parameters or [] if isinstance(p, dict)}
    params = [old.get(p.name, p.as_dict()) for p in found]
    return title, language, body, params


def reject(svc: Services, *, team_id: str, user_id: str, draft_id: str,
           reason: str) -> Reviewed:
    reason = " ".join(reason.split())[:MAX_REASON]
    if not reason:
        raise DomainError("Say why the draft is rejected.")
    now = svc.clock()
    with unit_of_work(svc.factory) as db:
        user = _admin(db, svc, team_id, user_id)
        draft = _draft(db, user, draft_id)
        done = _claim(db, draft, user, "dismissed", now, note=reason)
        if not done:
            db.refresh(draft)
        return Reviewed(str(draft.id), "dismissed" if done else draft.status,
                        _str(draft.promoted_template_id), done)


def _slack_ids(db: Session, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = db.execute(select(User.id, User.slack_user_id).where(User.id.in_(wanted))).all()
    return {row[0]: row[1] for row in rows}


def _script_about(s: ScriptTemplate, approval: DraftTemplate | None,
                  people: dict[uuid.UUID, str]) -> ScriptAbout:
    return ScriptAbout(
        description=s.description, author=people.get(s.source_user_id, "")
        if s.source_user_id else "", ticket=s.source_ticket_ref or "",
        approved_by=people.get(approval.reviewed_by_id, "")
        if approval is not None and approval.reviewed_by_id else "",
        approved_on=_day(approval.reviewed_at) if approval is not None else "",
        last_used=_day(s.last_used_at), changed_on=_changed(s.created_at, s.updated_at))


def list_scripts(svc: Services, team_id: str, user_id: str | None = None, limit: int = 25
                 ) -> tuple[list[ScriptView], int, list[RejectedView]]:
    """The approved scripts (most used first) with where each came from; for an admin, also
    the five drafts rejected most recently and why."""
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)
        rows = db.execute(select(ScriptTemplate).where(ScriptTemplate.account_id == account.id)
                          .order_by(ScriptTemplate.use_count.desc(), ScriptTemplate.created_at.desc())
                          .limit(limit)).scalars().all()
        total = int(db.scalar(select(func.count()).select_from(ScriptTemplate).where(
            ScriptTemplate.account_id == account.id)) or 0)
        approvals = {d.promoted_template_id: d for d in db.execute(
            select(DraftTemplate).where(DraftTemplate.promoted_template_id.in_([s.id for s in rows]))
        ).scalars()} if rows else {}
        admin = user_id is not None and is_admin(db, svc, ensure_user(db, account, user_id, None))
        rejected = list(db.execute(
            select(DraftTemplate).where(DraftTemplate.account_id == account.id,
                                        DraftTemplate.status == "dismissed")
            .order_by(DraftTemplate.reviewed_at.desc()).limit(5)).scalars()) if admin else []
        people = _slack_ids(db, {s.source_user_id for s in rows}
                            | {d.reviewed_by_id for d in approvals.values()}
                            | {d.reviewed_by_id for d in rejected})
        scripts = [ScriptView(str(s.id), s.title, s.language, s.body, [], s.use_count,
                              _script_about(s, approvals.get(s.id), people)) for s in rows]
        gone = [RejectedView(d.title, d.review_note or "", people.get(d.reviewed_by_id, "")
                             if d.reviewed_by_id else "", _day(d.reviewed_at)) for d in rejected]
        return scripts, total, gone
