"""FLOWPILOT_WORK_MODE=queue: the process that acks Slack only records work and defers its
procrastinate job in the same statement; a worker (here: a second app built as ``flowpilot
worker`` builds it, on a thread) runs it."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text, update
from support import SECRET, Harness

from bot.bootstrap import build
from bot.config import load_settings
from bot.errors import ConfigError
from bot.sandbox.signing import slash_command_body
from bot.services.dispatch import QueueDispatch
from bot.worker import QueueWorker
from storage.db import unit_of_work
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

        _wait(web, lambda db: _jobs(db) == [] or None)  # the click's work is done
        worker.stop()  # what the reply's ack leaves behind stays visible
        reply = {"type": "message", "channel": "C1", "user": "U1", "text": "still down",
                 "ts": "1800000000.000100", "thread_ts": thread, "channel_type": "channel"}
        assert web.event(reply) == (200, "")
        assert _jobs(web) == [("flowpilot.turns", str(session.id), "todo")], \
            "the reply's ack deferred the session's turn job"
        assert web.event(reply, event_id="Ev-retry") == (200, "")  # a retried event
        second = dict(reply, ts="1800000000.000150", text="and again")
        assert web.event(second) == (200, "")  # joins the waiting job (queueing_lock)
        assert _jobs(web) == [("flowpilot.turns", str(session.id), "todo")]
        with web.svc.factory() as db:
            replies = db.execute(select(InboundEvent.status).where(
                InboundEvent.kind == "reply")).scalars().all()
        assert replies == ["pending", "pending"]

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


def _jobs(where: Any) -> list[tuple[str, str | None, str]]:
    """procrastinate's waiting or running turn and work jobs: (task, lock, status), oldest
    first (done ones stay a day as history)."""
    query = text("SELECT task_name, lock, status::text FROM procrastinate_jobs "
                 "WHERE task_name IN ('flowpilot.turns', 'flowpilot.work') "
                 "AND status IN ('todo', 'doing') ORDER BY id")
    if isinstance(where, Harness):
        with where.svc.factory() as db:
            return [tuple(r) for r in db.execute(query).all()]  # type: ignore[misc]
    return [tuple(r) for r in where.execute(query).all()]


@contextlib.contextmanager
def _serve_and_worker(db_url: str, fake_slack: Any, anthropic_url: str | None, *,
                      workers: int, **env: str) -> Iterator[tuple[Harness, QueueWorker]]:
    """``serve`` in queue mode (the harness) and a worker built as ``flowpilot worker``
    builds it; the test starts the worker when it wants work taken."""
    web = Harness(db_url, fake_slack, anthropic_url=anthropic_url, FLOWPILOT_WORK_MODE="queue")
    model = ({"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": anthropic_url}
             if anthropic_url else {})
    settings = load_settings(
        env_file=None, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake_slack.url, FLOWPILOT_DATABASE_URL=db_url,
        FLOWPILOT_WORK_MODE="queue", **model, **env,
    )
    worker_app = build(settings, mode="worker", workers=workers)
    worker_app.services.bot_user_id = "UFPBOT"
    worker = QueueWorker(worker_app, concurrency=workers, poll=0.2)
    try:
        yield web, worker
    finally:
        worker.stop()  # its LISTEN connection closes before the database
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
def test_a_turn_job_whose_end_was_lost_runs_again(db_url: str, engine: Any, fake_slack: Any,
                                                  fake_anthropic: Any) -> None:
    """A connection cut as a job finishes leaves it ``doing`` under a live worker; its
    session's ``lock`` would keep every later turn job of the session waiting for good.
    The worker runs such a job again, and the session's next reply is answered once."""
    with _serve_and_worker(db_url, fake_slack, fake_anthropic.url, workers=2,
                           FLOWPILOT_WORKER_STALLED_AFTER="2") as (web, worker):
        web.command("printer offline on floor 2")
        worker.start()
        session = _wait(web, lambda db: db.execute(select(AISession)).scalar_one_or_none())
        thread = session.slack_thread_ts
        _wait(web, lambda db: len(web.bot_messages("C1", thread)) >= 2 or None)
        lost = _wait(web, lambda db: db.execute(text(  # the intake turn's job, ended
            "SELECT max(id) FROM procrastinate_jobs WHERE task_name = 'flowpilot.turns' "
            "AND status = 'succeeded'")).scalar())
        with unit_of_work(web.svc.factory) as db:  # its end "lost": doing, under the worker
            db.execute(text("UPDATE procrastinate_jobs SET status = 'doing', "
                            "worker_id = (SELECT max(id) FROM procrastinate_workers) "
                            "WHERE id = :id"), {"id": lost})
        web.reply("it shows offline in the print queue too", thread, ts="1800000002.000001")
        web.settle()
        reply = InboundEvent.delivery_key == "msg:C1:1800000002.000001"
        _wait(web, lambda db: db.execute(select(InboundEvent.status).where(reply))
              .scalar() == "done" or None, timeout=40)
        with web.svc.factory() as db:
            assert db.execute(select(InboundEvent.attempts).where(reply)).scalar() == 1
            status = db.execute(text("SELECT status::text FROM procrastinate_jobs WHERE id = "
                                     ":id"), {"id": lost}).scalar()
        assert status == "failed", "the lost job was ended and its session's turn run again"


