"""Queue mode with real ``flowpilot worker`` processes (two of them) on PostgreSQL: every
input answered exactly once while the workers race for sessions, a worker killed mid-turn
(SIGKILL), and every worker connection cut (``pg_terminate_backend``, as a PostgreSQL restart
does to them) under load."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from support import SECRET, Harness

from storage.models import AISession, InboundEvent

pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]
STALLED_AFTER = "3"  # seconds: a killed worker's jobs run again quickly in these tests


@contextlib.contextmanager
def _workers(tmp_path: Path, db_url: str, slack: Any, anthropic_url: str | None, *,
             count: int = 2, concurrency: int = 4) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTHROPIC_",
                                                                      "FLOWPILOT_"))}
    env.update(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.url,
               FLOWPILOT_DATABASE_URL=db_url, FLOWPILOT_WORK_MODE="queue",
               FLOWPILOT_WORKER_STALLED_AFTER=STALLED_AFTER, FLOWPILOT_DB_POOL_SIZE="6",
               FLOWPILOT_WORKER_NICE="0")
    if anthropic_url:
        env.update(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=anthropic_url)
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        for i in range(count):
            log = tmp_path / f"worker{i}.log"
            logs.append(log)
            with open(log, "wb") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "worker", "--concurrency",
                     str(concurrency)], env=env, cwd=tmp_path, stdout=out,
                    stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while not all("work queue running" in log.read_text(errors="replace") for log in logs):
            for proc, log in zip(procs, logs, strict=True):
                if proc.poll() is not None:
                    raise AssertionError(f"a worker exited:\n{log.read_text(errors='replace')}")
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, log in zip(procs, logs, strict=True):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            if os.environ.get("FP_SHOW_WORKER_LOGS"):
                print(log.read_text(errors="replace"))


def _wait(h: Harness, probe: Callable[[Any], Any], timeout: float = 60.0,
          what: str = "the workers did not get there in time") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with h.svc.factory() as db:
            found = probe(db)
        if found:
            return found
        time.sleep(0.2)
    with h.svc.factory() as db:
        left = db.execute(select(InboundEvent.kind, InboundEvent.status, InboundEvent.attempts,
                                 InboundEvent.error)
                          .where(InboundEvent.status != "done")).all()
        jobs = db.execute(text("SELECT task_name, status::text, attempts, lock, worker_id, "
                               "scheduled_at > now() FROM procrastinate_jobs "
                               "WHERE status IN ('todo', 'doing')")).all()
        workers = db.execute(text("SELECT id, now() - last_heartbeat "
                                  "FROM procrastinate_workers")).all()
    raise AssertionError(f"{what}: not done {left}; jobs {jobs}; workers {workers}")


def _open_sessions(web: Harness, n: int) -> list[tuple[Any, str, str]]:
    """(session id, channel, thread) of ``n`` sessions opened by commands (a worker opens
    them and takes their intake turns)."""
    channels = [f"C{i + 1}" for i in range(n)]
    for channel in channels:
        assert web.command(f"VPN drops every few minutes on laptop {channel}",
                           channel=channel) == (200, "")

    def opened(db: Any) -> list[tuple[Any, str, str]] | None:
        rows = db.execute(select(AISession.id, AISession.slack_channel_id,
                                 AISession.slack_thread_ts)).all()
        if len(rows) < n:
            return None
        done = db.execute(select(InboundEvent.id).where(
            InboundEvent.kind == "intake", InboundEvent.status != "done")).first()
        return None if done else [tuple(r) for r in rows]

    return sorted(_wait(web, opened), key=lambda r: r[1])


def _replies_done(db: Any) -> bool | None:
    rows = db.execute(select(InboundEvent.status).where(InboundEvent.kind == "reply")).all()
    return bool(rows) and all(r[0] == "done" for r in rows) or None


def _eyes(slack: Any) -> Counter[str]:
    """How often the bot reacted 👀 (a turn took the reply) per reply ts."""
    return Counter(str(c.body.get("timestamp")) for c in slack.calls("reactions.add")
                   if c.body.get("name") == "eyes")


def test_two_workers_answer_every_input_exactly_once(
        tmp_path: Path, db_url: str, engine: Any, fake_slack: Any) -> None:
    web = Harness(db_url, fake_slack, FLOWPILOT_WORK_MODE="queue")
    try:
        with _workers(tmp_path, db_url, fake_slack, None, concurrency=4):
            sessions = _open_sessions(web, 6)
            sent: list[str] = []
            for round_ in range(3):  # three replies per session, racing across sessions
                for _sid, channel, thread in sessions:
                    ts = f"18000000{round_:02d}.{int(channel[1:]):06d}"
                    assert web.reply(f"update {round_}", thread, channel=channel,
                                     ts=ts) == (200, "")
                    sent.append(ts)
            _wait(web, _replies_done, what="not every reply was answered")
            eyes = _eyes(fake_slack)
            assert all(eyes[ts] == 1 for ts in sent), {ts: eyes[ts] for ts in sent}
            with web.svc.factory() as db:
                attempts = db.execute(select(InboundEvent.attempts).where(
                    InboundEvent.kind == "reply")).scalars().all()
            assert sorted(attempts) == [1] * len(sent), "no input was taken twice"
            # Jobs whose inputs an earlier job of the session took end with nothing to do.
            _wait(web, lambda db: db.execute(text(
                "SELECT count(*) = 0 FROM procrastinate_jobs WHERE task_name IN "
                "('flowpilot.turns', 'flowpilot.work') AND status <> 'succeeded'")).scalar(),
                what="jobs were left behind")
            assert sum(_eyes(fake_slack)[ts] for ts in sent) == len(sent)
    finally:
        web.close()


def test_a_worker_killed_mid_turn_and_the_next_input_is_answered_once(
        tmp_path: Path, db_url: str, engine: Any, fake_slack: Any, fake_anthropic: Any) -> None:
    web = Harness(db_url, fake_slack, anthropic_url=fake_anthropic.url,
                  FLOWPILOT_WORK_MODE="queue")
    try:
        with _workers(tmp_path, db_url, fake_slack, fake_anthropic.url) as procs:
            [(sid, channel, thread)] = _open_sessions(web, 1)
            for _ in range(2):  # the next model calls hang (a stray call may take one)
                fake_anthropic.hang(20)
            web.reply("it started after the update", thread, channel=channel,
                      ts="1800000001.000001")

            def in_flight(db: Any) -> str | None:
                """The holder of the turn that took the reply (it is with the model)."""
                taken = db.execute(select(InboundEvent.status).where(
                    InboundEvent.delivery_key == "msg:C1:1800000001.000001")).scalar()
                holder = db.execute(select(AISession.turn_lease_holder)
                                    .where(AISession.id == sid)).scalar_one()
                return holder if taken == "processing" and holder else None

            pid = int(_wait(web, in_flight).split("|")[2])
            victim = next(p for p in procs if p.pid == pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            web.reply("and it still fails", thread, channel=channel, ts="1800000001.000002")
            _wait(web, _replies_done, timeout=90, what="the inputs of the killed turn were lost")
            eyes = _eyes(fake_slack)
            assert eyes["1800000001.000002"] == 1, "the next input was answered once"
            with web.svc.factory() as db:
                rows = dict(db.execute(select(InboundEvent.delivery_key, InboundEvent.attempts)
                                       .where(InboundEvent.kind == "reply")).all())
            assert rows == {"msg:C1:1800000001.000001": 2, "msg:C1:1800000001.000002": 1}
    finally:
        web.close()


def test_a_worker_that_died_sweeping_for_stalled_jobs_does_not_stall_them_for_good(
        tmp_path: Path, db_url: str, engine: Any, fake_slack: Any) -> None:
    """A worker killed while it ran ``retry_stalled`` itself (and a periodic sweep, and a
    turn): its jobs stay ``doing`` under a worker that no longer beats. The stalled-job
    sweep must still run on the live worker (it takes no lock a dead worker could keep)
    and the killed turn's input is answered once."""
    web = Harness(db_url, fake_slack, FLOWPILOT_WORK_MODE="queue")
    try:
        with _workers(tmp_path, db_url, fake_slack, None, count=1):
            [(sid, channel, thread)] = _open_sessions(web, 1)
        # The worker is gone; a reply is acked and its turn job waits.
        assert web.reply("it started after the update", thread, channel=channel,
                         ts="1800000002.000001") == (200, "")
        with web.svc.factory() as db, db.begin():
            dead = db.execute(text("INSERT INTO procrastinate_workers (last_heartbeat) "
                                   "VALUES (now() - interval '1 hour') RETURNING id")).scalar()
            # What the dead worker was running: the sweep, a periodic job, the turn.
            ended = [db.execute(text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, "
                "args, status, worker_id) VALUES ('flowpilot', :task, :lock, :lock, "
                "CAST(:args AS jsonb), 'doing', :w) RETURNING id"),
                {"task": task, "lock": task, "args": '{"timestamp": 0}', "w": dead}).scalar()
                for task in ("flowpilot.retry_stalled", "flowpilot.job.nudge_stale")]
            taken = db.execute(text("UPDATE procrastinate_jobs SET status = 'doing', "
                                    "worker_id = :w WHERE task_name = 'flowpilot.turns' "
                                    "AND status = 'todo'"), {"w": dead}).rowcount
            assert taken == 1
            db.execute(update(AISession).where(AISession.id == sid).values(
                turn_lease_holder="gone-host|boot|999999", turn_lease_until=None))
            db.execute(update(InboundEvent).where(
                InboundEvent.delivery_key == "msg:C1:1800000002.000001")
                .values(status="processing", attempts=1))
        with _workers(tmp_path, db_url, fake_slack, None, count=1):
            _wait(web, _replies_done, timeout=60,
                  what="the jobs of the worker that died sweeping stayed stalled")
            assert _eyes(fake_slack)["1800000002.000001"] == 1

            def periodic_freed(db: Any) -> bool:
                return not db.execute(text(
                    "SELECT 1 FROM procrastinate_jobs WHERE id = ANY(:ids) AND status = 'doing'"
                ), {"ids": ended}).first()

            _wait(web, periodic_freed, what="the dead worker's jobs were not ended")
    finally:
        web.close()


