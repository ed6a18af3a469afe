"""The model line of ``flowpilot doctor``: does the configured model exist, which request shape
will turns use, and does one minimal structured call succeed. One line, never the key."""

from __future__ import annotations

from typing import Any

import anthropic

from bot.engines.base import Usage
from bot.engines.claude import ClaudeEngine, ClaudeEngineError, make_client, translate_error
from bot.engines.models import CapabilityCache
from bot.engines.schema import OutputInvalid

PING_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}},
               "required": ["ok"], "additionalProperties": False},
}


def check_model(api_key: str, model: str, *, base_url: str | None = None,
                effort: str = "low", cache_ttl: str = "1h") -> tuple[bool, str]:
    """(ok, one line) for ``doctor``: the model exists, the shape turns will use, and one
    minimal call in that shape is accepted."""
    client = make_client(api_key, base_url=base_url, timeout=30.0, max_retries=1)
    try:
        engine = ClaudeEngine(client, model, effort=effort, cache_ttl=cache_ttl,
                              capabilities=CapabilityCache())
        try:
            shape, caps = engine.shape_for(model)
        except ClaudeEngineError as err:
            return False, f"model {model}: {err.message}"
        request: dict[str, Any] = {
            "model": model, "max_tokens": 64,
            "messages": [{"role": "user", "content": 'Reply with {"ok": true}.'}],
        }
        if shape.thinking:
            request["thinking"] = shape.thinking
        if shape.effort:
            request["output_config"] = {"effort": shape.effort}
        if shape.output == "json":
            request.setdefault("output_config", {})["format"] = PING_FORMAT
        else:
            request["tools"] = [{"name": "submit_turn", "description": "Reply.",
                                 "input_schema": PING_FORMAT["schema"]}]
            request["tool_choice"] = shape.tool_choice
        where = f"capabilities from {'the Models API' if caps.source == 'api' else 'built-in table'}"
        try:
            client.messages.create(**request)
        except anthropic.AnthropicError as err:
            reason = translate_error(err, model, Usage()).message
            return False, f"model {model} ({shape.describe()}; {where}): call refused: {reason}"
        except OutputInvalid as err:  # pragma: no cover - create() does not parse
            return False, f"model {model}: {err.reason}"
        return True, f"model {model} answers ({shape.describe()}; {where})"
    finally:
        client.close()
