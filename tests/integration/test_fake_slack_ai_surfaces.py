"""The Slack stand-in refuses what Slack refuses for the AI surfaces FlowPilot uses
(issue 19): assistant.threads.setStatus, markdown blocks, context_actions/feedback_buttons.
Sources are cited next to each rule in bot/sandbox/fake_slack.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.fake_slack import FakeSlack


@pytest.fixture()
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture()
def client(fake: FakeSlack) -> WebClient:
    return WebClient(base_url=fake.url, token="xoxb-test", retry_handlers=[])


def _refused(call: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()
    return str(caught.value.response["error"])


def test_set_status_in_a_thread_and_cleared(fake: FakeSlack, client: WebClient) -> None:
    root = client.chat_postMessage(channel="C1", text="header")["ts"]
    client.assistant_threads_setStatus(channel_id="C1", thread_ts=root, status="is working…",
                                       loading_messages=["Reading…", "Thinking…"])
    assert fake.status("C1", root) == "is working…"
    client.assistant_threads_setStatus(channel_id="C1", thread_ts=root, status="")
    assert fake.status("C1", root) == ""


def test_the_apps_message_in_the_thread_ends_its_status(fake: FakeSlack,
                                                        client: WebClient) -> None:
    # "A two minute timeout applies, which will cause the status to be removed if no message
    # has been sent" (docs.slack.dev/reference/methods/assistant.threads.setStatus).
    root = client.chat_postMessage(channel="C1", text="header")["ts"]
    other = client.chat_postMessage(channel="C1", text="another thread")["ts"]
    for thread in (root, other):
        client.assistant_threads_setStatus(channel_id="C1", thread_ts=thread, status="is working…")
    client.chat_postMessage(channel="C1", text="the answer", thread_ts=root)
    assert fake.status("C1", root) == ""
    assert fake.status("C1", other) == "is working…"  # only the thread answered in


def test_set_status_refusals(fake: FakeSlack, client: WebClient) -> None:
    root = client.chat_postMessage(channel="C1", text="header")["ts"]
    assert _refused(lambda: client.api_call(
        "assistant.threads.setStatus", json={"channel_id": "C1", "thread_ts": root})
    ) == "invalid_arguments"  # status is required
    assert _refused(lambda: client.api_call(
        "assistant.threads.setStatus", json={"channel_id": "C1", "status": "x"})
    ) == "invalid_arguments"  # thread_ts is required
    assert _refused(lambda: client.assistant_threads_setStatus(
        channel_id="#support", thread_ts=root, status="x")) == "channel_not_found"
    assert _refused(lambda: client.assistant_threads_setStatus(
        channel_id="C1", thread_ts="1.000001", status="x")) == "invalid_thread_ts"
    assert _refused(lambda: client.assistant_threads_setStatus(
        channel_id="C1", thread_ts=root, status="x",
        loading_messages=[f"m{n}" for n in range(11)])) == "invalid_arguments"
    assert fake.status("C1", root) is None  # nothing refused took effect


def _feedback(**over: Any) -> dict[str, Any]:
    el: dict[str, Any] = {
        "type": "feedback_buttons", "action_id": "fp_turn_feedback",
        "positive_button": {"text": {"type": "plain_text", "text": "👍"}, "value": "a|b|up"},
        "negative_button": {"text": {"type": "plain_text", "text": "👎"}, "value": "a|b|down"},
    }
    el.update(over)
    return {"type": "context_actions", "elements": [el]}


def test_markdown_and_feedback_blocks_accepted(client: WebClient) -> None:
    blocks = [{"type": "markdown", "text": "**bold** and `code`"}, _feedback()]
    ts = client.chat_postMessage(channel="C1", text="t", blocks=blocks)["ts"]
    client.chat_update(channel="C1", ts=ts, text="t", blocks=blocks)


@pytest.mark.parametrize("blocks", [
    [{"type": "markdown", "text": "x" * 12_001}],  # one block over 12,000
    [{"type": "markdown", "text": "x" * 6_001}, {"type": "markdown", "text": "y" * 6_000}],
    [{"type": "markdown", "text": ""}],
    [{"type": "context_actions", "elements": []}],
    [{"type": "context_actions", "elements": [_feedback()["elements"][0]] * 6}],
    [{"type": "context_actions", "elements": [{"type": "button", "text": "x"}]}],
    [_feedback(negative_button=None)],
    [_feedback(positive_button={"text": {"type": "mrkdwn", "text": "up"}, "value": "v"})],
    [_feedback(positive_button={"text": {"type": "plain_text", "text": "x" * 76},
                                "value": "v"})],
    [_feedback(positive_button={"text": {"type": "plain_text", "text": "up"}})],
])
def test_bad_ai_blocks_are_refused_everywhere(client: WebClient,
                                              blocks: list[dict[str, Any]]) -> None:
    assert _refused(lambda: client.chat_postMessage(channel="C1", text="t", blocks=blocks)) \
        == "invalid_blocks"
    ts = client.chat_postMessage(channel="C1", text="t")["ts"]
    assert _refused(lambda: client.chat_update(channel="C1", ts=ts, text="t", blocks=blocks)) \
        == "invalid_blocks"
    assert _refused(lambda: client.chat_postEphemeral(channel="C1", user="U1", text="t",
                                                      blocks=blocks)) == "invalid_blocks"
