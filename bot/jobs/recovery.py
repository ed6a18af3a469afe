"""``recover_turns``: inputs that never got their answer are processed once more."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from bot.jobs.common import BATCH, DONE, FAILED, LEASE, SKIPPED, JobResult
from bot.services import deliveries
from bot.services.container import Services
from storage.db import is_postgres, unit_of_work
from storage.models import AISession, InboundEvent

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
