"""An in-process fake of the Slack Web API for tests and the `flowpilot try` sandbox.

`FakeSlack` is a threaded stdlib HTTP server on 127.0.0.1 (ephemeral port). Point any
`WebClient(base_url=fake.url)` (or env `SLACK_API_URL`) at it. It records every call,
answers like Slack does for the methods FlowPilot uses, keeps a small in-memory model of
the workspace (bot messages per channel, ephemerals, views), and lets tests script one-off
answers or inject failures (429 with Retry-After, 5xx, `ok:false` errors, slow replies).

It also accepts `response_url` posts on `/hooks/...` (see `hook_url`), recorded as calls
with method `"response_url"`, and the raw bytes of a file upload on `/upload/<file id>` (the
URL `files.getUploadURLExternal` hands out; see `files()`).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.sandbox.fake_slack_files import FakeFiles
from bot.sandbox.fake_slack_oauth import FakeOAuth, FakeWorkspace

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Subscriber = Callable[[str, JSONDict], None]

# A conversation id: C (public, or shared), G (private), D (direct message), then
# upper-case letters and digits (docs.slack.dev/apis/web-api/using-the-conversations-api).
CONVERSATION_ID = re.compile(r"[CGD][A-Z0-9]+")

BOT_USER_ID = "UFPBOT"
BOT_ID = "BFPBOT"
APP_ID = "AFPAPP"
TEAM_ID = "T0001"
TEAM_NAME = "Fake Workspace"
TEAM_URL = "https://fake-workspace.slack.com/"
BOT_SCOPES = (
    "app_mentions:read,channels:history,chat:write,commands,files:read,files:write,groups:history,"
    "reactions:write,users:read"
)
# Methods that need a scope the fake checks (a token without it gets ``missing_scope`` with
# ``needed`` and ``provided``, as Slack answers: docs.slack.dev/reference/methods/
# files.getUploadURLExternal and files.completeUploadExternal list bot scope files:write;
# the ``needed``/``provided`` fields are in the SDK's FilesGetUploadURLExternalResponse type).
SCOPED_METHODS = {
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}


@dataclass(frozen=True)
class Call:
    """One request the fake received. `headers` keys are lower-case."""

    method: str
    body: JSONDict
    headers: dict[str, str]
    token: str | None
    at: float
    http_method: str = "POST"
    path: str = ""
    raw_body: str = ""


Responder = JSONDict | Callable[[Call], JSONDict]


@dataclass
class _Scripted:
    response: Responder
    times: int | None  # None = until reset()
    status: int
    headers: dict[str, str]
    delay: float


@dataclass
class _Interceptor:
    method: str
    predicate: Callable[[Call], bool]
    status: int
    error: str
    times: int | None
    retry_after: int
    take_effect: bool
    delay: float


class SlackApiFailure(Exception):
    """Raised inside a default handler to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def _ts_key(ts: str) -> tuple[int, int]:
    sec, _, frac = str(ts).partition(".")
    return int(sec or 0), int((frac or "0").ljust(6, "0")[:6])


def _maybe_json(value: str) -> Any:
    stripped = value.strip()
    if stripped[:1] in ("[", "{"):
        try:
            decoded = json.loads(stripped)
        except ValueError:
            return value
        if isinstance(decoded, list | dict):
            return decoded
    return value


def _parse_body(content_type: str, raw: str) -> JSONDict:
    if not raw:
        return {}
    if "json" in content_type.lower():
        try:
            decoded = json.loads(raw)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {"_json": decoded}
    return _parse_form(raw)


def _parse_form(raw: str) -> JSONDict:
    out: JSONDict = {}
    for key, values in parse_qs(raw, keep_blank_values=True).items():
        decoded = [_maybe_json(v) for v in values]
        out[key] = decoded[0] if len(decoded) == 1 else decoded
    return out


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _check_blocks(blocks: Any) -> None:
    """What Slack refuses in ``blocks`` (https://api.slack.com/reference/block-kit/blocks):
    more than 50 blocks in a message, and an ``action_id`` repeated within a block ("should be
    unique among all other action_ids in the containing block",
    https://api.slack.com/reference/block-kit/block-elements): both ``invalid_blocks``."""
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            raise SlackApiFailure("invalid_blocks_format") from None
    if not isinstance(blocks, list):
        return
    if len(blocks) > 50:
        raise SlackApiFailure("invalid_blocks")
    markdown = 0
    for block in blocks:
        if not isinstance(block, dict):
            raise SlackApiFailure("invalid_blocks_format")
        if block.get("type") == "markdown":
            # "The standard markdown-formatted text. Limit 12,000 characters max", and all of
            # a payload's markdown blocks share those 12,000
            # (docs.slack.dev/reference/block-kit/blocks/markdown-block).
            text = block.get("text")
            if not isinstance(text, str) or not text:
                raise SlackApiFailure("invalid_blocks")
            markdown += len(text)
            if markdown > 12_000:
                raise SlackApiFailure("invalid_blocks")
        if block.get("type") == "context_actions":
            _check_context_actions(block)
        ids = [el.get("action_id") for el in [*(block.get("elements") or []),
                                                 block.get("accessory"), block.get("element")]
               if isinstance(el, dict) and el.get("action_id")]
        if len(ids) != len(set(ids)):
            raise SlackApiFailure("invalid_blocks")


