"""A fake Anthropic Messages API: a threaded stdlib HTTP server on an ephemeral local port.

Point the real SDK at it (``anthropic.Anthropic(base_url=fake.url, api_key=...)`` or
``ANTHROPIC_BASE_URL``). It records every request, answers ``POST /v1/messages`` from a FIFO
script (valid turns, plain text, raw bodies, errors with a tiny ``retry-after-ms`` so the SDK's
own retries run fast, hangs for timeout tests) and, when the script is empty, with a valid
generic ``submit_turn``. It checks requests the way the API does (tool_use / tool_result
pairing, alternating roles, at most four ``cache_control`` breakpoints, the forced tool exists)
and simulates prompt caching honestly: a breakpoint's prefix (tools → system → messages) is
written on first sight and read when a later request repeats it, with the minimum cacheable
length of a Sonnet model (1,024 tokens at 4 characters a token).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, Any], dict[str, str]]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any  # parsed JSON (or the raw text when it was not JSON)


@dataclass
class _Step:
    build: Callable[[dict[str, Any]], Reply]
    delay: float = 0.0


@dataclass
class _Unit:
    key: bytes
    breakpoint: bool


@dataclass
class _Cache:
    entries: dict[str, int] = field(default_factory=dict)  # prefix digest -> length (chars)


# ---------------------------------------------------------------------------------------------
# Request checks (the ones the real API makes that our code could get wrong)
# ---------------------------------------------------------------------------------------------


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _count_breakpoints(body: dict[str, Any]) -> int:
    count = sum(1 for t in body.get("tools") or [] if "cache_control" in t)
    system = body.get("system")
    if isinstance(system, list):
        count += sum(1 for b in system if isinstance(b, dict) and "cache_control" in b)
    for message in body.get("messages") or []:
        count += sum(1 for b in _blocks(message.get("content")) if "cache_control" in b)
    return count


def _pairing_problem(messages: list[dict[str, Any]]) -> str | None:
    for i, message in enumerate(messages):
        blocks = _blocks(message.get("content"))
        if message.get("role") == "assistant":
            ids = [b.get("id") for b in blocks if b.get("type") == "tool_use"]
            if not ids:
                continue
            following = _blocks(messages[i + 1].get("content")) if i + 1 < len(messages) else []
            head = following[: len(ids)]
            answered = [b.get("tool_use_id") for b in head if b.get("type") == "tool_result"]
            missing = [x for x in ids if x not in answered]
            if missing:
                return (
                    f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(map(str, missing))}. Each `tool_use` block "
                    "must have a corresponding `tool_result` block in the next message."
                )
        else:
            previous = _blocks(messages[i - 1].get("content")) if i else []
            known = {b.get("id") for b in previous if b.get("type") == "tool_use"}
            for j, block in enumerate(blocks):
                if block.get("type") == "tool_result" and block.get("tool_use_id") not in known:
                    return (
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {block.get('tool_use_id')}. Each `tool_result` "
                        "block must have a corresponding `tool_use` block in the previous message."
                    )
    return None


def request_problem(body: Any) -> str | None:
    """What the API would refuse in this ``/v1/messages`` body (400), or None."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return "max_tokens: Field required (a positive integer)"
    if body.get("stream"):
        return "This fake server does not stream."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        if not content or not _blocks(content) or any("type" not in b for b in _blocks(content)):
            return f"messages.{i}: all messages must have non-empty content"
        if i and messages[i - 1].get("role") == message["role"]:
            return f"messages.{i}: roles must alternate between 'user' and 'assistant'"
    if messages[0]["role"] != "user":
        return "messages.0: the first message must use the 'user' role"
    if messages[-1]["role"] != "user":
        return "messages: the last message must use the 'user' role (no prefill here)"
    problem = _pairing_problem(messages)
    if problem:
        return problem
    breakpoints = _count_breakpoints(body)
    if breakpoints > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}."
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        names = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
        if choice.get("name") not in names:
            return f"tool_choice: tool '{choice.get('name')}' is not among the tools"
    return None


# ---------------------------------------------------------------------------------------------
# Prompt caching, simulated
# ---------------------------------------------------------------------------------------------


