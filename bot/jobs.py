"""The scheduled jobs: plain functions ``job(svc, now) -> JobResult`` (APScheduler wiring is in
``bot.scheduling``; ``flowpilot jobs run NAME`` calls one directly).

Every job works the same way. Time-based state lives in columns (``next_nudge_at``,
``snoozed_until``, ``escalation_post_next_at``, ``escalation_deadline_at``), so a restart
loses nothing. A pass *claims* at most ``BATCH`` due rows with one index-driven query
(``status = X AND column <= now``, ordered by that column) and a lease (``job_lease_until``):
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two scheduler processes split the due rows
instead of both taking them; SQLite serialises writers (``BEGIN IMMEDIATE``), so the
select-then-lease transaction is already exclusive there. Each claimed row is then re-read and
re-checked in its own short transaction (it may have been resolved or deleted meanwhile),
Slack is called outside any transaction, and the lease is released. A lease that ran out
unconfirmed (the process died) makes the row due again. docs/operations-jobs.md says what a
crash at each point costs.
"""

from __future__ import annotations

import logging
import statistics
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot.domain import status as st
from bot.domain.nudges import WorkingHours, next_working_moment, snooze_until, within, zone
from bot.domain.timekeeping import seconds_to_text
from bot.errors import DomainError, EngineError, SlackError
from bot.render import blocks as bk
from bot.render.blocks import Message
from bot.render.outputs import render_nudge
from bot.render.safe import channel_link, group_mention, mention, neutralize, one_line, safe_link
from bot.services import deliveries, workspace
from bot.services.container import Services
from handlers import ids
from storage.db import is_postgres, unit_of_work
from storage.models import (
    Account,
    AccountSettings,
    AISession,
    DraftTemplate,
    InboundEvent,
    SessionFact,
    SessionSuggestedFix,
    User,
)
from storage.settings_store import get_all_settings, set_setting, set_settings

log = logging.getLogger(__name__)

BATCH = 100
LEASE = timedelta(minutes=5)
NUDGE_RETRY = timedelta(minutes=5)  # a nudge Slack refused is tried again this much later
REPING_RETRY = timedelta(minutes=2)
MAX_REPINGS = 2  # the engineer, then the default group; then the escalation just waits
ANALYSIS_RETRY = timedelta(minutes=30)  # a failed analysis is tried again after this …
ANALYSIS_GIVE_UP = timedelta(days=7)  # … for a week after the resolution
RECOVER_GRACE = timedelta(minutes=2)  # a pending input younger than this is still in flight
TURN_ATTEMPTS = 2  # an input is processed at most twice: once, and once more by recovery
DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass
class JobResult:
    name: str
    claimed: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def __str__(self) -> str:
        return (f"{self.name}: claimed={self.claimed} done={self.done} "
                f"skipped={self.skipped} failed={self.failed}")


# ── workspace configuration, read once per workspace per pass ────────────────────────────


@dataclass(frozen=True)
class Config:
    nudge_after: timedelta
    park_after: timedelta
    abandon_after: timedelta
    sla: timedelta
    max_nudges: int
    hours: WorkingHours
    escalation_channel: str | None
    escalation_group: str | None


def config(svc: Services, db: Session, account: Account) -> Config:
    def num(key: str, default: int) -> int:
        try:
            return max(1, int(workspace.value(svc, db, account, key) or default))
        except (TypeError, ValueError):
            return default

    group = workspace.value(svc, db, account, "escalation_group")
    return Config(
        nudge_after=timedelta(minutes=num("nudge_after_minutes", 30)),
        park_after=timedelta(minutes=num("park_after_minutes", 240)),
        abandon_after=timedelta(days=num("abandon_after_days", 7)),
        sla=timedelta(minutes=num("escalation_sla_minutes", 15)),
        max_nudges=num("max_nudges", 3),
        hours=workspace.working_hours(svc, db, account),
        escalation_channel=workspace.escalation_channel(svc, db, account),
        escalation_group=str(group) if group else None,
    )


