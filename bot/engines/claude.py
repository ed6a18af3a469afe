"""The Claude engine: one forced ``submit_turn`` call per turn, one repair retry, SDK errors
translated into :class:`~bot.errors.EngineError` with a message a technician can read.

The SDK does the transport retries (429, 5xx, 529, timeouts, connection errors; ``max_retries``
times with backoff, honouring ``retry-after-ms``). This module adds the one retry the SDK can't:
a reply that arrived but does not fit the contract is sent back once with the error named.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import anthropic

from bot.engines.base import TurnContext, TurnOutput, Usage
from bot.engines.models import (
    Capabilities,
    CapabilityCache,
    ModelNotFound,
    Shape,
    choose_shape,
)
from bot.engines.prompt import build_request, escape_tags, stored_user_message
from bot.engines.schema import (
    DRAFT_FORMAT,
    DRAFT_TEMPLATE_TOOL,
    OutputInvalid,
    parse_draft_template,
    parse_turn,
    parse_turn_text,
)
from bot.errors import ConfigError, EngineError
from bot.jsoncopy import copy_json

log = logging.getLogger(__name__)

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
REPAIR_MAX_TOKENS_CAP = 8_192  # a reply cut off at max_tokens gets more room on the retry
DRAFT_MAX_TOKENS = 4_096
DRAFT_INPUT_CHARS = 100_000
RETRY_HINT = "Nothing was lost; press Retry."
KEY_REFUSED = "The Anthropic API key was refused. An admin needs to check ANTHROPIC_API_KEY."

DRAFT_SYSTEM_PROMPT = """\
You turn a resolved IT troubleshooting session into a reusable template for an MSP's script \
library. An admin reviews every draft before technicians can use it.

- Prefer a script when the fix was scriptable: PowerShell for Windows, Active Directory, \
Exchange Online and Microsoft 365 (name the modules it needs and connect with the documented \
cmdlets); bash for Linux and macOS. Otherwise write a markdown checklist (language "markdown").
- Generalise: every client-specific value (user, mailbox, host name, domain, IP address, \
printer, tenant) becomes a parameter with a description and, when sensible, a default. In \
PowerShell use a param() block with those names; elsewhere write {{name}} placeholders.
- Start with read-only checks that confirm the problem, then the fix, then a verification. \
Support -WhatIf where the cmdlets allow it, stop on errors, and comment the why, not the what.
- Use only cmdlets, parameters and settings you are sure exist. Never include passwords, \
tokens, keys or other secrets, nor anything marked [REDACTED].
- title: short and searchable ("Re-register Outlook profile after MFA enrolment"); \
description: when to use it and what it changes, two or three sentences.
Answer with exactly one template (the draft_template call or the JSON answer, whichever the \
request offers).
"""


class ClaudeEngineError(EngineError):
    """An :class:`EngineError` that still reports the tokens spent before it failed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        usage: Usage | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.usage = usage or Usage()
        self.request_id = request_id
        self.status: int | None = None  # the API's HTTP status, when it answered with one
        # True when retrying cannot help: bad key, refused request shape, model missing. The
        # technician is offered the built-in flows instead.
        self.unusable = False


def make_client(
    api_key: str | None,
    base_url: str | None = None,
    timeout: float = 60.0,
    max_retries: int = 2,
) -> anthropic.Anthropic:
    """An SDK client with a short timeout; ``base_url=None`` lets the SDK read
    ``ANTHROPIC_BASE_URL``."""
    if not api_key or not api_key.strip():
        raise ConfigError("ANTHROPIC_API_KEY is empty")
    return anthropic.Anthropic(
        api_key=api_key.strip(),
        base_url=base_url,
        timeout=anthropic.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
        max_retries=max_retries,
    )


# ---------------------------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------------------------


def _usage_of(response: Any) -> Usage:
    usage = getattr(response, "usage", None)

    def count(name: str) -> int:
        value = getattr(usage, name, None)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return Usage(
        input_tokens=count("input_tokens"),
        output_tokens=count("output_tokens"),
        cache_read_input_tokens=count("cache_read_input_tokens"),
        cache_creation_input_tokens=count("cache_creation_input_tokens"),
    )


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cache_read_input_tokens=a.cache_read_input_tokens + b.cache_read_input_tokens,
        cache_creation_input_tokens=a.cache_creation_input_tokens + b.cache_creation_input_tokens,
    )


# ---------------------------------------------------------------------------------------------
# SDK errors → EngineError
# ---------------------------------------------------------------------------------------------


