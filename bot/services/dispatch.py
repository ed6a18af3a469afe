"""Where work after Slack's ack runs.

``inline`` (the default): under ``flowpilot run`` and ``serve``, in a worker process of their
own on the same host (``bot.services.host_dispatch``, ``bot.host_worker``), so the process that
acks Slack never runs model turns; ``thread`` (and ``flowpilot try``, the test harness): on
this process's worker pool (``InlineDispatch``). ``queue`` (``FLOWPILOT_WORK_MODE=queue``, PostgreSQL): ``flowpilot serve`` only records the
work in ``inbound_events`` and sends ``NOTIFY flowpilot_work``; ``flowpilot scheduler``
processes take it (``bot.worker``), so the processes that ack Slack never run model turns or
rendering, and either side scales on its own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from storage.db import unit_of_work
from storage.queries import deliveries

if TYPE_CHECKING:
    from bot.services.container import Services

log = logging.getLogger(__name__)
CHANNEL = "flowpilot_work"
_NOTIFY = text(f"NOTIFY {CHANNEL}")
WorkFn = Callable[["Services", dict[str, Any]], None]
WORK_LEASE = timedelta(minutes=5)


class Dispatch:
    """Named work with JSON payloads (so it can cross a process boundary)."""

    queued = False  # True: work and turns run in worker processes, not here
    # Queued only: the record's own transaction wakes the workers (PostgreSQL NOTIFY); when
    # False, ``recorded()`` wakes them once the record is committed.
    notifies = True

    def __init__(self) -> None:
        self._svc: Services | None = None
        self.work: dict[str, WorkFn] = {}

    def bind(self, svc: Services) -> None:
        """The services the work runs with (``Services`` binds itself when built)."""
        self._svc = svc

    @property
    def svc(self) -> Services:
        if self._svc is None:
            raise RuntimeError("the dispatch is not bound to services yet")
        return self._svc

    def register(self, name: str, fn: WorkFn) -> None:
        self.work[name] = fn

    def run(self, name: str, payload: dict[str, Any]) -> None:
        fn = self.work.get(name)
        if fn is None:
            raise LookupError(f"no work named {name!r}")
        fn(self.svc, payload)

    def later(self, name: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def kick(self, session_id: uuid.UUID) -> None:
        raise NotImplementedError

    def recorded(self) -> None:
        """Queued work (a delivery that is its own work item, a turn input) was committed
        by the ack path: wake whoever runs it, unless its transaction did (``notifies``)."""


class InlineDispatch(Dispatch):
    def later(self, name: str, payload: dict[str, Any]) -> None:
        self.svc.runner.submit(self.run, name, payload)

    def kick(self, session_id: uuid.UUID) -> None:
        self.svc.runner.kick(session_id)


def notify_on_commit(db: Any) -> None:
    """Wake the workers when this transaction commits (PostgreSQL delivers NOTIFY then)."""
    db.execute(_NOTIFY)


class QueueDispatch(Dispatch):
    queued = True

    def later(self, name: str, payload: dict[str, Any]) -> None:
        with unit_of_work(self.svc.factory) as db:
            deliveries.record(db, key=f"work:{uuid.uuid4()}", kind=f"work:{name}",
                              now=self.svc.clock(), payload=payload, status="pending")
            notify_on_commit(db)

    def kick(self, session_id: uuid.UUID) -> None:
        self.notify()  # the session's inputs are already recorded

    def notify(self) -> None:
        try:
            with self.svc.factory() as db:
                db.execute(_NOTIFY)
                db.commit()
        except Exception:
            # The workers also poll; a lost wake-up costs at most their poll interval.
            log.warning("NOTIFY %s failed", CHANNEL, exc_info=True)


def run_recorded(svc: Services, event_id: uuid.UUID, name: str, payload: dict[str, Any]) -> bool:
    """Carry out a recorded work item (``work:<name>``) once: claim it (pending → processing,
    holder recorded), run it, mark it done or failed. False when another process had it."""
    from sqlalchemy import update

    from bot import liveness
    from storage.models import InboundEvent

    now = svc.clock()
    with unit_of_work(svc.factory) as db:
        claimed = db.execute(
            update(InboundEvent)
            .where(InboundEvent.id == event_id, InboundEvent.status == "pending")
            .values(status="processing", lease_until=now + WORK_LEASE,
                    lease_holder=liveness.me(), attempts=InboundEvent.attempts + 1)
        ).rowcount  # type: ignore[attr-defined]
    if not claimed:
        return False
    status, error = "done", None
    try:
        svc.dispatch.run(name, payload)
    except Exception as exc:
        log.exception("work %s failed", name)
        status, error = "failed", exc.__class__.__name__
    with unit_of_work(svc.factory) as db:
        deliveries.finish(db, event_id, status, svc.clock(), error)
    return True
