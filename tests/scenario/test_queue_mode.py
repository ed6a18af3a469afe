"""FLOWPILOT_WORK_MODE=queue: the process that acks Slack only records work and notifies; a
worker process (here: a second app built as ``flowpilot scheduler`` builds it) does it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, update
from support import SECRET, Harness

from bot.bootstrap import build
from bot.config import load_settings
from bot.errors import ConfigError
from bot.sandbox.signing import slash_command_body
from bot.services.dispatch import CHANNEL, QueueDispatch
from bot.worker import Worker
from storage.models import AISession, InboundEvent


@pytest.mark.postgres_only
def test_serve_queues_and_the_worker_answers(db_url: str, engine: Any, fake_slack: Any,
                                             fake_anthropic: Any) -> None:
    with _serve_and_worker(db_url, fake_slack, fake_anthropic.url, workers=4) as (web, worker):
        assert isinstance(web.svc.dispatch, QueueDispatch)
        web.command("outlook keeps asking for a password")
        web.settle()
        assert not fake_slack.calls("chat.postMessage"), "serve does no work after the ack"
        with web.svc.factory() as db:
            queued = db.execute(select(InboundEvent.kind, InboundEvent.status)).all()
        assert ("work:open_command", "pending") in queued

        worker.start()
        session = _wait(web, lambda db: db.execute(select(AISession)).scalar_one_or_none())
        thread = session.slack_thread_ts
        _wait(web, lambda db: len(web.bot_messages("C1", thread)) >= 2 or None)
        ts, button = web.find_button("fp_answer")
        web.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
        web.reply("it started after the password change", thread)
        web.settle()

        def answered(db: Any) -> bool | None:
            rows = db.execute(select(InboundEvent.status).where(
                InboundEvent.kind.in_(["answer", "reply", "work:click"]))).scalars().all()
            return (len(rows) == 3 and set(rows) == {"done"}) or None

        _wait(web, answered)
        assert len(fake_anthropic.message_requests) >= 2


@pytest.mark.postgres_only
def test_queue_mode_acks_from_the_record_once(db_url: str, engine: Any, fake_slack: Any) -> None:
    """Queued deliveries are acked by the middleware that records them: a retried command,
    a double click and a retried reply each leave one work item; a reply to a session that
    takes no turns still goes to its listener and is explained to the person."""
    with _serve_and_worker(db_url, fake_slack, None, workers=2) as (web, worker):
        body, ctype = slash_command_body("T0001", "U1", "C1", "VPN drops every few minutes",
                                         response_url=fake_slack.hook_url("T0001/cmd/U1"))
        assert web.send(body, ctype) == (200, "")
        assert web.send(body, ctype) == (200, "")  # Slack's retry of the same command
        with web.svc.factory() as db:
            kinds = db.execute(select(InboundEvent.kind)).scalars().all()
        assert kinds.count("work:open_command") == 1

        worker.start()
        session = _wait(web, lambda db: db.execute(select(AISession)).scalar_one_or_none())
        thread = session.slack_thread_ts
        _wait(web, lambda db: web.find_button("fp_answer") if _has_button(web) else None)
        ts, button = web.find_button("fp_answer")
        first = web.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
        second = web.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
        assert first == second == (200, "")
        with web.svc.factory() as db:
            clicks = db.execute(select(InboundEvent.id).where(
                InboundEvent.kind == "work:click")).scalars().all()
        assert len(clicks) == 1, "a double click is one decision"

        reply = {"type": "message", "channel": "C1", "user": "U1", "text": "still down",
                 "ts": "1800000000.000100", "thread_ts": thread, "channel_type": "channel"}
        pg_url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(pg_url, autocommit=True) as listener:
            listener.execute(f"LISTEN {CHANNEL}")
            assert web.event(reply) == (200, "")
            woken = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.channel for n in woken] == [CHANNEL], "the reply's commit wakes a worker"
        assert web.event(reply, event_id="Ev-retry") == (200, "")  # a retried event
        with web.svc.factory() as db:
            replies = db.execute(select(InboundEvent.status).where(
                InboundEvent.kind == "reply")).scalars().all()
        assert len(replies) == 1

        with web.svc.factory.begin() as db:  # the session ends (as resolving it would)
            db.execute(update(AISession).values(status="resolved"))
        late = dict(reply, ts="1800000000.000200", text="one more thing")
        assert web.event(late) == (200, "")
        web.settle()
        assert "resolved" in web.ephemerals_text("U1").lower()
        with web.svc.factory() as db:
            ignored = db.execute(select(InboundEvent.status).where(
                InboundEvent.delivery_key == "msg:C1:1800000000.000200")).scalar_one()
        assert ignored == "ignored"


@contextlib.contextmanager
def _serve_and_worker(db_url: str, fake_slack: Any, anthropic_url: str | None, *,
                      workers: int) -> Iterator[tuple[Harness, Worker]]:
    """``serve`` in queue mode (the harness) and a worker built as ``flowpilot scheduler``
    builds it; the test starts the worker's loop when it wants work taken."""
    web = Harness(db_url, fake_slack, anthropic_url=anthropic_url, FLOWPILOT_WORK_MODE="queue")
    model = ({"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": anthropic_url}
             if anthropic_url else {})
    settings = load_settings(
        env_file=None, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake_slack.url, FLOWPILOT_DATABASE_URL=db_url,
        FLOWPILOT_WORK_MODE="queue", **model,
    )
    worker_app = build(settings, mode="scheduler", workers=workers)
    worker_app.services.bot_user_id = "UFPBOT"
    worker = Worker(worker_app, poll_seconds=0.2)
    try:
        yield web, worker
    finally:
        worker.stop.set()
        for thread in threading.enumerate():
            if thread.name == "fp-worker":  # its LISTEN connection closes before the database
                thread.join(5)
        worker_app.close()
        web.close()