def _busy(why: str, spent: Usage, request_id: str | None = None) -> ClaudeEngineError:
    ref = f", ref {request_id}" if request_id else ""
    return ClaudeEngineError(
        f"Claude is busy or unreachable right now ({why}{ref}). {RETRY_HINT}",
        retryable=True,
        usage=spent,
        request_id=request_id,
    )


def _refused(message: str, spent: Usage, request_id: str | None) -> ClaudeEngineError:
    return ClaudeEngineError(message, retryable=False, usage=spent, request_id=request_id)


def _api_detail(err: anthropic.APIStatusError) -> str:
    detail = " ".join(str(err.api_message or err.type or f"HTTP {err.status_code}").split())
    return detail if len(detail) <= 200 else detail[:199] + "…"


def translate_error(err: anthropic.AnthropicError, model: str, spent: Usage) -> ClaudeEngineError:
    """The SDK's exception as a readable :class:`EngineError` (never the key, never headers)."""
    if isinstance(err, anthropic.APITimeoutError):
        return _busy("the request timed out", spent)
    if isinstance(err, anthropic.APIConnectionError):
        return _busy("could not connect", spent)
    if not isinstance(err, anthropic.APIStatusError):
        if isinstance(err, anthropic.APIResponseValidationError):
            return _busy("its reply could not be read", spent)
        return _busy(type(err).__name__, spent)
    rid = err.request_id
    status = err.status_code
    if "spend_limit" in (err.error_code or "") or status == 402:
        return _refused(
            "The Anthropic account's spend limit or billing stopped the request. An admin "
            "needs to check the Anthropic console.",
            spent,
            rid,
        )
    if isinstance(err, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return _refused(KEY_REFUSED, spent, rid)
    if isinstance(err, anthropic.RateLimitError):
        return _busy("rate limited", spent, rid)
    if status == 529:
        return _busy("overloaded", spent, rid)
    if isinstance(err, anthropic.InternalServerError) or status >= 500 or status in (408, 409):
        return _busy(f"server error {status}", spent, rid)
    if status == 404:
        return _refused(model_missing(model), spent, rid)
    if status == 413:
        return _refused(
            "This session's conversation is too large for Claude. Resolve or escalate it, or "
            "start a new session with a summary.",
            spent,
            rid,
        )
    ref = f" (ref {rid})" if rid else ""
    return _refused(
        f"Claude rejected the request: {_api_detail(err)}{ref}. Retrying will not help; "
        "please report it to an admin.",
        spent,
        rid,
    )


def _create(client: anthropic.Anthropic, request: dict[str, Any], spent: Usage) -> Any:
    try:
        return client.messages.create(**request)
    except anthropic.AnthropicError as err:
        status = getattr(err, "status_code", None)
        rid = getattr(err, "request_id", None)
        log.warning(
            "Claude call failed: %s status=%s request_id=%s", type(err).__name__, status, rid
        )
        translated = translate_error(err, str(request.get("model")), spent)
        translated.status = status if isinstance(status, int) else None
        raise translated from err


# ---------------------------------------------------------------------------------------------
# Calling for a structured answer (JSON text block or tool call), with one repair retry
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Exchange:
    """The good reply of a structured call: the assistant message to keep, and the cost."""

    assistant: dict[str, Any]
    usage: Usage
    model: str | None
    request_id: str | None


def _block_dict(block: Any) -> dict[str, Any] | None:
    """A response block as request content, unchanged where the API needs it unchanged
    (thinking blocks keep their signature)."""
    kind = getattr(block, "type", None)
    if kind == "text":
        text = str(getattr(block, "text", ""))
        return {"type": "text", "text": text} if text.strip() else None
    if kind == "tool_use":
        return _tool_use(block)
    if kind == "thinking":
        return {"type": "thinking", "thinking": str(getattr(block, "thinking", "")),
                "signature": str(getattr(block, "signature", ""))}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": str(getattr(block, "data", ""))}
    return None


def _tool_use(block: Any) -> dict[str, Any]:
    tool_input = block.input if isinstance(block.input, dict) else {}
    return {
        "type": "tool_use",
        "id": block.id,
        "name": block.name,
        "input": copy_json(tool_input),
    }


def _assistant_content(response: Any) -> list[dict[str, Any]]:
    return [b for b in (_block_dict(x) for x in response.content or []) if b is not None]


def _answer_of(response: Any, request: dict[str, Any]) -> Any:
    """The tool input (tool shape) or the JSON text (structured outputs) of a reply."""
    # Reasons are read by the model (repair note) and by people (EngineError): keep them neutral.
    tool_name = _tool_name(request)
    what = f"{tool_name} call" if tool_name else "JSON answer"
    if response.stop_reason == "max_tokens":
        raise OutputInvalid(
            f"the reply was cut off at the max_tokens limit before the {what} was complete"
        )
    blocks = response.content or []
    if tool_name is None:
        text = "".join(str(getattr(b, "text", "")) for b in blocks
                       if getattr(b, "type", None) == "text")
        if not text.strip():
            raise OutputInvalid("the reply had no JSON answer")
        return text
    for block in blocks:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == tool_name:
            return block.input
    if any(getattr(block, "type", None) == "text" for block in blocks):
        raise OutputInvalid(f"the reply was plain text instead of a {tool_name} call")
    raise OutputInvalid(f"the reply had no {tool_name} call")


def _tool_name(request: dict[str, Any]) -> str | None:
    tools = request.get("tools") or []
    return str(tools[0]["name"]) if tools else None


def repair_request(request: dict[str, Any], response: Any, reason: str) -> dict[str, Any]:
    """``request`` with the bad reply and a note naming what was wrong appended."""
    tool_name = _tool_name(request)
    again = (f"Call {tool_name} again with valid input." if tool_name
             else "Answer again with one JSON object in the required format.")
    note = f"Your last reply could not be used: {reason}. {again}"
    if response.stop_reason == "max_tokens":
        note += " Keep the message short and the lists to the essentials."
    messages = list(request["messages"])
    bad = _assistant_content(response)
    if any(b["type"] in ("text", "tool_use") for b in bad):
        results = [
            {
                "type": "tool_result",
                "tool_use_id": b["id"],
                "content": f"Invalid: {reason}",
                "is_error": True,
            }
            for b in bad
            if b["type"] == "tool_use"
        ]
        messages.append({"role": "assistant", "content": bad})
        messages.append({"role": "user", "content": [*results, {"type": "text", "text": note}]})
    else:
        last = dict(messages[-1])
        last["content"] = [*last["content"], {"type": "text", "text": note}]
        messages[-1] = last
    retry = {**request, "messages": messages}
    if response.stop_reason == "max_tokens":
        retry["max_tokens"] = max(
            request["max_tokens"], min(request["max_tokens"] * 2, REPAIR_MAX_TOKENS_CAP)
        )
    return retry


def call_structured(
    client: anthropic.Anthropic,
    request: dict[str, Any],
    parse: Callable[[Any], T],
) -> tuple[T, Exchange]:
    """Call, validate with ``parse`` (given the tool input, or the JSON text for structured
    outputs); on an unusable reply retry once with the error named."""
    spent = Usage()
    for attempt in (1, 2):
        response = _create(client, request, spent)
        spent = _add(spent, _usage_of(response))
        request_id = getattr(response, "_request_id", None)
        if response.stop_reason == "refusal":
            raise _refused(
                "Claude declined to answer this turn. Rephrase the last message, or carry on "
                "without AI suggestions.",
                spent,
                request_id,
            )
        try:
            result = parse(_answer_of(response, request))
        except OutputInvalid as err:
            log.info("Claude reply unusable (attempt %d): %s", attempt, err.reason)
            if attempt == 2:
                reason = err.reason if len(err.reason) <= 200 else err.reason[:199] + "…"
                raise ClaudeEngineError(
                    f"The model's answer could not be used ({reason}). {RETRY_HINT}",
                    retryable=True,
                    usage=spent,
                    request_id=request_id,
                ) from None
            request = repair_request(request, response, err.reason)
            continue
        assistant = {"role": "assistant", "content": _assistant_content(response)}
        return result, Exchange(assistant, spent, getattr(response, "model", None), request_id)
    raise AssertionError("unreachable")  # pragma: no cover


call_forced_tool = call_structured  # the name earlier callers know


# ---------------------------------------------------------------------------------------------
# The engine and the flywheel's drafting call
# ---------------------------------------------------------------------------------------------

EFFORT_DEFAULT = "low"
CACHE_TTL_DEFAULT = "1h"
_CAPABILITIES = CapabilityCache()  # per process: one Models API call per model


def _unusable(message: str, spent: Usage | None = None) -> ClaudeEngineError:
    err = ClaudeEngineError(message, retryable=False, usage=spent)
    err.unusable = True
    return err


class ClaudeEngine:
    """``take_turn`` = one ``POST /v1/messages`` (two when the reply needed a repair), shaped
    for the session's model from its capabilities."""

    name = "claude"

    def __init__(
        self,
        client: anthropic.Anthropic,
        model: str,
        *,
        max_tokens: int = 2048,
        effort: str = EFFORT_DEFAULT,
        cache_ttl: str = CACHE_TTL_DEFAULT,
        capabilities: CapabilityCache | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.max_tokens = max_tokens
        self.effort = effort
        self.cache_ttl = cache_ttl
        self.capabilities = capabilities or _CAPABILITIES

    def draft_template(self, model: str, session_markdown: str) -> dict[str, Any]:
        """``bot.engines.base.Drafter``: a template from a resolved session."""
        return draft_template(self.client, model, session_markdown, self.capabilities)

    def capabilities_of(self, model: str) -> Capabilities:
        try:
            return self.capabilities.get(self.client, model)
        except ModelNotFound:
            raise _unusable(model_missing(model)) from None

    def shape_for(self, model: str, effort: str | None = None,
                  history: list[dict[str, Any]] | None = None) -> tuple[Shape, Capabilities]:
        caps = self.capabilities_of(model)
        shape = choose_shape(caps, effort or self.effort)
        if shape.thinking == {"type": "between_tools"}:
            # With between_tools the effort may not change mid-conversation (Sonnet 5.5 docs).
            earlier = _first_effort(history or [], model)
            if earlier and earlier in caps.efforts and earlier != shape.effort:
                shape = dataclasses.replace(shape, effort=earlier)
        return shape, caps

    def take_turn(self, ctx: TurnContext) -> TurnOutput:
        model = ctx.model or self.model
        shape, caps = self.shape_for(model, ctx.effort, ctx.history)
        request = build_request(ctx, model=model, max_tokens=self.max_tokens, shape=shape,
                                cache_ttl=self.cache_ttl, min_cache_tokens=caps.min_cache_tokens)
        parse = parse_turn_text if shape.output == "json" else parse_turn
        try:
            turn, exchange = call_structured(self.client, request, parse)
        except ClaudeEngineError as err:
            if err.status in (400, 401, 403, 404):
                err.unusable = True
            raise
        # Kept: the inputs of this turn (not the state) and the reply, thinking blocks
        # unchanged and marked with the model that wrote them.
        assistant = {**exchange.assistant, "meta": {"model": model, "effort": shape.effort}}
        transcript = [stored_user_message(request, ctx), assistant]
        return dataclasses.replace(
            turn,
            usage=exchange.usage,
            transcript=transcript,
            model=exchange.model or model,
            request_id=exchange.request_id,
        )


def _first_effort(history: list[dict[str, Any]], model: str) -> str | None:
    for message in history:
        meta = message.get("meta") if isinstance(message, dict) else None
        if isinstance(meta, dict) and meta.get("model") == model and meta.get("effort"):
            return str(meta["effort"])
    return None


def model_missing(model: str) -> str:
    return (f'Claude model "{model}" was not found (unknown or retired). An admin needs to '
            "check FLOWPILOT_AI_MODEL or the workspace's AI model setting.")


def draft_template(
    client: anthropic.Anthropic, model: str, session_markdown: str,
    capabilities: CapabilityCache | None = None,
) -> dict[str, Any]:
    """Draft a reusable template from a resolved session, in the shape the model accepts."""
    text = session_markdown.strip()
    if len(text) > DRAFT_INPUT_CHARS:
        text = text[:DRAFT_INPUT_CHARS] + "\n[… cut …]"
    try:
        caps = (capabilities or _CAPABILITIES).get(client, model)
    except ModelNotFound:
        raise _unusable(model_missing(model)) from None
    shape = choose_shape(caps, EFFORT_DEFAULT)
    ask = ("Answer with the template as one JSON object in the required format."
           if shape.output == "json" else "Call draft_template with a reusable template.")
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": DRAFT_MAX_TOKENS,
        "system": [{"type": "text", "text": DRAFT_SYSTEM_PROMPT}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": f"<resolved_session>\n{escape_tags(text)}\n</resolved_session>"
                        f"\n\nDraw a reusable template from this session. {ask}",
                    }
                ],
            }
        ],
    }
    if shape.output == "json":
        request["output_config"] = {"format": DRAFT_FORMAT}
    else:
        request["tools"] = [DRAFT_TEMPLATE_TOOL]
        if shape.tool_choice and shape.tool_choice["type"] == "tool":
            request["tool_choice"] = {"type": "tool", "name": DRAFT_TEMPLATE_TOOL["name"]}
        else:
            request["tool_choice"] = shape.tool_choice
    if shape.effort:
        request.setdefault("output_config", {})["effort"] = shape.effort
    if shape.thinking:
        request["thinking"] = shape.thinking

    def parse(answer: Any) -> dict[str, Any]:
        return parse_draft_template(_json_text(answer) if isinstance(answer, str) else answer)

    draft, _ = call_structured(client, request, parse)
    return draft


def _json_text(text: str) -> Any:
    import json

    try:
        return json.loads(text.strip())
    except ValueError:
        raise OutputInvalid("the reply was not a single JSON object") from None
