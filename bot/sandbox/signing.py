"""Signed inbound Slack requests: the headers and payload bodies Slack sends to the app.

Every builder returns `(body, content_type)`; sign the exact body string with
`sign_request` (or use `signed_headers`, which adds the Content-Type) and hand both to
`slack_bolt.request.BoltRequest(body=..., headers=...)` or post them to the HTTP endpoint.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

API_APP_ID = "AFPAPP"
BOT_USER_ID = "UFPBOT"
VERIFICATION_TOKEN = "fake-verification-token"

_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


def _domain(team_id: str) -> str:
    return f"team-{team_id.lower()}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def new_trigger_id() -> str:
    return f"{_n()}.{int(time.time())}.{uuid.uuid4().hex}"


def new_response_url(team_id: str, kind: str = "commands") -> str:
    return f"https://hooks.slack.com/{kind}/{team_id}/{_n()}/{uuid.uuid4().hex[:24]}"


def sign_request(
    signing_secret: str, body: str | bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The `X-Slack-Signature` / `X-Slack-Request-Timestamp` headers for `body`."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": ts}


def signed_headers(
    signing_secret: str, body: str | bytes, content_type: str, timestamp: int | None = None
) -> dict[str, str]:
    """`sign_request` plus the Content-Type header: ready for BoltRequest or an HTTP post."""
    return {"Content-Type": content_type, **sign_request(signing_secret, body, timestamp)}


def _user(team_id: str, user_id: str, user_name: str | None) -> dict[str, Any]:
    name = user_name or f"user_{user_id.lower()}"
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _team(team_id: str) -> dict[str, Any]:
    return {"id": team_id, "domain": _domain(team_id)}


def _channel(channel_id: str) -> dict[str, Any]:
    return {"id": channel_id, "name": f"channel-{channel_id.lower()}"}


def _payload_form(payload: dict[str, Any]) -> tuple[str, str]:
    return urlencode({"payload": json.dumps(payload)}), FORM


def slash_command_body(
    team_id: str,
    user_id: str,
    channel_id: str,
    text: str,
    command: str = "/flowpilot",
    trigger_id: str | None = None,
    response_url: str | None = None,
    user_name: str | None = None,
    channel_name: str | None = None,
) -> tuple[str, str]:
    """A slash command invocation (form fields, as Slack posts them)."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": _domain(team_id),
        "channel_id": channel_id,
        "channel_name": channel_name or _channel(channel_id)["name"],
        "user_id": user_id,
        "user_name": user_name or f"user_{user_id.lower()}",
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url or new_response_url(team_id),
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return urlencode(fields), FORM


def event_body(
    team_id: str,
    event: dict[str, Any],
    event_id: str | None = None,
    event_time: int | None = None,
    bot_user_id: str = BOT_USER_ID,
) -> tuple[str, str]:
    """An Events API `event_callback` envelope around `event` (JSON)."""
    now = int(time.time()) if event_time is None else int(event_time)
    inner = dict(event)
    inner.setdefault("event_ts", inner.get("ts") or f"{now}.{_n() % 1_000_000:06d}")
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": API_APP_ID,
        "event": inner,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-fake-{uuid.uuid4().hex[:16]}",
    }
    return json.dumps(envelope), JSON


def block_action_body(
    team_id: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    action_id: str,
    value: str,
    block_id: str | None = None,
    thread_ts: str | None = None,
    message: dict[str, Any] | None = None,
    trigger_id: str | None = None,
    response_url: str | None = None,
    user_name: str | None = None,
    ephemeral: bool = False,
    action_type: str = "button",
) -> tuple[str, str]:
    """A `block_actions` payload for a click on a message button (or a static select).

    `message` is the clicked message (e.g. one from `FakeSlack.messages()`); by default a
    minimal bot message with the given ts/thread_ts. `ephemeral=True` drops the message,
    as Slack does for clicks on ephemeral messages.
    """
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": ephemeral,
    }
    if thread_ts:
        container["thread_ts"] = thread_ts
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id or f"{action_id}_block",
        "type": action_type,
        "action_ts": _action_ts(),
    }
    if action_type == "static_select":
        option = {"text": {"type": "plain_text", "text": value}, "value": value}
        action["selected_option"] = option
    else:
        action["value"] = value
        action["text"] = {"type": "plain_text", "text": value[:75], "emoji": True}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(team_id, user_id, user_name),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(team_id),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": _channel(channel_id),
        "state": {"values": {}},
        "response_url": response_url or new_response_url(team_id, "actions"),
        "actions": [action],
    }
    if not ephemeral:
        msg: dict[str, Any] = dict(message) if message else {}
        msg.pop("channel", None)
        msg.setdefault("type", "message")
        msg.setdefault("user", BOT_USER_ID)
        msg.setdefault("ts", message_ts)
        msg.setdefault("text", "")
        msg.setdefault("blocks", [])
        if thread_ts:
            msg.setdefault("thread_ts", thread_ts)
        payload["message"] = msg
    return _payload_form(payload)


def _element_state(action_id: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)  # already an element state, e.g. {"type": "static_select", ...}
    if "_to" in action_id and (value is None or (isinstance(value, str) and value[:1] == "U")):
        return {"type": "users_select", "selected_user": value}
    if isinstance(value, list):
        if all(isinstance(v, str) and v[:1] == "U" for v in value):
            return {"type": "multi_users_select", "selected_users": list(value)}
        options = [{"text": {"type": "plain_text", "text": v}, "value": v} for v in value]
        return {"type": "multi_static_select", "selected_options": options}
    return {"type": "plain_text_input", "value": value}


def view_submission_body(
    team_id: str,
    user_id: str,
    callback_id: str,
    values: dict[str, Any],
    private_metadata: str = "",
    view_id: str | None = None,
    user_name: str | None = None,
    trigger_id: str | None = None,
) -> tuple[str, str]:
    """A `view_submission` payload. `values` maps action_id -> value (block_id = action_id):
    a str is a plain text input, a "U…" str for an action id containing `_to` is a users
    select (None = nothing chosen), a list is a multi select, a dict is a raw element state.
    """
    view_id = view_id or f"VFPSUB{_n():05d}"
    state = {aid: {aid: _element_state(aid, v)} for aid, v in values.items()}
    view = {
        "id": view_id,
        "team_id": team_id,
        "type": "modal",
        "blocks": [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": state},
        "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        "title": {"type": "plain_text", "text": "FlowPilot"},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": {"type": "plain_text", "text": "Submit"},
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": API_APP_ID,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": "BFPBOT",
    }
    payload = {
        "type": "view_submission",
        "team": _team(team_id),
        "user": _user(team_id, user_id, user_name),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_form(payload)


def message_shortcut_body(
    team_id: str,
    user_id: str,
    channel_id: str,
    message: dict[str, Any],
    callback_id: str = "fp_troubleshoot_message",
    trigger_id: str | None = None,
    response_url: str | None = None,
    user_name: str | None = None,
) -> tuple[str, str]:
    """A message shortcut (`message_action`) on `message` (needs at least `ts`)."""
    msg = dict(message)
    msg.pop("channel", None)
    msg.setdefault("type", "message")
    payload = {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": _action_ts(),
        "team": _team(team_id),
        "user": _user(team_id, user_id, user_name),
        "channel": _channel(channel_id),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "response_url": response_url or new_response_url(team_id, "app"),
        "message_ts": str(msg.get("ts", "")),
        "message": msg,
    }
    return _payload_form(payload)
