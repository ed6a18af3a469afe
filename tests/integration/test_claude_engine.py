"""The Claude engine through the real anthropic SDK against the fake Messages API server."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from fakes.anthropic_server import FakeAnthropic, request_problem

from bot.engines.base import FixView, LaneItemView, TurnContext, TurnInput, TurnOutput
from bot.engines.claude import ClaudeEngine, ClaudeEngineError, draft_template, make_client
from bot.engines.models import CapabilityCache
from bot.errors import ConfigError, EngineError

API_KEY = "sk-ant-test"
# The engine's suites run on every current model (the default first); the fake enforces each
# model's documented rules (tests/fakes/anthropic_models.py).
MODELS = ["claude-sonnet-5-5", "claude-opus-5-5", "claude-sonnet-5", "claude-sonnet-4-6",
          "claude-haiku-4-5"]
MODEL = MODELS[0]
GOOD_TURN: dict[str, Any] = {
    "summary": "Outlook password prompts for one user",
    "domain": "email",
    "confidence": 0.6,
    "message": "Webmail works, so the account itself is fine.",
    "facts": [{"text": "Webmail works", "source": "technician"}],
    "questions": [{"text": "Was MFA enabled recently?", "options": ["Yes", "No"]}],
    "actions": [{"text": "Check sign-in logs", "command": None, "risk": "low"}],
    "fixes": [],
    "recommend": "continue",
}


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    c = anthropic.Anthropic(base_url=fake.url, api_key=API_KEY, max_retries=2)
    yield c
    c.close()


@pytest.fixture(params=MODELS)
def model(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(client: anthropic.Anthropic, model: str) -> ClaudeEngine:
    return ClaudeEngine(client, model, capabilities=CapabilityCache())


def answer_block(message: dict[str, Any]) -> dict[str, Any]:
    """The block holding the structured turn: a tool_use, or the JSON text block."""
    for block in message["content"]:
        if block["type"] in ("tool_use", "text"):
            return dict(block)
    raise AssertionError(f"no answer in {message}")


def answer_input(message: dict[str, Any]) -> Any:
    import json

    block = answer_block(message)
    return block["input"] if block["type"] == "tool_use" else json.loads(block["text"])


def make_ctx(**fields: Any) -> TurnContext:
    base: dict[str, Any] = {
        "session_id": "sess-1",
        "intake_text": "Outlook keeps asking for a password",
        "summary": None,
        "domain": None,
        "confidence": 0.0,
        "facts": [],
        "lane": [],
        "fixes": [],
        "inputs": [
            TurnInput(kind="intake", author="alice", text="Outlook keeps asking for a password")
        ],
    }
    base.update(fields)
    return TurnContext(**base)


def next_ctx(ctx: TurnContext, out: TurnOutput, text: str) -> TurnContext:
    """The next turn's context, as the session service would build it."""
    return dataclasses.replace(
        ctx,
        summary=out.summary,
        domain=out.domain,
        confidence=out.confidence,
        history=[*ctx.history, *out.transcript],
        inputs=[TurnInput(kind="reply", author="alice", text=text)],
        turn_number=ctx.turn_number + 1,
    )


def user_text(message: dict[str, Any]) -> str:
    return "\n".join(b.get("text", "") for b in message["content"] if b["type"] == "text")


# --- a good turn -------------------------------------------------------------------------------


def test_valid_turn_is_parsed_with_usage_model_and_request_id(
    fake: FakeAnthropic, engine: ClaudeEngine, model: str
) -> None:
    fake.reply_turn(**GOOD_TURN)
    out = engine.take_turn(make_ctx())
    assert out.summary == GOOD_TURN["summary"] and out.domain == "email"
    assert out.facts[0].text == "Webmail works"
    assert out.questions[0].options == ["Yes", "No"]
    assert out.model == model and out.request_id and out.request_id.startswith("req_fake_")
    assert out.usage.input_tokens > 0 and out.usage.output_tokens > 0
    assert out.usage.cache_creation_input_tokens > 0 and out.usage.cache_read_input_tokens == 0
    (request,) = fake.message_requests
    body = request.body
    # Every current model takes structured outputs: no tools, no forced tool_choice.
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert "tools" not in body and "tool_choice" not in body
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert body["model"] == model and body["max_tokens"] == 2048
    assert "stream" not in body or body["stream"] is False
    # The transcript is the exchange to store: this turn's inputs (not the state) and the
    # reply, thinking blocks included and unchanged, marked with the model that wrote them.
    sent, answer = out.transcript
    assert [b["type"] for b in sent["content"]] == ["text"]
    assert "<new_inputs>" in sent["content"][0]["text"]
    assert answer["role"] == "assistant" and answer["meta"]["model"] == model
    assert answer_input(answer) == GOOD_TURN