@pytest.mark.postgres_only
def test_a_poison_input_is_retried_then_told_once(db_url: str, engine: Any,
                                                  fake_slack: Any) -> None:
    """An input that fails every time before its turn (a malformed record) is retried with
    backoff, then set aside and the thread told once; another session is answered meanwhile,
    and the poisoned session answers its next reply."""
    with _serve_and_worker(db_url, fake_slack, None, workers=4) as (web, worker):
        worker.start()
        for channel in ("C1", "C2"):
            web.command(f"VPN drops every few minutes ({channel})", channel=channel)
        rows = _wait(web, lambda db: (lambda r: r if len(r) == 2 else None)(
            db.execute(select(AISession.id, AISession.slack_channel_id,
                              AISession.slack_thread_ts).order_by(
                AISession.slack_channel_id)).all()))
        (bad, _, bad_thread), (good, _, good_thread) = rows
        _wait(web, lambda db: db.execute(select(InboundEvent.id).where(
            InboundEvent.kind == "intake", InboundEvent.status != "done")).first() is None)
        with unit_of_work(web.svc.factory) as db:  # a record no turn can read
            db.add(InboundEvent(delivery_key="poison", kind="reply", session_id=bad,
                                payload="not an object", status="pending", attempts=0,
                                received_at=web.svc.clock()))
        web.svc.kick(bad)
        started = time.monotonic()
        web.reply("still down", good_thread, channel="C2", ts="1800000002.000001")
        _wait(web, lambda db: db.execute(select(InboundEvent.status).where(
            InboundEvent.delivery_key == "msg:C2:1800000002.000001")).scalar() == "done")
        assert time.monotonic() - started < 20  # not behind the poisoned session's backoff

        def told(db: Any) -> list[str] | None:
            said = [m for m in web.bot_messages("C1", bad_thread)
                    if "Something went wrong on our side" in json.dumps(m)]
            return said or None

        _wait(web, told, timeout=40)
        with web.svc.factory() as db:
            poison = db.execute(select(InboundEvent.status).where(
                InboundEvent.delivery_key == "poison")).scalar_one()
        assert poison == "ignored", "set aside: it no longer rides along with new inputs"
        web.reply("it works after a reboot", bad_thread, channel="C1", ts="1800000002.000002")
        _wait(web, lambda db: db.execute(select(InboundEvent.status).where(
            InboundEvent.delivery_key == "msg:C1:1800000002.000002")).scalar() == "done")
        time.sleep(1.0)
        assert len(told(None) or []) == 1, "the thread is told once"