def test_worker_connections_cut_under_load_lose_nothing(
        tmp_path: Path, db_url: str, engine: Any, fake_slack: Any) -> None:
    """What a PostgreSQL restart does to the workers (their connections end), without
    restarting the server other tests share: every worker backend is terminated mid-load,
    twice; the same worker processes take every input afterwards (they start procrastinate's
    worker again and run jobs whose end was lost with the connection)."""
    web = Harness(db_url, fake_slack, FLOWPILOT_WORK_MODE="queue")
    try:
        with _workers(tmp_path, db_url, fake_slack, None, concurrency=4) as procs:
            sessions = _open_sessions(web, 4)
            sent = []
            for round_ in range(3):  # the last round after both cuts: fetching resumed
                for _sid, channel, thread in sessions:
                    ts = f"18000001{round_:02d}.{int(channel[1:]):06d}"
                    web.reply(f"more {round_}", thread, channel=channel, ts=ts)
                    sent.append(ts)
                if round_ == 2:
                    break
                # The second cut waits for the workers to be connected again (LISTEN at least).
                _wait(web, lambda db: db.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name = 'flowpilot-worker'")).scalar(), timeout=30,
                    what="the workers' connections were not found to cut")
            _wait(web, _replies_done, timeout=120, what="inputs were lost after the cut")
            eyes = _eyes(fake_slack)
            assert all(eyes[ts] >= 1 for ts in sent)
            assert all(p.poll() is None for p in procs), "the workers survived the cut"
    finally:
        web.close()
