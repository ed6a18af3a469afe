"""``flowpilot doctor``'s model line against the Anthropic stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.anthropic_server import FakeAnthropic

from bot.engines.check import check_model

KEY = "sk-ant-doctor-secret"


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


def test_the_default_model_is_checked_in_the_shape_turns_use(fake: FakeAnthropic) -> None:
    ok, line = check_model(KEY, "claude-sonnet-5-5", base_url=fake.url)
    assert ok, line
    assert line == ("model claude-sonnet-5-5 answers (structured outputs (JSON text block); "
                    "thinking between_tools; effort low; capabilities from the Models API)")
    (call,) = fake.message_requests
    assert call.body["max_tokens"] == 64 and "tool_choice" not in call.body
    assert KEY not in line


def test_a_missing_model_fails_in_one_line_without_a_call(fake: FakeAnthropic) -> None:
    ok, line = check_model(KEY, "claude-sonnet-4-0", base_url=fake.url)
    assert not ok and "\n" not in line
    assert 'model claude-sonnet-4-0: Claude model "claude-sonnet-4-0" was not found' in line
    assert fake.message_requests == []


def test_a_refused_key_names_the_setting(fake: FakeAnthropic) -> None:
    fake.fail(401, message="invalid x-api-key")
    ok, line = check_model(KEY, "claude-haiku-4-5", base_url=fake.url)
    assert not ok and "ANTHROPIC_API_KEY" in line and "thinking disabled" in line
    assert KEY not in line


def test_doctor_prints_the_model_line(fake: FakeAnthropic) -> None:
    from bot.config import Settings
    from bot.doctor import model_line

    settings = Settings(ANTHROPIC_API_KEY=KEY, ANTHROPIC_BASE_URL=fake.url,
                        FLOWPILOT_AI_MODEL="claude-opus-5-5", FLOWPILOT_AI_EFFORT="MEDIUM")
    ok, line = model_line(settings)
    assert ok and line.startswith("model claude-opus-5-5 answers")
    assert "thinking adaptive; effort medium" in line
