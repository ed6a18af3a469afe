"""Exactly-once: every inbound delivery is recorded (unique key) before Slack gets its 200."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Insert, Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.db import is_postgres
from storage.models import AISession, InboundEvent

TURN_KINDS = ("intake", "reply", "answer", "action_done", "action_skip", "fix_decision", "retry")


_RECORD_COLUMNS = ("id", "delivery_key", "kind", "slack_team_id", "session_id", "payload",
                   "status", "attempts", "received_at")


@functools.cache
def _record_statement(postgres: bool) -> Insert:
    """Built once per dialect and run with parameters: building a statement costs more CPU
    than running it, and this one runs before every ack."""
    table = cast(Table, InboundEvent.__table__)
    dialect_insert = pg_insert if postgres else sqlite_insert
    return (
        dialect_insert(table)
        .values({c: bindparam(c, type_=table.c[c].type) for c in _RECORD_COLUMNS})
        .on_conflict_do_nothing(index_elements=["delivery_key"])
        .returning(table.c.id)
    )


def record(
    db: Session | Connection, *, key: str, kind: str, now: datetime, team_id: str | None = None,
    session_id: uuid.UUID | None = None, payload: dict[str, Any] | None = None,
    status: str = "pending",
) -> uuid.UUID | None:
    """Insert the delivery; return its id, or None when this key was seen before."""
    values = {
        "id": uuid.uuid4(), "delivery_key": key[:255], "kind": kind, "slack_team_id": team_id,
        "session_id": session_id, "payload": payload or {}, "status": status, "attempts": 0,
        "received_at": now,
    }
    return db.execute(_record_statement(is_postgres(db)), values).scalar_one_or_none()


def add_turn_input(
    db: Session, session: AISession, *, kind: str, now: datetime, payload: dict[str, Any],
    key: str | None = None,
) -> uuid.UUID:
    """Queue an input for the session's next turn (an intake, a reply, a click…)."""
    event_id = uuid.uuid4()
    db.execute(
        insert(InboundEvent).values(
            id=event_id, delivery_key=(key or f"turn:{event_id}")[:255], kind=kind,
            slack_team_id=payload.get("team_id"), session_id=session.id, payload=payload,
            status="pending", attempts=0, received_at=now,
        )
    )
    return event_id


def attach(db: Session, event_id: uuid.UUID, *, session_id: uuid.UUID, kind: str,
           payload: dict[str, Any], status: str = "pending") -> None:
    """Turn a recorded delivery into a session's turn input (or mark it handled)."""
    db.execute(
        update(InboundEvent).where(InboundEvent.id == event_id).values(
            session_id=session_id, kind=kind, payload=payload, status=status
        )
    )


def finish(db: Session, event_id: uuid.UUID, status: str, now: datetime, error: str | None = None) -> None:
    db.execute(
        update(InboundEvent).where(InboundEvent.id == event_id).values(
            status=status, processed_at=now, error=error
        )
    )


def finish_all(db: Session, event_ids: list[uuid.UUID], status: str, now: datetime,
               error: str | None = None) -> None:
    if event_ids:
        db.execute(
            update(InboundEvent).where(InboundEvent.id.in_(event_ids)).values(
                status=status, processed_at=now, error=error
            )
        )


def pending_inputs(db: Session, session_id: uuid.UUID) -> list[InboundEvent]:
    """Inputs the next turn must answer, in order. Inputs of a failed turn ride along with
    new ones, so a reply after a model outage never drops what came before it."""
    rows = list(
        db.execute(
            select(InboundEvent)
            .where(InboundEvent.session_id == session_id,
                   InboundEvent.status.in_(("pending", "failed")),
                   InboundEvent.kind.in_(TURN_KINDS))
            .order_by(InboundEvent.received_at, InboundEvent.delivery_key)
        ).scalars()
    )
    if not any(r.status == "pending" for r in rows):
        return []  # failed inputs alone wait for Retry or the recover_turns job
    # Thread messages carry Slack's ts: order them as Slack did, whatever order they arrived.
    return sorted(rows, key=lambda r: (r.received_at.replace(microsecond=0),
                                       str((r.payload or {}).get("ts") or ""), r.delivery_key))


def has_pending(db: Session, session_id: uuid.UUID) -> bool:
    return db.execute(
        select(InboundEvent.id).where(
            InboundEvent.session_id == session_id, InboundEvent.status == "pending",
            InboundEvent.kind.in_(TURN_KINDS),
        ).limit(1)
    ).first() is not None
