"""The jobs by name, how often each runs, and ``run_job`` (the scheduler and the CLI)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.jobs.analysis import analyze_resolved
from bot.jobs.common import JobResult
from bot.jobs.digest import daily_digest
from bot.jobs.escalations import escalation_sla, post_escalations
from bot.jobs.nudges import nudge_stale
from bot.jobs.outputs import deliver_outputs
from bot.jobs.parking import abandon_parked, auto_park
from bot.jobs.recovery import recover_turns
from bot.services.container import Services

log = logging.getLogger(__name__)

Job = Callable[[Services, datetime], JobResult]

JOBS: dict[str, Job] = {
    "nudge_stale": nudge_stale,
    "auto_park": auto_park,
    "abandon_parked": abandon_parked,
    "post_escalations": post_escalations,
    "escalation_sla": escalation_sla,
    "recover_turns": recover_turns,
    "analyze_resolved": analyze_resolved,
    "daily_digest": daily_digest,
    "deliver_outputs": deliver_outputs,
}

# Seconds between runs under the scheduler.
INTERVALS: dict[str, int] = {name: 60 for name in JOBS} | {"daily_digest": 900,
                                                           "analyze_resolved": 300,
                                                           "deliver_outputs": 5}


def run_job(svc: Services, name: str, now: datetime | None = None) -> JobResult:
    """Run one job once (the scheduler and ``flowpilot jobs run``), counted in the metrics."""
    job = JOBS[name]
    try:
        result = job(svc, now or svc.clock())
    except Exception:
        svc.metrics.jobs.labels(name, "error").inc()
        raise
    svc.metrics.jobs.labels(name, "ok").inc()
    if result.claimed or result.failed:
        log.info("%s", result)
    return result