# ── claiming ──────────────────────────────────────────────────────────────────────────────


def lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(AISession.job_lease_until.is_(None), AISession.job_lease_until < now)


def claim_query(where: Iterable[ColumnElement[bool]], order: Any, now: datetime,
                postgres: bool, limit: int = BATCH) -> Any:
    stmt = select(AISession.id).where(*where, lease_free(now)).order_by(order).limit(limit)
    return stmt.with_for_update(skip_locked=True) if postgres else stmt


def claim(svc: Services, now: datetime, where: list[ColumnElement[bool]], order: Any, *,
          lease: timedelta | None = LEASE, limit: int = BATCH) -> list[uuid.UUID]:
    """Ids of up to ``limit`` due rows, leased to this pass (``lease=None``: only picked)."""
    with unit_of_work(svc.factory) as db:
        query = claim_query(where, order, now, is_postgres(db), limit)
        ids_: list[uuid.UUID] = list(db.execute(query).scalars())
        if ids_ and lease is not None:
            db.execute(
                update(AISession).where(AISession.id.in_(ids_), lease_free(now))
                .values(job_lease_until=now + lease)
                .execution_options(synchronize_session=False)
            )
    return ids_


def release(svc: Services, session_id: uuid.UUID) -> None:
    with unit_of_work(svc.factory) as db:
        db.execute(update(AISession).where(AISession.id == session_id)
                   .values(job_lease_until=None).execution_options(synchronize_session=False))


def _each(svc: Services, result: JobResult, ids_: list[uuid.UUID],
          work: Callable[[uuid.UUID], str]) -> JobResult:
    result.claimed += len(ids_)
    for sid in ids_:
        try:
            result.count(work(sid))
        except StaleDataError:  # a person changed the session meanwhile: next pass decides
            release(svc, sid)
            result.count(SKIPPED)
        except Exception:
            # The lease is kept: it runs out and the row is tried again (a natural backoff).
            log.exception("%s failed on session %s", result.name, sid)
            result.count(FAILED)
    return result


def _by_workspace(svc: Services, db: Session, key: str, default: int) -> list[tuple[int, Any]]:
    """(value, account filter) pairs: one per distinct per-workspace override of ``key``, and
    the default for every other workspace. Keeps each claim a single index range."""
    rows = db.execute(select(AccountSettings.account_id, AccountSettings.settings)).all()
    groups: dict[int, list[uuid.UUID]] = {}
    for account_id, settings in rows:
        try:
            value = int((settings or {}).get(key))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        groups.setdefault(max(1, value), []).append(account_id)
    out: list[tuple[int, Any]] = [(v, AISession.account_id.in_(a)) for v, a in groups.items()]
    overridden = [a for accounts in groups.values() for a in accounts]
    out.append((default, AISession.account_id.not_in(overridden) if overridden else None))
    return out


def _say(svc: Services, channel: str, thread_ts: str | None, msg: Message) -> str | None:
    try:
        return svc.notifier.post(channel, msg.text, msg.blocks, thread_ts=thread_ts)
    except SlackError as exc:
        log.warning("could not post in %s: %s", channel, exc.message)
        return None


def _note(text: str, session_id: uuid.UUID, *, resume: bool = False) -> Message:
    out = [bk.section(text)]
    if resume:
        out.append(bk.actions([bk.button("▶️ Resume", ids.RESUME, str(session_id))]))
    return bk.finish(out, text, session_id=str(session_id))


def _refresh(svc: Services, session_id: uuid.UUID) -> None:
    from bot.services.refresh import refresh_header

    try:
        refresh_header(svc, session_id)
    except Exception:  # the header is cosmetic; the state change is saved
        log.warning("could not refresh the header of %s", session_id, exc_info=True)


