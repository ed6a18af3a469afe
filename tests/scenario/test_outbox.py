"""Turn answers go through the outbox: Slack 500, ok:false, 429 (after the SDK's own retries)
and a lost answer (the post happened, the response did not arrive) each end with the answer
posted exactly once; an answer that can't be posted is told once in the thread, with Retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from lifecycle_support import open_session
from sqlalchemy import select
from support import Harness

from bot.clock import FakeClock
from bot.jobs.outputs import deliver_outputs
from bot.services import outbox
from storage.models import AISessionStep, OutboxMessage

Make = Callable[..., Harness]
ANSWER = "Check whether the mailbox is over its quota."


def _is_turn_post(call: Any) -> bool:
    meta = call.body.get("metadata") or {}
    return isinstance(meta, dict) and meta.get("event_type") == outbox.MARKER


def _answers(h: Harness, thread: str) -> list[dict[str, Any]]:
    return [m for m in h.bot_messages("C1", thread) if ANSWER in str(m.get("blocks") or m)]


def _rows(h: Harness) -> list[OutboxMessage]:
    with h.svc.factory() as db:
        return list(db.execute(select(OutboxMessage).order_by(OutboxMessage.created_at))
                    .scalars())


def _answer_row(h: Harness) -> OutboxMessage:
    rows = [r for r in _rows(h) if ANSWER in str(r.payload)]
    assert len(rows) == 1
    return rows[0]


def _reply(h: Harness, fake_anthropic: Any, thread: str) -> None:
    fake_anthropic.reply_turn(summary="Mail stuck", domain="email", confidence=0.6,
                              message=ANSWER, facts=[], questions=[], actions=[], fixes=[],
                              recommend="continue")
    assert h.reply("mail still stuck in the outbox", thread)[0] == 200
    h.settle()


FAILURES = {
    "http_500": {"status": 500, "error": "internal_error", "times": 1},
    "ok_false": {"status": 200, "error": "internal_error", "times": 1},
    "rate_limited": {"status": 429, "error": "ratelimited", "times": 3, "retry_after": 1},
    "answer_lost": {"status": 500, "error": "internal_error", "times": 1, "take_effect": True},
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failed_turn_post_is_delivered_exactly_once(
        make: Make, fake_anthropic: Any, failure: str) -> None:
    clock = FakeClock()
    h = make(clock=clock)
    thread, _sid = open_session(h, fake_anthropic)
    h.slack.fail_when("chat.postMessage", _is_turn_post, **FAILURES[failure])
    _reply(h, fake_anthropic, thread)
    row = _answer_row(h)
    if failure == "answer_lost":
        assert len(_answers(h, thread)) == 1  # posted, though we were told it failed
    else:
        assert _answers(h, thread) == []
    assert row.status == "pending" and row.attempts == 1 and row.next_attempt_at is not None
    if failure == "rate_limited":
        assert row.next_attempt_at == clock.now + timedelta(seconds=1)  # Retry-After honoured

    clock.advance(minutes=1)
    assert deliver_outputs(h.svc, clock.now).done == 1
    h.settle()
    assert deliver_outputs(h.svc, clock.advance(minutes=5)).claimed == 0
    answers = _answers(h, thread)
    assert len(answers) == 1
    row = _answer_row(h)
    assert (row.status, row.result_ref) == ("sent", answers[0]["ts"])
    with h.svc.factory() as db:
        step_ts = db.execute(select(AISessionStep.slack_ts)
                             .where(AISessionStep.slack_ts == answers[0]["ts"])).scalar_one()
    assert step_ts == answers[0]["ts"]  # the step knows its message once it is posted
    if failure == "answer_lost":  # found by its metadata marker, not posted again
        assert any(c.body.get("include_all_metadata") for c in
                   h.slack.calls("conversations.replies"))


def test_an_answer_that_cannot_be_posted_is_told_once_with_retry(
        make: Make, fake_anthropic: Any) -> None:
    clock = FakeClock()
    h = make(clock=clock)
    thread, _sid = open_session(h, fake_anthropic)
    h.slack.fail_when("chat.postMessage", _is_turn_post, status=500, times=None)
    _reply(h, fake_anthropic, thread)
    for _ in range(outbox.MAX_ATTEMPTS + 2):
        deliver_outputs(h.svc, clock.advance(minutes=10))
    h.settle()
    row = _answer_row(h)
    assert row.status == "failed" and row.attempts == outbox.MAX_ATTEMPTS
    notices = [m for m in h.bot_messages("C1", thread) if "could not be posted" in str(m)]
    assert len(notices) == 1 and _answers(h, thread) == []

    h.slack.reset()  # Slack works again; the technician presses Retry
    h.slack.add_message("C1", "notice", user="UFPBOT", ts=notices[0]["ts"], thread_ts=thread)
    button = next(el for b in notices[0]["blocks"] for el in b.get("elements") or []
                  if el.get("action_id") == "fp_resend")
    assert h.click("fp_resend", button["value"], message_ts=notices[0]["ts"],
                   thread_ts=thread)[0] == 200
    h.settle()
    assert len(_answers(h, thread)) == 1 and _answer_row(h).status == "sent"


def test_the_fake_returns_metadata_only_when_asked(fake_slack: Any) -> None:
    from bot.notify import Notifier, make_web_client

    notifier = Notifier(make_web_client("xoxb-test", fake_slack.url))
    root = notifier.post("C1", "root")
    marker = {"event_type": outbox.MARKER, "event_payload": {"outbox_id": "abc"}}
    ts = notifier.post("C1", "hello", thread_ts=root, metadata=marker)
    plain = notifier.client.conversations_replies(channel="C1", ts=root).data
    assert all("metadata" not in m for m in plain["messages"])  # type: ignore[index]
    assert notifier.find_marker("C1", root, outbox.MARKER, "outbox_id", "abc") == ts
    assert notifier.find_marker("C1", root, outbox.MARKER, "outbox_id", "zzz") is None


def test_an_answer_whose_process_died_before_sending_is_sent_once_later(
        make: Make, fake_anthropic: Any) -> None:
    """A turn's answer is recorded already claimed as its first attempt (in the transaction
    that stores the turn); if the process dies before the post, the sweep takes it up once
    the attempt is stale, asks Slack first (the marker), then posts it, once."""
    import uuid

    from storage.db import unit_of_work

    clock = FakeClock()
    h = make(clock=clock)
    thread, sid = open_session(h, fake_anthropic)
    payload = {"channel": "C1", "thread_ts": thread, "text": ANSWER,
               "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ANSWER}}],
               "after": {"session_id": str(sid), "step_id": str(uuid.uuid4()),
                         "fix_ids": [], "item_ids": []}}
    with unit_of_work(h.svc.factory) as db:  # recorded, then the process "died"
        outbox.enqueue(db, target="slack", kind="turn", dedupe_key="turn:died",
                       payload=payload, now=clock.now, session_id=sid, claimed=True)
    row = _answer_row(h)
    assert (row.status, row.attempts) == ("sending", 1)
    assert deliver_outputs(h.svc, clock.advance(seconds=30)).claimed == 0  # still in flight
    assert _answers(h, thread) == []
    assert deliver_outputs(h.svc, clock.advance(minutes=5)).done == 1
    h.settle()
    assert deliver_outputs(h.svc, clock.advance(minutes=5)).claimed == 0
    assert len(_answers(h, thread)) == 1 and _answer_row(h).status == "sent"
    assert any(c.body.get("include_all_metadata")  # looked for an earlier post first
               for c in h.slack.calls("conversations.replies"))
