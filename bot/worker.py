"""The work loop of ``flowpilot scheduler`` in queue mode: take recorded work (sessions to
open, messages to refresh) and sessions with queued turn inputs, woken by
``LISTEN flowpilot_work`` and polling as a backstop. Claims use ``FOR UPDATE SKIP LOCKED``,
so any number of these processes can run side by side."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy import select, update

from bot import liveness
from bot.bootstrap import FlowPilot
from bot.jobs.recovery import reclaim_work
from bot.services.dispatch import CHANNEL
from bot.services.tenancy import for_team
from storage.db import unit_of_work
from storage.models import InboundEvent
from storage.queries import deliveries

log = logging.getLogger(__name__)
BATCH = 50
LEASE = timedelta(minutes=5)
RECLAIM_SECONDS = 5.0


class Worker:
    def __init__(self, fp: FlowPilot, *, poll_seconds: float = 1.0) -> None:
        self.fp = fp
        self.svc = fp.services
        self.poll_seconds = poll_seconds
        self.stop = threading.Event()
        self._driving: set[uuid.UUID] = set()
        self._last_reclaim = float("-inf")
        self._lock = threading.Lock()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="fp-worker", daemon=True)
        thread.start()
        return thread

    def run_forever(self) -> None:
        url = self.fp.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self.stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self.stop.is_set():
                        self.pass_once()
                        for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                            pass
            except Exception:
                log.exception("work loop failed; restarting in 1 s")
                self.stop.wait(1.0)

    def pass_once(self) -> int:
        """Hand out what is waiting; returns how many items were started. Work a killed
        worker had claimed is put back first (checked every few seconds)."""
        clock = time.monotonic()
        if clock - self._last_reclaim >= RECLAIM_SECONDS:
            self._last_reclaim = clock
            try:
                reclaim_work(self.svc, self.svc.clock())
            except Exception:
                log.exception("reclaiming abandoned work failed")
        return self._take_work() + self._take_turns()

    def _take_work(self) -> int:
        now = self.svc.clock()
        with unit_of_work(self.svc.factory) as db:
            rows = db.execute(
                select(InboundEvent.id, InboundEvent.kind, InboundEvent.payload)
                .where(InboundEvent.status == "pending", InboundEvent.kind.like("work:%"))
                .order_by(InboundEvent.received_at).limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                db.execute(
                    update(InboundEvent).where(InboundEvent.id.in_([r[0] for r in rows]))
                    .values(status="processing", lease_until=now + LEASE,
                            lease_holder=liveness.me(), attempts=InboundEvent.attempts + 1)
                )
        for event_id, kind, payload in rows:
            self.svc.runner.submit(self._run, event_id, kind.removeprefix("work:"), payload)
        return len(rows)

    def _run(self, event_id: uuid.UUID, name: str, payload: dict[str, Any]) -> None:
        status, error = "done", None
        try:
            with for_team(self.svc, payload.get("team_id")):  # that workspace's token
                self.svc.dispatch.run(name, payload)
        except Exception as exc:
            log.exception("work %s failed", name)
            status, error = "failed", exc.__class__.__name__
        with unit_of_work(self.svc.factory) as db:
            deliveries.finish(db, event_id, status, self.svc.clock(), error)

    def _take_turns(self) -> int:
        with unit_of_work(self.svc.factory) as db:
            sessions = db.execute(
                select(InboundEvent.session_id)
                .where(InboundEvent.status == "pending",
                       InboundEvent.kind.in_(deliveries.TURN_KINDS),
                       InboundEvent.session_id.is_not(None))
                .order_by(InboundEvent.received_at).limit(BATCH * 4)
            ).scalars().all()
        started = 0
        for session_id in dict.fromkeys(s for s in sessions if s is not None):
            with self._lock:
                if session_id in self._driving:
                    continue
                self._driving.add(session_id)
            self.svc.runner.submit(self._drive, session_id)
            started += 1
        return started

    def _drive(self, session_id: uuid.UUID) -> None:
        try:
            self.svc.runner.drive(session_id)
        finally:
            with self._lock:
                self._driving.discard(session_id)