def _move(db: Session, session: AISession, event: str, now: datetime, why: str) -> None:
    """A status change made by a job: exact time accounting, no more nudges."""
    from bot.services.lifecycle import move_status
    from bot.services.sessions import add_step

    move_status(session, event, now)
    session.next_nudge_at = None
    session.snoozed_until = None
    session.job_lease_until = None
    if st.is_terminal(session.status):
        session.ended_at = now
        session.escalation_post_next_at = None
        session.escalation_deadline_at = None
    add_step(db, session, "status", None, {"event": event, "author": "flowpilot", "why": why}, now)


# ── nudge_stale ───────────────────────────────────────────────────────────────────────────


def nudge_where(now: datetime) -> list[ColumnElement[bool]]:
    return [AISession.status == st.ACTIVE, AISession.next_nudge_at <= now,
            or_(AISession.snoozed_until.is_(None), AISession.snoozed_until <= now)]


def nudge_stale(svc: Services, now: datetime) -> JobResult:
    """One nudge per idle active session, in working hours, unless someone spoke recently;
    after ``max_nudges`` unanswered nudges the session is parked."""
    ids_ = claim(svc, now, nudge_where(now), AISession.next_nudge_at)
    return _each(svc, JobResult("nudge_stale"), ids_, lambda sid: _nudge_one(svc, sid, now))


@dataclass
class _Nudge:
    channel: str
    thread: str
    msg: Message
    previous_nudged_at: datetime | None


def _nudge_one(svc: Services, sid: uuid.UUID, now: datetime) -> str:
    parked: Message | None = None
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return SKIPPED
        if s.status != st.ACTIVE or s.next_nudge_at is None or s.next_nudge_at > now or (
                s.snoozed_until is not None and s.snoozed_until > now):
            s.job_lease_until = None  # changed since the claim
            return SKIPPED
        cfg = config(svc, db, s.account)
        tz = s.user.tz if s.user else "UTC"
        spoke = s.last_human_activity_at
        if spoke is not None and spoke > now - cfg.nudge_after:
            s.next_nudge_at, s.job_lease_until = spoke + cfg.nudge_after, None
            return SKIPPED
        if not within(cfg.hours, now, tz):
            s.next_nudge_at, s.job_lease_until = next_working_moment(cfg.hours, now, tz), None
            return SKIPPED
        idle = seconds_to_text((now - (s.last_activity_at or s.created_at)).total_seconds())
        if s.nudge_count >= cfg.max_nudges:
            _move(db, s, st.PARK, now, f"{s.nudge_count} nudges unanswered")
            parked = _note(f"⏸️ Parked automatically: {s.nudge_count} nudges went unanswered "
                           f"(quiet for {idle}). Press Resume to carry on.", sid, resume=True)
            channel, thread = s.slack_channel_id, s.slack_thread_ts
        else:
            # Recorded before the post: a crash after this commit skips one nudge, never
            # doubles it.
            nudge = _Nudge(s.slack_channel_id, s.slack_thread_ts,
                           render_nudge(str(sid), s.user.slack_user_id if s.user else None, idle),
                           s.last_nudged_at)
            s.nudge_count += 1
            s.last_nudged_at = now
            s.next_nudge_at = now + cfg.nudge_after
            s.snoozed_until = None
    if parked is not None:
        svc.metrics.sessions.labels("auto_parked").inc()
        _say(svc, channel, thread, parked)
        _refresh(svc, sid)
        return DONE
    try:
        svc.notifier.post(nudge.channel, nudge.msg.text, nudge.msg.blocks, thread_ts=nudge.thread)
    except SlackError as exc:
        log.warning("nudge of %s not posted: %s", sid, exc.message)
        with unit_of_work(svc.factory) as db:
            s = db.get(AISession, sid)
            if s is not None and s.last_nudged_at == now:
                s.nudge_count = max(0, s.nudge_count - 1)
                s.last_nudged_at = nudge.previous_nudged_at
                s.next_nudge_at = now + NUDGE_RETRY
                s.job_lease_until = None
        return FAILED
    release(svc, sid)
    return DONE


# ── auto_park and abandon_parked ──────────────────────────────────────────────────────────