def test_usage_fields_may_be_null(fake: FakeAnthropic, engine: ClaudeEngine) -> None:
    fake.reply_turn(
        usage={"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": None,
               "cache_creation_input_tokens": None}, **GOOD_TURN)  # fmt: skip
    usage = engine.take_turn(make_ctx()).usage
    assert (usage.input_tokens, usage.output_tokens) == (10, 5)
    assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens == 0


def test_second_turn_reads_the_cache_and_the_conversation_stays_valid(
    fake: FakeAnthropic, engine: ClaudeEngine
) -> None:
    ctx = make_ctx()
    first = engine.take_turn(ctx)
    assert first.usage.cache_read_input_tokens == 0
    ctx = next_ctx(ctx, first, "Webmail works fine")
    second = engine.take_turn(ctx)
    assert second.usage.cache_read_input_tokens > 0
    assert second.usage.cache_read_input_tokens >= first.usage.cache_creation_input_tokens
    ctx = next_ctx(ctx, second, "Only on her laptop")
    third = engine.take_turn(ctx)
    # Turn 3 also re-uses turn 2's conversation prefix, not only the system prompt.
    assert third.usage.cache_read_input_tokens > second.usage.cache_read_input_tokens
    assert len(fake.message_requests) == 3  # the fake refuses (400) invalid pairings
    bodies = [r.body for r in fake.message_requests]
    assert all(request_problem(b) is None for b in bodies)
    # The history keeps no copies of the state: later turns send only what changed.
    texts = [user_text(m) for m in bodies[2]["messages"] if m["role"] == "user"]
    assert sum("<session_state>" in t for t in texts) <= 1
    assert "<session_state>" not in texts[-1]


# --- the repair retry --------------------------------------------------------------------------


def test_no_answer_is_repaired_once(fake: FakeAnthropic, engine: ClaudeEngine) -> None:
    fake.reply_text("Sure! Let me think about Outlook...", usage={"input_tokens": 100,
                    "output_tokens": 7, "cache_read_input_tokens": 0,
                    "cache_creation_input_tokens": 50})  # fmt: skip
    fake.reply_turn(usage={"input_tokens": 120, "output_tokens": 30, "cache_read_input_tokens": 50,
                           "cache_creation_input_tokens": 0}, **GOOD_TURN)  # fmt: skip
    out = engine.take_turn(make_ctx())
    assert out.summary == GOOD_TURN["summary"]
    assert len(fake.message_requests) == 2
    retry = fake.message_requests[1].body["messages"]
    assert answer_block(retry[-2]) == {"type": "text", "text": "Sure! Let me think about Outlook..."}
    note = user_text(retry[-1])
    assert note.startswith("Your last reply could not be used: ")
    assert "not a single JSON object" in note and "one JSON object in the required format" in note
    # Usage is summed over both calls.
    assert out.usage.input_tokens == 220 and out.usage.output_tokens == 37
    assert out.usage.cache_read_input_tokens == 50
    assert out.usage.cache_creation_input_tokens == 50
    # Only the final good exchange is kept.
    assert [m["role"] for m in out.transcript] == ["user", "assistant"]
    assert answer_input(out.transcript[1]) == GOOD_TURN


def test_wrong_types_are_repaired_with_the_error_named(
    fake: FakeAnthropic, engine: ClaudeEngine
) -> None:
    fake.reply_turn(summary="s", confidence="high", facts="Webmail works")
    fake.reply_turn(**GOOD_TURN)
    out = engine.take_turn(make_ctx())
    assert out.confidence == 0.6  # the good answer
    retry = fake.message_requests[1].body["messages"]
    assert answer_input(retry[-2])["facts"] == "Webmail works"
    assert "confidence must be a number" in user_text(retry[-1])
    assert "facts must be a list" in user_text(retry[-1])
    # The stored exchange is the good answer, not the bad one.
    assert answer_input(out.transcript[1]) == GOOD_TURN