def _key(value: Any) -> bytes:
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "cache_control"}
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode()


def _units(body: dict[str, Any]) -> list[_Unit]:
    """The request in cache order (tools → system → messages), one unit per block."""
    units = [_Unit(_key(t), "cache_control" in t) for t in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str) and system:
        units.append(_Unit(_key({"type": "text", "text": system}), False))
    elif isinstance(system, list):
        units += [_Unit(_key(b), "cache_control" in b) for b in system if isinstance(b, dict)]
    for message in body.get("messages") or []:
        role = str(message.get("role")).encode()
        units += [
            _Unit(role + b":" + _key(b), "cache_control" in b)
            for b in _blocks(message.get("content"))
        ]
    return units


def _first_user_text(body: dict[str, Any]) -> str:
    for message in body.get("messages") or []:
        if message.get("role") == "user":
            for block in _blocks(message.get("content")):
                if block.get("type") == "text" and str(block.get("text", "")).strip():
                    return str(block["text"])
    return ""


def _generic_summary(body: dict[str, Any]) -> str:
    for line in _first_user_text(body).splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "<")) and not line.endswith(":"):
            return line[:100]
    return "Troubleshooting session"


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class FakeAnthropic:
    """``with FakeAnthropic() as fake: client = Anthropic(base_url=fake.url, api_key="x")``."""

    def __init__(self, *, strict: bool = True, min_cache_tokens: int = 1024) -> None:
        self.strict = strict
        self.min_cache_tokens = min_cache_tokens
        self.requests: list[RecordedRequest] = []
        self._script: deque[_Step] = deque()
        self._lock = threading.Lock()
        self._cache = _Cache()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeAnthropic:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-anthropic"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging replies
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def message_requests(self) -> list[RecordedRequest]:
        """The ``POST /v1/messages`` requests only, in order."""
        with self._lock:
            return [r for r in self.requests if r.path == "/v1/messages"]

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._script)

    # -- the script ------------------------------------------------------------------------------

    def _push(self, step: _Step) -> None:
        with self._lock:
            self._script.append(step)

    def reply_tool(
        self,
        name: str,
        tool_input: Any,
        *,
        usage: dict[str, int] | None = None,
        stop_reason: str = "tool_use",
        delay: float = 0.0,
    ) -> None:
        """Answer with one ``tool_use`` block of ``name`` and exactly this input."""

        def build(body: dict[str, Any]) -> Reply:
            block = {
                "type": "tool_use",
                "id": f"toolu_fake_{next(self._ids):04d}",
                "name": name,
                "input": tool_input,
            }
            return self._message(body, [block], stop_reason, usage)

        self._push(_Step(build, delay))

    def reply_turn(
        self,
        *,
        usage: dict[str, int] | None = None,
        stop_reason: str = "tool_use",
        delay: float = 0.0,
        **tool_input: Any,
    ) -> None:
        """Answer with a ``submit_turn`` call; summary, domain, confidence, message and
        recommend get defaults when not given (other keys are sent only when given)."""
        full = {
            "summary": "Fake turn",
            "domain": "other",
            "confidence": 0.5,
            "message": "",
            "recommend": "continue",
        }
        full.update(tool_input)
        self.reply_tool("submit_turn", full, usage=usage, stop_reason=stop_reason, delay=delay)

    def reply_text(
        self, text: str, *, stop_reason: str = "end_turn", usage: dict[str, int] | None = None
    ) -> None:
        """Answer with plain text and no tool call."""
        self._push(
            _Step(
                lambda body: self._message(
                    body, [{"type": "text", "text": text}], stop_reason, usage
                )
            )
        )

    def reply_raw(
        self, body: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        """Answer with exactly this JSON body."""
        self._push(_Step(lambda _req: (status, body, dict(headers or {}))))

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after_ms: int | None = 1,
        error_type: str | None = None,
        message: str | None = None,
        error_code: str | None = None,
    ) -> None:
        """Answer ``times`` requests with an API error body."""
        kind = error_type or _ERROR_TYPES.get(status, "api_error")
        error: dict[str, Any] = {"type": kind, "message": message or f"Fake {kind} ({status})"}
        if error_code:
            error["details"] = {"error_code": error_code}
        headers = {} if retry_after_ms is None else {"retry-after-ms": str(retry_after_ms)}
        for _ in range(times):
            self._push(_Step(lambda _req: (status, {"type": "error", "error": error}, headers)))

    def hang(self, seconds: float) -> None:
        """Wait ``seconds`` before answering the next request (with a generic turn)."""
        self._push(_Step(self._generic, delay=seconds))

    # -- answering ------------------------------------------------------------------------------

    def _message(
        self,
        body: dict[str, Any],
        content: list[dict[str, Any]],
        stop_reason: str,
        usage: dict[str, int] | None,
    ) -> Reply:
        computed = self._usage(body)
        computed["output_tokens"] = max(1, len(json.dumps(content)) // 4)
        computed.update(usage or {})
        n = next(self._ids)
        return (
            200,
            {
                "id": f"msg_fake_{n:04d}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "claude-fake"),
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": computed,
            },
            {},
        )

    def _generic(self, body: dict[str, Any]) -> Reply:
        tool_input = {
            "summary": _generic_summary(body),
            "domain": "other",
            "confidence": 0.5,
            "message": "",
            "facts": [],
            "questions": [
                {
                    "text": "What have you checked so far?",
                    "options": ["Nothing yet", "Restarted it"],
                }
            ],
            "actions": [],
            "fixes": [],
            "recommend": "continue",
        }
        block = {
            "type": "tool_use",
            "id": f"toolu_fake_{next(self._ids):04d}",
            "name": "submit_turn",
            "input": tool_input,
        }
        return self._message(body, [block], "tool_use", None)

    def _usage(self, body: dict[str, Any]) -> dict[str, int]:
        units = _units(body)
        digest = hashlib.sha256()
        lengths: list[int] = []
        digests: list[str] = []
        total = 0
        for unit in units:
            digest.update(unit.key + b"\x00")
            total += len(unit.key)
            lengths.append(total)
            digests.append(digest.copy().hexdigest())
        marks = [
            i
            for i, unit in enumerate(units)
            if unit.breakpoint and lengths[i] // 4 >= self.min_cache_tokens
        ]
        last = marks[-1] if marks else -1
        with self._lock:
            read = max(
                (lengths[i] for i in range(last + 1) if digests[i] in self._cache.entries),
                default=0,
            )
            for i in marks:
                self._cache.entries[digests[i]] = lengths[i]
        cached_upto = lengths[last] if last >= 0 else 0
        written = max(0, cached_upto - read)
        return {
            "input_tokens": max(1, (total - max(read, cached_upto)) // 4),
            "output_tokens": 1,
            "cache_creation_input_tokens": written // 4,
            "cache_read_input_tokens": read // 4,
        }

    def _answer(self, path: str, body: Any) -> tuple[Reply, float]:
        if path == "/v1/messages/count_tokens":
            return (200, {"input_tokens": len(json.dumps(body)) // 4}, {}), 0.0
        if path != "/v1/messages":
            error = {"type": "not_found_error", "message": f"Not found: {path}"}
            return (404, {"type": "error", "error": error}, {}), 0.0
        problem = request_problem(body) if self.strict else None
        if problem:
            error = {"type": "invalid_request_error", "message": problem}
            return (400, {"type": "error", "error": error}, {}), 0.0
        with self._lock:
            step = self._script.popleft() if self._script else _Step(self._generic)
        if step.delay:
            self._stopping.wait(step.delay)
        return step.build(body), step.delay


def _handler_for(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            try:
                body: Any = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw
            path = self.path.split("?", 1)[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            with fake._lock:
                fake.requests.append(RecordedRequest("POST", path, headers, body))
            (status, payload, extra), _ = fake._answer(path, body)
            self._send(status, payload, extra)

        def do_GET(self) -> None:  # noqa: N802
            error = {"type": "not_found_error", "message": f"Not found: {self.path}"}
            self._send(404, {"type": "error", "error": error}, {})

        def _send(self, status: int, payload: dict[str, Any], extra: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_fake_{next(fake._ids):04d}")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout tests)
                self.close_connection = True

    return Handler