def park_where(now: datetime, cutoff: datetime) -> list[ColumnElement[bool]]:
    return [AISession.status == st.ACTIVE, AISession.last_activity_at <= cutoff,
            or_(AISession.snoozed_until.is_(None), AISession.snoozed_until <= now)]


def auto_park(svc: Services, now: datetime) -> JobResult:
    """Active sessions idle past the workspace's park time are parked, with a note."""
    result = JobResult("auto_park")
    with unit_of_work(svc.factory) as db:
        groups = _by_workspace(svc, db, "park_after_minutes", svc.settings.park_after_minutes)
    for minutes, scope in groups:
        where = park_where(now, now - timedelta(minutes=minutes))
        ids_ = claim(svc, now, [*where, *([scope] if scope is not None else [])],
                     AISession.last_activity_at)
        _each(svc, result, ids_, lambda sid: _idle_one(svc, sid, now, park=True))
    return result


def abandon_where(cutoff: datetime) -> list[ColumnElement[bool]]:
    return [AISession.status == st.PAUSED, AISession.status_changed_at <= cutoff]


def abandon_parked(svc: Services, now: datetime) -> JobResult:
    """Sessions parked longer than the workspace's abandon time are abandoned, with a note."""
    result = JobResult("abandon_parked")
    with unit_of_work(svc.factory) as db:
        groups = _by_workspace(svc, db, "abandon_after_days", svc.settings.abandon_after_days)
    for days, scope in groups:
        where = abandon_where(now - timedelta(days=days))
        ids_ = claim(svc, now, [*where, *([scope] if scope is not None else [])],
                     AISession.status_changed_at)
        _each(svc, result, ids_, lambda sid: _idle_one(svc, sid, now, park=False))
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
            _move(db, s, st.PARK, now, "idle")
            text = (f"⏸️ Parked automatically after {idle} without activity. The clock now "
                    "counts parked time. Press Resume to carry on.")
        else:
            _move(db, s, st.ABANDON, now, "parked too long")
            text = (f"⚪ Closed without a resolution: parked for {idle}. Start a new session "
                    "with `/flowpilot <problem>` if it comes back.")
        channel, thread = s.slack_channel_id, s.slack_thread_ts
    svc.metrics.sessions.labels("auto_parked" if park else "abandoned").inc()
    _say(svc, channel, thread, _note(text, sid, resume=park))
    _refresh(svc, sid)
    return DONE


# ── post_escalations and escalation_sla ───────────────────────────────────────────────────


def post_where(now: datetime) -> list[ColumnElement[bool]]:
    return [AISession.status == st.REQUESTING_ESCALATION,
            AISession.escalation_message_ts.is_(None), AISession.escalation_post_next_at <= now]


def post_escalations(svc: Services, now: datetime) -> JobResult:
    """Post every pending escalation package (backoff and the never-twice claim live in
    ``escalation.post_escalation_package``, shared with the Escalate button)."""
    from bot.services.escalation import post_escalation_package

    # Only picked here (SKIP LOCKED spreads concurrent passes); the row's lease is taken by
    # post_escalation_package itself, so whichever caller gets it is the only one to post.
    ids_ = claim(svc, now, post_where(now), AISession.escalation_post_next_at, lease=None)
    return _each(svc, JobResult("post_escalations"), ids_,
                 lambda sid: DONE if post_escalation_package(svc, sid) else SKIPPED)


def sla_where(now: datetime) -> list[ColumnElement[bool]]:
    return [AISession.status == st.ESCALATED, AISession.escalation_deadline_at <= now]


def escalation_sla(svc: Services, now: datetime) -> JobResult:
    """An escalation nobody took over within the SLA re-pings the engineer, then the group."""
    ids_ = claim(svc, now, sla_where(now), AISession.escalation_deadline_at)
    return _each(svc, JobResult("escalation_sla"), ids_, lambda sid: _reping_one(svc, sid, now))


