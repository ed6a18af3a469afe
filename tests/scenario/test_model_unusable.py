"""When the model cannot be used, every token is counted, and the workspace's model applies."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from support import Harness

from storage.models import Account, AISession
from storage.settings_store import set_settings


def _session(h: Harness) -> AISession:
    with h.svc.factory() as db:
        return db.execute(select(AISession)).scalar_one()


def _account(h: Harness) -> Account:
    with h.svc.factory() as db:
        return db.execute(select(Account)).scalar_one()


def _open(h: Harness, text: str = "The printer on floor 2 is offline for everyone") -> str:
    status, _ = h.command(text)
    assert status == 200
    h.settle()
    return str(h.slack.messages("C1")[0]["ts"])


def _text(h: Harness, thread: str) -> str:
    return "".join(json.dumps(m.get("blocks") or []) + str(m.get("text"))
                   for m in h.bot_messages("C1", thread))


def test_a_refused_key_offers_the_built_in_flows_once(claude_harness: Harness,
                                                      fake_anthropic: Any) -> None:
    h = claude_harness
    fake_anthropic.fail(401, message="invalid x-api-key")
    thread = _open(h)
    text = _text(h, thread)
    assert "can't be used right now" in text and text.count("fp_use_flows") == 1
    assert "ANTHROPIC_API_KEY" in text  # the cause, for the admin
    calls = len(fake_anthropic.message_requests)
    ts, button = h.find_button("fp_use_flows")
    status, _ = h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    assert status == 200
    h.settle()
    s = _session(h)
    assert s.engine == "offline" and s.last_turn_error is None and s.step_count >= 2
    assert len(fake_anthropic.message_requests) == calls  # no more model calls
    assert "fp_answer" in _text(h, thread)  # a flow question, as buttons
    # A second click on the old button is harmless.
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    assert _session(h).engine == "offline"


def test_a_busy_model_offers_retry_not_the_flows(claude_harness: Harness,
                                                  fake_anthropic: Any) -> None:
    fake_anthropic.fail(529, times=3)
    thread = _open(claude_harness)
    text = _text(claude_harness, thread)
    assert "fp_retry" in text and "fp_use_flows" not in text


def test_tokens_of_failed_turns_are_counted(claude_harness: Harness, fake_anthropic: Any) -> None:
    h = claude_harness
    usage = {"input_tokens": 1000, "output_tokens": 40, "cache_read_input_tokens": 300,
             "cache_creation_input_tokens": 200}
    fake_anthropic.reply_text("not JSON", usage=usage)
    fake_anthropic.reply_text("still not JSON", usage=usage)
    thread = _open(h)
    assert "could not be used" in _text(h, thread)
    s = _session(h)
    assert (s.total_input_tokens, s.total_output_tokens) == (2000, 80)
    assert (s.total_cache_read_tokens, s.total_cache_write_tokens) == (600, 400)
    account = _account(h)
    assert (account.total_input_tokens, account.total_output_tokens) == (2000, 80)
    status, metrics = h.get("/metrics")
    assert status == 200
    line = [x for x in metrics.splitlines()
            if x.startswith('flowpilot_model_tokens_total{kind="input"}')]
    assert line and float(line[0].split()[-1]) >= 2000


def test_the_workspace_model_and_effort_apply_to_turns(claude_harness: Harness,
                                                       fake_anthropic: Any) -> None:
    h = claude_harness
    thread = _open(h)
    assert fake_anthropic.message_requests[-1].body["model"] == "claude-sonnet-5-5"
    with h.svc.factory() as db:
        set_settings(db, _account(h).id, {"ai_model": "claude-opus-5-5", "ai_effort": "medium"})
        db.commit()
    h.reply("It shows 'offline' in the queue", thread)
    h.settle()
    body = fake_anthropic.message_requests[-1].body
    assert body["model"] == "claude-opus-5-5"
    assert body["output_config"]["effort"] == "medium"
    assert body["thinking"] == {"type": "adaptive"}  # Opus 5.5 can't turn thinking off
    assert _session(h).last_turn_error is None