def _check_context_actions(block: JSONDict) -> None:
    """A ``context_actions`` block holds 1 to 5 ``feedback_buttons`` or ``icon_button``
    elements (docs.slack.dev/reference/block-kit/blocks/context-actions-block); a feedback
    buttons element needs a ``positive_button`` and a ``negative_button``, each with a
    plain_text ``text`` of at most 75 characters and a ``value`` of at most 2,000
    (docs.slack.dev/reference/block-kit/block-elements/feedback-buttons-element)."""
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= 5:
        raise SlackApiFailure("invalid_blocks")
    for el in elements:
        if not isinstance(el, dict) or el.get("type") not in ("feedback_buttons", "icon_button"):
            raise SlackApiFailure("invalid_blocks")
        if el["type"] != "feedback_buttons":
            continue
        for side in ("positive_button", "negative_button"):
            button = el.get(side)
            if not isinstance(button, dict):
                raise SlackApiFailure("invalid_blocks")
            text = button.get("text")
            if (not isinstance(text, dict) or text.get("type") != "plain_text"
                    or not str(text.get("text") or "") or len(str(text["text"])) > 75):
                raise SlackApiFailure("invalid_blocks")
            value = button.get("value")
            if not isinstance(value, str) or not value or len(value) > 2000:
                raise SlackApiFailure("invalid_blocks")