def _has_button(web: Harness) -> bool:
    try:
        web.find_button("fp_answer")
    except Exception:
        return False
    return True


def test_queue_mode_needs_postgresql(tmp_path: Any) -> None:
    settings = load_settings(env_file=None, FLOWPILOT_WORK_MODE="queue",
                             FLOWPILOT_DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
                             SLACK_SIGNING_SECRET="s", SLACK_BOT_TOKEN="xoxb-x")
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        settings.require_for("serve")


def _wait(h: Harness, probe: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with h.svc.factory() as db:
            found = probe(db)
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("the worker did not get there in time")


@pytest.mark.postgres_only
def test_queue_mode_start_on_a_one_word_prompt_queues_one_session(
        db_url: str, engine: Any, fake_slack: Any) -> None:
    """Issue 19: ``/flowpilot printer`` asks first; Start, clicked twice, queues one
    ``open_command`` for the worker, and the worker opens one session."""
    import json

    from bot.sandbox.signing import block_action_body

    with _serve_and_worker(db_url, fake_slack, None, workers=2) as (web, worker):
        web.command("printer")
        web.settle()
        (prompt,) = [c.body for c in fake_slack.calls("response_url")
                     if "Start a session about" in json.dumps(c.body)]
        start = next(el for b in prompt["blocks"] for el in b.get("elements") or []
                     if el.get("action_id", "").startswith("fp_cmd_start"))
        for _ in range(2):
            body, ctype = block_action_body("T0001", "U1", "C1", "1700000000.000009",
                                            start["action_id"], start["value"], ephemeral=True,
                                            response_url=fake_slack.hook_url("T0001/eph/U1"))
            assert web.send(body, ctype)[0] == 200
        web.settle()
        with web.svc.factory() as db:
            queued = db.execute(select(InboundEvent.kind)
                                .where(InboundEvent.kind == "work:open_command")).all()
        assert len(queued) == 1
        worker.start()
        session = _wait(web, lambda db: db.execute(select(AISession)).scalar_one_or_none())
        assert session.intake_content["text"] == "printer"


@pytest.mark.postgres_only
def test_a_log_file_reply_is_read_by_the_worker_not_by_serve(
        db_url: str, engine: Any, fake_slack: Any, fake_anthropic: Any) -> None:
    """Issue 18 in queue mode: ``serve`` records the file's description only; the worker
    downloads, redacts and sends it."""
    secret = "Sup3r-Secret-Value-991"
    log = f"ERROR 0x8004010F\npassword={secret}\n".encode()
    with _serve_and_worker(db_url, fake_slack, fake_anthropic.url, workers=2) as (web, worker):
        worker.start()
        web.command("outlook keeps asking for a password")
        session = _wait(web, lambda db: db.execute(select(AISession)).scalar_one_or_none())
        thread = session.slack_thread_ts
        _wait(web, lambda db: len(fake_anthropic.message_requests) >= 1 or None)
        f = fake_slack.files.add("outlook.log", log, "text/plain")
        ts = fake_slack.add_message("C1", "", thread_ts=thread, files=[f])["ts"]
        web.event({"type": "message", "subtype": "file_share", "channel": "C1", "user": "U1",
                   "text": "", "ts": ts, "thread_ts": thread, "files": [f]})
        web.settle()

        def done(db: Any) -> bool | None:
            rows = db.execute(select(InboundEvent.status).where(
                InboundEvent.kind == "reply")).scalars().all()
            return rows == ["done"] or None

        _wait(web, done)
        sent = str(fake_anthropic.message_requests[-1].body["messages"][-1])
        assert "0x8004010F" in sent and secret not in sent
        assert len(fake_slack.calls("files.download")) == 1