def test_max_tokens_is_repaired_with_more_room(fake: FakeAnthropic, engine: ClaudeEngine) -> None:
    fake.reply_turn(stop_reason="max_tokens", **GOOD_TURN)
    fake.reply_turn(**GOOD_TURN)
    engine.take_turn(make_ctx())
    first, second = (r.body for r in fake.message_requests)
    assert "max_tokens" in user_text(second["messages"][-1])
    assert second["max_tokens"] == 2 * first["max_tokens"]


def test_two_unusable_replies_give_a_readable_retryable_error(
    fake: FakeAnthropic, engine: ClaudeEngine
) -> None:
    fake.reply_text("I think it is DNS.")
    fake.reply_turn(summary="s", confidence=0.4, questions=[{"options": ["a"]}])
    with pytest.raises(EngineError) as err:
        engine.take_turn(make_ctx())
    assert err.value.retryable is True
    message = str(err.value)
    assert message.startswith("The model's answer could not be used (")
    assert "questions[0].text is missing" in message
    assert message.endswith("Nothing was lost; press Retry.")
    assert len(fake.message_requests) == 2
    assert isinstance(err.value, ClaudeEngineError) and err.value.usage.output_tokens > 0


def test_refusal_is_not_retried(fake: FakeAnthropic, engine: ClaudeEngine) -> None:
    fake.reply_text("I can't help with that.", stop_reason="refusal")
    with pytest.raises(EngineError) as err:
        engine.take_turn(make_ctx())
    assert err.value.retryable is False and "declined" in str(err.value)
    assert len(fake.message_requests) == 1


# --- transport errors: the SDK retries, we translate ------------------------------------------


def test_rate_limit_then_success(fake: FakeAnthropic, engine: ClaudeEngine) -> None:
    fake.fail(429)
    fake.reply_turn(**GOOD_TURN)
    assert engine.take_turn(make_ctx()).summary == GOOD_TURN["summary"]
    assert len(fake.message_requests) == 2


def test_server_error_is_retried(fake: FakeAnthropic, engine: ClaudeEngine) -> None:
    fake.fail(500)
    fake.reply_turn(**GOOD_TURN)
    assert engine.take_turn(make_ctx()).domain == "email"
    assert len(fake.message_requests) == 2


def test_overloaded_three_times_is_a_retryable_engine_error(
    fake: FakeAnthropic, engine: ClaudeEngine
) -> None:
    fake.fail(529, times=3)
    with pytest.raises(EngineError) as err:
        engine.take_turn(make_ctx())
    assert err.value.retryable is True
    message = str(err.value)
    assert message.startswith("Claude is busy or unreachable right now (overloaded")
    assert message.endswith("Nothing was lost; press Retry.")
    assert len(fake.message_requests) == 3  # the first try and max_retries=2


def test_a_hang_longer_than_the_timeout(fake: FakeAnthropic) -> None:
    fake.hang(5)
    client = make_client(API_KEY, base_url=fake.url, timeout=0.5, max_retries=0)
    started = time.monotonic()
    with pytest.raises(EngineError) as err:
        ClaudeEngine(client, MODEL, capabilities=CapabilityCache()).take_turn(make_ctx())
    assert time.monotonic() - started < 3
    assert err.value.retryable is True
    assert "timed out" in str(err.value) and "press Retry" in str(err.value)
    client.close()


def test_connection_refused(fake: FakeAnthropic) -> None:
    url = fake.url
    fake.stop()
    client = anthropic.Anthropic(base_url=url, api_key=API_KEY, max_retries=0)
    with pytest.raises(EngineError) as err:
        ClaudeEngine(client, MODEL, capabilities=CapabilityCache()).take_turn(make_ctx())
    assert err.value.retryable is True and "could not connect" in str(err.value)


def test_bad_key_is_not_retryable_and_does_not_leak(
    fake: FakeAnthropic, engine: ClaudeEngine
) -> None:
    fake.fail(401, message="invalid x-api-key")
    with pytest.raises(EngineError) as err:
        engine.take_turn(make_ctx())
    assert err.value.retryable is False
    assert str(err.value) == (
        "The Anthropic API key was refused. An admin needs to check ANTHROPIC_API_KEY."
    )
    assert API_KEY not in str(err.value) and API_KEY not in repr(err.value.args)
    assert len(fake.message_requests) == 1


