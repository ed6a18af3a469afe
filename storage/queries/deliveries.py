"""Exactly-once: every inbound delivery is recorded (unique key) before Slack gets its 200."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    DateTime,
    Insert,
    Table,
    Uuid,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from storage.db import is_postgres
from storage.models import Account, AISession, InboundEvent
from storage.queries import jobs as _jobs

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


_THREAD_STATE = (
    select(AISession.id, AISession.status, AISession.status_changed_at, Account.slack_team_id)
    .join(Account, Account.id == AISession.account_id, isouter=True)
    .where(AISession.slack_channel_id == bindparam("channel"),
           AISession.slack_thread_ts == bindparam("thread_ts"))
    .order_by(AISession.created_at.desc()).limit(1)
)


def thread_session_state(
    db: Session | Connection, channel: str, thread_ts: str
) -> tuple[uuid.UUID, str, datetime | None, str | None] | None:
    """(id, status, status changed at, workspace) of a thread's newest session: one indexed
    lookup that reads four columns, not the session's history (this runs before Slack's ack;
    the statement is built once)."""
    row = db.execute(_THREAD_STATE, {"channel": channel, "thread_ts": thread_ts}).first()
    return (row[0], row[1], row[2], row[3]) if row else None


_REPLY_SQL = """
WITH s AS (
    SELECT ai_sessions.id, status, status_changed_at, accounts.slack_team_id AS team
    FROM ai_sessions LEFT JOIN accounts ON accounts.id = ai_sessions.account_id
    WHERE slack_channel_id = :channel AND slack_thread_ts = :thread_ts
    ORDER BY ai_sessions.created_at DESC LIMIT 1
), ins AS (
    INSERT INTO inbound_events (id, delivery_key, kind, slack_team_id, session_id, payload,
                                status, attempts, received_at)
    SELECT :id, :key, 'reply', CAST(:team_id AS text), s.id, :payload,
           CASE WHEN s.status = ANY(:turn_statuses) THEN 'pending' ELSE 'ignored' END, 0, :now
    FROM s WHERE CAST(s.team AS text) IS NOT DISTINCT FROM CAST(:team_id AS text)
    ON CONFLICT (delivery_key) DO NOTHING
    RETURNING id, status, session_id
)%s
SELECT s.id, s.status, s.status_changed_at, ins.id, s.team
FROM s LEFT JOIN ins ON true
"""
# Queue mode: the session's turn job is deferred in the same statement (storage.queries.jobs, bot.services.queue).
_QUEUE_CTE = f""", ins_s AS (
    SELECT session_id AS sid FROM ins WHERE status = 'pending'
), job AS ({_jobs.TURN_JOB_CTE})"""
_REPLY_BINDS = (bindparam("payload", type_=JSONB), bindparam("id", type_=Uuid),
                bindparam("now", type_=DateTime(timezone=True)))
_REPLY_PG = {False: text(_REPLY_SQL % "").bindparams(*_REPLY_BINDS),
             True: text(_REPLY_SQL % _QUEUE_CTE).bindparams(*_REPLY_BINDS)}


@dataclass(frozen=True)
class ReplyRecord:
    session_id: uuid.UUID
    status: str
    status_changed_at: datetime | None
    event_id: uuid.UUID | None  # None: recorded before (a retry), or another workspace's
    foreign: bool = False  # the session belongs to another workspace: nothing was recorded


def record_reply(
    db: Connection, *, channel: str, thread_ts: str, key: str, now: datetime,
    team_id: str | None, payload: dict[str, Any], turn_statuses: frozenset[str],
    defer: bool = False,
) -> ReplyRecord | None:
    """A thread reply, before the ack: find the thread's session and record the reply as its
    turn input (``pending`` when the session takes turns, else ``ignored``), and with
    ``defer`` (queue mode, PostgreSQL) defer the session's turn job when it is pending. None
    when the thread holds no session. ``turn_statuses``: the session statuses that take turns
    (``bot.domain.status.TURN_STATUSES``).

    On PostgreSQL this is one statement (one round trip); elsewhere, two."""
    if is_postgres(db):
        row = db.execute(_REPLY_PG[defer], {
            "channel": channel, "thread_ts": thread_ts, "id": uuid.uuid4(), "key": key[:255],
            "team_id": team_id, "payload": payload, "now": now,
            "turn_statuses": sorted(turn_statuses),
        }).first()
        if row is None:
            return None
        return ReplyRecord(row[0], row[1], row[2], row[3], foreign=row[4] != team_id)
    found = thread_session_state(db, channel, thread_ts)
    if found is None:
        return None
    session_id, status, changed_at, team = found
    if team != team_id:
        return ReplyRecord(session_id, status, changed_at, None, foreign=True)
    event_id = record(db, key=key, kind="reply", now=now, team_id=team_id,
                      session_id=session_id, payload=payload,
                      status="pending" if status in turn_statuses else "ignored")
    return ReplyRecord(session_id, status, changed_at, event_id)


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


def drop_failed(db: Session, session_id: uuid.UUID, now: datetime, why: str) -> int:
    """Inputs of a failed turn stop waiting for Retry (their path was left: issue 18), so they
    do not ride along with the next turn of another path. The rows stay, with the reason."""
    result = db.execute(
        update(InboundEvent)
        .where(InboundEvent.session_id == session_id, InboundEvent.status == "failed",
               InboundEvent.kind.in_(TURN_KINDS))
        .values(status="ignored", error=why[:2000], processed_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def release(db: Session | Connection, *, event_id: uuid.UUID | None = None,
            key: str | None = None) -> None:
    """A refused click frees its delivery key, so the same click counts once the person is
    allowed (or the session can take it). The row stays, under a key nothing will repeat."""
    if event_id is not None:
        where = InboundEvent.id == event_id
    elif key:
        where = InboundEvent.delivery_key == key[:255]
    else:
        return
    db.execute(update(InboundEvent).where(where).values(
        delivery_key=f"refused:{uuid.uuid4().hex}"))


INTERRUPTED_ATTEMPTS = 2  # an input is processed at most twice: once, and once more


def requeue_interrupted(db: Session, session_id: uuid.UUID, now: datetime) -> None:
    """Inputs a dead process had taken (``processing``) are pending again, or failed after
    their second try."""
    stuck = db.execute(
        select(InboundEvent).where(InboundEvent.session_id == session_id,
                                   InboundEvent.status == "processing",
                                   InboundEvent.kind.in_(TURN_KINDS))
    ).scalars().all()
    for event in stuck:
        if event.attempts >= INTERRUPTED_ATTEMPTS:
            event.status, event.processed_at = "failed", now
            event.error = "Gave up after the turn was interrupted twice."
        else:
            event.status, event.error, event.processed_at = "pending", None, None
