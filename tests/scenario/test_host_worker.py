"""The default work mode (``inline``) under ``run`` / ``serve``: the acking process records and
acks; a worker process of its own on the same host (bot/host_worker.py) takes the turns and the
work after the ack, woken over a pipe, supervised, stopped with its parent.

The first tests build both sides in this process (the acking app with ``worker_process=True``,
the worker's ``HostConsumer`` on a second app); the last ones run the real ``flowpilot serve``
and kill its worker with SIGKILL mid-turn, then the parent."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support import SECRET, TEAM, Harness

from bot.host_worker import HostConsumer, HostWorker
from bot.sandbox.signing import event_body, sign_request, slash_command_body
from bot.services.dispatch import InlineDispatch
from bot.services.host_dispatch import HostDispatch
from storage.models import AISession, InboundEvent

ROOT = Path(__file__).resolve().parents[2]


def _statuses(h: Harness, kind: str) -> list[tuple[str, int]]:
    with h.svc.factory() as db:
        rows = db.execute(select(InboundEvent.status, InboundEvent.attempts)
                          .where(InboundEvent.kind == kind)
                          .order_by(InboundEvent.received_at)).all()
    return [(str(s), int(a)) for s, a in rows]


def test_the_acking_process_records_and_wakes_the_worker_runs(
        db_url: str, engine: Any, fake_slack: Any) -> None:
    acker = Harness(db_url, fake_slack, worker_process=True)
    worker = Harness(db_url, fake_slack)  # the worker process's app (turns on its pool)
    wakes: list[int] = []
    try:
        assert isinstance(acker.svc.dispatch, HostDispatch)
        assert isinstance(worker.svc.dispatch, InlineDispatch)
        acker.svc.dispatch.wake = lambda: wakes.append(1)  # the supervisor's pipe, counted
        consumer = HostConsumer(worker.fp)

        assert acker.command("the label printer in shipping prints blank pages")[0] == 200
        assert acker.command("")[0] == 200  # empty: a modal, no work
        acker.settle()
        assert len(wakes) == 1
        assert _statuses(acker, "work:open_command") == [("pending", 0)]
        assert not fake_slack.calls("chat.postMessage"), "the acking process did the work"

        assert consumer.pass_once() == 1
        worker.settle()
        assert consumer.pass_once() == 0  # nothing left: no work taken twice
        assert _statuses(acker, "work:open_command") == [("done", 1)]
        with acker.svc.factory() as db:
            session = db.execute(select(AISession)).scalar_one()
        thread = str(session.slack_thread_ts)
        assert _statuses(acker, "intake") == [("done", 1)]

        # A reply and a retried delivery of it: one input, acked 200 both times.
        ts = fake_slack.add_message("C1", "still blank", user="U1", thread_ts=thread)["ts"]
        for _ in range(2):
            assert acker.event({"type": "message", "channel": "C1", "user": "U1",
                                "text": "still blank", "ts": ts, "thread_ts": thread,
                                "channel_type": "channel"})[0] == 200
        assert _statuses(acker, "reply") == [("pending", 0)]
        assert len(wakes) == 2  # the retry woke nobody
        assert consumer.pass_once() == 1
        worker.settle()
        assert _statuses(acker, "reply") == [("done", 1)]

        # A click: recorded as work by the acking middleware, decided in the worker.
        msg_ts, button = acker.find_button("fp_answer")
        for _ in range(2):  # a double click
            assert acker.click(button["action_id"], button["value"], message_ts=msg_ts,
                               thread_ts=thread)[0] == 200
        assert _statuses(acker, "work:click") == [("pending", 0)]
        consumer.pass_once()
        worker.settle()
        consumer.pass_once()  # the answer's turn input, if the click's work queued one
        worker.settle()
        assert _statuses(acker, "work:click") == [("done", 1)]
        assert all(s == "done" for s, _ in _statuses(acker, "answer"))
        assert acker.fp.runner.wait_idle(0) and not acker.fp.runner.pool._threads, \
            "the acking process ran no turn and no work"
    finally:
        worker.close()
        acker.close()


def test_the_worker_takes_back_what_a_dead_worker_held(
        db_url: str, engine: Any, fake_slack: Any) -> None:
    """Work a dead worker process had claimed is pending again (``reclaim_work``) and run."""
    from sqlalchemy import update

    acker = Harness(db_url, fake_slack, worker_process=True)
    worker = Harness(db_url, fake_slack)
    try:
        acker.command("the scanner on floor 3 is offline")
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
        from bot import liveness

        holder = liveness.holder_for(int(dead.stdout))  # a process that has exited
        with acker.svc.factory() as db:
            db.execute(update(InboundEvent).where(InboundEvent.kind == "work:open_command")
                       .values(status="processing", attempts=1, lease_holder=holder,
                               lease_until=func.now()))
            db.commit()
        consumer = HostConsumer(worker.fp)
        consumer.recover()
        consumer.pass_once()
        worker.settle()
        assert _statuses(acker, "work:open_command") == [("done", 2)]
        with acker.svc.factory() as db:
            assert db.execute(select(func.count()).select_from(AISession)).scalar() == 1
    finally:
        worker.close()
        acker.close()


# --- the supervisor, with a stand-in worker --------------------------------------------------

STAND_IN = """
import os, sys
out = sys.argv[1]
n = 0
while True:
    chunk = os.read(0, 4096)
    if not chunk:
        break
    n += len(chunk)
    with open(out, "a") as f:
        f.write(f"{os.getpid()} {n}\\n")
with open(out, "a") as f:
    f.write(f"{os.getpid()} eof\\n")
