"""``FLOWPILOT_WORK_MODE=inline`` under ``flowpilot run`` and ``serve``: this process only acks
Slack and records; a worker process it started on the same host (``bot.host_worker``) runs the
turns and the work after the ack.

As in queue mode, the delivery record is the work item (``inbound_events``: ``work:<name>``
rows and turn inputs, ``pending``), so an ack means the work is stored. The worker is woken
over a pipe rather than by ``NOTIFY``, so this works on SQLite as on PostgreSQL; it also polls,
so a lost wake-up costs at most its poll interval.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from bot.services.dispatch import Dispatch
from storage.db import unit_of_work
from storage.queries import deliveries


def _nobody() -> None:
    return None


class HostDispatch(Dispatch):
    queued = True
    notifies = False

    def __init__(self, wake: Callable[[], None] = _nobody) -> None:
        super().__init__()
        self.wake = wake  # set by the worker's supervisor (bot.host_worker.HostWorker)

    def later(self, name: str, payload: dict[str, Any]) -> None:
        with unit_of_work(self.svc.factory) as db:
            deliveries.record(db, key=f"work:{uuid.uuid4()}", kind=f"work:{name}",
                              now=self.svc.clock(), payload=payload, status="pending")
        self.wake()

    def kick(self, session_id: uuid.UUID) -> None:
        self.wake()  # the session's inputs are already recorded

    def recorded(self) -> None:
        self.wake()
