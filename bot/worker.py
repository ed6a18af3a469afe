"""``flowpilot worker`` (and ``flowpilot scheduler`` in queue mode): a procrastinate worker.

Jobs are deferred by ``bot.services.queue`` in the transactions that record them. Here they
run, ``concurrency`` at a time, on threads (sync tasks run on the event loop's default
executor, sized to ``concurrency`` here: its stock size is min(32, CPUs + 4)):

- ``flowpilot.turns``: ``TurnRunner.drive`` on the session (procrastinate's ``lock`` keeps one
  job per session running, in order). A turn that crashes is retried with backoff by the
  runner itself (``crash_retries``); an error before the turn starts (the database went away,
  no pool connection in time, a poison input) is retried here with backoff: a database error
  for as long as it lasts, anything else twice, then the thread is told once.
- ``flowpilot.work``: a recorded work item (``run_recorded``), retried once with backoff.
- the scheduled sweeps of ``bot.jobs`` as procrastinate periodic tasks (deferred once across
  all workers), plus ``retry_stalled``: jobs of workers that stopped beating (killed) for
  ``FLOWPILOT_WORKER_STALLED_AFTER`` seconds run again.

procrastinate's own pool (``queue.QUEUE_CONNECTIONS``: its LISTEN, fetch/finish and heartbeat) is
counted in the process's connection budget (``Settings.pool_size``, docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import procrastinate
from procrastinate import jobs as pjobs
from sqlalchemy import exc as sa_exc
from sqlalchemy import update

from bot import liveness
from bot.bootstrap import FlowPilot
from bot.jobs import INTERVALS, JOBS, run_job
from bot.services import queue
from bot.services.dispatch import run_recorded
from storage.db import unit_of_work
from storage.models import AISession
from storage.queries import deliveries

log = logging.getLogger(__name__)

HEARTBEAT_SHARE = 6  # beats per FLOWPILOT_WORKER_STALLED_AFTER (30 s: every 5 s)
POLL = 2.0  # fetch backstop when a NOTIFY was missed (procrastinate listens too)
BEFORE_TURN_RETRIES = 2  # a non-database error before the turn: tries after the first
DB_BACKOFF_CAP = 30.0
DEFER_RETRY_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, None)  # re-deferring a turn job


def conninfo(fp: FlowPilot) -> str:
    """libpq form of FLOWPILOT_DATABASE_URL (no SQLAlchemy driver suffix)."""
    return fp.db.url.set(drivername="postgresql").render_as_string(hide_password=False)


def cron_for(seconds: int) -> str:
    """A cron line that fires every ``seconds`` (procrastinate reads a 6th column as seconds)."""
    if seconds < 60:
        return f"* * * * * */{seconds}"
    if seconds % 3600 == 0:
        return f"0 */{seconds // 3600} * * *"
    return f"*/{max(1, seconds // 60)} * * * *"


def _is_database_error(exc: BaseException) -> bool:
    return isinstance(exc, sa_exc.OperationalError | sa_exc.TimeoutError | sa_exc.InterfaceError) \
        or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)


def make_app(fp: FlowPilot) -> procrastinate.App:
    svc = fp.services
    runner = fp.runner
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(fp), min_size=1, max_size=queue.QUEUE_CONNECTIONS,
        timeout=fp.settings.db_pool_timeout,  # waiting for one of its connections
        kwargs={"application_name": "flowpilot-worker"},
    )
    app = procrastinate.App(connector=connector)

    def turns_of(session_id: str, attempt: int) -> int:
        sid = uuid.UUID(session_id)
        try:
            return runner.drive(sid)
        except Exception as exc:
            _before_turn_failed(fp, sid, attempt, exc)
            return 0

    @app.task(name=queue.TURNS, queue=queue.QUEUE)
    async def take_turns(session_id: str, attempt: int = 0) -> int:
        # On the loop's executor (``concurrency`` threads) directly: procrastinate's path for
        # sync tasks (asgiref's SyncToAsync) costs the event loop more per job, and the loop
        # shares one interpreter with every turn thread (benchmarks/scale_out.py).
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, turns_of, session_id, attempt)

    @app.task(name=queue.WORK, queue=queue.QUEUE, pass_context=True,
              retry=procrastinate.RetryStrategy(max_attempts=1, exponential_wait=2))
    def run_work(context: procrastinate.JobContext, event_id: str) -> bool:
        return run_recorded(svc, uuid.UUID(event_id), queued=True,
                            reclaim=bool(context.job.attempts))

    for name in JOBS:
        _periodic(app, fp, name)

    sweep = max(1, int(fp.settings.worker_stalled_after // 3))
    # No ``lock``: a worker killed while it runs this would hold the lock for good, and no
    # stalled job would run again (procrastinate skips jobs whose lock a ``doing`` job holds).
    # Two runs at once are safe: each job is ended once (``_run_again``). procrastinate's own
    # recipe sets a queueing_lock and no lock too (docs/howto/production/retry_stalled_jobs.md).
    @app.periodic(cron=f"* * * * * */{sweep}", periodic_id="retry_stalled")
    @app.task(name="flowpilot.retry_stalled", queue=queue.QUEUE,
              queueing_lock="flowpilot.retry_stalled")
    async def retry_stalled(timestamp: int) -> int:
        return await _retry_stalled(app, fp)

    @app.periodic(cron="17 * * * *", periodic_id="forget_old_jobs")
    @app.task(name="flowpilot.forget_old_jobs", queue=queue.QUEUE,
              queueing_lock="flowpilot.forget_old_jobs", lock="flowpilot.forget_old_jobs")
    async def forget_old_jobs(timestamp: int) -> None:
        """Job history (/metrics, ``procrastinate`` CLI): a day of done jobs, a week of
        failed ones."""
        await app.job_manager.delete_old_jobs(nb_hours=24, queue=queue.QUEUE)
        await app.job_manager.delete_old_jobs(nb_hours=24 * 7, queue=queue.QUEUE,
                                              include_failed=True)

    return app


def _periodic(app: procrastinate.App, fp: FlowPilot, name: str) -> None:
    # One waiting and one running instance at most (APScheduler's max_instances=1, coalesce).
    @app.periodic(cron=cron_for(INTERVALS[name]), periodic_id=name)
    @app.task(name=f"flowpilot.job.{name}", queue=queue.QUEUE,
              queueing_lock=f"flowpilot.job.{name}", lock=f"flowpilot.job.{name}")
    def tick(timestamp: int) -> None:
        run_job(fp.services, name)


def _before_turn_failed(fp: FlowPilot, sid: uuid.UUID, attempt: int, exc: Exception) -> None:
    """``drive`` raised before or between turns: its transaction rolled back, so the inputs
    are still pending. Try again later; a poison input gives up after a few tries."""
    svc = fp.services
    database = _is_database_error(exc)
    log.warning("turns of session %s failed before the model (try %d, %s)", sid, attempt + 1,
                "database" if database else exc.__class__.__name__, exc_info=not database)
    if database or attempt < BEFORE_TURN_RETRIES:
        delay = min(DB_BACKOFF_CAP, 1.0 * 4 ** min(attempt, 4))
        assert svc.dispatch is not None
        # A connection may fail here too (cut together with the one that failed above):
        # the job's end would then lose the session's turn, so try again for a while.
        for wait in DEFER_RETRY_WAITS:
            try:  # a lost connection may have left this process's lease and taken inputs
                _release_own(fp, sid)
                svc.dispatch.retry_turn(sid, timedelta(seconds=delay), attempt + 1)
                return
            except Exception as again:
                if not _is_database_error(again) or wait is None:
                    raise  # recover_turns defers it later
                log.warning("could not release and defer the turns of session %s yet", sid)
                time.sleep(wait)
        return
    fp.runner.give_up(sid, f"{exc.__class__.__name__} before the turn")


async def _retry_stalled(app: procrastinate.App, fp: FlowPilot) -> int:
    """Jobs of workers that stopped beating (killed, frozen) run again; how many."""
    stalled = list(await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=fp.settings.worker_stalled_after))
    again = 0
    for job in stalled:
        try:
            if await _run_again(app, fp, job):
                log.warning("job %s (%s) of a stalled worker runs again", job.id, job.task_name)
                again += 1
        except Exception:  # one job's trouble does not keep the others stalled
            log.warning("could not run job %s (%s) of a stalled worker again yet", job.id,
                        job.task_name, exc_info=True)
    return again


async def _run_again(app: procrastinate.App, fp: FlowPilot, job: pjobs.Job) -> bool:
    """A ``doing`` job that no worker runs any more runs again; False when someone else
    ended it first (two sweeps at once, or the job finished after all).

    - A turn job is ended and deferred afresh, not retried: retrying it would clash with a
      job the session's next input may have queued meanwhile (``queueing_lock``). Its
      session's turn lease was the dead worker's (only a turn job takes it in queue mode):
      freed, and the inputs it had taken are pending again (twice at most), all in the
      transaction that ends the job.
    - A job with a ``queueing_lock`` of its own (the periodic sweeps, ``retry_stalled``) is
      ended: its next tick runs it, and retrying it would clash with that tick's waiting job.
    - Any other job (a recorded work item) is retried."""
    assert job.id is not None
    if job.task_name == queue.TURNS:
        return await asyncio.to_thread(
            _free_turns, fp, job.id, uuid.UUID(str(job.task_kwargs["session_id"])))
    if job.queueing_lock:
        await app.job_manager.finish_job(job, status=pjobs.Status.FAILED, delete_job=False)
    else:
        await app.job_manager.retry_job(job)
    return True


def _release_own(fp: FlowPilot, sid: uuid.UUID) -> None:
    """The session's turn lease, when this process holds it after its job failed: only one
    turn job per session runs at a time (procrastinate's lock), so it is stale. Inputs it
    had taken are pending again (twice at most)."""
    svc = fp.services
    with unit_of_work(svc.factory) as db:
        freed = db.execute(update(AISession)
                           .where(AISession.id == sid,
                                  AISession.turn_lease_holder == liveness.me())
                           .values(turn_lease_until=None, turn_lease_holder=None)
                           .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
        if freed:
            deliveries.requeue_interrupted(db, sid, svc.clock())


def _free_turns(fp: FlowPilot, job_id: int, sid: uuid.UUID) -> bool:
    svc = fp.services
    now = svc.clock()
    with unit_of_work(svc.factory) as db:
        if not queue.end_stalled_job(db, job_id):
            return False
        db.execute(update(AISession).where(AISession.id == sid)
                   .values(turn_lease_until=None, turn_lease_holder=None)
                   .execution_options(synchronize_session=False))
        deliveries.requeue_interrupted(db, sid, now)
        queue.defer_turn(db, sid)
    return True


class QueueWorker:
    """One procrastinate worker on its own event loop thread (``flowpilot worker`` runs it
    in the foreground; tests start several).

    It outlives its database connections (a PostgreSQL restart, terminated backends):
    procrastinate's worker ends when a query of its loop fails (fetch, heartbeat, its
    LISTEN connection that can't reconnect) — it is started again here after a backoff,
    for as long as the database is away (its pool replaces dead connections:
    ``check_connection``). A job whose end could not be written (the connection was cut
    as it finished) would stay ``doing`` under this live worker, holding its session's
    ``lock`` for good: ``_adopt_orphans`` runs such jobs again."""

    def __init__(self, fp: FlowPilot, *, concurrency: int, poll: float = POLL) -> None:
        self.fp = fp
        self.concurrency = concurrency
        self.poll = poll
        self.app = make_app(fp)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Future[None] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._stopped: asyncio.Event | None = None
        self._worker_id: int | None = None  # procrastinate's id of the running worker
        self._running: set[int] = set()  # ids of the jobs this process runs now
        self.ready = threading.Event()

    async def _track(self, call_next: Any, context: procrastinate.JobContext,
                     worker: Any) -> Any:
        """Worker middleware: which jobs this process runs (``_adopt_orphans``)."""
        self._worker_id = worker.worker_id
        job_id = context.job.id
        assert job_id is not None
        self._running.add(job_id)
        try:
            return await call_next()
        finally:
            self._running.discard(job_id)

    async def _adopt_orphans(self, every: float) -> None:
        """Jobs ``doing`` under this worker's id that it does not run (their end was lost
        with the connection) run again, once seen twice ``every`` seconds apart (a job
        between its task and the write of its end is not an orphan)."""
        seen: set[int] = set()
        while True:
            await asyncio.sleep(every)
            worker_id = self._worker_id
            if worker_id is None:
                continue
            try:
                doing = await self.app.job_manager.list_jobs_async(
                    queue=queue.QUEUE, status="doing", worker_id=worker_id)
                orphans: dict[int, pjobs.Job] = {}
                for job in doing:
                    if job.id is not None and job.id not in self._running:
                        orphans[job.id] = job
                for job_id, job in orphans.items():
                    if job_id in seen:
                        log.warning("job %s (%s) lost its end with the database connection; "
                                    "it runs again", job_id, job.task_name)
                        await _run_again(self.app, self.fp, job)
                seen = {job_id for job_id in orphans if job_id not in seen}
            except Exception:
                log.warning("could not look for lost jobs yet", exc_info=True)

    def _stop_soon(self) -> None:
        self._stopping = True
        if self._stopped is not None:
            self._stopped.set()
        if self._task is not None:
            self._task.cancel()  # procrastinate then stops gracefully (running jobs end)

    async def run_async(self, *, install_signal_handlers: bool = False) -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(
            ThreadPoolExecutor(self.concurrency + 2, thread_name_prefix="fp-job"))
        self._loop = loop
        self._stopped = asyncio.Event()
        if install_signal_handlers:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._stop_soon)
        stalled = self.fp.settings.worker_stalled_after
        async with self.app.open_async():
            options: dict[str, Any] = {
                "queues": [queue.QUEUE], "concurrency": self.concurrency,
                "fetch_job_polling_interval": self.poll,
                "update_heartbeat_interval": stalled / HEARTBEAT_SHARE,
                "stalled_worker_timeout": stalled,
                "install_signal_handlers": False,  # ours: they also end the restarts
                "delete_jobs": pjobs.DeleteJobCondition.NEVER,  # history: forget_old_jobs
                "worker_middleware": [self._track],
            }
            adopt = asyncio.ensure_future(self._adopt_orphans(max(1.0, stalled / 2)))
            self.ready.set()
            failures = 0
            try:
                while not self._stopping:
                    started = loop.time()
                    self._task = asyncio.ensure_future(self.app.run_worker_async(**options))
                    try:
                        await self._task
                        reason = "it stopped (a side task lost the database)"
                    except asyncio.CancelledError:
                        if self._stopping:
                            break
                        raise
                    except Exception as exc:
                        cause = exc.__cause__ or exc
                        reason = f"{exc.__class__.__name__} ({cause.__class__.__name__})"
                    if self._stopping:
                        break
                    self._worker_id = None
                    failures = 0 if loop.time() - started > DB_BACKOFF_CAP else failures + 1
                    delay = min(DB_BACKOFF_CAP, 0.5 * 2 ** min(failures, 6))
                    log.warning("work queue: %s; starting it again in %.1f s", reason, delay)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopped.wait(), delay)
            finally:
                adopt.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await adopt

    def run(self) -> None:
        """Foreground: until SIGINT/SIGTERM (running jobs end first)."""
        asyncio.run(self.run_async(install_signal_handlers=True))

    def start(self) -> QueueWorker:
        self._thread = threading.Thread(target=lambda: asyncio.run(self.run_async()),
                                        name="fp-queue-worker", daemon=True)
        self._thread.start()
        self.ready.wait(10)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._stop_soon)
            except RuntimeError:
                pass  # the loop already ended
        if self._thread is not None:
            self._thread.join(timeout)