def _reping_one(svc: Services, sid: uuid.UUID, now: datetime) -> str:
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return SKIPPED
        if (s.status != st.ESCALATED or s.escalation_deadline_at is None
                or s.escalation_deadline_at > now):
            s.job_lease_until = None
            return SKIPPED
        if s.escalation_reping_count >= MAX_REPINGS:
            s.escalation_deadline_at, s.job_lease_until = None, None
            return SKIPPED
        cfg = config(svc, db, s.account)
        engineer = s.escalated_to.slack_user_id if s.escalated_to else None
        group = cfg.escalation_group
        first = s.escalation_reping_count == 0
        if first and engineer:
            tag = mention(engineer)
        elif group:
            tag = group_mention(group)
        else:
            tag = mention(engineer) if engineer else "<!here>"
        channel = s.escalation_channel_id or cfg.escalation_channel
        waited = seconds_to_text((now - (s.status_changed_at or now)).total_seconds())
        package_ts, session_channel, thread = (s.escalation_message_ts, s.slack_channel_id,
                                               s.slack_thread_ts)
        sla = cfg.sla
    text = (f"⏰ {tag} this escalation has waited {waited} without anyone taking it over. "
            "Press *Take over* on the package to pick it up.")
    posted = False
    if channel:
        ping = bk.finish([bk.section(text)], text, session_id=str(sid))
        posted = _say(svc, channel, package_ts, ping) is not None
    where = channel_link(channel) if channel else "the escalation channel"
    note = f"⏰ Nobody has taken this over yet; re-pinged {tag} in {where}."
    posted = (_say(svc, session_channel, thread, _note(note, sid)) is not None) or posted
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return DONE if posted else FAILED
        s.job_lease_until = None
        if not posted:
            s.escalation_deadline_at = now + REPING_RETRY
            return FAILED
        s.escalation_reping_count += 1
        s.escalation_deadline_at = (now + sla if s.escalation_reping_count < MAX_REPINGS
                                    else None)
    return DONE


# ── recover_turns ─────────────────────────────────────────────────────────────────────────


def recover_query(now: datetime, postgres: bool, limit: int = BATCH) -> Any:
    free = or_(InboundEvent.lease_until.is_(None), InboundEvent.lease_until < now)
    stuck = or_(InboundEvent.status.in_(("pending", "processing")),
                and_(InboundEvent.status == "failed", InboundEvent.attempts < TURN_ATTEMPTS))
    stmt = (
        select(InboundEvent.id, InboundEvent.session_id)
        .where(stuck, InboundEvent.received_at <= now - RECOVER_GRACE,
               InboundEvent.session_id.is_not(None),
               InboundEvent.kind.in_(deliveries.TURN_KINDS), free)
        .order_by(InboundEvent.received_at).limit(limit)
    )
    return stmt.with_for_update(skip_locked=True) if postgres else stmt


def recover_turns(svc: Services, now: datetime) -> JobResult:
    """Inputs that never got their answer (the process died mid-turn, the model was down) are
    processed again — once more at most, in the order they arrived."""
    result = JobResult("recover_turns")
    with unit_of_work(svc.factory) as db:
        rows = db.execute(recover_query(now, is_postgres(db))).all()
        event_ids = [r[0] for r in rows]
        if event_ids:
            db.execute(update(InboundEvent).where(InboundEvent.id.in_(event_ids))
                       .values(lease_until=now + LEASE))
    sessions = list(dict.fromkeys(r[1] for r in rows))
    result.claimed = len(sessions)
    for sid in sessions:
        try:
            result.count(_recover_one(svc, sid, now))
        except Exception:
            log.exception("recover_turns failed on session %s", sid)
            result.count(FAILED)
        finally:
            with unit_of_work(svc.factory) as db:
                db.execute(update(InboundEvent).where(InboundEvent.id.in_(event_ids),
                                                      InboundEvent.session_id == sid)
                           .values(lease_until=None))
    return result


