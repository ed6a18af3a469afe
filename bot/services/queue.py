"""Queue mode's jobs, deferred in our own transactions (procrastinate's tables).

A job is a row in ``procrastinate_jobs`` (procrastinate 3, MIT). We write that row with the
same columns ``procrastinate_defer_jobs_v1`` writes (its triggers add the event and the
NOTIFY that wakes a worker), inside the transaction that records the delivery, so an ack
means the work is accepted and a rolled-back delivery leaves no job. Workers
(``flowpilot worker``, ``bot.worker``) run them.

- ``flowpilot.turns``: a session's queued inputs. ``lock`` = the session id (one running job
  per session, in order), ``queueing_lock`` = the session id (at most one waiting job per
  session). A second input while a job waits joins that job: the insert meets the waiting
  row (``ON CONFLICT … DO UPDATE``), which also locks it until our commit, so a worker cannot
  start it before our input is visible. procrastinate's own ``defer`` raises
  ``AlreadyEnqueued`` there instead, which would fail the ack.
- ``flowpilot.work``: a recorded work item (``inbound_events`` row ``work:<name>``), by id.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, DateTime, Uuid, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

# The names and the reply's CTE live with the delivery statements that use them (storage
# imports nothing of ours above it); re-exported here.
from storage.queries.jobs import QUEUE, TURN_JOB_CTE, TURNS, WORK

__all__ = ["QUEUE", "QUEUE_CONNECTIONS", "TURNS", "TURN_JOB_CTE", "WORK", "QueueCollector",
           "defer_turn", "defer_work", "end_stalled_job", "record_work"]

log = logging.getLogger(__name__)
# procrastinate's own pool in a worker process (its LISTEN, fetch/finish, heartbeat): counted
# in the process's connection budget (FLOWPILOT_DB_POOL_SIZE).
QUEUE_CONNECTIONS = 3

# One waiting turn job per session; a second defer joins it and locks it until commit.
_DEFER_TURN = text(f"""
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, lock, queueing_lock, args,
                                scheduled_at)
VALUES ('{QUEUE}', '{TURNS}', 0, :sid, :sid, :args, :at)
ON CONFLICT (queueing_lock) WHERE status = 'todo'
DO UPDATE SET lock = EXCLUDED.lock
""").bindparams(bindparam("args", type_=JSONB), bindparam("at", type_=DateTime(timezone=True)))

_DEFER_WORK = text(f"""
INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args)
VALUES ('{QUEUE}', '{WORK}', 0, :args)
""").bindparams(bindparam("args", type_=JSONB))

_RECORD_WORK = text(f"""
WITH ins AS (
    INSERT INTO inbound_events (id, delivery_key, kind, slack_team_id, session_id, payload,
                                status, attempts, received_at)
    VALUES (:id, :key, :kind, :team_id, NULL, :payload, 'pending', 0, :now)
    ON CONFLICT (delivery_key) DO NOTHING
    RETURNING id
), job AS (
    INSERT INTO procrastinate_jobs (queue_name, task_name, priority, args)
    SELECT '{QUEUE}', '{WORK}', 0, jsonb_build_object('event_id', CAST(ins.id AS text))
    FROM ins
    RETURNING id
)
SELECT ins.id FROM ins
""").bindparams(bindparam("payload", type_=JSONB), bindparam("id", type_=Uuid),
               bindparam("now", type_=DateTime(timezone=True)))


def defer_turn(db: Session | Connection, session_id: uuid.UUID, *,
               delay: timedelta | None = None, now: datetime | None = None,
               attempt: int = 0) -> None:
    """Take the session's inputs in a worker (joins a job already waiting)."""
    at = (now + delay) if (delay and now) else None
    args: dict[str, Any] = {"session_id": str(session_id)}
    if attempt:
        args["attempt"] = attempt
    db.execute(_DEFER_TURN, {"sid": str(session_id), "args": args, "at": at})


# A job that no worker runs any more (its worker stopped beating, or its end was lost),
# ended in the caller's transaction: the row lock makes it once across concurrent callers.
_TAKE_DOING = text("SELECT 1 FROM procrastinate_jobs WHERE id = :id AND status = 'doing' "
                   "FOR UPDATE")
_END_FAILED = text("SELECT procrastinate_finish_job_v1(:id, 'failed', false)")


