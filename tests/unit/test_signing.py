"""Signed inbound requests: signatures verify, and every builder's payload routes in Bolt."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.signing import (
    block_action_body,
    event_body,
    message_shortcut_body,
    sign_request,
    signed_headers,
    slash_command_body,
    view_submission_body,
)

SECRET = "test-signing-secret"
WAIT = 3.0


def test_signature_round_trip() -> None:
    body = '{"type":"event_callback"}'
    headers = sign_request(SECRET, body)
    ts, sig = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    verifier = SignatureVerifier(SECRET)
    assert sig.startswith("v0=") and verifier.is_valid(body, ts, sig)
    assert verifier.is_valid(body.encode(), ts, sig)
    assert sign_request(SECRET, body.encode(), int(ts)) == headers
    assert not verifier.is_valid(body + " ", ts, sig)
    assert not SignatureVerifier("other-secret").is_valid(body, ts, sig)


def test_stale_timestamp_fails() -> None:
    body = "a=b"
    old = int(time.time()) - 301
    headers = sign_request(SECRET, body, timestamp=old)
    assert headers["X-Slack-Request-Timestamp"] == str(old)
    assert not SignatureVerifier(SECRET).is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


@pytest.fixture()
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture()
def app(fake: FakeSlack) -> App:
    return App(
        signing_secret=SECRET,
        client=WebClient(base_url=fake.url, token="xoxb-test"),
        token_verification_enabled=False,
    )


def _dispatch(app: App, built: tuple[str, str], timestamp: int | None = None) -> Any:
    body, content_type = built
    return app.dispatch(
        BoltRequest(body=body, headers=signed_headers(SECRET, body, content_type, timestamp))
    )


def test_slash_command_routes(app: App, fake: FakeSlack) -> None:
    seen: dict[str, Any] = {}
    done = threading.Event()

    @app.command("/flowpilot")
    def on_command(ack: Any, command: dict[str, Any], context: Any) -> None:
        ack()
        seen.update(command, bot=context.bot_user_id, channel=context.channel_id)
        done.set()

    resp = _dispatch(app, slash_command_body("T0001", "U1", "C1", "printer offline at Acme"))
    assert resp.status == 200 and done.wait(WAIT)
    assert seen["text"] == "printer offline at Acme" and seen["user_id"] == "U1"
    assert seen["team_id"] == "T0001" and seen["channel"] == "C1" and seen["bot"] == "UFPBOT"
    assert seen["trigger_id"] and seen["response_url"].startswith("https://hooks.slack.com/")
    assert fake.calls("auth.test")  # Bolt resolved the bot identity from the fake


def test_block_action_routes_by_regex(app: App) -> None:
    seen: dict[str, Any] = {}
    done = threading.Event()

    @app.action(re.compile(r"^fp_answer"))
    def on_click(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        seen.update(action=action, body=body)
        done.set()

    built = block_action_body(
        "T0001", "U2", "C1", "1700000000.000300", "fp_answer_2", "sess-1:item-2",
        thread_ts="1700000000.000100", message={"ts": "1700000000.000300", "text": "Q?"},
    )  # fmt: skip
    assert _dispatch(app, built).status == 200 and done.wait(WAIT)
    assert seen["action"]["value"] == "sess-1:item-2"
    assert seen["action"]["action_id"] == "fp_answer_2" and seen["action"]["type"] == "button"
    body = seen["body"]
    assert body["user"]["id"] == "U2" and body["channel"]["id"] == "C1"
    assert body["container"]["thread_ts"] == "1700000000.000100"
    assert body["message"]["ts"] == "1700000000.000300" and body["message"]["text"] == "Q?"


def test_view_submission_routes(app: App) -> None:
    seen: dict[str, Any] = {}
    done = threading.Event()

    @app.view("fp_escalate_modal")
    def on_submit(ack: Any, view: dict[str, Any], body: dict[str, Any]) -> None:
        ack()
        seen.update(view=view, user=body["user"]["id"])
        done.set()

    built = view_submission_body(
        "T0001", "U3", "fp_escalate_modal",
        {"fp_escalate_reason": "needs admin rights", "fp_escalate_to": "U9"},
        private_metadata='{"session_id": "s1"}',
    )  # fmt: skip
    assert _dispatch(app, built).status == 200 and done.wait(WAIT)
    values = seen["view"]["state"]["values"]
    assert values["fp_escalate_reason"]["fp_escalate_reason"]["value"] == "needs admin rights"
    assert values["fp_escalate_to"]["fp_escalate_to"] == {
        "type": "users_select",
        "selected_user": "U9",
    }
    assert seen["view"]["private_metadata"] == '{"session_id": "s1"}' and seen["user"] == "U3"


def test_message_shortcut_routes(app: App) -> None:
    seen: dict[str, Any] = {}
    done = threading.Event()

    @app.shortcut("fp_troubleshoot_message")
    def on_shortcut(ack: Any, shortcut: dict[str, Any], context: Any) -> None:
        ack()
        seen.update(shortcut, channel=context.channel_id)
        done.set()

    message = {"type": "message", "user": "U4", "ts": "1700000000.000500", "text": "VPN down"}
    built = message_shortcut_body("T0001", "U2", "C7", message)
    assert _dispatch(app, built).status == 200 and done.wait(WAIT)
    assert seen["type"] == "message_action" and seen["message"]["text"] == "VPN down"
    assert seen["message_ts"] == "1700000000.000500" and seen["channel"] == "C7"


def test_app_mention_event_routes(app: App) -> None:
    seen: dict[str, Any] = {}
    done = threading.Event()

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], body: dict[str, Any]) -> None:
        seen.update(event=event, body=body)
        done.set()

    event = {
        "type": "app_mention",
        "user": "U1",
        "text": "<@UFPBOT> outlook keeps crashing",
        "ts": "1700000000.000700",
        "channel": "C1",
    }
    built = event_body("T0001", event)
    assert _dispatch(app, built).status == 200 and done.wait(WAIT)
    assert seen["event"]["text"].endswith("outlook keeps crashing")
    assert seen["body"]["event_id"].startswith("Ev") and seen["body"]["type"] == "event_callback"
    other_id = event_body("T0001", event)[0]
    assert seen["body"]["event_id"] not in other_id  # unique by default


def test_bad_or_stale_signature_is_401(app: App) -> None:
    body, content_type = slash_command_body("T0001", "U1", "C1", "hi")
    headers = signed_headers("wrong-secret", body, content_type)
    assert app.dispatch(BoltRequest(body=body, headers=headers)).status == 401
    stale = _dispatch(app, (body, content_type), timestamp=int(time.time()) - 301)
    assert stale.status == 401