def _recover_one(svc: Services, sid: uuid.UUID, now: datetime) -> str:
    from bot.services.turns import TurnRunner

    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return SKIPPED
        if s.turn_lease_until is not None and s.turn_lease_until > now:
            return SKIPPED  # a turn is running right now; it will take these inputs
        stuck = db.execute(
            select(InboundEvent).where(
                InboundEvent.session_id == sid,
                InboundEvent.status.in_(("processing", "failed")),
                InboundEvent.kind.in_(deliveries.TURN_KINDS))
        ).scalars().all()
        for event in stuck:
            if event.attempts >= TURN_ATTEMPTS:
                if event.status == "processing":
                    event.status, event.processed_at = "failed", now
                    event.error = "Gave up after the turn was interrupted twice."
                continue
            event.status, event.error, event.processed_at = "pending", None, None
    runner = svc.runner or TurnRunner(svc, 1)
    return DONE if runner.drive(sid) else SKIPPED


# ── analyze_resolved ──────────────────────────────────────────────────────────────────────


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
    return _each(svc, result, ids_, lambda sid: _analyze_one(svc, sid, now))


def _analyze_one(svc: Services, sid: uuid.UUID, now: datetime) -> str:
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return SKIPPED
        if s.status != st.RESOLVED or s.analysis_status not in ("pending", "failed"):
            s.job_lease_until = None
            return SKIPPED
        if svc.engine.name != "claude":
            s.analysis_status, s.analysis_error, s.job_lease_until = "skipped", None, None
            return SKIPPED
        markdown = session_markdown(db, s)
        model = str(workspace.value(svc, db, s.account, "ai_model")
                    or getattr(svc.engine, "model", svc.settings.ai_model))
        account_id = s.account_id
    from bot.engines.claude import draft_template

    try:
        draft = draft_template(svc.engine.client, model, markdown)  # type: ignore[attr-defined]
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
            parameters=list(draft.get("parameters") or []), status="pending",
            created_at=now, updated_at=now,
        ))
        s.analysis_status, s.analysis_error, s.job_lease_until = "completed", None, None
    return DONE