@pytest.mark.postgres_only
def test_a_small_connection_budget_makes_work_wait_not_fail(db_url: str, engine: Any,
                                                            fake_slack: Any) -> None:
    """A worker with 8 job threads and a budget of 5 connections (2 of them its own pool's,
    3 procrastinate's): threads wait for a connection; every input is answered, none twice.
    /metrics shows the queue (read from procrastinate's tables)."""
    web = Harness(db_url, fake_slack, FLOWPILOT_WORK_MODE="queue")
    settings = load_settings(
        env_file=None, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake_slack.url, FLOWPILOT_DATABASE_URL=db_url,
        FLOWPILOT_WORK_MODE="queue", FLOWPILOT_DB_POOL_SIZE="5",
    )
    worker_app = build(settings, mode="worker", workers=8)
    assert worker_app.db.pool.size() == 2  # type: ignore[attr-defined]
    worker_app.services.bot_user_id = "UFPBOT"
    worker = QueueWorker(worker_app, concurrency=8, poll=0.2)
    try:
        for i in range(6):
            web.command(f"printer offline on floor {i}", channel=f"C{i + 1}")
        status, body = web.get("/metrics")
        assert status == 200
        assert 'flowpilot_queue_jobs{status="todo",task="flowpilot.work"} 6.0' in body
        worker.start()
        rows = _wait(web, lambda db: (lambda r: r if len(r) == 6 else None)(
            db.execute(select(AISession.slack_channel_id, AISession.slack_thread_ts)).all()))
        for channel, thread in rows:
            for n in range(2):
                web.reply(f"no luck {n}", thread, channel=channel)

        def answered(db: Any) -> list[int] | None:
            found = db.execute(select(InboundEvent.status, InboundEvent.attempts).where(
                InboundEvent.kind.in_(["reply", "intake"]))).all()
            ok = len(found) == 18 and all(s == "done" for s, _ in found)
            return [a for _, a in found] if ok else None

        assert _wait(web, answered, timeout=60) == [1] * 18
        status, body = web.get("/metrics")
        assert "flowpilot_queue_run_seconds" in body and "flowpilot_queue_wait_seconds" in body
    finally:
        worker.stop()
        worker_app.close()
        web.close()


@pytest.mark.postgres_only
def test_the_ack_defers_its_job_in_the_same_statement(db_url: str, engine: Any,
                                                      fake_slack: Any) -> None:
    """Queue mode adds no round trip before the ack: a command's work item and its job are one
    statement, a reply's session lookup, input and turn job one statement (workspace
    settings, cached a minute, are read on the first delivery in both modes)."""
    from sqlalchemy import event

    with _serve_and_worker(db_url, fake_slack, None, workers=2) as (web, worker):
        seen: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            seen.append(statement)

        event.listen(web.fp.db, "before_cursor_execute", count)
        web.command("VPN drops every few minutes")
        writes = [s for s in seen if "inbound_events" in s or "procrastinate" in s]
        assert len(writes) == 1 and "procrastinate_jobs" in writes[0], seen
        worker.start()
        session = _wait(web, lambda db: db.execute(select(AISession)).scalar_one_or_none())
        worker.stop()
        seen.clear()
        web.reply("still down", session.slack_thread_ts)
        writes = [s for s in seen if "inbound_events" in s or "procrastinate" in s]
        assert len(writes) == 1 and "procrastinate_jobs" in writes[0], seen
        event.remove(web.fp.db, "before_cursor_execute", count)


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


@pytest.mark.postgres_only
def test_a_stalled_job_is_ended_once_when_two_sweeps_find_it(engine: Any) -> None:
    """``retry_stalled`` takes no lock, so two sweeps may find the same stalled job: the
    first ends it (procrastinate's own function, its event written), the second sees it is
    not ``doing`` any more and leaves it, so its session's turn is deferred once."""
    from bot.services import queue

    with engine.begin() as conn:
        job = conn.execute(text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, args, "
            "status) VALUES ('flowpilot', 'flowpilot.turns', 's1', 's1', "
            "CAST(:args AS jsonb), 'doing') RETURNING id"), {"args": '{"session_id": "s1"}'}
        ).scalar_one()
    with engine.begin() as first, engine.begin() as second:
        assert queue.end_stalled_job(first, job) is True
        # The second sweep waits on the row lock (FOR UPDATE) until the first commits;
        # here it asks after that commit.
        first.commit()
        assert queue.end_stalled_job(second, job) is False
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"),
                              {"id": job}).scalar_one()
        ended = conn.execute(text("SELECT count(*) FROM procrastinate_events "
                                  "WHERE job_id = :id AND type = 'failed'"), {"id": job}).scalar()
    assert (status, ended) == ("failed", 1)
