"""The statements that run before Slack's ack, each in its own short transaction.

The middleware (handlers/middleware.py) and the refusal path (handlers/common.py) call these,
so handlers never open a storage transaction themselves (handlers → bot → storage). Plain
connections, no ORM session: this is the hot path measured by benchmarks/ack_latency.py.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from bot.domain import status as st
from bot.services import queue
from storage.db import core_write
from storage.queries import deliveries

log = logging.getLogger(__name__)


def record_delivery(
    factory: sessionmaker[Session], *, key: str, kind: str, now: datetime,
    team_id: str | None, work: tuple[str, dict[str, Any]] | None, wake: bool,
) -> uuid.UUID | None:
    """Record a delivery (``done``), or the work it stands for (``pending``; with ``wake``,
    queue mode, its job is deferred in the same statement). None: this key was seen before."""
    def write(db: Connection) -> uuid.UUID | None:
        if work is None:
            return deliveries.record(db, key=key, kind=kind, now=now, team_id=team_id,
                                     status="done")
        if wake:  # queue mode: the delivery record is the work item, its job goes with it
            return queue.record_work(db, key=key, kind=f"work:{work[0]}", now=now,
                                     team_id=team_id, payload=work[1])
        return deliveries.record(db, key=key, kind=f"work:{work[0]}", now=now,
                                 team_id=team_id, payload=work[1], status="pending")

    return core_write(factory, write)


def record_reply(
    factory: sessionmaker[Session], *, channel: str, thread_ts: str, key: str, now: datetime,
    team_id: str | None, payload: dict[str, Any], defer: bool,
) -> deliveries.ReplyRecord | None:
    """A thread reply recorded as its session's turn input (see deliveries.record_reply)."""
    return core_write(factory, lambda db: deliveries.record_reply(
        db, channel=channel, thread_ts=thread_ts, key=key, now=now, team_id=team_id,
        payload=payload, defer=defer, turn_statuses=st.TURN_STATUSES))


def release(factory: sessionmaker[Session], *, event_id: uuid.UUID | None,
            key: str | None) -> None:
    """Free a refused delivery's key; on failure the refusal is still told, the key stays."""
    try:
        core_write(factory, lambda db: deliveries.release(db, event_id=event_id, key=key))
    except Exception:
        log.warning("could not free a refused delivery", exc_info=True)