def session_markdown(db: Session, s: AISession) -> str:
    """What the analysis model reads: the problem, what was learnt and tried, the fix."""
    intake = s.intake_content or {}
    lines = [f"# {s.problem_summary or s.title or 'Session'}",
             f"Domain: {s.problem_domain or 'other'}", "", "## Problem",
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


# ── daily_digest ──────────────────────────────────────────────────────────────────────────


def daily_digest(svc: Services, now: datetime) -> JobResult:
    """Per workspace, once a day from its digest hour: yesterday's numbers and stale sessions."""
    result = JobResult("daily_digest")
    with unit_of_work(svc.factory) as db:
        accounts = db.execute(select(Account.id).where(Account.is_active.is_(True))).scalars().all()
    for account_id in accounts:
        try:
            outcome = _digest_one(svc, account_id, now, result)
        except Exception:
            log.exception("daily_digest failed for workspace %s", account_id)
            outcome = FAILED
        if outcome:
            result.count(outcome)
    return result


def _digest_due(settings: dict[str, Any], now: datetime) -> tuple[str, Any] | None:
    channel = settings.get("digest_channel")
    if not channel:
        return None
    local = now.astimezone(zone(settings.get("tz")))
    try:
        hour = int(settings.get("digest_hour", 9))
    except (TypeError, ValueError):
        hour = 9
    if local.hour < hour or settings.get("last_digest_date") == local.date().isoformat():
        return None
    return str(channel), local


def _digest_one(svc: Services, account_id: uuid.UUID, now: datetime, result: JobResult) -> str:
    with unit_of_work(svc.factory) as db:
        if _digest_due(get_all_settings(db, account_id), now) is None:
            return ""
        set_settings(db, account_id, {})  # make sure the row exists, so it can be locked
    with unit_of_work(svc.factory) as db:
        # The row lock makes the check-and-mark atomic across scheduler processes.
        db.execute(select(AccountSettings.account_id)
                   .where(AccountSettings.account_id == account_id).with_for_update())
        settings = get_all_settings(db, account_id)
        due = _digest_due(settings, now)
        if due is None:
            return ""
        channel, local = due
        previous = settings.get("last_digest_date")
        set_setting(db, account_id, "last_digest_date", local.date().isoformat())
    result.claimed += 1
    msg = _digest_message(svc, account_id, now, local)
    try:
        svc.notifier.post(channel, msg.text, msg.blocks)
    except SlackError as exc:
        log.warning("digest for %s not posted: %s", account_id, exc.message)
        with unit_of_work(svc.factory) as db:  # un-mark, so a later pass tries again
            set_setting(db, account_id, "last_digest_date", previous)
        return FAILED
    return DONE


@dataclass
class DigestData:
    day: str
    opened: int = 0
    resolved: int = 0
    escalated: int = 0
    median_resolve_seconds: float | None = None
    domains: list[tuple[str, int]] = field(default_factory=list)
    stale: list[tuple[str, str | None, str, str]] = field(default_factory=list)  # title, link, idle, owner
    stale_total: int = 0


def _digest_message(svc: Services, account_id: uuid.UUID, now: datetime, local: datetime) -> Message:
    day = local.date() - timedelta(days=1)
    start = datetime.combine(day, time(0), tzinfo=local.tzinfo).astimezone(UTC)
    end = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo).astimezone(UTC)
    mine = AISession.account_id == account_id
    data = DigestData(day=day.isoformat())
    with unit_of_work(svc.factory) as db:
        account = db.get(Account, account_id)
        assert account is not None
        stale_after = config(svc, db, account).nudge_after
        data.opened = int(db.scalar(select(func.count()).where(
            mine, AISession.created_at >= start, AISession.created_at < end)) or 0)
        resolved = db.execute(select(AISession.created_at, AISession.resolved_at).where(
            mine, AISession.resolved_at >= start, AISession.resolved_at < end)).all()
        data.resolved = len(resolved)
        if resolved:
            data.median_resolve_seconds = statistics.median(
                (r - c).total_seconds() for c, r in resolved if r)
        data.escalated = int(db.scalar(select(func.count()).where(
            mine, AISession.escalation_package_posted_at >= start,
            AISession.escalation_package_posted_at < end)) or 0)
        data.domains = [(str(d or "other"), int(n)) for d, n in db.execute(
            select(AISession.problem_domain, func.count()).where(
                mine, AISession.created_at >= start, AISession.created_at < end)
            .group_by(AISession.problem_domain).order_by(func.count().desc()).limit(3)).all()]
        stale_where = [mine, AISession.status == st.ACTIVE,
                       AISession.last_activity_at <= now - stale_after]
        data.stale_total = int(db.scalar(select(func.count()).where(*stale_where)) or 0)
        stale = db.execute(
            select(AISession.problem_summary, AISession.slack_channel_id,
                   AISession.slack_thread_ts, AISession.last_activity_at, User.slack_user_id)
            .join(User, User.id == AISession.user_id).where(*stale_where)
            .order_by(AISession.last_activity_at).limit(10)).all()
    for summary, channel, thread, last, owner in stale:
        idle = seconds_to_text((now - last).total_seconds()) if last else "?"
        data.stale.append((summary or "Session", svc.notifier.permalink(channel, thread), idle,
                           owner))
    return render_digest(data)


def render_digest(d: DigestData) -> Message:
    median = seconds_to_text(d.median_resolve_seconds) if d.median_resolve_seconds else "—"
    lines = [f"*Yesterday ({d.day})*: {d.opened} opened · {d.resolved} resolved · "
             f"{d.escalated} escalated · median time to resolve {median}"]
    if d.domains:
        lines.append("*Top domains*: " + ", ".join(f"{neutralize(n, max_len=40)} ({c})"
                                                    for n, c in d.domains))
    out = [bk.header("📊 FlowPilot daily digest"), bk.section("\n".join(lines))]
    if d.stale:
        items = []
        for title, link, idle, owner in d.stale:
            label = neutralize(one_line(title), max_len=80)
            shown = safe_link(link, label) if link else label
            items.append(f"• {shown} — quiet for {idle}, {mention(owner)}")
        more = f"\n…and {d.stale_total - len(d.stale)} more." if d.stale_total > len(d.stale) else ""
        out.append(bk.section(f"*Stale now ({d.stale_total})*\n" + "\n".join(items) + more))
    else:
        out.append(bk.context(["No stale sessions right now. 🎉"]))
    return bk.finish(out, f"FlowPilot daily digest for {d.day}: {d.opened} opened, "
                          f"{d.resolved} resolved, {d.escalated} escalated")


