"""``recover_turns``: inputs that never got their answer are processed once more."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from bot import liveness
from bot.jobs.common import BATCH, DONE, FAILED, LEASE, SKIPPED, JobResult
from bot.services.container import Services
from bot.services.dispatch import run_recorded
from storage.db import is_postgres, unit_of_work
from storage.models import AISession, InboundEvent
from storage.queries import deliveries

log = logging.getLogger(__name__)

RECOVER_GRACE = timedelta(minutes=2)  # a pending input younger than this is still in flight
TURN_ATTEMPTS = 2  # an input is processed at most twice: once, and once more by recovery


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


def reclaim_work(svc: Services, now: datetime) -> int:
    """Recorded work (``work:*``) left ``processing`` by a process that died (a worker process
    of one host, ``bot.host_worker``): pending again (done at most twice in all), or failed.
    Queue mode does not need it: procrastinate re-runs a dead worker's job, which claims its
    item again (``run_recorded(reclaim=True)``). A holder known dead is reclaimed at once, any
    other when its lease has run out. Returns how many items were put back or given up."""
    with unit_of_work(svc.factory) as db:
        rows = db.execute(
            select(InboundEvent.id, InboundEvent.lease_until, InboundEvent.lease_holder,
                   InboundEvent.attempts)
            .where(InboundEvent.status == "processing", InboundEvent.kind.like("work:%"))
            .limit(BATCH)
        ).all()
        dead_holders: dict[str | None, bool] = {}
        changed = 0
        for event_id, lease_until, holder, attempts in rows:
            if holder not in dead_holders:
                dead_holders[holder] = liveness.is_dead(holder)
            expired = lease_until is None or lease_until < now
            if not (expired or dead_holders[holder]):
                continue
            values: dict[str, Any] = (
                {"status": "pending", "lease_until": None, "lease_holder": None}
                if attempts < TURN_ATTEMPTS else
                {"status": "failed", "processed_at": now,
                 "error": "Gave up after the work was interrupted twice."})
            changed += db.execute(
                update(InboundEvent).where(InboundEvent.id == event_id,
                                           InboundEvent.status == "processing")
                .values(**values)
            ).rowcount  # type: ignore[attr-defined]
    if changed:
        log.warning("put back %d work item(s) a dead or late worker had claimed", changed)
    return changed


WORK_GRACE = timedelta(seconds=30)  # inline work younger than this is still on its way


def run_abandoned_work(svc: Services, now: datetime) -> int:
    """Inline mode: recorded work (a session to open) that no process ran — it died between
    the ack and the work — is run now, once (``run_recorded`` claims it atomically). In queue
    mode the workers take pending work themselves."""
    if svc.dispatch.queued:
        return 0
    with unit_of_work(svc.factory) as db:
        rows = db.execute(
            select(InboundEvent.id, InboundEvent.kind, InboundEvent.payload)
            .where(InboundEvent.status == "pending", InboundEvent.kind.like("work:%"),
                   InboundEvent.received_at <= now - WORK_GRACE)
            .order_by(InboundEvent.received_at).limit(BATCH)
        ).all()
    ran = 0
    for event_id, kind, payload in rows:
        ran += run_recorded(svc, event_id, kind.removeprefix("work:"), dict(payload or {}))
    if ran:
        log.warning("ran %d recorded work item(s) an earlier process had acked but not done", ran)
    return ran


def recover_turns(svc: Services, now: datetime) -> JobResult:
    """Inputs that never got their answer (the process died mid-turn, the model was down) are
    processed again — once more at most, in the order they arrived. In queue mode they go to
    the session's turn job (procrastinate retries the work of a worker that stopped beating
    itself: ``bot.worker``)."""
    result = JobResult("recover_turns")
    if not svc.dispatch.queued or not svc.dispatch.notifies:
        reclaim_work(svc, now)
    run_abandoned_work(svc, now)
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

    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return SKIPPED
        if s.turn_lease_until is not None and s.turn_lease_until > now \
                and not liveness.is_dead(s.turn_lease_holder):
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
    if svc.dispatch.queued:
        svc.kick(sid)  # the session's turn job (in order, one at a time) or the host worker
        return DONE
    return DONE if svc.runner.drive(sid) else SKIPPED
