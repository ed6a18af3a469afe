"""The one input boundary: every inbound body (HTTP or Socket Mode) is checked here before
Bolt or our handlers see it.

Slack sends JSON (Events API) or a form (slash commands; interactivity as ``payload=<json>``).
Anything else, or a body whose fields have the wrong type, is refused with a status and a
one-line reason; nothing here raises. Valid text with Unicode that our stores cannot hold
(NUL, lone surrogates) is cleaned and counted, so the message is answered, not lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

MAX_BODY = 2 * 1024 * 1024
MAX_DEPTH = 40  # Slack's deepest payloads (rich text in a view state) nest about 12 deep
MAX_ITEMS = 50_000  # strings, lists and dicts in one body
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

# Fields our code reads as strings; a list or number there is junk, not a Slack payload.
_STR_FIELDS = frozenset({
    "type", "team_id", "user_id", "channel_id", "trigger_id", "response_url", "command",
    "api_app_id", "event_id", "callback_id", "action_id", "block_id", "value",
    "private_metadata", "hash", "subtype", "bot_id",
})
# Strings in some payloads, objects in others (a message's text vs a block's text object).
_STR_OR_OBJECT = frozenset({"text", "user", "channel", "team", "id", "name"})
# Timestamps our code reads, in the containers it reads them from (legacy attachments carry
# numeric ``ts`` values, which are Slack's, so only these places are checked).
_TS_FIELDS = ("ts", "thread_ts", "message_ts", "event_ts", "action_ts")
_TS = re.compile(r"\d{1,12}(?:\.\d{1,9})?")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str  # one line, never the body


@dataclass(frozen=True)
class Accepted:
    body: dict[str, Any]
    cleaned: int  # characters removed or replaced (NUL, lone surrogates)


def verify(secret: bytes, raw: bytes, headers: dict[str, str], now: float) -> Refusal | None:
    """Slack's request signature (v0 HMAC-SHA256 of ``v0:<timestamp>:<raw body>``, at most five
    minutes old: https://api.slack.com/authentication/verifying-requests-from-slack) over the
    raw bytes; None when it is valid. Computed here on bytes so that a non-numeric timestamp or
    a body that is not UTF-8 is a 401, not an exception in the SDK's verifier."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        return Refusal(401, "request is not signed")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return Refusal(401, "request timestamp is not a number")
    if abs(now - int(timestamp)) > 300:
        return Refusal(401, "request timestamp is stale")
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    if not hmac.compare_digest("v0=" + digest.hexdigest(), signature):
        return Refusal(401, "request signature is invalid")
    return None


def parse_http(raw: bytes, content_type: str) -> Accepted | Refusal:
    """A signed HTTP body, parsed by its content type and checked."""
    if len(raw) > MAX_BODY:
        return Refusal(413, f"body of {len(raw)} bytes is over the {MAX_BODY} limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(400, "body is not UTF-8")
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == JSON:
        return _from_json(text, "body")
    if ctype == FORM:
        return _from_form(text)
    return Refusal(400, f"unsupported content type {ctype[:60]!r}")


def check_payload(payload: Any) -> Accepted | Refusal:
    """An already-parsed body (Socket Mode envelopes): same checks and cleaning."""
    return _checked(payload, "payload")


def _from_json(text: str, what: str) -> Accepted | Refusal:
    try:
        parsed = json.loads(text)
    except RecursionError:
        return Refusal(400, f"{what} is nested too deeply")
    except ValueError as exc:
        return Refusal(400, f"{what} is not valid JSON ({exc.__class__.__name__})")
    return _checked(parsed, what)


def _from_form(text: str) -> Accepted | Refusal:
    try:
        fields = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                           max_num_fields=1000)
    except ValueError:
        return Refusal(400, "form body is malformed")
    form = dict(fields)
    if "payload" in form:
        if len(form) != 1:
            return Refusal(400, "interactivity form carries more than its payload")
        return _from_json(form["payload"], "payload")
    if not form:
        return Refusal(400, "empty form body")
    return _checked(form, "form")


def _checked(parsed: Any, what: str) -> Accepted | Refusal:
    if not isinstance(parsed, dict):
        return Refusal(400, f"{what} is a JSON {type(parsed).__name__}, not an object")
    problem = _walk(parsed)
    if problem:
        return Refusal(400, f"{what}: {problem}")
    problem = _shape(parsed)
    if problem:
        return Refusal(400, f"{what}: {problem}")
    cleaned, count = clean(parsed)
    return Accepted(cleaned, count)


