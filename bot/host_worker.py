"""The worker process of ``flowpilot run`` and ``serve`` in the default work mode (``inline``).

The process that acks Slack only checks, records and acks (``bot.services.host_dispatch``);
this process, started by it on the same host, runs the turns, the work after the ack and the
scheduled jobs, so a slow or busy turn never holds an ack back (they no longer share one
interpreter's lock). Two sides:

* ``HostWorker`` (in the acking process): starts ``python -m bot.host_worker``, wakes it by
  writing a byte to its stdin (a pipe: no ``LISTEN/NOTIFY``, so SQLite works too), restarts it
  when it dies (at once after a long run, with a growing pause when it keeps dying), and stops
  it with the parent: closing the pipe asks it to finish; if the parent dies, even by
  SIGKILL, the pipe closes by itself and the worker finishes too. The worker inherits the
  parent's stdout and stderr, so its log lines go to the same stream.
* ``HostConsumer`` (in the worker): takes recorded work (``work:<name>`` rows) and sessions with
  pending turn inputs, on each wake-up and every second as a backstop. On start it takes back
  what a dead predecessor had claimed: its work items (``reclaim_work``) and its turns (the
  session's turn lease is taken from the dead holder and the inputs it had taken are queued
  again, ``TurnRunner._claim_from_dead``), each input at most twice in all.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from storage.db import read_only
from storage.models import InboundEvent
from storage.queries import deliveries

if TYPE_CHECKING:
    from bot.bootstrap import FlowPilot

log = logging.getLogger("bot.host_worker")  # also when run as __main__
BATCH = 50
POLL_SECONDS = 1.0
RESTART_PAUSE = 1.0  # first pause after a worker that died young; doubles up to the next
RESTART_PAUSE_MAX = 30.0
STABLE_AFTER = 30.0  # seconds: a worker that ran this long is restarted at once when it dies
STOP_SECONDS = 25.0  # how long the parent waits for the worker to finish on shutdown
DRAIN_SECONDS = 20.0  # how long the worker waits for its running turns when told to stop
LOG_FORMAT = "%(asctime)s %(levelname)s [worker %(process)d] %(name)s: %(message)s"


# --------------------------------------------------------------------------------------------
# The parent's side
# --------------------------------------------------------------------------------------------


class HostWorker:
    """Start, wake, supervise and stop the worker process."""

    def __init__(self, argv: list[str] | None = None, *, env: dict[str, str] | None = None) -> None:
        self.argv = argv or [sys.executable, "-m", "bot.host_worker"]
        self.env = env
        self.restarts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._started = 0.0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None else None

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="fp-host-worker", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        # close_fds (the default): no other child inherits the pipe, so its end is ours alone.
        proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, env=self.env)
        assert proc.stdin is not None
        os.set_blocking(proc.stdin.fileno(), False)  # a wake-up never blocks an ack
        self._proc, self._started = proc, time.monotonic()
        log.info("worker process %d started (turns and work after the ack)", proc.pid)

    def wake(self) -> None:
        """Tell the worker there is work (cheap; safe from any thread)."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        try:
            os.write(proc.stdin.fileno(), b"w")
        except BlockingIOError:
            pass  # the pipe holds unread wake-ups already: the worker will look
        except (OSError, ValueError):
            pass  # it died (its restart looks at everything waiting) or is being stopped

    def _watch(self) -> None:
        pause = RESTART_PAUSE
        while True:
            proc = self._proc
            assert proc is not None
            code = proc.wait()
            if self._stopping.is_set():
                return
            ran = time.monotonic() - self._started
            if ran >= STABLE_AFTER:
                pause, wait = RESTART_PAUSE, 0.0
            else:
                wait, pause = pause, min(pause * 2, RESTART_PAUSE_MAX)
            how = f"signal {-code}" if code < 0 else f"status {code}"
            log.error("worker process %d ended (%s) after %.0f s; starting another%s", proc.pid,
                      how, ran, f" in {wait:.0f} s" if wait else "")
            if proc.stdin is not None:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
            if self._stopping.wait(wait):
                return
            try:
                self._spawn()
                self.restarts += 1
            except OSError:
                log.exception("could not start the worker process")
                self._started = time.monotonic()

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Ask the worker to finish (close its pipe), wait, then end it."""
        self._stopping.set()
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("worker process %d did not finish in %.0f s; ending it", proc.pid, timeout)
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --------------------------------------------------------------------------------------------
# The worker's side
# --------------------------------------------------------------------------------------------


class HostConsumer:
    """Take recorded work and sessions with pending inputs onto this process's turn pool."""

    def __init__(self, fp: FlowPilot, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.fp = fp
        self.svc = fp.services
        self.poll_seconds = poll_seconds
        self.woken = threading.Event()
        self.stopped = threading.Event()
        self._held: set[uuid.UUID] = set()  # work items and sessions handed to the pool
        self._lock = threading.Lock()

    def halt(self) -> None:
        self.stopped.set()
        self.woken.set()

    def listen(self, fd: int) -> threading.Thread:
        """Read wake-ups from the parent's pipe; its end (the parent stopped or died) stops us."""

        def read() -> None:
            while True:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    log.info("the acking process closed the pipe: finishing")
                    self.halt()
                    return
                self.woken.set()

        thread = threading.Thread(target=read, name="fp-wake", daemon=True)
        thread.start()
        return thread

    def run(self) -> None:
        try:
            self.recover()
        except Exception:
            log.exception("taking back a dead worker's work failed")
        while not self.stopped.is_set():
            self.woken.clear()
            try:
                self.pass_once()
            except Exception:
                log.exception("taking work failed; trying again in 1 s")
                self.stopped.wait(1.0)
            self.woken.wait(self.poll_seconds)

    def recover(self) -> int:
        """What a worker that died had claimed: its work items pending again, and each of its
        sessions driven (its lease is taken from the dead holder, its inputs queued again)."""
        from bot.jobs.recovery import reclaim_work

        reclaim_work(self.svc, self.svc.clock())
        with read_only(self.fp.db) as conn:
            sessions = conn.execute(
                select(InboundEvent.session_id).distinct()
                .where(InboundEvent.status == "processing",
                       InboundEvent.kind.in_(deliveries.TURN_KINDS),
                       InboundEvent.session_id.is_not(None))
                .limit(BATCH * 4)
            ).scalars().all()
        return sum(self._drive_soon(sid) for sid in sessions if sid is not None)

    def pass_once(self) -> int:
        """Hand out what is waiting; returns how many items were started."""
        return self._take_work() + self._take_turns()

    def _hold(self, key: uuid.UUID) -> bool:
        with self._lock:
            if key in self._held:
                return False
            self._held.add(key)
            return True

    def _let_go(self, key: uuid.UUID) -> None:
        with self._lock:
            self._held.discard(key)

    def _take_work(self) -> int:
        with read_only(self.fp.db) as conn:
            rows = conn.execute(
                select(InboundEvent.id, InboundEvent.kind, InboundEvent.payload)
                .where(InboundEvent.status == "pending", InboundEvent.kind.like("work:%"))
                .order_by(InboundEvent.received_at).limit(BATCH)
            ).all()
        started = 0
        for event_id, kind, payload in rows:
            if self._hold(event_id):
                self._submit(self._work, event_id, kind.removeprefix("work:"),
                             dict(payload or {}))
                started += 1
        return started

    def _work(self, event_id: uuid.UUID, name: str, payload: dict[str, Any]) -> None:
        from bot.services.dispatch import run_recorded
        from bot.services.tenancy import for_team

        try:
            with for_team(self.svc, payload.get("team_id")):  # that workspace's token
                run_recorded(self.svc, event_id, name, payload)  # claimed once, then run
        finally:
            self._let_go(event_id)

    def _take_turns(self) -> int:
        with read_only(self.fp.db) as conn:
            sessions = conn.execute(
                select(InboundEvent.session_id)
                .where(InboundEvent.status == "pending",
                       InboundEvent.kind.in_(deliveries.TURN_KINDS),
                       InboundEvent.session_id.is_not(None))
                .order_by(InboundEvent.received_at).limit(BATCH * 4)
            ).scalars().all()
        return sum(self._drive_soon(sid) for sid in dict.fromkeys(sessions) if sid is not None)

    def _drive_soon(self, session_id: uuid.UUID) -> int:
        if not self._hold(session_id):
            return 0  # being driven: the drive takes new inputs before it lets go
        self._submit(self._drive, session_id)
        return 1

    def _drive(self, session_id: uuid.UUID) -> None:
        try:
            assert self.svc.runner is not None
            self.svc.runner.drive(session_id)
        finally:
            self._let_go(session_id)

    def _submit(self, fn: Any, *args: Any) -> None:
        assert self.svc.runner is not None
        if self.svc.runner.submit(fn, *args) is None:  # shutting down
            self._let_go(args[0])


def main(argv: list[str] | None = None) -> int:
    """``python -m bot.host_worker [--no-scheduler]``: started by ``run`` / ``serve``."""
    p = argparse.ArgumentParser(prog="python -m bot.host_worker",
                                description="FlowPilot's worker process (started by run/serve)")
    p.add_argument("--no-scheduler", action="store_true", help="do not run the scheduled jobs")
    args = p.parse_args(argv)

    from bot.bootstrap import build, check_ready
    from bot.cli import cli_settings, configure_logging, started
    from bot.errors import FlowPilotError

    configure_logging(LOG_FORMAT)
    try:
        settings = cli_settings()
        fp = build(settings, mode="worker")
        check_ready(fp)
    except FlowPilotError as exc:
        log.error("the worker process cannot start: %s", exc)
        return 2
    started()
    consumer = HostConsumer(fp)
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C reaches the whole process group
        signal.signal(sig, lambda *_: consumer.halt())
    consumer.listen(sys.stdin.fileno())
    if not args.no_scheduler:
        from bot.scheduling import start_scheduler

        start_scheduler(fp)
    if settings.worker_nice and not settings.database_url.startswith("sqlite"):
        # Background work yields the CPU to the acking process. Not on SQLite: there an ack
        # may wait for the write lock a turn holds, and a lowered worker would hold it longer.
        os.nice(settings.worker_nice)
    log.info("worker process running: turns and work after the ack")
    consumer.run()
    scheduler = fp.extras.pop("scheduler", None)
    if scheduler is not None:
        scheduler.shutdown(wait=False)
    if not fp.runner.wait_idle(DRAIN_SECONDS):
        # What is cut short here is taken again by the next worker process (see ``recover``).
        log.warning("stopping with turns still running; the next start takes them again")
        logging.shutdown()
        os._exit(0)
    fp.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
