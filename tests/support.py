"""The scenario harness: the real app (real Bolt, real handlers, real database) driven by
signed Slack requests through its WSGI entry point, with Slack and Claude faked at the wire."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from bot.bootstrap import FlowPilot, build
from bot.clock import Clock, utcnow
from bot.config import load_settings
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.signing import (
    block_action_body,
    event_body,
    message_shortcut_body,
    sign_request,
    slash_command_body,
    view_submission_body,
)
from bot.server import WsgiApp
from bot.ttlcache import Ticker

SECRET = "test-signing-secret"
TEAM = "T0001"


class Harness:
    def __init__(
        self, db_url: str, slack: FakeSlack, *, anthropic_url: str | None = None,
        clock: Clock = utcnow, workers: int = 4, ticker: Ticker = time.monotonic,
        worker_process: bool = False,
        **overrides: Any,
    ) -> None:
        settings = load_settings(
            env_file=None,
            SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.url,
            FLOWPILOT_DATABASE_URL=db_url,
            ANTHROPIC_API_KEY="sk-ant-test" if anthropic_url else "",
            ANTHROPIC_BASE_URL=anthropic_url, **overrides,
        )
        self.slack = slack
        # worker_process: acks and records only, as `serve` does by default; the turns are
        # then taken by a HostConsumer (bot/host_worker.py) built on another Harness.
        self.fp: FlowPilot = build(settings, clock=clock, mode="serve", workers=workers,
                                   listener_workers=8, ticker=ticker,
                                   worker_process=worker_process)
        self.fp.services.bot_user_id = "UFPBOT"
        self.svc = self.fp.services
        self.wsgi = WsgiApp(self.fp)

    def close(self) -> None:
        self.fp.close()

    # --- sending signed requests -------------------------------------------------------

    def send(self, body: str, content_type: str, *, secret: str = SECRET,
             timestamp: int | None = None, headers: dict[str, str] | None = None,
             signed: bool = True) -> tuple[int, str]:
        raw = body.encode()
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "QUERY_STRING": "",
            "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(raw)),
            "wsgi.input": io.BytesIO(raw),
        }
        sig = sign_request(secret, body, timestamp) if signed else {}
        for key, value in {**sig, **(headers or {})}.items():
            environ["HTTP_" + key.upper().replace("-", "_")] = value
        status: list[str] = []

        def start_response(s: str, _h: list[tuple[str, str]]) -> None:
            status.append(s)

        out = b"".join(self.wsgi(environ, start_response))
        return int(status[0].split()[0]), out.decode()

    def get(self, path: str) -> tuple[int, str]:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "wsgi.input": io.BytesIO(b"")}
        status: list[str] = []
        out = b"".join(self.wsgi(environ, lambda s, h: status.append(s)))
        return int(status[0].split()[0]), out.decode()

    def command(self, text: str, *, user: str = "U1", channel: str = "C1",
                team: str = TEAM) -> tuple[int, str]:
        body, ctype = slash_command_body(team, user, channel, text,
                                         response_url=self.slack.hook_url(f"{team}/cmd/{user}"))
        return self.send(body, ctype)

    def event(self, event: dict[str, Any], *, team: str = TEAM, event_id: str | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, str]:
        body, ctype = event_body(team, event, event_id=event_id)
        return self.send(body, ctype, headers=headers)

    def reply(self, text: str, thread_ts: str, *, user: str = "U1", channel: str = "C1",
              ts: str | None = None) -> tuple[int, str]:
        msg = self.slack.add_message(channel, text, user=user, thread_ts=thread_ts, ts=ts)
        return self.event({"type": "message", "channel": channel, "user": user, "text": text,
                           "ts": msg["ts"], "thread_ts": thread_ts, "channel_type": "channel"})

    def click(self, action_id: str, value: str, *, message_ts: str, user: str = "U1",
              channel: str = "C1", thread_ts: str | None = None, team: str = TEAM) -> tuple[int, str]:
        # Slack sends the message as the person saw it when they clicked.
        shown = next((m for m in self.slack.messages(channel) if m.get("ts") == message_ts), None)
        body, ctype = block_action_body(team, user, channel, message_ts, action_id, value,
                                        thread_ts=thread_ts, message=shown,
                                        response_url=self.slack.hook_url(f"{team}/act/{user}"))
        return self.send(body, ctype)

    def submit(self, callback_id: str, values: dict[str, Any], *, private_metadata: str = "",
               user: str = "U1", team: str = TEAM) -> tuple[int, str]:
        body, ctype = view_submission_body(team, user, callback_id, values,
                                           private_metadata=private_metadata)
        return self.send(body, ctype)

    def shortcut(self, message: dict[str, Any], *, user: str = "U1", channel: str = "C1",
                 team: str = TEAM) -> tuple[int, str]:
        body, ctype = message_shortcut_body(team, user, channel, message)
        return self.send(body, ctype)

    # --- waiting and reading ------------------------------------------------------------

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until Bolt's listeners and the turn runner are both idle."""
        if not self.fp.wait_idle(timeout):
            raise AssertionError("the app did not settle in time")

    def bot_messages(self, channel: str = "C1", thread_ts: str | None = None) -> list[dict[str, Any]]:
        return [m for m in self.slack.messages(channel, thread_ts) if m.get("user") == "UFPBOT"]

    def find_button(self, prefix: str, channel: str = "C1",
                    where: Callable[[dict[str, Any]], bool] | None = None) -> tuple[str, dict[str, Any]]:
        """(message ts, button) of the newest message holding a button with this prefix."""
        for message in reversed(self.slack.messages(channel)):
            for block in message.get("blocks") or []:
                elements = list(block.get("elements") or [])
                if block.get("accessory"):
                    elements.append(block["accessory"])
                for el in elements:
                    if el.get("type") == "button" and str(el.get("action_id", "")).startswith(prefix):
                        if where is None or where(el):
                            return str(message["ts"]), el
        raise AssertionError(f"no button {prefix} in {channel}")

    def ephemerals_text(self, user: str = "U1") -> str:
        texts = [str(e.get("text", "")) for e in self.slack.ephemerals(user)]
        texts += [json.dumps(c.body) for c in self.slack.calls("response_url")]
        return "\n".join(texts)


def form(body: str) -> dict[str, list[str]]:
    return parse_qs(body)
