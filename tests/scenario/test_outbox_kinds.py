"""Nudges and escalation packages go through the outbox too: a Slack 500, ``ok:false``, a 429
(Retry-After) or a timeout whose post did land (the answer was lost) on their post each end
with the message posted exactly once after retries, and the session's state following it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from lifecycle_support import ESC, load, open_session
from sqlalchemy import select
from support import Harness

from bot.clock import FakeClock
from bot.domain.refs import session_ref
from bot.jobs import nudge_stale, post_escalations
from bot.jobs.outputs import deliver_outputs
from bot.services import outbox
from storage.models import OutboxMessage

Make = Callable[..., Harness]

# Each failure hits the kind's post only (picked by the fake's predicate), as Slack answers:
# https://api.slack.com/methods/chat.postMessage#errors, https://api.slack.com/apis/rate-limits
FAILURES = {
    "http_500": {"status": 500, "error": "internal_error", "times": 1},
    "ok_false": {"status": 200, "error": "internal_error", "times": 1},
    # The SDK retries a 429 itself; three in a row outlast it and reach the outbox.
    "rate_limited": {"status": 429, "error": "ratelimited", "times": 3, "retry_after": 1},
    # A timeout after Slack accepted the post: the message exists, its answer never came.
    "timeout_posted": {"status": 500, "error": "internal_error", "times": 1,
                       "take_effect": True},
}


def _rows(h: Harness, kind: str) -> list[OutboxMessage]:
    with h.svc.factory() as db:
        return list(db.execute(select(OutboxMessage).where(OutboxMessage.kind == kind))
                    .scalars())


def _is_nudge(call: Any) -> bool:
    return "Still working" in str(call.body.get("blocks"))


def _nudges(h: Harness, thread: str) -> list[dict[str, Any]]:
    return [m for m in h.bot_messages("C1", thread) if "Still working" in str(m.get("blocks"))]


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_nudge_is_posted_exactly_once(
        make: Make, fake_anthropic: Any, failure: str) -> None:
    clock = FakeClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))  # 10:00 for the owner (NY)
    h = make(clock=clock)
    thread, sid = open_session(h, fake_anthropic)
    h.slack.fail_when("chat.postMessage", _is_nudge, **FAILURES[failure])
    assert nudge_stale(h.svc, clock.advance(minutes=40)).claimed == 1
    expected_now = 1 if failure == "timeout_posted" else 0
    assert len(_nudges(h, thread)) == expected_now
    [row] = _rows(h, "nudge")
    assert row.status == "pending" and row.attempts == 1
    assert load(h, sid).nudge_count == 1  # recorded once, whatever Slack said

    for _ in range(3):
        deliver_outputs(h.svc, clock.advance(minutes=1))
        assert nudge_stale(h.svc, clock.now).claimed == 0  # not due again: no second nudge
    nudges = _nudges(h, thread)
    assert len(nudges) == 1
    [row] = _rows(h, "nudge")
    assert (row.status, row.result_ref) == ("sent", nudges[0]["ts"])
    if failure == "timeout_posted":  # found by its marker, not posted again
        assert any(c.body.get("include_all_metadata")
                   for c in h.slack.calls("conversations.replies"))


def _is_package(call: Any) -> bool:
    return call.body.get("channel") == ESC


def _packages(h: Harness) -> list[dict[str, Any]]:
    return [m for m in h.slack.messages(ESC) if not m.get("thread_ts")
            or m.get("thread_ts") == m["ts"]]


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_escalation_package_is_posted_exactly_once(
        make: Make, fake_anthropic: Any, failure: str) -> None:
    clock = FakeClock()
    h = make(clock=clock, FLOWPILOT_ESCALATION_CHANNEL=ESC)
    _thread, sid = open_session(h, fake_anthropic)
    h.slack.fail_when("chat.postMessage", _is_package, **FAILURES[failure])
    h.command(f"escalate {session_ref(str(sid))} Needs an Exchange admin")
    h.settle()
    assert len(_packages(h)) == (1 if failure == "timeout_posted" else 0)
    s = load(h, sid)
    assert s.status == "requesting_escalation" and s.escalation_message_ts is None
    [row] = _rows(h, "escalation")
    assert row.attempts == 1 and row.status == "pending"
    assert row.next_attempt_at is None  # post_escalations' backoff owns the retry

    for _ in range(3):  # both jobs run, as the scheduler runs them
        clock.advance(minutes=5)
        post_escalations(h.svc, clock.now)
        deliver_outputs(h.svc, clock.now)
        h.settle()
    packages = _packages(h)
    assert len(packages) == 1
    s = load(h, sid)
    assert s.status == "escalated" and s.escalation_message_ts == packages[0]["ts"]
    [row] = _rows(h, "escalation")
    assert (row.status, row.result_ref, row.attempts) == ("sent", packages[0]["ts"], 2)
    meta = packages[0].get("metadata") or {}
    assert meta.get("event_type") == outbox.MARKER
    assert meta["event_payload"]["session_id"] == str(sid)
    if failure == "timeout_posted":  # the channel's history was read for the marker
        assert any(c.body.get("include_all_metadata")
                   for c in h.slack.calls("conversations.history"))


def test_a_package_is_not_reposted_when_slack_cannot_say_whether_it_landed(
        make: Make, fake_anthropic: Any) -> None:
    """The post landed, its answer was lost, and the history read fails too: no blind
    repost; the next attempt finds it."""
    clock = FakeClock()
    h = make(clock=clock, FLOWPILOT_ESCALATION_CHANNEL=ESC)
    _thread, sid = open_session(h, fake_anthropic)
    h.slack.fail_when("chat.postMessage", _is_package, **FAILURES["timeout_posted"])
    h.slack.fail_when("conversations.history", lambda c: True, status=500, times=1)
    h.command(f"escalate {session_ref(str(sid))} Needs an Exchange admin")
    h.settle()
    post_escalations(h.svc, clock.advance(minutes=5))
    assert len(_packages(h)) == 1 and load(h, sid).status == "requesting_escalation"
    post_escalations(h.svc, clock.advance(minutes=5))
    h.settle()
    assert len(_packages(h)) == 1 and load(h, sid).status == "escalated"


def test_the_fake_returns_history_metadata_only_when_asked(fake_slack: Any) -> None:
    from bot.notify import Notifier, make_web_client

    notifier = Notifier(make_web_client("xoxb-test", fake_slack.url))
    marker = {"event_type": outbox.MARKER, "event_payload": {"outbox_id": "abc"}}
    ts = notifier.post("C1", "hello", metadata=marker)
    plain = notifier.client.conversations_history(channel="C1").data
    assert all("metadata" not in m for m in plain["messages"])  # type: ignore[index]
    assert notifier.find_channel_marker("C1", outbox.MARKER, "outbox_id", "abc") == ts
    assert notifier.find_channel_marker("C1", outbox.MARKER, "outbox_id", "zzz") is None


def _is_header(call: Any) -> bool:
    return call.body.get("channel") == "C1" and not call.body.get("thread_ts")


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_header_is_posted_exactly_once(
        make: Make, fake_anthropic: Any, failure: str) -> None:
    h = make(clock=FakeClock())
    h.slack.fail_when("chat.postMessage", _is_header, **FAILURES[failure])
    thread, sid = open_session(h, fake_anthropic)
    headers = [m for m in h.slack.messages("C1") if not m.get("thread_ts")
               or m.get("thread_ts") == m["ts"]]
    assert len(headers) == 1 and headers[0]["ts"] == thread
    assert load(h, sid).root_message_ts == thread
    [row] = _rows(h, "header")
    assert (row.status, row.result_ref, row.attempts) == ("sent", thread, 2)
    if failure == "timeout_posted":
        assert any(c.body.get("include_all_metadata")
                   for c in h.slack.calls("conversations.history"))


def test_a_header_slack_keeps_refusing_fails_the_opening_once(
        make: Make, fake_anthropic: Any) -> None:
    h = make(clock=FakeClock())
    h.slack.fail_when("chat.postMessage", _is_header, status=500, times=None)
    from lifecycle_support import PROBLEM

    assert h.command(PROBLEM)[0] == 200
    h.settle()
    [row] = _rows(h, "header")
    assert row.status == "failed" and row.told_at is not None  # the sweep leaves it alone
    assert deliver_outputs(h.svc, h.svc.clock()).claimed == 0
    assert [m for m in h.slack.messages("C1") if not m.get("thread_ts")] == []
    told = h.ephemerals_text("U1")
    assert "internal_error" in told, told  # the technician is told, as before


def test_a_package_posted_whose_bookkeeping_was_lost_is_not_posted_again(
        make: Make, fake_anthropic: Any) -> None:
    """The package is in Slack and its outbox row ``sent``, but the process died before the
    session recorded it: the next pass records it from the row; no second package."""
    from sqlalchemy import update

    from storage.db import unit_of_work
    from storage.models import AISession

    clock = FakeClock()
    h = make(clock=clock, FLOWPILOT_ESCALATION_CHANNEL=ESC)
    _thread, sid = open_session(h, fake_anthropic)
    h.command(f"escalate {session_ref(str(sid))} Needs an Exchange admin")
    h.settle()
    [package] = _packages(h)
    with unit_of_work(h.svc.factory) as db:
        db.execute(update(AISession).where(AISession.id == sid).values(
            status="requesting_escalation", escalation_message_ts=None,
            escalation_post_next_at=clock.now))
    assert post_escalations(h.svc, clock.advance(minutes=1)).done == 1
    h.settle()
    assert _packages(h) == [package]
    s = load(h, sid)
    assert s.status == "escalated" and s.escalation_message_ts == package["ts"]
