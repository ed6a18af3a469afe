"""Where work after Slack's ack runs.

``inline`` (the default): under ``flowpilot run`` and ``serve``, in a worker process of their
own on the same host (``bot.services.host_dispatch``, ``bot.host_worker``), so the process that
acks Slack never runs model turns; ``thread`` (and ``flowpilot try``, the test harness): on
this process's worker pool (``InlineDispatch``). ``queue`` (``FLOWPILOT_WORK_MODE=queue``,
PostgreSQL): work and turns are procrastinate jobs (``bot.services.queue``), deferred in the
transaction that records them; ``flowpilot worker`` processes run them (``bot.worker``), so
the processes that ack Slack never run model turns or rendering, and either side scales on
its own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, update

from bot import liveness
from bot.services import queue
from storage.db import unit_of_work
from storage.models import InboundEvent
from storage.queries import deliveries

if TYPE_CHECKING:
    from bot.services.container import Services

log = logging.getLogger(__name__)
WorkFn = Callable[["Services", dict[str, Any]], None]
WORK_LEASE = timedelta(minutes=5)
WORK_ATTEMPTS = 2  # a work item is carried out at most twice: once, and once after a crash


class Dispatch:
    """Named work with JSON payloads (so it can cross a process boundary)."""

    queued = False  # True: work and turns run in worker processes, not here
    # Queued only: the record's own transaction wakes the workers (queue mode: its
    # procrastinate job is written in it); when False (the one-host worker,
    # ``HostDispatch``), ``recorded()`` wakes them once the record is committed.
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

    def retry_turn(self, session_id: uuid.UUID, delay: timedelta, attempt: int) -> None:
        """Take the session's inputs again after ``delay`` (a crashed turn, queue mode)."""
        self.kick(session_id)


class InlineDispatch(Dispatch):
    def later(self, name: str, payload: dict[str, Any]) -> None:
        self.svc.runner.submit(self.run, name, payload)

    def kick(self, session_id: uuid.UUID) -> None:
        self.svc.runner.kick(session_id)


class QueueDispatch(Dispatch):
    queued = True

    def later(self, name: str, payload: dict[str, Any]) -> None:
        with unit_of_work(self.svc.factory) as db:
            queue.record_work(db, key=f"work:{uuid.uuid4()}", kind=f"work:{name}",
                              now=self.svc.clock(), team_id=payload.get("team_id"),
                              payload=payload)

    def kick(self, session_id: uuid.UUID) -> None:
        """The session's inputs are recorded: make sure a turn job will take them."""
        with unit_of_work(self.svc.factory) as db:
            queue.defer_turn(db, session_id)

    def retry_turn(self, session_id: uuid.UUID, delay: timedelta, attempt: int) -> None:
        with unit_of_work(self.svc.factory) as db:
            queue.defer_turn(db, session_id, delay=delay, now=self.svc.clock(), attempt=attempt)


def run_recorded(svc: Services, event_id: uuid.UUID, name: str | None = None,
                 payload: dict[str, Any] | None = None, *, queued: bool = False,
                 reclaim: bool = False) -> bool:
    """Carry out a recorded work item (``work:<name>``) once: claim it (pending → processing,
    holder recorded), run it, mark it done or failed. False when another process has it.
    An item left ``processing`` by a process that died (or whose lease ran out) is claimed
    again with ``reclaim`` (queue mode: procrastinate retried the job of a worker that
    stopped beating), at most ``WORK_ATTEMPTS`` times in all. ``queued`` (a worker's job): run
    with the item's workspace token, and a first failure is put back and raised, so
    procrastinate retries the job after its backoff."""
    now = svc.clock()
    me = liveness.me()
    claimable = InboundEvent.status == "pending"
    if reclaim:
        claimable = or_(claimable, (InboundEvent.status == "processing")
                        & (InboundEvent.attempts < WORK_ATTEMPTS))
    with unit_of_work(svc.factory) as db:
        row = db.execute(
            update(InboundEvent)
            .where(InboundEvent.id == event_id, InboundEvent.kind.like("work:%"), claimable)
            .values(status="processing", lease_until=now + WORK_LEASE, lease_holder=me,
                    attempts=InboundEvent.attempts + 1)
            .returning(InboundEvent.kind, InboundEvent.payload, InboundEvent.lease_holder,
                       InboundEvent.attempts)
        ).first()
    if row is None:
        return False
    name = name or row[0].removeprefix("work:")
    payload = payload or dict(row[1] or {})
    status, error = "done", None
    try:
        if queued:
            from bot.services.tenancy import for_team

            with for_team(svc, payload.get("team_id")):  # that workspace's token
                svc.dispatch.run(name, payload)
        else:
            svc.dispatch.run(name, payload)
    except Exception as exc:
        log.exception("work %s failed", name)
        if queued and row[3] < WORK_ATTEMPTS:
            with unit_of_work(svc.factory) as db:  # pending again: the job's retry takes it
                db.execute(update(InboundEvent).where(InboundEvent.id == event_id)
                           .values(status="pending", error=exc.__class__.__name__))
            raise
        status, error = "failed", exc.__class__.__name__
    with unit_of_work(svc.factory) as db:
        deliveries.finish(db, event_id, status, svc.clock(), error)
    return True
