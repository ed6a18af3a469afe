"""A fake Anthropic Messages API: a threaded stdlib HTTP server on an ephemeral local port.

Point the real SDK at it (``anthropic.Anthropic(base_url=fake.url, api_key=...)`` or
``ANTHROPIC_BASE_URL``). It records every request, answers ``POST /v1/messages`` from a FIFO
script (valid turns, plain text, raw bodies, errors with a tiny ``retry-after-ms`` so the SDK's
own retries run fast, hangs for timeout tests) and, when the script is empty, with a valid
generic ``submit_turn``. It checks requests the way the API does (tool_use / tool_result
pairing, alternating roles, at most four ``cache_control`` breakpoints, the forced tool exists)
and, model by model, what each current model refuses (``anthropic_models.RULES``, each rule
citing its doc: forced tool use, thinking types, effort levels, structured-output schemas,
thinking blocks from another model), and image blocks (media types, 5 MB, 8000 px, the bytes
matching the declared type: ``anthropic_images``). An unknown model gets the API's 404. ``GET /v1/models``
and ``GET /v1/models/{id}`` answer with capabilities. A request that asks for structured
outputs (``output_config.format``) is answered with the turn as a JSON text block.

Prompt caching is simulated honestly: a breakpoint's prefix (output format → tools → system →
messages) is written on first sight and read when a later request repeats it within its TTL
(``5m`` or ``1h``, refreshed on every read, time from an injectable clock), and only when the
prefix reaches the model's minimum cacheable length (4 characters a token).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .anthropic_checks import model_problem, signature_for, thinking_type
from .anthropic_images import image_problem
from .anthropic_models import RULES, ModelRules, model_info

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
    ttl: str = "5m"


TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass
class _Cache:
    # prefix digest -> (length in chars, expires at on the fake's clock, TTL in seconds)
    entries: dict[str, tuple[int, float, float]] = field(default_factory=dict)


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
    problem = _pairing_problem(messages) or image_problem(messages)
    if problem:
        return problem
    breakpoints = _count_breakpoints(body)
    if breakpoints > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}."
    ttl_problem = _ttl_problem(body)
    if ttl_problem:
        return ttl_problem
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        names = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
        if choice.get("name") not in names:
            return f"tool_choice: tool '{choice.get('name')}' is not among the tools"
    return None


def _ttl_problem(body: dict[str, Any]) -> str | None:
    """cache_control ttl is "5m" or "1h", and a longer TTL may not follow a shorter one
    (platform.claude.com/docs/en/build-with-claude/prompt-caching, "Mixing different TTLs")."""
    seen_short = False
    for unit in _units(body):
        if not unit.breakpoint:
            continue
        if unit.ttl not in TTL_SECONDS:
            return f"cache_control.ttl: Input should be '5m' or '1h' (got {unit.ttl!r})"
        if unit.ttl == "1h" and seen_short:
            return ("A cache_control block with ttl='1h' cannot come after one with ttl='5m'; "
                    "longer TTLs must come first.")
        seen_short = seen_short or unit.ttl == "5m"
    return None


# ---------------------------------------------------------------------------------------------
# Prompt caching, simulated
# ---------------------------------------------------------------------------------------------


def _key(value: Any) -> bytes:
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "cache_control"}
    return json.dumps(value, sort_keys=True, ensure_ascii=False).encode()


def _unit(key: bytes, block: Any) -> _Unit:
    control = block.get("cache_control") if isinstance(block, dict) else None
    if not isinstance(control, dict):
        return _Unit(key, False)
    return _Unit(key, True, str(control.get("ttl", "5m")))


def _units(body: dict[str, Any]) -> list[_Unit]:
    """The request in cache order (output format → tools → system → messages), one unit per
    block. The structured-output schema is compiled into the prompt, so it is part of the
    prefix; changing it invalidates the cache (structured-outputs docs)."""
    units: list[_Unit] = []
    config = body.get("output_config")
    if isinstance(config, dict) and config.get("format") is not None:
        units.append(_Unit(b"format:" + _key(config["format"]), False))
    units += [_unit(_key(t), t) for t in body.get("tools") or [] if isinstance(t, dict)]
    system = body.get("system")
    if isinstance(system, str) and system:
        units.append(_Unit(_key({"type": "text", "text": system}), False))
    elif isinstance(system, list):
        units += [_unit(_key(b), b) for b in system if isinstance(b, dict)]
    for message in body.get("messages") or []:
        role = str(message.get("role")).encode()
        units += [_unit(role + b":" + _key(b), b) for b in _blocks(message.get("content"))]
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

    def __init__(
        self,
        *,
        strict: bool = True,
        min_cache_tokens: int | None = None,
        models: dict[str, ModelRules] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.strict = strict
        # None: each model's own documented minimum (anthropic_models.RULES).
        self.min_cache_tokens = min_cache_tokens
        self.models: dict[str, ModelRules] = dict(RULES if models is None else models)
        self.clock = clock
        self.requests: list[RecordedRequest] = []
        self._script: deque[_Step] = deque()
        self._models_failures: deque[int] = deque()
        self._lock = threading.Lock()
        self._cache = _Cache()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add_model(self, rules: ModelRules) -> None:
        """Serve one more model (tests of request shapes no current model needs)."""
        self.models[rules.id] = rules

    def fail_models_endpoint(self, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` ``GET /v1/models…`` requests with this status."""
        with self._lock:
            self._models_failures.extend([status] * times)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.entries.clear()

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
            if _structured(body):  # the answer to output_config.format is a JSON text block
                text = {"type": "text", "text": json.dumps(tool_input)}
                reason = "end_turn" if stop_reason == "tool_use" else stop_reason
                return self._message(body, [text], reason, usage)
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
        content = self._with_thinking(body, content)
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

    def _with_thinking(
        self, body: dict[str, Any], content: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Adaptive thinking answers open with a thinking block (empty text at the default
        display "omitted", with a signature) [O55]; between_tools writes its notes only between
        tool calls [S55]. Callers must hand them back unchanged."""
        rules = self.models.get(str(body.get("model")))
        if rules is None:
            return content
        kind = thinking_type(body, rules)
        calls_tool = any(b.get("type") == "tool_use" for b in content)
        if kind in ("adaptive", "enabled") or (kind == "between_tools" and calls_tool):
            note = "" if kind == "adaptive" else "Checking the state before answering."
            block = {"type": "thinking", "thinking": note,
                     "signature": signature_for(rules.id, note)}
            return [block, *content]
        return content

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
        if _structured(body) or not body.get("tools"):  # no tool to call: answer in text
            text = {"type": "text", "text": json.dumps(tool_input)}
            return self._message(body, [text], "end_turn", None)
        block = {
            "type": "tool_use",
            "id": f"toolu_fake_{next(self._ids):04d}",
            "name": "submit_turn",
            "input": tool_input,
        }
        return self._message(body, [block], "tool_use", None)

    def _usage(self, body: dict[str, Any]) -> dict[str, Any]:
        units = _units(body)
        rules = self.models.get(str(body.get("model")))
        minimum = self.min_cache_tokens or (rules.min_cache_tokens if rules else 1024)
        # Caches are per model: another model never reads this one's entries (prompt caching
        # docs, "cache invalidation": changing the model invalidates the cache).
        digest = hashlib.sha256(str(body.get("model")).encode() + b"\x00")
        lengths: list[int] = []
        digests: list[str] = []
        total = 0
        for unit in units:
            digest.update(unit.key + b"\x00")
            total += len(unit.key)
            lengths.append(total)
            digests.append(digest.copy().hexdigest())
        # A prefix under the model's minimum is never cached, and nothing says so [CACHE].
        marks = [i for i, u in enumerate(units) if u.breakpoint and lengths[i] // 4 >= minimum]
        last = marks[-1] if marks else -1
        now = self.clock()
        with self._lock:
            entries = self._cache.entries
            live = [i for i in range(last + 1)
                    if digests[i] in entries and entries[digests[i]][1] > now]
            read = max((lengths[i] for i in live), default=0)
            written = {"5m": 0, "1h": 0}
            done = read
            for i in marks:  # each breakpoint writes (or refreshes) its prefix
                ttl = units[i].ttl if units[i].ttl in TTL_SECONDS else "5m"
                if lengths[i] > done:
                    written[ttl] += lengths[i] - done
                    done = lengths[i]
                seconds = max(TTL_SECONDS[ttl], entries.get(digests[i], (0, 0.0, 0.0))[2])
                entries[digests[i]] = (lengths[i], now + seconds, seconds)
            for i in live:  # a read refreshes the entry's TTL [CACHE]
                length, _expires, seconds = entries[digests[i]]
                entries[digests[i]] = (length, now + seconds, seconds)
        cached_upto = lengths[last] if last >= 0 else 0
        return {
            "input_tokens": max(1, (total - max(read, cached_upto)) // 4),
            "output_tokens": 1,
            "cache_creation_input_tokens": (written["5m"] + written["1h"]) // 4,
            "cache_read_input_tokens": read // 4,
            "cache_creation": {
                "ephemeral_5m_input_tokens": written["5m"] // 4,
                "ephemeral_1h_input_tokens": written["1h"] // 4,
            },
        }

    def _models(self, path: str) -> tuple[int, dict[str, Any]]:
        """``GET /v1/models`` and ``GET /v1/models/{id}`` [MODELS]; unknown id → 404 [404]."""
        with self._lock:
            failure = self._models_failures.popleft() if self._models_failures else None
        if failure is not None:
            kind = _ERROR_TYPES.get(failure, "api_error")
            return failure, {"type": "error", "error": {"type": kind, "message": "Fake failure"}}
        if path == "/v1/models":
            data = [model_info(r) for r in self.models.values()]
            return 200, {"data": data, "has_more": False,
                         "first_id": data[0]["id"] if data else None,
                         "last_id": data[-1]["id"] if data else None}
        if path.startswith("/v1/models/"):
            model_id = path.removeprefix("/v1/models/")
            rules = self.models.get(model_id)
            if rules is not None:
                return 200, model_info(rules)
            return 404, {"type": "error",
                         "error": {"type": "not_found_error", "message": f"model: {model_id}"}}
        return 404, {"type": "error", "error": {"type": "not_found_error",
                                                 "message": f"Not found: {path}"}}

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
        rules = self.models.get(str(body.get("model")))
        if self.strict and rules is None:  # [404] the API's body for an unknown model
            error = {"type": "not_found_error", "message": f"model: {body.get('model')}"}
            return (404, {"type": "error", "error": error}, {}), 0.0
        problem = model_problem(body, rules) if self.strict and rules else None
        if problem:
            error = {"type": "invalid_request_error", "message": problem}
            return (400, {"type": "error", "error": error}, {}), 0.0
        with self._lock:
            step = self._script.popleft() if self._script else _Step(self._generic)
        if step.delay:
            self._stopping.wait(step.delay)
        return step.build(body), step.delay


def _structured(body: dict[str, Any]) -> bool:
    config = body.get("output_config")
    return isinstance(config, dict) and config.get("format") is not None


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
            path = self.path.split("?", 1)[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            with fake._lock:
                fake.requests.append(RecordedRequest("GET", path, headers, None))
            status, payload = fake._models(path)
            self._send(status, payload, {})

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