def _dm_channel(channel: str) -> str:
    """Posting to a user id lands in the DM with that user, as Slack does."""
    return f"D{channel}" if channel[:1] in ("U", "W") else channel


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeSlack, host: str) -> None:
        self.fake = fake
        super().__init__((host, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout test) breaks the pipe; stay quiet.
        logger.debug("FakeSlack connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, http_method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        if urlsplit(self.path).path.startswith("/upload/"):  # file bytes, not a form
            status, text = self.server.fake._receive_upload(http_method, self.path, body)
            self._send(status, {}, text.encode("utf-8"), "text/plain; charset=utf-8")
            return
        raw = body.decode("utf-8", "replace")
        try:
            status, extra, payload = self.server.fake._handle(http_method, self.path, headers, raw)
        except Exception as exc:  # a bug in the fake must not hang the client
            logger.exception("FakeSlack failed on %s", self.path)
            status, extra, payload = 500, {}, {"ok": False, "error": f"fake_slack_bug: {exc}"}
        if isinstance(payload, bytes):  # a file download (fake_slack_files)
            extra = dict(extra)
            content_type = extra.pop("Content-Type", "application/octet-stream")
            self._send(status, extra, payload, content_type)
            return
        self._send(status, extra, json.dumps(payload).encode("utf-8"),
                   "application/json; charset=utf-8")

    def _send(self, status: int, extra: dict[str, str], data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


class FakeSlack:
    """Fake Slack Web API. `with FakeSlack() as fake: WebClient(base_url=fake.url, ...)`."""

    def __init__(
        self,
        *,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        team_id: str = TEAM_ID,
        team_name: str = TEAM_NAME,
        ts_base: float | None = 1_700_000_000,
        strict: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.team_name = team_name
        self.strict = strict  # chat.update/delete of an unknown message -> message_not_found
        self._host = host
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        base = time.time() if ts_base is None else ts_base
        self._last_ts = int(base) * 1_000_000
        self._seq = 0
        self._calls: list[Call] = []
        self._scripts: dict[str, deque[_Scripted]] = {}
        self._messages: dict[str, list[JSONDict]] = {}
        self._ephemerals: list[JSONDict] = []
        self._views: dict[str, JSONDict] = {}
        self._home_views: dict[str, str] = {}
        self._statuses: dict[tuple[str, str], str] = {}
        self._users: dict[str, JSONDict] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._interceptors: list[_Interceptor] = []
        self._channels: dict[str, JSONDict] = {}
        self._failed_channels: dict[str, tuple[str, frozenset[str]]] = {}
        self._subscribers: list[Subscriber] = []
        self._watchers: list[Callable[[Call], None]] = []
        # The bot token's scopes (``auth.test``'s x-oauth-scopes); tests take some away.
        self.scopes: set[str] = set(BOT_SCOPES.split(","))
        # Files: id -> {"filename", "length", "alt_txt", "data", "shared", "title", ...}
        self._files: dict[str, JSONDict] = {}
        self._fail_uploads: int = 0
        # Apps, codes and the tokens issued by OAuth, each bound to one workspace.
        self.oauth = FakeOAuth()
        # Files people shared: files.info and the private download (fake_slack_files).
        self.files = FakeFiles(lambda: self.root_url, team_id)
        self._routes: dict[str, Callable[[Call], tuple[JSONDict, list[tuple[str, JSONDict]]]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "assistant.threads.setStatus": self._set_status,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "apps.connections.open": self._connections_open,
            "files.info": lambda call: (self.files.info(call.body), []),
        }

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeSlack:
        if self._server is None:
            self._server = _Server(self, self._host)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-slack",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://{self._host}:{self.port}/"

    @property
    def url(self) -> str:
        """Base URL of the Web API, e.g. `http://127.0.0.1:54321/api/`."""
        return f"{self.root_url}api/"

    @property
    def authorize_url(self) -> str:
        """Slack's authorize page (``OAuthSettings(authorization_url=...)``)."""
        return f"{self.root_url}oauth/v2/authorize"

    def workspace(self, team_id: str | None, name: str = "", *, enterprise_id: str | None = None,
                  org_install: bool = False, bot_user_id: str = BOT_USER_ID,
                  installer: str = "UINSTALLER") -> FakeWorkspace:
        """A workspace (or, with ``org_install``, an Enterprise Grid org) people can install
        the app into through ``oauth.approve``."""
        return FakeWorkspace(team_id=None if org_install else team_id,
                             team_name=name or str(team_id), enterprise_id=enterprise_id,
                             enterprise_name=f"Org {enterprise_id}" if enterprise_id else "",
                             bot_user_id=bot_user_id, installer=installer,
                             is_enterprise_install=org_install)

    def team_of(self, call: Call) -> str | None:
        """The workspace a recorded call acted in (by the token it used; None when the token
        was not issued through OAuth)."""
        ws = self.oauth.workspace_of(call.token)
        if ws is None:
            return None
        return ws.team_id or ws.enterprise_id

    def hook_url(self, tag: str = "T0001/1/fake") -> str:
        """A `response_url` served by this fake; posts are recorded as method `response_url`."""
        return f"{self.root_url}hooks/{tag.lstrip('/')}"

    # ------------------------------------------------------------------ recording
    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until at least `count` matching calls arrived; return all matching calls."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [c for c in self.calls(method) if predicate is None or predicate(c)]
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        seen = [f"  {c.method} {json.dumps(c.body, default=str)[:200]}" for c in self.calls()]
        raise AssertionError(
            f"FakeSlack: expected {count} call(s) to {method}"
            f"{' matching predicate' if predicate else ''} within {timeout}s, "
            f"got {len(matching)}. Received {len(seen)} call(s):\n" + "\n".join(seen or ["  none"])
        )

    def clear(self) -> None:
        """Forget recorded calls (the workspace model and scripts stay)."""
        with self._lock:
            self._calls.clear()

    def reset(self) -> None:
        """Forget calls, scripts, failures, messages, ephemerals, views and user overrides."""
        with self._lock:
            self._calls.clear()
            self._scripts.clear()
            self._messages.clear()
            self._ephemerals.clear()
            self._views.clear()
            self._home_views.clear()
            self._statuses.clear()
            self._users.clear()
            self._usergroups.clear()
            self._interceptors.clear()
            self._channels.clear()
            self._failed_channels.clear()
            self._files.clear()
            self._fail_uploads = 0
            self.scopes = set(BOT_SCOPES.split(","))
        self.files.reset()

    # ------------------------------------------------------------------ scripting
    def script(
        self,
        method: str,
        response: Responder,
        times: int | None = 1,
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Queue a one-off answer for `method` (FIFO), used before the default answer.

        `response` is a dict or a callable(Call) -> dict. `times=None` repeats until reset().
        Scripted answers skip the token check and do not change the workspace model.
        """
        entry = _Scripted(response, times, status, dict(headers or {}), delay)
        with self._lock:
            self._scripts.setdefault(method, deque()).append(entry)

    def fail(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 0,
        times: int | None = 1,
        error: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Queue an error: 429 + Retry-After, another HTTP status, or `ok:false` at 200."""
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error"
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        self.script(method, {"ok": False, "error": error}, times, status, headers, delay)

    def fail_when(
        self, method: str, predicate: Callable[[Call], bool], *, status: int = 500,
        error: str = "internal_error", times: int | None = None, retry_after: int = 0,
        take_effect: bool = False, delay: float = 0.0,
    ) -> None:
        """Fail only the calls to `method` that `predicate` picks (others are answered as
        usual). `take_effect=True`: the call does happen (the message is posted) and only
        its answer is an error, as when a response is lost after Slack accepted a post."""
        with self._lock:
            self._interceptors.append(
                _Interceptor(method, predicate, status, error, times, retry_after,
                             take_effect, delay))

    def _intercepted(self, call: Call) -> _Interceptor | None:
        for hit in self._interceptors:
            if hit.method == call.method and (hit.times is None or hit.times > 0) \
                    and hit.predicate(call):
                if hit.times is not None:
                    hit.times -= 1
                return hit
        return None

    def fail_channel(
        self,
        channel: str,
        error: str = "not_in_channel",
        methods: Iterable[str] = ("chat.postMessage",),
    ) -> None:
        """Make posts to `channel` fail with `error` until `unfail_channel`."""
        with self._lock:
            self._failed_channels[channel] = (error, frozenset(methods))

    def unfail_channel(self, channel: str) -> None:
        with self._lock:
            self._failed_channels.pop(channel, None)

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Override fields of the `users.info` answer for `user_id` (merged over defaults)."""
        with self._lock:
            self._users.setdefault(user_id, {}).update(fields)

    def set_channel(self, channel_id: str, **fields: Any) -> None:
        """Override fields of the `conversations.info` answer for `channel_id`."""
        with self._lock:
            self._channels.setdefault(channel_id, {}).update(fields)

    def subscribe(self, callback: Subscriber) -> None:
        """callback(event, data) after message.posted/updated/deleted, ephemeral.posted,
        view.opened/pushed/updated/published, reaction.added/removed, status.set and
        response_url.posted. Called outside the lock, before the HTTP answer is sent."""
        with self._lock:
            self._subscribers.append(callback)

    def watch(self, callback: Callable[[Call], None]) -> None:
        """callback(call) for every request, when it arrives and before it is answered (so
        while the app waits for the answer), outside the lock. A test hook (it changes no
        answer): e.g. to look at what the app holds in its database during a Slack call."""
        with self._lock:
            self._watchers.append(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    # ------------------------------------------------------------------ workspace model
    def next_ts(self) -> str:
        with self._lock:
            return self._next_ts()

    def add_message(
        self,
        channel: str,
        text: str,
        user: str = "U0USER",
        thread_ts: str | None = None,
        ts: str | None = None,
        **extra: Any,
    ) -> JSONDict:
        """Seed a message (e.g. a human's) into the model; returns a copy with its ts."""
        with self._lock:
            if ts is None:
                ts = self._next_ts()
            else:
                self._bump_ts(ts)
            msg: JSONDict = {"type": "message", "user": user, "text": text, "ts": ts}
            msg.update(extra)
            self._store_message(channel, msg, thread_ts)
            return copy.deepcopy(msg)

    def messages(self, channel: str | None = None, thread_ts: str | None = None) -> list[JSONDict]:
        """Messages in ts order; with `thread_ts`, the parent and its replies."""
        with self._lock:
            found = [
                copy.deepcopy(m)
                for ch, msgs in self._messages.items()
                if channel is None or ch == _dm_channel(channel)
                for m in msgs
                if thread_ts is None or thread_ts in (m.get("ts"), m.get("thread_ts"))
            ]
        return sorted(found, key=lambda m: _ts_key(m["ts"]))

    def ephemerals(self, user: str | None = None) -> list[JSONDict]:
        with self._lock:
            return [copy.deepcopy(e) for e in self._ephemerals if user is None or e["user"] == user]

    def uploads(self, channel: str | None = None) -> list[JSONDict]:
        """Completed uploads (with their bytes under ``data``), shared in ``channel`` if given."""
        with self._lock:
            return [copy.deepcopy(f) for f in self._files.values() if f.get("completed")
                    and (channel is None or _dm_channel(channel) in f.get("shared", []))]

    def fail_uploads(self, times: int = 1) -> None:
        """The next ``times`` POSTs of file bytes to an upload URL answer HTTP 500."""
        with self._lock:
            self._fail_uploads = times

    def views(self) -> list[JSONDict]:
        with self._lock:
            return [copy.deepcopy(v) for v in self._views.values()]

    def status(self, channel: str, thread_ts: str) -> str | None:
        """The last `assistant.threads.setStatus` text for a thread ("" once cleared)."""
        with self._lock:
            return self._statuses.get((channel, thread_ts))

    # ------------------------------------------------------------------ internals
    def _next_ts(self) -> str:
        self._last_ts += 100
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _bump_ts(self, ts: str) -> None:
        sec, micro = _ts_key(ts)
        self._last_ts = max(self._last_ts, sec * 1_000_000 + micro)

    def _next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:08d}"

    def _store_message(self, channel: str, msg: JSONDict, thread_ts: str | None) -> None:
        msgs = self._messages.setdefault(channel, [])
        if thread_ts:
            msg["thread_ts"] = thread_ts
            parent = self._find(channel, thread_ts)
            if parent is not None and parent is not msg:
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                parent["latest_reply"] = msg["ts"]
        msg["channel"] = channel
        msgs.append(msg)

    def _find(self, channel: str, ts: str) -> JSONDict | None:
        for msg in self._messages.get(channel, []):
            if msg.get("ts") == ts:
                return msg
        return None

    def _pop_script(self, method: str) -> _Scripted | None:
        queue = self._scripts.get(method)
        if not queue:
            return None
        entry = queue[0]
        if entry.times is not None:
            entry.times -= 1
            if entry.times <= 0:
                queue.popleft()
        return entry

    def _emit(self, events: list[tuple[str, JSONDict]]) -> None:
        if not events:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for name, data in events:
            for callback in subscribers:
                try:
                    callback(name, copy.deepcopy(data))
                except Exception:
                    logger.exception("FakeSlack subscriber failed on %s", name)

    def _handle(
        self, http_method: str, path: str, headers: dict[str, str], raw: str
    ) -> tuple[int, dict[str, str], Any]:
        split = urlsplit(path)
        if split.path.startswith("/files-pri/") and http_method == "GET":
            auth = headers.get("authorization", "")
            bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
            with self._lock:
                self._calls.append(Call("files.download", {}, headers, bearer, time.monotonic(),
                                        http_method, path, raw))
            return self.files.download(split.path, bearer)
        if split.path.startswith("/api/"):
            method = split.path[len("/api/") :].strip("/")
        elif split.path.startswith("/hooks/"):
            method = "response_url"
        elif split.path.rstrip("/") == "/oauth/v2/authorize" and http_method == "GET":
            return self._authorize_page(path)
        else:
            return 404, {}, {"ok": False, "error": "unknown_method"}
        body = _parse_form(split.query) if split.query else {}
        body.update(_parse_body(headers.get("content-type", ""), raw))
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        token = token or (str(body["token"]) if body.get("token") else None)
        call = Call(method, body, headers, token, time.monotonic(), http_method, path, raw)
        with self._lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher(call)
        with self._lock:
            self._calls.append(call)
            hit = self._intercepted(call)
            if hit is not None and hit.take_effect and method in self._routes:
                self._routes[method](call)  # the call took effect; only its answer fails
            scripted = None if hit is not None else self._pop_script(method)
        if hit is not None:
            if hit.delay:
                time.sleep(hit.delay)
            headers = {"Retry-After": str(hit.retry_after)} if hit.status == 429 else {}
            return hit.status, headers, {"ok": False, "error": hit.error}
        if scripted is not None:
            if scripted.delay:
                time.sleep(scripted.delay)
            response = scripted.response
            answer = response(call) if callable(response) else copy.deepcopy(response)
            return scripted.status, dict(scripted.headers), answer
        if method == "response_url":
            self._emit([("response_url.posted", {"path": split.path, **body})])
            return 200, {}, {"ok": True}
        if method == "oauth.v2.access":  # authenticated by client id/secret, not a token
            return 200, {}, self.oauth.access(body, headers)
        if not token:
            return 200, {}, {"ok": False, "error": "not_authed"}
        if token.startswith(("xoxb-invalid", "xapp-invalid")):
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        # apps.connections.open takes only an app-level token, and the bot methods refuse
        # one: "not_allowed_token_type" (docs.slack.dev/reference/methods/apps.connections.open,
        # docs.slack.dev/authentication/tokens: app-level tokens call only apps.* methods).
        if (method == "apps.connections.open") != token.startswith("xapp-"):
            return 200, {}, {"ok": False, "error": "not_allowed_token_type"}
        refusal = self.oauth.refusal(token)
        if refusal is not None:
            return 200, {}, {"ok": False, "error": refusal}
        needed = SCOPED_METHODS.get(method)
        granted = self._granted_scopes(token)
        if needed is not None and needed not in granted:
            return 200, {}, {"ok": False, "error": "missing_scope", "needed": needed,
                             "provided": ",".join(sorted(granted))}
        route = self._routes.get(method)
        if route is None:
            return 200, {}, {"ok": True}
        events: list[tuple[str, JSONDict]] = []
        try:
            with self._lock:
                answer, events = route(call)
                events = copy.deepcopy(events)  # detach from the live model before unlocking
        except SlackApiFailure as failure:
            answer = {"ok": False, "error": failure.error}
        self._emit(events)
        extra = {"x-oauth-scopes": ",".join(sorted(self._granted_scopes(token)))} \
            if method == "auth.test" else {}
        return 200, extra, answer

    def _authorize_page(self, path: str) -> tuple[int, dict[str, str], JSONDict]:
        """A browser at the authorize page, signed in as ``oauth.signed_in``, clicks Allow."""
        try:
            location = self.oauth.approve(path)
        except ValueError as exc:
            return 400, {}, {"ok": False, "error": str(exc)}
        return 302, {"Location": location}, {"ok": True}

    # ------------------------------------------------------------------ default answers
    # Each route runs under the lock and returns (answer, events to emit).
    def _auth_test(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        ws = self.oauth.workspace_of(call.token)
        if ws is not None:
            return {
                "ok": True, "url": f"https://{(ws.team_id or ws.enterprise_id or '').lower()}"
                                   ".slack.com/",
                "team": ws.team_name, "user": "flowpilot", "team_id": ws.team_id,
                "user_id": ws.bot_user_id, "bot_id": ws.bot_id,
                "enterprise_id": ws.enterprise_id,
                "is_enterprise_install": ws.is_enterprise_install,
            }, []
        return {
            "ok": True,
            "url": TEAM_URL,
            "team": self.team_name,
            "user": "flowpilot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }, []

    def _channel_arg(self, call: Call, key: str = "channel") -> str:
        channel = str(call.body.get(key) or "")
        if not channel:
            raise SlackApiFailure("channel_not_found")
        failed = self._failed_channels.get(channel)
        if failed and call.method in failed[1]:
            raise SlackApiFailure(failed[0])
        return _dm_channel(channel)

    def _chat_post_message(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        body = call.body
        channel = self._channel_arg(call)
        if not any(body.get(k) for k in ("text", "blocks", "attachments", "markdown_text")):
            raise SlackApiFailure("no_text")
        _check_blocks(body.get("blocks"))
        msg: JSONDict = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": str(body.get("text") or body.get("markdown_text") or ""),
            "ts": self._next_ts(),
        }
        for key in ("blocks", "attachments", "metadata"):
            if body.get(key) is not None:
                msg[key] = body[key]
        if _truthy(body.get("reply_broadcast")):
            msg["subtype"] = "thread_broadcast"
        thread_ts = str(body["thread_ts"]) if body.get("thread_ts") else None
        self._store_message(channel, msg, thread_ts)
        if thread_ts and self._statuses.get((channel, thread_ts)):
            # The app's message in the thread ends its "is thinking…" status ("removed if no
            # message has been sent" within 2 minutes: docs.slack.dev/reference/methods/
            # assistant.threads.setStatus).
            self._statuses[(channel, thread_ts)] = ""
        echo = {k: v for k, v in msg.items() if k != "channel"}
        answer = {"ok": True, "channel": channel, "ts": msg["ts"], "message": copy.deepcopy(echo)}
        return answer, [("message.posted", copy.deepcopy(msg))]

    def _own_message(self, channel: str, ts: str) -> JSONDict:
        msg = self._find(channel, ts)
        if msg is None:
            if self.strict or not ts:
                raise SlackApiFailure("message_not_found")
            msg = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id, "ts": ts}
            self._store_message(channel, msg, None)
        elif msg.get("user") != self.bot_user_id:
            raise SlackApiFailure("cant_update_message")
        return msg

    def _chat_update(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        body = call.body
        channel = self._channel_arg(call)
        msg = self._own_message(channel, str(body.get("ts") or ""))
        _check_blocks(body.get("blocks"))  # chat.update validates blocks as postMessage does
        if "text" in body:
            msg["text"] = str(body.get("text") or "")
        if "blocks" in body:
            if body["blocks"]:
                msg["blocks"] = body["blocks"]
            else:
                msg.pop("blocks", None)
        elif "text" in body:
            msg.pop("blocks", None)  # Slack: text without blocks removes the blocks
        for key in ("attachments", "metadata"):
            if body.get(key) is not None:
                msg[key] = body[key]
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        echo = {k: v for k, v in msg.items() if k != "channel"}
        answer = {
            "ok": True,
            "channel": channel,
            "ts": msg["ts"],
            "text": msg.get("text", ""),
            "message": copy.deepcopy(echo),
        }
        return answer, [("message.updated", copy.deepcopy(msg))]

    def _chat_delete(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        channel = self._channel_arg(call)
        ts = str(call.body.get("ts") or "")
        msg = self._find(channel, ts)
        if msg is None:
            raise SlackApiFailure("message_not_found")
        self._messages[channel].remove(msg)
        return {"ok": True, "channel": channel, "ts": ts}, [("message.deleted", msg)]

    def _chat_post_ephemeral(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        body = call.body
        channel = self._channel_arg(call)
        user = str(body.get("user") or "")
        if not user:
            raise SlackApiFailure("user_not_in_channel")
        if not any(body.get(k) for k in ("text", "blocks", "attachments")):
            raise SlackApiFailure("no_text")
        _check_blocks(body.get("blocks"))
        eph: JSONDict = {
            "channel": channel,
            "user": user,
            "text": str(body.get("text") or ""),
            "message_ts": self._next_ts(),
        }
        for key in ("blocks", "attachments", "thread_ts"):
            if body.get(key) is not None:
                eph[key] = body[key]
        self._ephemerals.append(eph)
        return {"ok": True, "message_ts": eph["message_ts"]}, [("ephemeral.posted", eph)]

    def _chat_get_permalink(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        channel = self._channel_arg(call)
        ts = str(call.body.get("message_ts") or "")
        if not ts:
            raise SlackApiFailure("message_not_found")
        link = f"{TEAM_URL}archives/{channel}/p{ts.replace('.', '')}"
        msg = self._find(channel, ts)
        if msg is not None and msg.get("thread_ts") not in (None, ts):
            link += f"?thread_ts={msg['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}, []

    def _reaction(self, call: Call, add: bool) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        channel = self._channel_arg(call)
        ts = str(call.body.get("timestamp") or "")
        name = str(call.body.get("name") or "")
        if not name:
            raise SlackApiFailure("invalid_name")
        msg = self._find(channel, ts)
        if msg is not None:  # human messages unknown to the model are accepted as-is
            reactions: list[JSONDict] = msg.setdefault("reactions", [])
            mine = [r for r in reactions if r["name"] == name and self.bot_user_id in r["users"]]
            if add and mine:
                raise SlackApiFailure("already_reacted")
            if not add and not mine:
                raise SlackApiFailure("no_reaction")
            if add:
                reactions.append({"name": name, "users": [self.bot_user_id], "count": 1})
            else:
                reactions.remove(mine[0])
        event = "reaction.added" if add else "reaction.removed"
        return {"ok": True}, [(event, {"channel": channel, "ts": ts, "name": name})]

    def _reactions_add(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        return self._reaction(call, add=True)

    def _reactions_remove(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        return self._reaction(call, add=False)

    def _new_view(self, spec: Any, view_id: str | None = None) -> JSONDict:
        if not isinstance(spec, dict) or not spec.get("type"):
            raise SlackApiFailure("invalid_arguments")
        view_id = view_id or self._next_id("VFP")
        view: JSONDict = {
            "id": view_id,
            "team_id": self.team_id,
            "callback_id": "",
            "private_metadata": "",
            "external_id": "",
            "state": {"values": {}},
            **copy.deepcopy(spec),
            "hash": f"{self._seq}.{view_id}",
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "bot_id": self.bot_id,
        }
        self._views[view_id] = view
        return view

    def _views_open(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        if not call.body.get("trigger_id") and not call.body.get("interactivity_pointer"):
            raise SlackApiFailure("invalid_arguments")
        event = "view.pushed" if call.method == "views.push" else "view.opened"
        view = self._new_view(call.body.get("view"))
        return {"ok": True, "view": copy.deepcopy(view)}, [(event, view)]

    _views_push = _views_open

    def _views_update(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        body = call.body
        view_id = str(body.get("view_id") or "")
        external_id = str(body.get("external_id") or "")
        current = self._views.get(view_id) if view_id else None
        if current is None and external_id:
            current = next(
                (v for v in self._views.values() if v.get("external_id") == external_id), None
            )
        if current is None:
            raise SlackApiFailure("not_found")
        if body.get("hash") and body["hash"] != current["hash"]:
            raise SlackApiFailure("hash_conflict")
        view = self._new_view(body.get("view"), view_id=current["id"])
        return {"ok": True, "view": copy.deepcopy(view)}, [("view.updated", view)]

    def _views_publish(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        user_id = str(call.body.get("user_id") or "")
        if not user_id:
            raise SlackApiFailure("invalid_arguments")
        view = self._new_view(call.body.get("view"), view_id=self._home_views.get(user_id))
        view["user_id"] = user_id
        self._home_views[user_id] = view["id"]
        return {"ok": True, "view": copy.deepcopy(view)}, [("view.published", view)]

    def _users_info(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        user_id = str(call.body.get("user") or "")
        if not user_id:
            raise SlackApiFailure("user_not_found")
        name = f"user_{user_id.lower()}"
        user: JSONDict = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": f"User {user_id}",
            "deleted": False,
            "tz": "America/New_York",
            "tz_label": "Eastern Standard Time",
            "tz_offset": -18000,
            "is_admin": False,
            "is_owner": False,
            "is_bot": user_id == self.bot_user_id,
            "profile": {"real_name": f"User {user_id}", "display_name": name},
        }
        user.update(copy.deepcopy(self._users.get(user_id, {})))
        return {"ok": True, "user": user}, []

    def set_usergroup(self, group_id: str, users: list[str]) -> None:
        with self._lock:
            self._usergroups[group_id] = list(users)

    def _usergroups_users_list(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        # usergroups.users.list: `usergroup` is required; an unknown id is `no_such_subteam`;
        # the answer is {"ok": true, "users": [ids]}
        # (https://api.slack.com/methods/usergroups.users.list).
        group = str(call.body.get("usergroup") or "")
        if not group:
            raise SlackApiFailure("invalid_arguments")
        if group not in self._usergroups:
            raise SlackApiFailure("no_such_subteam")
        return {"ok": True, "users": list(self._usergroups[group])}, []

    def _conversations_info(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        channel = str(call.body.get("channel") or "")
        # Only a conversation id is accepted; a name ("escalations", "#escalations") answers
        # channel_not_found ("Value passed for channel was invalid", conversations.info docs).
        if not CONVERSATION_ID.fullmatch(channel):
            raise SlackApiFailure("channel_not_found")
        failed = self._failed_channels.get(channel)
        info: JSONDict = {
            "id": channel,
            "name": f"channel-{channel.lower()}",
            "is_channel": channel.startswith("C"),
            "is_group": channel.startswith("G"),
            "is_im": channel.startswith("D"),
            "is_private": channel.startswith(("G", "D")),
            "is_archived": False,
            "is_member": call.method == "conversations.join"
            or not (failed and failed[0] == "not_in_channel"),
        }
        info.update(copy.deepcopy(self._channels.get(channel, {})))
        return {"ok": True, "channel": info}, []

    def _conversations_replies(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        channel = str(call.body.get("channel") or "")
        ts = str(call.body.get("ts") or "")
        found = [
            copy.deepcopy(m)
            for m in self._messages.get(_dm_channel(channel), [])
            if ts in (m.get("ts"), m.get("thread_ts"))
        ]
        found.sort(key=lambda m: _ts_key(m["ts"]))
        if not _truthy(call.body.get("include_all_metadata")):
            # Message metadata is returned only when asked for: include_all_metadata
            # defaults to false (https://api.slack.com/methods/conversations.replies).
            for m in found:
                m.pop("metadata", None)
        meta = {"next_cursor": ""}
        return {"ok": True, "messages": found, "has_more": False, "response_metadata": meta}, []

    def _conversations_history(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        channel = _dm_channel(str(call.body.get("channel") or ""))
        found = [
            copy.deepcopy(m)
            for m in self._messages.get(channel, [])
            if m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast"
        ]
        found.sort(key=lambda m: _ts_key(m["ts"]), reverse=True)
        if not _truthy(call.body.get("include_all_metadata")):
            # As for replies: metadata only with include_all_metadata, "Defaults to false"
            # (https://docs.slack.dev/reference/methods/conversations.history; the SDK's
            # ConversationsHistoryArguments.include_all_metadata).
            for m in found:
                m.pop("metadata", None)
        meta = {"next_cursor": ""}
        return {"ok": True, "messages": found, "has_more": False, "response_metadata": meta}, []

    def _set_status(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        """assistant.threads.setStatus (docs.slack.dev/reference/methods/assistant.threads.setStatus):
        ``channel_id``, ``thread_ts`` and ``status`` are required ("" clears it); at most 10
        ``loading_messages``; errors ``channel_not_found`` for a bad channel id and
        ``invalid_thread_ts`` for a thread that is not there. Since 2026-03-05 it takes the
        ``chat:write`` scope and works in channel threads, not only the assistant pane
        (docs.slack.dev/changelog/2026/03/05/set-status-scope-update)."""
        body = call.body
        if "status" not in body or not body.get("channel_id") or not body.get("thread_ts"):
            raise SlackApiFailure("invalid_arguments")
        channel = str(body.get("channel_id") or "")
        thread_ts = str(body.get("thread_ts") or "")
        status = str(body.get("status") or "")
        if not CONVERSATION_ID.fullmatch(channel):
            raise SlackApiFailure("channel_not_found")
        loading = body.get("loading_messages")
        if loading is not None and (not isinstance(loading, list) or len(loading) > 10):
            raise SlackApiFailure("invalid_arguments")
        if self.strict and self._find(channel, thread_ts) is None:
            raise SlackApiFailure("invalid_thread_ts")
        self._statuses[(channel, thread_ts)] = status
        event = {"channel": channel, "thread_ts": thread_ts, "status": status}
        return {"ok": True}, [("status.set", event)]

    def _granted_scopes(self, token: str) -> set[str]:
        issued = self.oauth.tokens.get(token)
        if issued is not None and issued.scope:
            return set(issued.scope.split(","))
        return set(self.scopes)

    # ── files: the upload flow of files_upload_v2 ──
    # 1. files.getUploadURLExternal(filename, length) -> upload_url, file_id. ``length`` and
    #    ``filename`` are required; "missing_argument: ... Typically only occurs when the
    #    `length` provided is 0" (docs.slack.dev/reference/methods/files.getUploadURLExternal).
    # 2. POST the bytes to upload_url (raw or multipart); "Slack will return HTTP 200 if the
    #    upload is successful" (same page, Usage info).
    # 3. files.completeUploadExternal(files=[{id, title}], channel_id | channels, thread_ts,
    #    initial_comment) shares it; without a channel the file stays private (docs.slack.dev/
    #    reference/methods/files.completeUploadExternal). A file id that was never uploaded, or
    #    completed twice, is refused; the channel errors are those of posting there.
    MAX_ALT_TXT = 1000  # alt_txt_too_large: "longer than the limit of 1000 character"

    def _files_get_upload_url(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        filename = str(call.body.get("filename") or "")
        try:
            length = int(call.body.get("length") or 0)
        except (TypeError, ValueError):
            raise SlackApiFailure("invalid_arguments") from None
        if not filename or length <= 0:
            raise SlackApiFailure("missing_argument")
        if len(str(call.body.get("alt_txt") or "")) > self.MAX_ALT_TXT:
            raise SlackApiFailure("alt_txt_too_large")
        file_id = self._next_id("F")
        self._files[file_id] = {"id": file_id, "filename": filename, "length": length,
                                "alt_txt": call.body.get("alt_txt"), "data": None,
                                "completed": False, "shared": []}
        return {"ok": True, "upload_url": f"{self.root_url}upload/{file_id}",
                "file_id": file_id}, []

    def _receive_upload(self, http_method: str, path: str, data: bytes) -> tuple[int, str]:
        file_id = urlsplit(path).path[len("/upload/"):].strip("/")
        with self._lock:
            self._calls.append(Call("upload", {"file_id": file_id, "bytes": len(data)}, {},
                                    None, time.monotonic(), http_method, path, ""))
            if self._fail_uploads > 0:
                self._fail_uploads -= 1
                return 500, "upload failed"
            found = self._files.get(file_id)
            if http_method != "POST" or found is None or found["completed"]:
                return 404, "not found"
            found["data"] = data
        return 200, f"OK - {len(data)}"

    def _files_complete_upload(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        files = call.body.get("files")
        if isinstance(files, str):
            files = _maybe_json(files)
        if not isinstance(files, list) or not files:
            raise SlackApiFailure("invalid_arguments")
        targets: list[str] = []
        if call.body.get("channel_id"):
            targets.append(self._channel_arg(call, "channel_id"))
        for ch in str(call.body.get("channels") or "").split(","):
            if ch.strip():
                targets.append(_dm_channel(ch.strip()))
        done: list[JSONDict] = []
        for item in files:
            found = self._files.get(str((item or {}).get("id") if isinstance(item, dict) else ""))
            if found is None or found["data"] is None or found["completed"]:
                raise SlackApiFailure("file_not_found")
            if len(found["data"]) != found["length"]:
                raise SlackApiFailure("file_upload_size_mismatch")
            found.update(completed=True, title=item.get("title") or found["filename"],
                         shared=targets)
            done.append({k: v for k, v in found.items() if k != "data"})
        events: list[tuple[str, JSONDict]] = []
        thread_ts = str(call.body["thread_ts"]) if call.body.get("thread_ts") else None
        for channel in targets:  # the share shows up as a message carrying the files
            msg: JSONDict = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id,
                             "text": str(call.body.get("initial_comment") or ""),
                             "ts": self._next_ts(), "subtype": "file_share",
                             "files": copy.deepcopy(done)}
            self._store_message(channel, msg, thread_ts)
            events.append(("message.posted", copy.deepcopy(msg)))
        return {"ok": True, "files": copy.deepcopy(done)}, events

    def _connections_open(self, call: Call) -> tuple[JSONDict, list[tuple[str, JSONDict]]]:
        return {"ok": True, "url": f"wss://{self._host}:1/link/?ticket=fake-ticket"}, []
