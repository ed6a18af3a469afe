"""What every job shares: the result it reports, claiming due rows under a lease, working
through them one at a time, and the notes and status changes a job posts and makes."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot import ids
from bot.domain import status as st
from bot.errors import SlackError
from bot.render import blocks as bk
from bot.render.blocks import Message
from bot.services.container import Services
from bot.services.tenancy import for_session, usable
from storage.db import is_postgres, unit_of_work
from storage.models import AccountSettings, AISession

log = logging.getLogger(__name__)

BATCH = 100
LEASE = timedelta(minutes=5)
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


def each(svc: Services, result: JobResult, ids_: list[uuid.UUID],
         work: Callable[[uuid.UUID], str]) -> JobResult:
    result.claimed += len(ids_)
    for sid in ids_:
        try:
            with for_session(svc, sid) as (team, org):  # that workspace's token
                if not usable(svc, team, org):  # Slack refused it earlier in this pass
                    release(svc, sid)
                    result.count(SKIPPED)
                    continue
                result.count(work(sid))
        except StaleDataError:  # a person changed the session meanwhile: next pass decides
            release(svc, sid)
            result.count(SKIPPED)
        except Exception:
            # The lease is kept: it runs out and the row is tried again (a natural backoff).
            log.exception("%s failed on session %s", result.name, sid)
            result.count(FAILED)
    return result


def by_workspace(svc: Services, db: Session, key: str, default: int) -> list[tuple[int, Any]]:
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


# ── what a job says and does to a session ────────────────────────────────────────────────


def say(svc: Services, channel: str, thread_ts: str | None, msg: Message) -> str | None:
    try:
        return svc.notifier.post(channel, msg.text, msg.blocks, thread_ts=thread_ts)
    except SlackError as exc:
        log.warning("could not post in %s: %s", channel, exc.message)
        return None


def note(text: str, session_id: uuid.UUID, *, resume: bool = False) -> Message:
    out = [bk.section(text)]
    if resume:
        out.append(bk.actions([bk.button("▶️ Resume", ids.RESUME, str(session_id))]))
    return bk.finish(out, text, session_id=str(session_id))


def refresh(svc: Services, session_id: uuid.UUID) -> None:
    from bot.services.refresh import refresh_header

    try:
        refresh_header(svc, session_id)
    except Exception:  # the header is cosmetic; the state change is saved
        log.warning("could not refresh the header of %s", session_id, exc_info=True)


def move(db: Session, session: AISession, event: str, now: datetime, why: str) -> None:
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
