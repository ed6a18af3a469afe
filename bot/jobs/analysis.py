"""``analyze_resolved``: resolved sessions become DraftTemplates — written by Claude, or
without a key from the worked fix's steps when they hold commands — or are skipped."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from bot.domain import status as st
from bot.domain.knowledge import script_from_steps
from bot.errors import EngineError
from bot.jobs.common import BATCH, DONE, FAILED, SKIPPED, JobResult, claim, each
from bot.redact import redact
from bot.services import workspace
from bot.services.container import Services
from bot.services.outputs import worked_fix
from storage.db import unit_of_work
from storage.models import AISession, DraftTemplate, SessionFact, SessionSuggestedFix

ANALYSIS_RETRY = timedelta(minutes=30)  # a failed analysis is tried again after this …
ANALYSIS_GIVE_UP = timedelta(days=7)  # … for a week after the resolution


def analysis_where(now: datetime, failed: bool) -> list[ColumnElement[bool]]:
    if failed:  # retried after ANALYSIS_RETRY (kept in the lease), for a week
        return [AISession.analysis_status == "failed",
                AISession.resolved_at >= now - ANALYSIS_GIVE_UP, AISession.resolved_at <= now]
    return [AISession.analysis_status == "pending", AISession.resolved_at <= now]


def analyze_resolved(svc: Services, now: datetime) -> JobResult:
    """Resolved sessions become DraftTemplates (Claude) or are marked skipped (offline)."""
    result = JobResult("analyze_resolved")
    ids_ = claim(svc, now, analysis_where(now, False), AISession.resolved_at)
    if len(ids_) < BATCH:
        ids_ += claim(svc, now, analysis_where(now, True), AISession.resolved_at,
                      limit=BATCH - len(ids_))
    return each(svc, result, ids_, lambda sid: _analyze_one(svc, sid, now))


def _analyze_one(svc: Services, sid: uuid.UUID, now: datetime) -> str:
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return SKIPPED
        if s.status != st.RESOLVED or s.analysis_status not in ("pending", "failed"):
            s.job_lease_until = None
            return SKIPPED
        drafter = svc.drafter
        if drafter is None:
            return _draft_from_steps(db, s, now)
        markdown = session_markdown(db, s)
        model = str(workspace.value(svc, db, s.account, "ai_model") or drafter.model)
        account_id = s.account_id
    try:
        draft = drafter.draft_template(model, markdown)
    except EngineError as exc:
        with unit_of_work(svc.factory) as db:
            s = db.get(AISession, sid)
            if s is not None:
                s.analysis_status, s.analysis_error = "failed", exc.message[:2000]
                s.job_lease_until = now + ANALYSIS_RETRY  # the lease is the retry time
        return FAILED
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return SKIPPED
        db.add(DraftTemplate(
            account_id=account_id, session_id=sid, title=str(draft["title"])[:255],
            description=str(draft.get("description") or ""),
            language=str(draft.get("language") or "text")[:40], body=str(draft.get("body") or ""),
            parameters=list(draft.get("parameters") or []), status="pending", origin="claude",
            created_at=now, updated_at=now,
        ))
        s.analysis_status, s.analysis_error, s.job_lease_until = "completed", None, None
    return DONE


def _draft_from_steps(db: Session, s: AISession, now: datetime) -> str:
    """Without a model: the worked fix's steps become a draft script when they hold commands
    (language and parameters detected); otherwise nothing to review."""
    s.job_lease_until = None
    fix = worked_fix(s)
    draft = script_from_steps(fix.title, list(fix.steps or [])) if fix is not None else None
    if draft is None:
        s.analysis_status, s.analysis_error = "skipped", None
        return SKIPPED
    extra = workspace.redaction_patterns(db, s.account)
    db.add(DraftTemplate(
        account_id=s.account_id, session_id=s.id, title=str(draft["title"]),
        description=str(draft["description"]), language=str(draft["language"]),
        body=redact(str(draft["body"]), extra).text, parameters=list(draft["parameters"]),
        status="pending", origin="steps", created_at=now, updated_at=now,
    ))
    s.analysis_status, s.analysis_error = "completed", None
    return DONE


def session_markdown(db: Session, s: AISession) -> str:
    """What the analysis model reads: the problem, what was learnt and tried, the fix."""
    intake = s.intake_content or {}
    lines = [f"# {s.problem_summary or s.title or 'Session'}",
             f"Domain: {s.problem_domain or 'other'}",
             f"Type: {s.session_type or 'guided'}; prompt: {s.system_prompt_snapshot or 'unknown'}",
             "", "## Problem",
             str(intake.get("text") or "")]
    if intake.get("log_content"):
        lines += ["", "## Log", "```", str(intake["log_content"])[:20_000], "```"]
    facts = db.execute(select(SessionFact.text).where(
        SessionFact.session_id == s.id, SessionFact.is_active.is_(True))).scalars().all()
    if facts:
        lines += ["", "## Facts", *(f"- {f}" for f in facts)]
    fixes = db.execute(select(SessionSuggestedFix).where(SessionSuggestedFix.session_id == s.id)
                       .order_by(SessionSuggestedFix.position)).scalars().all()
    if fixes:
        lines += ["", "## Fixes"]
        for fix in fixes:
            lines.append(f"- {fix.title} ({fix.user_decision})")
            lines += [f"  {i}. {step}" for i, step in enumerate(fix.steps or [], 1)]
    resolution = s.resolution_note_markdown or s.resolution_summary or s.resolution_action
    if resolution:
        lines += ["", "## Resolution", resolution]
    return "\n".join(lines)
