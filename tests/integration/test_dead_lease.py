"""A lease held by a dead process is taken back in seconds, not after the 5-minute lease:
a session's turn lease (a kill -9 mid-turn); and a queue-mode work item's claim."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from test_jobs_support import T0, app, bot_posts, clock, seed, svc

from bot import liveness
from bot.jobs.recovery import reclaim_work
from bot.sandbox.fake_slack import FakeSlack
from bot.services.container import Services
from bot.services.dispatch import run_recorded
from bot.services.turns import TurnRunner
from storage.db import unit_of_work
from storage.models import AISession, InboundEvent

__all__ = ["app", "clock", "svc"]  # fixtures
pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")


@pytest.fixture(scope="module")
def dead_holder() -> str:
    """The holder record of a real process killed with SIGKILL."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    holder = liveness.holder_for(child.pid)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert liveness.is_dead(holder)
    return holder


def _event(svc: Services, *, sid: uuid.UUID | None, kind: str, status: str, attempts: int,
           holder: str | None = None, lease: timedelta | None = None) -> uuid.UUID:
    with unit_of_work(svc.factory) as db:
        event = InboundEvent(delivery_key=f"t:{uuid.uuid4()}", kind=kind, session_id=sid,
                             payload={"author": "U100", "text": "it has a static IP",
                                      "team_id": "T0001"},
                             status=status, attempts=attempts, received_at=T0,
                             lease_holder=holder,
                             lease_until=T0 + lease if lease is not None else None)
        db.add(event)
        db.flush()
        return event.id


def _status(svc: Services, event_id: uuid.UUID) -> tuple[str, int]:
    with unit_of_work(svc.factory) as db:
        row = db.execute(select(InboundEvent.status, InboundEvent.attempts)
                         .where(InboundEvent.id == event_id)).one()
    return row[0], row[1]


def test_a_turn_lease_of_a_killed_process_is_taken_back_at_once(
        svc: Services, fake_slack: FakeSlack, dead_holder: str) -> None:
    sid = seed(svc, fake_slack, turn_lease_until=T0 + timedelta(minutes=4))
    with unit_of_work(svc.factory) as db:
        db.get(AISession, sid).turn_lease_holder = dead_holder  # type: ignore[union-attr]
    interrupted = _event(svc, sid=sid, kind="reply", status="processing", attempts=1)
    fresh = _event(svc, sid=sid, kind="reply", status="pending", attempts=0)
    before = len(bot_posts(fake_slack))
    assert TurnRunner(1).bind(svc).drive(sid) == 1  # answered now, not in 4 minutes
    assert _status(svc, interrupted) == ("done", 2) and _status(svc, fresh) == ("done", 1)
    assert len(bot_posts(fake_slack)) > before
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        assert s is not None and s.turn_lease_holder is None and s.turn_lease_until is None


def test_a_live_holders_turn_lease_is_respected(svc: Services, fake_slack: FakeSlack) -> None:
    sid = seed(svc, fake_slack, turn_lease_until=T0 + timedelta(minutes=4))
    with unit_of_work(svc.factory) as db:
        db.get(AISession, sid).turn_lease_holder = liveness.me()  # type: ignore[union-attr]
    waiting = _event(svc, sid=sid, kind="reply", status="pending", attempts=0)
    assert TurnRunner(1).bind(svc).drive(sid) == 0
    assert _status(svc, waiting) == ("pending", 0)


def test_work_of_a_stalled_job_is_claimed_again_at_most_twice(svc: Services,
                                                              dead_holder: str) -> None:
    """Queue mode: procrastinate retries the job of a worker that stopped beating; its work
    item, left ``processing``, is claimed again then (``reclaim``), twice at most in all,
    and never by a first run (a live claim is someone else's)."""
    interrupted = _event(svc, sid=None, kind="work:no_such_work", status="processing",
                         attempts=1, holder=dead_holder, lease=timedelta(minutes=4))
    twice = _event(svc, sid=None, kind="work:no_such_work", status="processing", attempts=2,
                   holder=dead_holder, lease=timedelta(minutes=4))
    assert not run_recorded(svc, interrupted)  # not a retry: left alone
    assert _status(svc, interrupted) == ("processing", 1)
    assert run_recorded(svc, interrupted, reclaim=True)
    assert _status(svc, interrupted) == ("failed", 2)  # ran (no such work: failed), once
    assert not run_recorded(svc, twice, reclaim=True)
    assert _status(svc, twice) == ("processing", 2)


def test_work_claimed_by_a_killed_worker_is_put_back(svc: Services, dead_holder: str) -> None:
    dead = _event(svc, sid=None, kind="work:open_command", status="processing", attempts=1,
                  holder=dead_holder, lease=timedelta(minutes=4))
    live = _event(svc, sid=None, kind="work:open_command", status="processing", attempts=1,
                  holder=liveness.me(), lease=timedelta(minutes=4))
    late = _event(svc, sid=None, kind="work:click", status="processing", attempts=1,
                  holder="another-host|b|1|1", lease=timedelta(minutes=-1))
    twice = _event(svc, sid=None, kind="work:click", status="processing", attempts=2,
                   holder=dead_holder, lease=timedelta(minutes=4))
    assert reclaim_work(svc, T0) == 3
    assert _status(svc, dead) == ("pending", 1)
    assert _status(svc, live) == ("processing", 1)
    assert _status(svc, late) == ("pending", 1)
    assert _status(svc, twice) == ("failed", 2)
    assert reclaim_work(svc, T0) == 0
