"""APScheduler wiring: each job of ``bot.jobs`` on an interval, inside ``run`` / ``serve`` or
alone in ``flowpilot scheduler``. The scheduler holds no state of its own: what is due lives
in the database, so a restart (or a second scheduler process) loses and doubles nothing."""

from __future__ import annotations

import logging
from datetime import UTC
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from bot.jobs import INTERVALS, JOBS, run_job
from bot.services.container import Services

if TYPE_CHECKING:
    from bot.bootstrap import FlowPilot

log = logging.getLogger(__name__)


def _tick(svc: Services, name: str) -> None:
    try:
        run_job(svc, name)
    except Exception:  # logged and counted; the next interval tries again
        log.exception("scheduled job %s failed", name)


def build_scheduler(svc: Services) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=UTC)
    for name in JOBS:
        scheduler.add_job(
            _tick, "interval", seconds=INTERVALS[name], args=[svc, name], id=name, name=name,
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )
    return scheduler


def start_scheduler(fp: FlowPilot) -> BackgroundScheduler:
    """Start every job on its interval; ``fp.close()`` shuts the scheduler down."""
    scheduler = build_scheduler(fp.services)
    scheduler.start()
    fp.extras["scheduler"] = scheduler
    log.info("scheduler started: %s", ", ".join(f"{n} every {INTERVALS[n]}s" for n in JOBS))
    return scheduler
