"""Acked means accepted: a `/flowpilot <problem>` acked by a process that is then killed with
SIGKILL (inline mode, before the session was opened) is opened once after the restart, by
the recovery job; running the job again changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support import Harness

from bot.jobs.recovery import recover_turns
from storage.models import AISession, InboundEvent

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import sys, time
sys.path[:0] = [{tests!r}]
from support import Harness

class Slack:  # the parent's fake Slack, by URL
    url = {url!r}
    def hook_url(self, tag="x"):
        return {url!r}.rsplit("/api", 1)[0] + "/hooks/" + tag

h = Harness({db!r}, Slack(), workers=2)
h.fp.services.bot_user_id = "UFPBOT"
status, _ = h.command("the scanner on floor 2 shows offline since this morning")
print("acked", status, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_command_acked_before_a_kill_opens_its_session_once(
        db_url: str, engine: Any, fake_slack: Any) -> None:
    # The header post hangs, so the child is killed after its ack, mid-work.
    fake_slack.script("chat.postMessage", {"ok": False, "error": "internal_error"}, 1, 200, {},
                      10.0)
    code = CHILD.format(tests=str(ROOT / "tests"), url=fake_slack.url, db=db_url)
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["acked", "200"]
        deadline = time.monotonic() + 20
        while not fake_slack.calls("chat.postMessage") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake_slack.calls("chat.postMessage"), "the child never started the work"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    fake_slack.reset()

    h = Harness(db_url, fake_slack, workers=2)  # the restarted process
    try:
        with h.svc.factory() as db:
            assert db.execute(select(AISession)).first() is None
            work = db.execute(select(InboundEvent.status)
                              .where(InboundEvent.kind == "work:open_command")).scalar_one()
        assert work == "processing"  # claimed by the dead process
        now = h.svc.clock() + timedelta(minutes=1)
        recover_turns(h.svc, now)
        h.settle()
        recover_turns(h.svc, now + timedelta(minutes=1))
        h.settle()
        with h.svc.factory() as db:
            sessions = db.execute(select(AISession)).scalars().all()
            row = db.execute(select(InboundEvent.status, InboundEvent.attempts)
                             .where(InboundEvent.kind == "work:open_command")).one()
        assert len(sessions) == 1 and "scanner" in sessions[0].problem_summary
        assert tuple(row) == ("done", 2)
        headers = [m for m in fake_slack.messages("C1") if not m.get("thread_ts")
                   or m.get("thread_ts") == m.get("ts")]
        assert len(headers) == 1
    finally:
        h.close()


def test_an_inline_command_is_recorded_as_work_and_done(harness: Harness) -> None:
    harness.command("printer in room 4 jams on every job")
    harness.settle()
    with harness.svc.factory() as db:
        row = db.execute(select(InboundEvent.status, InboundEvent.attempts)
                         .where(InboundEvent.kind == "work:open_command")).one()
        assert db.execute(select(AISession)).scalar_one() is not None
    assert tuple(row) == ("done", 1)
