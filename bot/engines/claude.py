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
from bot.engines.prompt import build_request
from bot.engines.schema import (
    DRAFT_TEMPLATE_TOOL,
    OutputInvalid,
    parse_draft_template,
    parse_turn,
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
Answer by calling draft_template exactly once.
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
        return _refused(
            f'Claude model "{model}" was not found. An admin needs to check FLOWPILOT_AI_MODEL.',
            spent,
            rid,
        )
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
        raise translate_error(err, str(request.get("model")), spent) from err


# ---------------------------------------------------------------------------------------------
# Calling a forced tool, with one repair retry
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Exchange:
    """The good reply of a forced-tool call: its tool_use block as a message, and the cost."""

    assistant: dict[str, Any]
    usage: Usage
    model: str | None
    request_id: str | None


def _tool_block(response: Any, tool_name: str) -> Any:
    # Reasons are read by the model (repair note) and by people (EngineError): keep them neutral.
    if response.stop_reason == "max_tokens":
        raise OutputInvalid(
            f"the reply was cut off at the max_tokens limit before the {tool_name} call was "
            "complete"
        )
    blocks = response.content or []
    for block in blocks:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == tool_name:
            return block
    if any(getattr(block, "type", None) == "text" for block in blocks):
        raise OutputInvalid(f"the reply was plain text instead of a {tool_name} call")
    raise OutputInvalid(f"the reply had no {tool_name} call")


def _tool_use(block: Any) -> dict[str, Any]:
    tool_input = block.input if isinstance(block.input, dict) else {}
    return {
        "type": "tool_use",
        "id": block.id,
        "name": block.name,
        "input": copy_json(tool_input),
    }


def _assistant_content(response: Any) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    for block in response.content or []:
        kind = getattr(block, "type", None)
        if kind == "text" and str(getattr(block, "text", "")).strip():
            content.append({"type": "text", "text": str(block.text).strip()})
        elif kind == "tool_use":
            content.append(_tool_use(block))
    return content


def repair_request(
    request: dict[str, Any], response: Any, reason: str, tool_name: str
) -> dict[str, Any]:
    """``request`` with the bad reply and a note naming what was wrong appended."""
    note = f"Your last reply could not be used: {reason}. Call {tool_name} again with valid input."
    if response.stop_reason == "max_tokens":
        note += " Keep the message short and the lists to the essentials."
    messages = list(request["messages"])
    bad = _assistant_content(response)
    if bad:
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


def call_forced_tool(
    client: anthropic.Anthropic,
    request: dict[str, Any],
    parse: Callable[[Any], T],
) -> tuple[T, Exchange]:
    """Call, validate with ``parse``; on an unusable reply retry once with the error named."""
    tool_name = request["tool_choice"]["name"]
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
            block = _tool_block(response, tool_name)
            result = parse(block.input)
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
            request = repair_request(request, response, err.reason, tool_name)
            continue
        assistant = {"role": "assistant", "content": [_tool_use(block)]}
        return result, Exchange(assistant, spent, getattr(response, "model", None), request_id)
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# The engine and the flywheel's drafting call
# ---------------------------------------------------------------------------------------------


def _without_cache_control(message: dict[str, Any]) -> dict[str, Any]:
    content = message["content"]
    if isinstance(content, list):
        content = [{k: v for k, v in b.items() if k != "cache_control"} for b in content]
    return copy_json({"role": message["role"], "content": content})


class ClaudeEngine:
    """``take_turn`` = one ``POST /v1/messages`` (two when the reply needed a repair)."""

    name = "claude"

    def __init__(self, client: anthropic.Anthropic, model: str, *, max_tokens: int = 2048) -> None:
        self.client = client
        self.model = model
        self.max_tokens = max_tokens

    def take_turn(self, ctx: TurnContext) -> TurnOutput:
        request = build_request(ctx, model=self.model, max_tokens=self.max_tokens)
        turn, exchange = call_forced_tool(self.client, request, parse_turn)
        # Only the final good exchange is kept: the sent user message and the tool_use reply.
        transcript = [_without_cache_control(request["messages"][-1]), exchange.assistant]
        return dataclasses.replace(
            turn,
            usage=exchange.usage,
            transcript=transcript,
            model=exchange.model or self.model,
            request_id=exchange.request_id,
        )


def draft_template(
    client: anthropic.Anthropic, model: str, session_markdown: str
) -> dict[str, Any]:
    """Draft a reusable template from a resolved session (forced ``draft_template`` tool)."""
    text = session_markdown.strip()
    if len(text) > DRAFT_INPUT_CHARS:
        text = text[:DRAFT_INPUT_CHARS] + "\n[… cut …]"
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": DRAFT_MAX_TOKENS,
        "tools": [DRAFT_TEMPLATE_TOOL],
        "tool_choice": {"type": "tool", "name": DRAFT_TEMPLATE_TOOL["name"]},
        "system": [{"type": "text", "text": DRAFT_SYSTEM_PROMPT}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": f"<resolved_session>\n{text}\n</resolved_session>\n\n"
                        "Call draft_template with a reusable template drawn from this session.",
                    }
                ],
            }
        ],
    }
    draft, _ = call_forced_tool(client, request, parse_draft_template)
    return draft