def test_permission_denied_is_the_key_message(fake: FakeAnthropic, engine: ClaudeEngine) -> None:
    fake.fail(403)
    with pytest.raises(EngineError, match="ANTHROPIC_API_KEY") as err:
        engine.take_turn(make_ctx())
    assert err.value.retryable is False


def test_bad_request_is_not_retryable_and_readable(
    fake: FakeAnthropic, engine: ClaudeEngine
) -> None:
    fake.fail(400, message="prompt is too long: 210000 tokens > 200000 maximum")
    with pytest.raises(EngineError) as err:
        engine.take_turn(make_ctx())
    assert err.value.retryable is False
    message = str(err.value)
    assert message.startswith("Claude rejected the request: prompt is too long")
    assert "Error code" not in message and "{" not in message
    assert len(fake.message_requests) == 1


def test_unknown_model_names_the_setting(fake: FakeAnthropic, engine: ClaudeEngine) -> None:
    fake.fail(404, message="model: claude-sonnet-4-6")
    with pytest.raises(EngineError, match="FLOWPILOT_AI_MODEL") as err:
        engine.take_turn(make_ctx())
    assert err.value.retryable is False
    assert isinstance(err.value, ClaudeEngineError) and err.value.unusable


def test_spend_limit_is_not_retryable(fake: FakeAnthropic, engine: ClaudeEngine) -> None:
    fake.fail(429, times=3, error_code="enforced_spend_limit_reached")
    with pytest.raises(EngineError, match="spend limit") as err:
        engine.take_turn(make_ctx())
    assert err.value.retryable is False


# --- the client and the flywheel -----------------------------------------------------------------


def test_make_client(fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    client = make_client(API_KEY)
    assert client.max_retries == 2
    assert client.timeout.read == 60.0 and client.timeout.connect == 5.0  # type: ignore[union-attr]
    out = ClaudeEngine(client, MODEL, capabilities=CapabilityCache()).take_turn(make_ctx())
    assert out.summary and len(fake.message_requests) == 1
    client.close()
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        make_client("  ")


def test_state_ids_reach_the_model(fake: FakeAnthropic, engine: ClaudeEngine) -> None:
    ctx = make_ctx(
        summary="Outlook prompts",
        lane=[LaneItemView("q-9", "question", "Webmail OK?", ["Yes", "No"])],
        fixes=[FixView("fix-4", "Clear credentials", ["Open Credential Manager"], "r", "pending")],
    )
    fake.reply_turn(
        fixes=[{"title": "Re-register the device", "steps": "1. dsregcmd /leave\n2. Rejoin",
                "rationale": "r", "confidence": 0.6, "risk": "high", "supersedes": "fix-4"}],
    )  # fmt: skip
    out = engine.take_turn(ctx)
    assert out.fixes[0].supersedes == "fix-4" and out.fixes[0].steps == [
        "dsregcmd /leave",
        "Rejoin",
    ]
    text = user_text(fake.message_requests[0].body["messages"][-1])
    assert "[q-9]" in text and "[fix-4] pending" in text


def test_draft_template(fake: FakeAnthropic, client: anthropic.Anthropic, model: str) -> None:
    fake.reply_tool("draft_template", {"title": "t"})  # invalid: repaired once
    fake.reply_tool(
        "draft_template",
        {"title": "Clear Office credentials", "description": "d", "language": "powershell",
         "body": "param($User)", "parameters": [{"name": "User", "description": "UPN"}]},
    )  # fmt: skip
    draft = draft_template(client, model, "# Resolved\nCleared credentials; it worked.",
                           CapabilityCache())
    assert draft["title"] == "Clear Office credentials"
    assert draft["parameters"] == [{"name": "User", "description": "UPN", "default": None}]
    first = fake.message_requests[0].body
    assert first["output_config"]["format"]["type"] == "json_schema" and "tool_choice" not in first
    assert "Cleared credentials; it worked." in user_text(first["messages"][0])
    assert "description is missing" in user_text(fake.message_requests[1].body["messages"][-1])


def test_draft_template_translates_errors(fake: FakeAnthropic, client: anthropic.Anthropic) -> None:
    fake.fail(401)
    with pytest.raises(EngineError, match="ANTHROPIC_API_KEY"):
        draft_template(client, MODEL, "# Resolved", CapabilityCache())
