"""``deliver_outputs``: send every due row of the outbox (``bot.services.outbox``)."""

from __future__ import annotations

from datetime import datetime

from bot.jobs.common import JobResult
from bot.services.container import Services
from bot.services.outbox import deliver_one, due_ids


def deliver_outputs(svc: Services, now: datetime) -> JobResult:
    result = JobResult("deliver_outputs")
    ids_ = due_ids(svc, now)
    result.claimed = len(ids_)
    for oid in ids_:
        result.count(deliver_one(svc, oid, now))  # each row is claimed on its own
    return result