"""


def _wait_for(probe: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_the_supervisor_wakes_restarts_and_stops_its_worker(tmp_path: Path) -> None:
    out = tmp_path / "wakes.txt"
    out.touch()
    sup = HostWorker([sys.executable, "-c", STAND_IN, str(out)])
    sup.start()
    try:
        first = sup.pid
        assert first is not None
        sup.wake()
        sup.wake()
        _wait_for(lambda: f"{first} 2" in out.read_text())
        os.kill(first, signal.SIGKILL)
        _wait_for(lambda: sup.pid != first)  # restarted (after 1 s: it died young)
        assert sup.restarts == 1
        second = sup.pid
        sup.wake()
        _wait_for(lambda: f"{second} 1" in out.read_text())
    finally:
        sup.stop(timeout=10)
    assert f"{second} eof" in out.read_text()  # asked to finish: it read the pipe's end
    assert sup._proc is not None and sup._proc.returncode == 0
    sup.wake()  # after the stop: nothing to wake, no error


# --- the real thing: flowpilot serve and its worker process ----------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(port: int, body: str, ctype: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/slack/events", body=body.encode(),
                     headers={"Content-Type": ctype, **sign_request(SECRET, body)})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(x) for x in task.read_text().split()]
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_serve_survives_its_worker_killed_mid_turn(
        db_url: str, engine: Any, fake_slack: Any, fake_anthropic: Any, tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "FLOWPILOT_", "ANTHROPIC_"))}
    env.update(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_URL=fake_slack.url, FLOWPILOT_DATABASE_URL=db_url,
               ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fake_anthropic.url,
               FLOWPILOT_WORKERS="4")
    log = tmp_path / "serve.log"
    with open(log, "wb") as sink:
        serve = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--no-scheduler"], cwd=tmp_path, env=env, stdout=sink,
            stderr=subprocess.STDOUT)
    reader = Harness(db_url, fake_slack)  # reads the database; sends nothing
    workers: list[int] = []
    try:
        # Generous limits: they guard against a hang, not a slow machine (both processes
        # start a whole interpreter; on a loaded 2-core box that took over 30 s).
        worker = _wait_for(lambda: _children(serve.pid), 180)[0]
        workers.append(worker)
        body, ctype = slash_command_body(TEAM, "U1", "C1", "vpn drops every few minutes",
                                         response_url=fake_slack.hook_url("T/cmd"))
        _wait_for(lambda: _post(port, body, ctype) == 200 if _up(port) else None, 180)

        def session() -> Any:
            with reader.svc.factory() as db:
                return db.execute(select(AISession)).scalar_one_or_none()

        thread = str(_wait_for(session, 180).slack_thread_ts)
        _wait_for(lambda: _statuses(reader, "intake") == [("done", 1)], 120)
        calls = len(fake_anthropic.message_requests)

        # The next turn hangs in the model; the worker is killed while it waits.
        fake_anthropic.hang(60)
        ts1 = fake_slack.add_message("C1", "only on wifi", user="U1", thread_ts=thread)["ts"]
        body, ctype = event_body(TEAM, {"type": "message", "channel": "C1", "user": "U1",
                                        "text": "only on wifi", "ts": ts1, "thread_ts": thread,
                                        "channel_type": "channel"})
        assert _post(port, body, ctype) == 200
        _wait_for(lambda: len(fake_anthropic.message_requests) > calls, 120)
        assert _statuses(reader, "reply") == [("processing", 1)]
        os.kill(worker, signal.SIGKILL)

        # Acked while no worker may be running; answered by the next one.
        ts2 = fake_slack.add_message("C1", "and on the dock", user="U1", thread_ts=thread)["ts"]
        body, ctype = event_body(TEAM, {"type": "message", "channel": "C1", "user": "U1",
                                        "text": "and on the dock", "ts": ts2,
                                        "thread_ts": thread, "channel_type": "channel"})
        assert _post(port, body, ctype) == 200
        replacement = _wait_for(lambda: [p for p in _children(serve.pid) if p != worker], 120)[0]
        workers.append(replacement)
        _wait_for(lambda: all(s == "done" for s, _ in _statuses(reader, "reply")), 180)
        # The interrupted input taken again once (2 attempts), the next one once.
        assert sorted(_statuses(reader, "reply")) == [("done", 1), ("done", 2)]
        time.sleep(1.0)  # nothing else runs afterwards
        assert len(fake_anthropic.message_requests) <= calls + 3  # hung, redone (+ maybe one)
        assert serve.poll() is None and _up(port)
        assert "ended (signal 9)" in log.read_text()

        # The parent dies (SIGKILL: no clean-up of its own): its worker finishes too.
        os.kill(serve.pid, signal.SIGKILL)
        serve.wait(10)
        _wait_for(lambda: not _alive(replacement), 60)
    finally:
        reader.close()
        if serve.poll() is None:
            serve.kill()
            serve.wait(10)
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _up(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def test_thread_mode_keeps_the_work_in_the_acking_process(
        db_url: str, engine: Any, fake_slack: Any) -> None:
    h = Harness(db_url, fake_slack, worker_process=True, FLOWPILOT_WORK_MODE="thread")
    try:
        assert isinstance(h.svc.dispatch, InlineDispatch)
        h.command("the shared drive is read-only for finance")
        h.settle()
        assert _statuses(h, "work:open_command") == [("done", 1)]
    finally:
        h.close()


def test_an_unknown_work_mode_is_refused_in_one_line(tmp_path: Path) -> None:
    from bot.config import load_settings
    from bot.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        load_settings(env_file=None, FLOWPILOT_WORK_MODE="child",
                      FLOWPILOT_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    assert "FLOWPILOT_WORK_MODE" in str(refused.value)
