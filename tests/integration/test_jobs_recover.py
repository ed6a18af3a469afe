"""recover_turns: an input that never got its answer is processed again, once, in order."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from test_jobs_support import T0, app, bot_posts, clock, load, seed, svc

from bot.jobs import recover_turns
from bot.sandbox.fake_slack import FakeSlack
from bot.services.container import Services
from storage.db import unit_of_work
from storage.models import InboundEvent

__all__ = ["app", "clock", "svc"]  # fixtures


def _input(svc: Services, sid: uuid.UUID, text: str, *, ago: timedelta, status: str = "pending",
           attempts: int = 0, kind: str = "reply") -> uuid.UUID:
    with unit_of_work(svc.factory) as db:
        event = InboundEvent(delivery_key=f"turn:{uuid.uuid4()}", kind=kind, session_id=sid,
                             payload={"author": "U100", "text": text, "team_id": "T0001"},
                             status=status, attempts=attempts, received_at=T0 - ago)
        db.add(event)
        db.flush()
        return event.id


def _events(svc: Services, sid: uuid.UUID) -> list[tuple[str, int]]:
    with unit_of_work(svc.factory) as db:
        rows = db.execute(select(InboundEvent.status, InboundEvent.attempts)
                          .where(InboundEvent.session_id == sid)
                          .order_by(InboundEvent.received_at)).all()
    return [(r[0], r[1]) for r in rows]


def test_input_stuck_in_processing_after_a_crash_is_processed_once(
        svc: Services, fake_slack: FakeSlack) -> None:
    # The process died mid-turn: the input is "processing" and the turn lease ran out.
    sid = seed(svc, fake_slack, turn_lease_until=T0 - timedelta(minutes=1))
    _input(svc, sid, "the printer is offline", ago=timedelta(minutes=10), status="processing",
           attempts=1, kind="intake")
    _input(svc, sid, "it has a static IP", ago=timedelta(minutes=9))
    before = len(bot_posts(fake_slack))
    result = recover_turns(svc, T0)
    assert (result.claimed, result.done) == (1, 1)
    assert _events(svc, sid) == [("done", 2), ("done", 1)]
    assert len(bot_posts(fake_slack)) > before
    assert recover_turns(svc, T0 + timedelta(minutes=5)).claimed == 0


def test_a_running_turn_and_a_fresh_input_are_left_alone(svc: Services, fake_slack: FakeSlack) -> None:
    busy = seed(svc, fake_slack, turn_lease_until=T0 + timedelta(minutes=3))
    _input(svc, busy, "hello", ago=timedelta(minutes=10), status="processing", attempts=1)
    fresh = seed(svc, fake_slack, owner="U200")
    _input(svc, fresh, "just arrived", ago=timedelta(seconds=30))
    result = recover_turns(svc, T0)
    assert (result.claimed, result.skipped) == (1, 1)
    assert _events(svc, busy) == [("processing", 1)]
    assert _events(svc, fresh) == [("pending", 0)]


def test_interrupted_twice_gives_up(svc: Services, fake_slack: FakeSlack) -> None:
    sid = seed(svc, fake_slack)
    _input(svc, sid, "hello", ago=timedelta(minutes=10), status="processing", attempts=2)
    recover_turns(svc, T0)
    assert _events(svc, sid) == [("failed", 2)]
    assert recover_turns(svc, T0 + timedelta(minutes=10)).claimed == 0


def test_failed_turn_is_retried_once(svc: Services, fake_slack: FakeSlack) -> None:
    sid = seed(svc, fake_slack)
    _input(svc, sid, "the model was down", ago=timedelta(minutes=10), status="failed", attempts=1)
    assert recover_turns(svc, T0).done == 1
    assert _events(svc, sid) == [("done", 2)]
    again = seed(svc, fake_slack, owner="U200")
    _input(svc, again, "failed twice", ago=timedelta(minutes=10), status="failed", attempts=2)
    assert recover_turns(svc, T0).claimed == 0


def test_inputs_of_a_parked_session_are_ignored_not_answered(
        svc: Services, fake_slack: FakeSlack) -> None:
    sid = seed(svc, fake_slack, status="paused")
    _input(svc, sid, "while parked", ago=timedelta(minutes=10))
    before = len(bot_posts(fake_slack))
    assert recover_turns(svc, T0).skipped == 1
    assert [s for s, _ in _events(svc, sid)] == ["ignored"]
    assert len(bot_posts(fake_slack)) == before
    assert load(svc, sid) is not None
