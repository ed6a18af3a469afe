"""The scheduled jobs: plain functions ``job(svc, now) -> JobResult`` (APScheduler wiring is in
``bot.scheduling``; ``flowpilot jobs run NAME`` calls one directly).

Every job works the same way. Time-based state lives in columns (``next_nudge_at``,
``snoozed_until``, ``escalation_post_next_at``, ``escalation_deadline_at``), so a restart
loses nothing. A pass *claims* at most ``BATCH`` due rows with one index-driven query
(``status = X AND column <= now``, ordered by that column) and a lease (``job_lease_until``):
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two scheduler processes split the due rows
instead of both taking them; SQLite serialises writers (``BEGIN IMMEDIATE``), so the
select-then-lease transaction is already exclusive there. Each claimed row is then re-read and
re-checked in its own short transaction (it may have been resolved or deleted meanwhile),
Slack is called outside any transaction, and the lease is released. A lease that ran out
unconfirmed (the process died) makes the row due again. docs/operations-jobs.md says what a
crash at each point costs.

``common`` holds the claiming and the shared steps, ``config`` the workspace settings a pass
reads, one module per job family, and ``registry`` the names, intervals and ``run_job``.
The buttons of a nudge are use cases in ``bot.services.nudges``.
"""

from __future__ import annotations

from bot.jobs.analysis import analyze_resolved
from bot.jobs.common import JobResult, claim, claim_query
from bot.jobs.digest import daily_digest
from bot.jobs.escalations import escalation_sla, post_escalations, post_where, sla_where
from bot.jobs.nudges import _nudge_one, nudge_stale, nudge_where
from bot.jobs.parking import _idle_one, abandon_parked, abandon_where, auto_park
from bot.jobs.recovery import recover_turns
from bot.jobs.registry import INTERVALS, JOBS, run_job

__all__ = [
    "INTERVALS",
    "JOBS",
    "JobResult",
    "_idle_one",
    "_nudge_one",
    "abandon_parked",
    "abandon_where",
    "analyze_resolved",
    "auto_park",
    "claim",
    "claim_query",
    "daily_digest",
    "escalation_sla",
    "nudge_stale",
    "nudge_where",
    "post_escalations",
    "post_where",
    "recover_turns",
    "run_job",
    "sla_where",
]