def _walk(root: dict[str, Any]) -> str | None:
    """Depth, size and field types, iteratively (no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_ITEMS:
            return "too many items"
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH}"
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    return "a key is not a string"
                if value is not None and not isinstance(value, str) and (
                    key in _STR_FIELDS or (key in _STR_OR_OBJECT and not isinstance(value, dict))
                ):
                    return f"field {key!r} has the wrong type"
                if isinstance(value, (dict, list)):
                    stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node if isinstance(item, (dict, list)))
    return None


def _shape(body: dict[str, Any]) -> str | None:
    """The containers each kind of payload must have, with the right types."""
    kind = body.get("type")
    if kind == "event_callback" and not isinstance(body.get("event"), dict):
        return "event is not an object"
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            return "actions is not a non-empty list"
        if not all(isinstance(a, dict) for a in actions):
            return "an action is not an object"
        for a in actions:
            if "selected_option" in a and not isinstance(a["selected_option"], (dict, type(None))):
                return "selected_option is not an object"
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, dict):
            return "view is not an object"
        state = view.get("state")
        if state is not None and not (isinstance(state, dict)
                                      and isinstance(state.get("values", {}), dict)):
            return "view state is not an object"
    for key in ("user", "team", "channel", "container", "message", "enterprise"):
        value = body.get(key)
        if value is not None and not isinstance(value, (dict, str)):
            return f"{key} has the wrong type"
    actions = body.get("actions")
    for holder in (body.get("event"), body.get("container"), body.get("message"),
                   *(actions if isinstance(actions, list) else ())):
        if not isinstance(holder, dict):
            continue
        for key in _TS_FIELDS:
            value = holder.get(key)
            if value is not None and not (isinstance(value, str) and _TS.fullmatch(value)):
                return f"field {key!r} is not a Slack timestamp"
    return None


def clean_text(text: str) -> tuple[str, int]:
    """NUL removed, lone surrogates replaced by U+FFFD: what PostgreSQL and UTF-8 can hold."""
    count = text.count("\x00")
    if count:
        text = text.replace("\x00", "")
    text, n = _SURROGATE.subn("\ufffd", text)
    return text, count + n


def clean(value: Any) -> tuple[Any, int]:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        total, out = 0, {}
        for k, v in value.items():
            ck, n1 = clean_text(k) if isinstance(k, str) else (k, 0)
            cv, n2 = clean(v)
            out[ck] = cv
            total += n1 + n2
        return out, total
    if isinstance(value, list):
        total, items = 0, []
        for v in value:
            cv, n = clean(v)
            items.append(cv)
            total += n
        return items, total
    return value, 0


def team_of(body: dict[str, Any]) -> str:
    team = body.get("team")
    user = body.get("user")
    found = body.get("team_id") or (team.get("id") if isinstance(team, dict) else None) or (
        user.get("team_id") if isinstance(user, dict) else None)
    return found if isinstance(found, str) else ""


def describe(body: dict[str, Any]) -> str:
    """A short name for a body in a log line: its kind, never its content."""
    kind = str(body.get("type") or ("command" if body.get("command") else "unknown"))[:40]
    event = body.get("event")
    if isinstance(event, dict):
        kind += f"/{str(event.get('type'))[:40]}"
    return kind


# --- one redaction policy at the door ---------------------------------------------------
# Text people type reaches us in these places; it is redacted here, before Bolt, our
# delivery records, steps, logs or the model see it. Raw text is kept nowhere.
# Admin input that is itself a redaction pattern (`/flowpilot settings …`, the settings
# modal) is left as typed: masking `password=\S+` would break the pattern.
_ADMIN_WORDS = ("settings", "config")
_UNREDACTED_VIEWS = ("fp_settings_modal",)


def redact_inbound(body: dict[str, Any], redactor: Callable[[str], tuple[str, int]]) -> int:
    """Redact, in place, every field of ``body`` that carries typed text; returns how many
    secrets were masked."""
    total = 0

    def red(holder: dict[str, Any], key: str) -> None:
        nonlocal total
        value = holder.get(key)
        if isinstance(value, str) and value:
            # Slack escapes &, < and > in typed message and command text; we keep the text
            # as typed (our renderer escapes it once on the way out, so "&" never shows as
            # "&amp;"), and redaction sees the real characters of a password.
            holder[key], n = redactor(unescape(value))
            total += n

    if body.get("command"):
        if str(body.get("text") or "").strip().split(" ", 1)[0].lower() not in _ADMIN_WORDS:
            red(body, "text")
        return total
    event = body.get("event")
    if isinstance(event, dict):
        red(event, "text")
        total += _redact_strings(event.get("blocks"), redactor, "text")
        message = event.get("message")
        if isinstance(message, dict):
            red(message, "text")
            total += _redact_strings(message.get("blocks"), redactor, "text")
    message = body.get("message")
    if body.get("type") in ("message_action", "shortcut") and isinstance(message, dict):
        red(message, "text")
        total += _redact_strings(message.get("blocks"), redactor, "text")
    view = body.get("view")
    if isinstance(view, dict) and view.get("callback_id") not in _UNREDACTED_VIEWS:
        state = view.get("state")
        if isinstance(state, dict):
            total += _redact_strings(state.get("values"), redactor, "value")
            total += _redact_strings(state.get("values"), redactor, "text")
    return total


def unescape(text: str) -> str:
    """Slack's three entity escapes undone (https://api.slack.com/reference/surfaces/formatting
    #escaping); mentions and links keep their real angle brackets."""
    if "&" not in text:
        return text
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _redact_strings(node: Any, redactor: Callable[[str], tuple[str, int]], key: str) -> int:
    """Every string under ``key`` (and every string in a rich-text tree under it)."""
    total = 0
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if k == key and isinstance(v, str) and v:
                    item[k], n = redactor(v)
                    total += n
                elif isinstance(v, (dict, list)):
                    stack.append(v)
        elif isinstance(item, list):
            stack.extend(i for i in item if isinstance(i, (dict, list)))
    return total
