"""The Anthropic stand-in refuses what the real API refuses, model by model (through the real
SDK). Each case names the rule's source in tests/fakes/anthropic_models.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from fakes.anthropic_models import RULES
from fakes.anthropic_server import FakeAnthropic

TOOL = {"name": "submit_turn", "description": "d",
        "input_schema": {"type": "object", "properties": {"x": {"type": "string"}}}}
USER = [{"role": "user", "content": "Outlook keeps asking for a password"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeAnthropic]:
    with FakeAnthropic(clock=clock) as server:
        yield server


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    c = anthropic.Anthropic(base_url=fake.url, api_key="sk-ant-test", max_retries=0)
    yield c
    c.close()


def create(client: anthropic.Anthropic, model: str, **extra: Any) -> Any:
    return client.messages.create(model=model, max_tokens=2048, messages=USER, **extra)


def refused(client: anthropic.Anthropic, model: str, **extra: Any) -> str:
    with pytest.raises(anthropic.BadRequestError) as err:
        create(client, model, **extra)
    assert err.value.status_code == 400
    body = err.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    return str(body["error"]["message"])


# --- forced tool use ([S55] [O55] [THINK]) ----------------------------------------------------


@pytest.mark.parametrize("model", ["claude-sonnet-5-5", "claude-opus-5-5"])
@pytest.mark.parametrize("choice", [{"type": "tool", "name": "submit_turn"}, {"type": "any"}])
def test_forced_tool_use_is_refused_on_the_5_5_models(
    client: anthropic.Anthropic, model: str, choice: dict[str, Any]
) -> None:
    message = refused(client, model, tools=[TOOL], tool_choice=choice)
    assert "forced tool use returns an error" in message


def test_forcing_a_tool_with_thinking_on_is_refused(client: anthropic.Anthropic) -> None:
    # Sonnet 5 thinks adaptively when ``thinking`` is left out [S5].
    choice = {"type": "tool", "name": "submit_turn"}
    message = refused(client, "claude-sonnet-5", tools=[TOOL], tool_choice=choice)
    assert message == "Thinking may not be enabled when tool_choice forces tool use."
    ok = create(client, "claude-sonnet-5", tools=[TOOL], tool_choice=choice,
                thinking={"type": "disabled"})
    assert ok.content[-1].type == "tool_use"
    for model in ("claude-sonnet-4-6", "claude-haiku-4-5"):  # thinking off by default
        assert create(client, model, tools=[TOOL], tool_choice=choice).stop_reason == "tool_use"


def test_auto_tool_choice_is_accepted_everywhere(client: anthropic.Anthropic) -> None:
    for model in RULES:
        assert create(client, model, tools=[TOOL], tool_choice={"type": "auto"}).content


# --- thinking types ----------------------------------------------------------------------------


def test_sonnet_5_5_refuses_disabled_and_points_to_between_tools(
    client: anthropic.Anthropic,
) -> None:
    message = refused(client, "claude-sonnet-5-5", thinking={"type": "disabled"})
    assert "between_tools" in message
    assert create(client, "claude-sonnet-5-5", thinking={"type": "between_tools"}).content
    # between_tools only at low, medium, high effort [S55].
    for effort in ("xhigh", "max"):
        assert "between_tools" in refused(client, "claude-sonnet-5-5",
                                          thinking={"type": "between_tools"},
                                          output_config={"effort": effort})
    create(client, "claude-sonnet-5-5", thinking={"type": "between_tools"},
           output_config={"effort": "low"})


def test_opus_5_5_refuses_disabled_and_manual_budgets_with_the_documented_text(
    client: anthropic.Anthropic,
) -> None:
    assert refused(client, "claude-opus-5-5", thinking={"type": "disabled"}) == (
        '"thinking.type.disabled" is not supported for this model. Use '
        '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.')
    assert refused(client, "claude-opus-5-5",
                   thinking={"type": "enabled", "budget_tokens": 1024}).startswith(
        '"thinking.type.enabled" is not supported for this model.')
    response = create(client, "claude-opus-5-5", thinking={"type": "adaptive"})
    assert response.content[0].type == "thinking"  # always on: answers open with thinking


def test_haiku_4_5_takes_neither_adaptive_thinking_nor_effort(client: anthropic.Anthropic) -> None:
    assert "adaptive" in refused(client, "claude-haiku-4-5", thinking={"type": "adaptive"})
    assert "effort" in refused(client, "claude-haiku-4-5", output_config={"effort": "low"})
    assert "xhigh" in refused(client, "claude-sonnet-4-6", output_config={"effort": "xhigh"})


def test_thinking_blocks_must_come_back_unchanged_to_the_same_model(
    client: anthropic.Anthropic,
) -> None:
    first = create(client, "claude-opus-5-5")
    thinking = first.content[0].model_dump()
    answer = [b.model_dump(exclude_none=True) for b in first.content]
    history = [*USER, {"role": "assistant", "content": answer},
               {"role": "user", "content": "It started after the password change"}]
    ok = client.messages.create(model="claude-opus-5-5", max_tokens=100, messages=history)
    assert ok.content
    tampered = [{**thinking, "thinking": "something else"}, *answer[1:]]
    history[1] = {"role": "assistant", "content": tampered}
    with pytest.raises(anthropic.BadRequestError, match="unchanged"):
        client.messages.create(model="claude-opus-5-5", max_tokens=100, messages=history)
    history[1] = {"role": "assistant", "content": answer}
    with pytest.raises(anthropic.BadRequestError, match="model that wrote"):
        client.messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=history)


# --- structured outputs --------------------------------------------------------------------------


def test_structured_outputs_answer_as_a_json_text_block(
    fake: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    schema = {"type": "object", "properties": {"summary": {"type": "string"}},
              "required": ["summary"], "additionalProperties": False}
    fake.reply_turn(summary="Outlook prompts")
    response = create(client, "claude-sonnet-5-5", thinking={"type": "between_tools"},
                      output_config={"format": {"type": "json_schema", "schema": schema}})
    (block,) = response.content  # no tools, no up-front thinking: the JSON text alone
    assert block.type == "text" and '"summary": "Outlook prompts"' in block.text
    assert response.stop_reason == "end_turn"
    bounded = {**schema, "properties": {"summary": {"type": "string", "maxLength": 10}}}
    assert "maxLength" in refused(client, "claude-sonnet-5-5", output_config={
        "format": {"type": "json_schema", "schema": bounded}})
    open_object = {k: v for k, v in schema.items() if k != "additionalProperties"}
    assert "additionalProperties" in refused(client, "claude-sonnet-5-5", output_config={
        "format": {"type": "json_schema", "schema": open_object}})


# --- unknown models and the Models API ([404] [MODELS]) -----------------------------------------


def test_an_unknown_model_is_404_as_the_api_answers(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as err:
        create(client, "claude-sonnet-9")
    assert err.value.body == {"type": "error", "error": {"type": "not_found_error",
                                                         "message": "model: claude-sonnet-9"}}
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("claude-3-opus-20240229")


def test_models_api_reports_capabilities(client: anthropic.Anthropic) -> None:
    info = client.models.retrieve("claude-sonnet-5-5")
    assert info.id == "claude-sonnet-5-5" and info.lifecycle == "active"
    caps = info.capabilities
    assert caps is not None and caps.structured_outputs.supported
    assert caps.thinking.types.between_tools.supported and not caps.thinking.types.disabled.supported
    assert caps.effort.low.supported
    haiku = client.models.retrieve("claude-haiku-4-5").capabilities
    assert haiku is not None and not haiku.effort.supported and haiku.thinking.types.disabled.supported
    assert {m.id for m in client.models.list()} == set(RULES)


# --- prompt caching ([CACHE]) --------------------------------------------------------------------


def _cached_call(client: anthropic.Anthropic, model: str, chars: int, ttl: str = "5m") -> Any:
    control: dict[str, Any] = {"type": "ephemeral"} if ttl == "5m" else {"type": "ephemeral",
                                                                          "ttl": ttl}
    system = [{"type": "text", "text": "x" * chars, "cache_control": control}]
    return create(client, model, system=system).usage


def test_a_prefix_under_the_models_minimum_is_never_cached(client: anthropic.Anthropic) -> None:
    # ~3,000 tokens: over Sonnet 5.5's 512 and Sonnet 4.6's 1,024, under Haiku 4.5's 4,096.
    for model, cached in (("claude-haiku-4-5", False), ("claude-sonnet-5-5", True),
                          ("claude-sonnet-4-6", True)):
        first = _cached_call(client, model, 12_000)
        second = _cached_call(client, model, 12_000)
        assert (first.cache_creation_input_tokens > 0) is cached, model
        assert (second.cache_read_input_tokens > 0) is cached, model
        if not cached:
            assert first.cache_creation_input_tokens == 0 == second.cache_read_input_tokens


def test_the_cache_lives_as_long_as_its_ttl(client: anthropic.Anthropic, clock: Clock) -> None:
    _cached_call(client, "claude-sonnet-5-5", 8000)
    clock.now += 299
    assert _cached_call(client, "claude-sonnet-5-5", 8000).cache_read_input_tokens > 0
    clock.now += 299  # a read refreshed the 5 minutes
    assert _cached_call(client, "claude-sonnet-5-5", 8000).cache_read_input_tokens > 0
    clock.now += 301
    assert _cached_call(client, "claude-sonnet-5-5", 8000).cache_read_input_tokens == 0
    first = _cached_call(client, "claude-sonnet-5-5", 9000, ttl="1h")
    assert first.cache_creation is not None and first.cache_creation.ephemeral_1h_input_tokens > 0
    clock.now += 1800
    assert _cached_call(client, "claude-sonnet-5-5", 9000, "1h").cache_read_input_tokens > 0


def test_a_1h_breakpoint_may_not_follow_a_5m_one(client: anthropic.Anthropic) -> None:
    system = [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
              {"type": "text", "text": "b", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    assert "longer TTLs must come first" in refused(client, "claude-sonnet-5-5", system=system)