# ── the nudge's buttons ───────────────────────────────────────────────────────────────────


def _nudged_session(svc: Services, db: Session, team_id: str, user_id: str,
                    session_id: str) -> tuple[AISession, Config]:
    from bot.services.identity import ensure_user
    from bot.services.sessions import add_participant, load_for_team, require_may_act

    s = load_for_team(db, session_id, team_id)
    user = ensure_user(db, s.account, user_id, svc.notifier)
    require_may_act(s, user)
    if s.status != st.ACTIVE:
        raise DomainError(f"This session is {st.STATUS_LABELS.get(s.status, s.status)}; "
                          "the nudge no longer applies.")
    add_participant(s, user_id)
    return s, config(svc, db, s.account)


def still_working(svc: Services, *, team_id: str, user_id: str, session_id: str) -> Message:
    """Still working: the person is here, so the idle clock and the nudge count start over."""
    now = svc.clock()
    with unit_of_work(svc.factory) as db:
        s, cfg = _nudged_session(svc, db, team_id, user_id, session_id)
        s.last_activity_at = s.last_human_activity_at = now
        s.next_nudge_at, s.snoozed_until, s.nudge_count = now + cfg.nudge_after, None, 0
    text = f"👍 {mention(user_id)} is still working on this."
    return bk.finish([bk.context([text])], text, session_id=session_id)


def snooze(svc: Services, *, team_id: str, user_id: str, value: str) -> Message:
    """Snooze: ``session|30m|2h|tomorrow``; tomorrow is the next working day's start in the
    owner's time zone."""
    session_id, _, option = value.partition("|")
    now = svc.clock()
    with unit_of_work(svc.factory) as db:
        s, cfg = _nudged_session(svc, db, team_id, user_id, session_id)
        tz = s.user.tz if s.user else "UTC"
        try:
            until = snooze_until(option, now, tz, cfg.hours)
        except ValueError as exc:
            raise DomainError(str(exc)) from None
        s.snoozed_until = s.next_nudge_at = until
    local = until.astimezone(zone(tz))
    when = local.strftime("%H:%M") if local.date() == now.astimezone(zone(tz)).date() \
        else local.strftime("%a %H:%M")
    text = f"💤 {mention(user_id)} snoozed this session's nudges until {when} ({tz})."
    return bk.finish([bk.context([text])], text, session_id=session_id)


# ── the registry ──────────────────────────────────────────────────────────────────────────

Job = Callable[[Services, datetime], JobResult]

JOBS: dict[str, Job] = {
    "nudge_stale": nudge_stale,
    "auto_park": auto_park,
    "abandon_parked": abandon_parked,
    "post_escalations": post_escalations,
    "escalation_sla": escalation_sla,
    "recover_turns": recover_turns,
    "analyze_resolved": analyze_resolved,
    "daily_digest": daily_digest,
}

# Seconds between runs under the scheduler.
INTERVALS: dict[str, int] = {name: 60 for name in JOBS} | {"daily_digest": 900,
                                                           "analyze_resolved": 300}


def run_job(svc: Services, name: str, now: datetime | None = None) -> JobResult:
    """Run one job once (the scheduler and ``flowpilot jobs run``), counted in the metrics."""
    job = JOBS[name]
    try:
        result = job(svc, now or svc.clock())
    except Exception:
        svc.metrics.jobs.labels(name, "error").inc()
        raise
    svc.metrics.jobs.labels(name, "ok").inc()
    if result.claimed or result.failed:
        log.info("%s", result)
    return result