def end_stalled_job(db: Session | Connection, job_id: int) -> bool:
    """End the ``doing`` job ``job_id`` as failed in this transaction (procrastinate's own
    function, so its events are written); False when it is not ``doing`` any more (another
    worker ended it first, or it finished after all)."""
    if db.execute(_TAKE_DOING, {"id": job_id}).first() is None:
        return False
    db.execute(_END_FAILED, {"id": job_id})
    return True


def defer_work(db: Session | Connection, event_id: uuid.UUID) -> None:
    """Run the recorded work item ``event_id`` in a worker."""
    db.execute(_DEFER_WORK, {"args": {"event_id": str(event_id)}})


def record_work(db: Session | Connection, *, key: str, kind: str, now: datetime,
                team_id: str | None, payload: dict[str, Any]) -> uuid.UUID | None:
    """Record a work item and defer its job in one statement (one round trip before the
    ack); None when ``key`` was recorded before (no job either)."""
    row = db.execute(_RECORD_WORK, {
        "id": uuid.uuid4(), "key": key[:255], "kind": kind, "team_id": team_id,
        "payload": payload, "now": now,
    }).first()
    return row[0] if row else None


# -- /metrics: read from procrastinate's tables on each scrape (any serve replica) ---------------

_DEPTH = text("""
SELECT task_name, status::text, count(*)
FROM procrastinate_jobs WHERE queue_name = :queue AND status IN ('todo', 'doing', 'failed')
GROUP BY 1, 2
""")
_OLDEST = text("""
SELECT coalesce(max(extract(epoch FROM now() - e.at)), 0)
FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'deferred'
WHERE j.queue_name = :queue AND j.status = 'todo'
  AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
""")
# Waiting time (deferred → started) and run time (started → finished) of recent jobs.
_LATENCY = text("""
SELECT j.task_name,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.at - d.at)),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM s.at - d.at)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.at - s.at)),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM f.at - s.at)),
       count(*)
FROM procrastinate_jobs j
JOIN LATERAL (SELECT max(at) AS at FROM procrastinate_events
              WHERE job_id = j.id AND type = 'deferred') d ON true
JOIN LATERAL (SELECT max(at) AS at FROM procrastinate_events
              WHERE job_id = j.id AND type = 'started') s ON true
JOIN LATERAL (SELECT max(at) AS at FROM procrastinate_events
              WHERE job_id = j.id AND type IN ('succeeded', 'failed')) f ON true
WHERE j.queue_name = :queue AND j.status IN ('succeeded', 'failed')
  AND f.at > now() - interval '5 minutes'
GROUP BY 1
""")


class QueueCollector:
    """Queue depth, waiting and run times, failures: ``flowpilot_queue_*`` on ``/metrics``."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        jobs = GaugeMetricFamily("flowpilot_queue_jobs",
                                 "Jobs in the work queue by task and status (failed: kept "
                                 "7 days)", labels=["task", "status"])
        oldest = GaugeMetricFamily("flowpilot_queue_oldest_waiting_seconds",
                                   "Age of the oldest job ready to run")
        wait = GaugeMetricFamily("flowpilot_queue_wait_seconds",
                                 "Deferred to started, jobs finished in the last 5 minutes",
                                 labels=["task", "quantile"])
        run = GaugeMetricFamily("flowpilot_queue_run_seconds",
                                "Started to finished, jobs finished in the last 5 minutes",
                                labels=["task", "quantile"])
        try:
            with self.factory() as db:
                for task, status, n in db.execute(_DEPTH, {"queue": QUEUE}).all():
                    jobs.add_metric([task, status], float(n))
                oldest.add_metric([], float(db.execute(_OLDEST, {"queue": QUEUE}).scalar() or 0))
                for task, w50, w95, r50, r95, _n in db.execute(_LATENCY, {"queue": QUEUE}).all():
                    wait.add_metric([task, "0.5"], float(w50 or 0))
                    wait.add_metric([task, "0.95"], float(w95 or 0))
                    run.add_metric([task, "0.5"], float(r50 or 0))
                    run.add_metric([task, "0.95"], float(r95 or 0))
        except Exception:  # a scrape never fails because the queue can't be read
            log.warning("could not read the work queue for /metrics", exc_info=True)
            return
        yield from (jobs, oldest, wait, run)
