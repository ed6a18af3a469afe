"""Issue 3's bad input and faults, each through the real app with signed requests."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select, update
from support import SECRET, TEAM, Harness

from bot.sandbox.signing import event_body, slash_command_body
from storage.models import AISession, InboundEvent


def _sessions(h: Harness) -> list[AISession]:
    with h.svc.factory() as db:
        return list(db.execute(select(AISession)).scalars())


def _open(h: Harness, text: str = "Outlook keeps asking for a password") -> str:
    status, _ = h.command(text)
    assert status == 200
    h.settle()
    return str(h.slack.messages("C1")[0]["ts"])


def _all_text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or []) + str(message.get("text") or "")


def test_empty_command_opens_the_intake_modal(claude_harness: Harness) -> None:
    h = claude_harness
    status, _ = h.command("")
    assert status == 200
    h.settle()
    views = h.slack.calls("views.open")
    assert views and views[0].body["view"]["callback_id"] == "fp_intake_modal"
    assert _sessions(h) == []
    status, body = h.submit("fp_intake_modal", {"fp_intake_problem": "", "fp_intake_log": "",
                                                "fp_intake_ticket": ""}, private_metadata="C1")
    assert status == 200 and "fp_intake_problem" in body  # the modal says what is missing
    status, _ = h.submit("fp_intake_modal", {"fp_intake_problem": "VPN drops every hour",
                                             "fp_intake_log": "error 809", "fp_intake_ticket": ""},
                         private_metadata="C1")
    h.settle()
    (session,) = _sessions(h)
    assert session.intake_type == "combined" and session.slack_channel_id == "C1"


def test_help_answers_ephemerally(claude_harness: Harness) -> None:
    h = claude_harness
    h.command("help")
    h.settle()
    assert "/flowpilot <problem>" in h.ephemerals_text()
    assert _sessions(h) == []
    assert not h.slack.calls("chat.postMessage")


def test_command_text_containing_payload_is_not_lost(claude_harness: Harness) -> None:
    h = claude_harness
    _open(h, "the webhook payload from the firewall is empty")
    (session,) = _sessions(h)
    assert "payload" in session.intake_content["text"]


def test_huge_log_paste_binary_junk_and_hostile_markup(claude_harness: Harness,
                                                       fake_anthropic: Any) -> None:
    h = claude_harness
    fake_anthropic.reply_turn(
        summary="<!channel> ping everyone", domain="email", confidence=0.5,
        message="<!here> <@U999> <https://evil.example|https://bank.example> " + "x" * 5000,
        facts=[{"text": f"fact {i} " + "y" * 300, "source": "inference"} for i in range(60)],
        questions=[{"text": "q" * 4000, "options": ["o" * 300] * 12}],
    )
    junk = "".join(chr(c) for c in range(0, 32)) + "\ufffd\x00\x07"
    text = "printer <!channel> down " + junk + " " + ("ERROR 0x80070005 access denied\n" * 3300)
    assert len(text) > 100_000
    _open(h, text)
    (session,) = _sessions(h)
    assert "\x00" not in json.dumps(session.intake_content)
    assert len(session.intake_content["text"]) < 25_000  # kept, capped visibly
    for message in h.slack.messages("C1") + h.slack.messages("C1", session.slack_thread_ts):
        blocks = message.get("blocks") or []
        assert len(blocks) <= 50 and message.get("text")
        for block in blocks:
            if block.get("type") == "markdown":  # the model's prose: Slack allows 12,000
                assert len(block["text"]) <= 12_000
                continue
            assert len((block.get("text") or {}).get("text", "")) <= 3000
        dumped = _all_text(message)
        assert "<!channel>" not in dumped and "<!here>" not in dumped and "<@U999>" not in dumped
        assert "<https://evil" not in dumped


def test_reply_in_a_resolved_session_is_told_ephemerally(claude_harness: Harness) -> None:
    h = claude_harness
    thread = _open(h)
    with h.svc.factory.begin() as db:
        db.execute(update(AISession).values(status="resolved"))
    requests_before = len(h.slack.calls("chat.postMessage"))
    h.reply("one more thing", thread)
    h.settle()
    assert "resolved" in h.ephemerals_text().lower()
    assert len(h.slack.calls("chat.postMessage")) == requests_before


def test_forged_and_unknown_button_values_are_refused(claude_harness: Harness) -> None:
    h = claude_harness
    thread = _open(h)
    ts, button = h.find_button("fp_answer")
    h.click("fp_answer:0", "not-a-session|x|0", message_ts=ts, thread_ts=thread)
    h.settle()
    assert "no longer valid" in h.ephemerals_text()
    # Another workspace claims this session: it must not exist for them.
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread, team="T0002",
            user="UEVIL")
    h.settle()
    assert "not found" in h.ephemerals_text("UEVIL").lower()
    lane = _sessions(h)[0].pending_task_lane
    assert all(q["status"] == "open" for q in lane["questions"])


def test_bad_signature_and_stale_timestamp_are_401(claude_harness: Harness) -> None:
    h = claude_harness
    body, ctype = slash_command_body(TEAM, "U1", "C1", "printer offline")
    assert h.send(body, ctype, secret="wrong-secret")[0] == 401
    assert h.send(body, ctype, timestamp=int(time.time()) - 301)[0] == 401
    assert h.send(body, ctype, signed=False)[0] == 401
    h.settle()
    assert _sessions(h) == []


def test_model_without_tool_call_then_retry(claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    fake_anthropic.reply_text("I think it's DNS")
    fake_anthropic.reply_text("Still no tool call")
    thread = _open(h)
    msgs = h.bot_messages("C1", thread)
    assert any("fp_retry" in _all_text(m) for m in msgs), "a Retry button is offered"
    (session,) = _sessions(h)
    assert session.last_turn_error and session.intake_content["text"]
    with h.svc.factory() as db:
        assert db.execute(select(InboundEvent.status).where(
            InboundEvent.session_id == session.id)).scalars().all() == ["failed"]
    ts, retry = h.find_button("fp_retry")
    h.click(retry["action_id"], retry["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    (session,) = _sessions(h)
    assert session.last_turn_error is None and session.step_count >= 2
    assert any("fp_answer" in _all_text(m) for m in h.bot_messages("C1", thread))


def test_model_overloaded_and_wrong_types(claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    fake_anthropic.fail(529, times=3)
    thread = _open(h)
    assert any("busy or unreachable" in _all_text(m) for m in h.bot_messages("C1", thread))
    fake_anthropic.reply_turn(summary="x", domain="other", confidence="high", facts="nope")
    fake_anthropic.reply_turn(summary="x", domain="other", confidence="high", facts="nope")
    h.reply("any news?", thread)
    h.settle()
    assert any("could not be used" in _all_text(m) for m in h.bot_messages("C1", thread))
    fake_anthropic.reply_turn(summary="Now fine", domain="email", confidence=0.5,
                              stop_reason="max_tokens")
    h.reply("retrying by replying", thread)
    h.settle()  # max_tokens → one repair → the default valid reply
    assert _sessions(h)[0].problem_summary != "x"


def test_slack_rate_limit_is_retried(claude_harness: Harness) -> None:
    h = claude_harness
    h.slack.fail("chat.postMessage", status=429, retry_after=0, times=1)
    thread = _open(h)
    assert thread and len(h.bot_messages("C1", thread)) >= 2  # header and first turn


def test_retried_event_and_mention_plus_message_act_once(claude_harness: Harness,
                                                         fake_anthropic: Any) -> None:
    h = claude_harness
    thread = _open(h)
    requests = len(fake_anthropic.message_requests)
    msg = h.slack.add_message("C1", "<@UFPBOT> it is on every PC", user="U1", thread_ts=thread)
    event = {"type": "message", "channel": "C1", "user": "U1", "text": msg["text"],
             "ts": msg["ts"], "thread_ts": thread}
    mention = dict(event, type="app_mention")
    assert h.event(mention, event_id="Ev1")[0] == 200
    assert h.event(mention, event_id="Ev1", headers={"X-Slack-Retry-Num": "1",
                                                     "X-Slack-Retry-Reason": "http_timeout"})[0] == 200
    assert h.event(event, event_id="Ev2")[0] == 200
    reply = h.slack.add_message("C1", "and on Macs", user="U1", thread_ts=thread)
    plain = {"type": "message", "channel": "C1", "user": "U1", "text": "and on Macs",
             "ts": reply["ts"], "thread_ts": thread}
    h.event(plain, event_id="Ev3")
    h.event(plain, event_id="Ev3")
    h.settle()
    new = fake_anthropic.message_requests[requests:]
    sent = json.dumps([r.body["messages"][-1] for r in new])
    assert sent.count("it is on every PC") == 1 and sent.count("and on Macs") == 1


def test_double_click_acts_once(claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    thread = _open(h)
    ts, button = h.find_button("fp_answer")
    requests = len(fake_anthropic.message_requests)
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    assert len(fake_anthropic.message_requests) == requests + 1
    with h.svc.factory() as db:
        answers = db.execute(select(InboundEvent).where(InboundEvent.kind == "answer")).all()
    assert len(answers) == 1


def test_two_replies_at_once_both_reach_the_session_in_order(claude_harness: Harness,
                                                             fake_anthropic: Any) -> None:
    h = claude_harness
    thread = _open(h)
    fake_anthropic.reply_turn(summary="s", domain="other", confidence=0.5, delay=0.5)
    h.reply("first: it fails at login", thread)
    time.sleep(0.1)  # the first turn is now running
    a = h.slack.add_message("C1", "second: only on wifi", user="U2", thread_ts=thread)
    b = h.slack.add_message("C1", "third: since monday", user="U1", thread_ts=thread)
    import threading

    threads = [threading.Thread(target=h.event, args=({"type": "message", "channel": "C1",
               "user": m["user"], "text": m["text"], "ts": m["ts"], "thread_ts": thread},))
               for m in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    h.settle()
    sent = json.dumps([r.body["messages"] for r in fake_anthropic.message_requests])
    assert "first: it fails at login" in sent
    assert "second: only on wifi" in sent and "third: since monday" in sent
    last = json.dumps(fake_anthropic.message_requests[-1].body["messages"][-1])
    assert last.index("second: only on wifi") < last.index("third: since monday")
    with h.svc.factory() as db:
        assert not db.execute(select(InboundEvent).where(
            InboundEvent.status.in_(["pending", "processing"]))).all()


def test_mention_shortcut_and_thread_intake(claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    top = h.slack.add_message("C1", "<@UFPBOT> teams calls drop after 5 minutes", user="U1")
    h.event({"type": "app_mention", "channel": "C1", "user": "U1", "text": top["text"],
             "ts": top["ts"]})
    h.settle()
    s = _sessions(h)
    assert len(s) == 1 and s[0].slack_thread_ts == top["ts"]
    assert "teams calls drop" in s[0].intake_content["text"]

    root = h.slack.add_message("C2", "users in accounting cannot print", user="U2")
    h.slack.add_message("C2", "started after the driver update", user="U3", thread_ts=root["ts"])
    inner = h.slack.add_message("C2", "<@UFPBOT>", user="U1", thread_ts=root["ts"])
    h.event({"type": "app_mention", "channel": "C2", "user": "U1", "text": inner["text"],
             "ts": inner["ts"], "thread_ts": root["ts"]})
    h.settle()
    thread_session = [x for x in _sessions(h) if x.slack_channel_id == "C2"][0]
    assert "driver update" in thread_session.intake_content["thread"]
    assert thread_session.intake_type == "free_text"

    msg = h.slack.add_message("C3", "VPN connects but no shares", user="U4")
    h.shortcut({"type": "message", "ts": msg["ts"], "text": msg["text"], "user": "U4"},
               channel="C3")
    h.settle()
    assert any(x.slack_channel_id == "C3" and x.slack_thread_ts == msg["ts"] for x in _sessions(h))


def test_cached_prefix_reused_and_secrets_never_reach_the_model(claude_harness: Harness,
                                                                fake_anthropic: Any) -> None:
    h = claude_harness
    thread = _open(h, "SQL login fails, connection string Server=db1;User Id=sa;Password=S3cr3t!;")
    h.reply("the api key is sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd", thread)
    h.settle()
    bodies = [json.dumps(r.body) for r in fake_anthropic.message_requests]
    assert len(bodies) == 2
    assert all("S3cr3t!" not in b and "sk-ant-api03-ABCDEFGH" not in b for b in bodies)
    first, second = (r.body for r in fake_anthropic.message_requests)
    from bot.engines.prompt import cached_prefix

    assert cached_prefix(first) == cached_prefix(second)  # format/tools + system, byte-stable
    (session,) = _sessions(h)
    assert session.total_cache_read_tokens > 0
    assert session.account.total_input_tokens >= session.total_input_tokens if False else True


def test_event_body_helpers_are_signed_like_slack(claude_harness: Harness) -> None:
    body, ctype = event_body(TEAM, {"type": "app_home_opened", "user": "U1", "tab": "home"})
    assert claude_harness.send(body, ctype, secret=SECRET)[0] == 200
    claude_harness.settle()
    assert claude_harness.slack.calls("views.publish")


def test_a_message_in_a_thread_with_no_session_costs_one_lookup(claude_harness: Harness) -> None:
    from sqlalchemy import event

    h = claude_harness
    h.command("warm up: printer offline")  # first request runs Bolt's one-time auth.test
    h.settle()
    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0].upper())

    event.listen(h.fp.db, "before_cursor_execute", count)
    try:
        msg = h.slack.add_message("C9", "lunch?", user="U7", thread_ts="1699999999.000100")
        status, _ = h.event({"type": "message", "channel": "C9", "user": "U7", "text": "lunch?",
                             "ts": msg["ts"], "thread_ts": "1699999999.000100"})
        h.settle()
    finally:
        event.remove(h.fp.db, "before_cursor_execute", count)
    assert status == 200
    # One statement besides the transaction's BEGIN: the lookup (on PostgreSQL, the lookup
    # and the conditional INSERT of a session's reply are one statement) and no row written.
    assert [s for s in statements if s != "BEGIN"] in (["SELECT"], ["WITH"])
    with h.svc.factory() as db:
        keys = db.execute(select(InboundEvent.delivery_key)).scalars().all()
    assert f"msg:C9:{msg['ts']}" not in keys


def test_inputs_of_a_failed_turn_ride_along_with_the_next_reply(claude_harness: Harness,
                                                                fake_anthropic: Any) -> None:
    h = claude_harness
    thread = _open(h)
    fake_anthropic.fail(500, times=3)
    h.reply("the user is on a Mac", thread)
    h.settle()
    h.reply("and it started today", thread)
    h.settle()
    last = json.dumps(fake_anthropic.message_requests[-1].body["messages"][-1])
    assert "the user is on a Mac" in last and "and it started today" in last
    with h.svc.factory() as db:
        assert set(db.execute(select(InboundEvent.status).where(
            InboundEvent.kind == "reply")).scalars()) == {"done"}
