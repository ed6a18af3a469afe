"""The per-model checks of the Anthropic stand-in: what the real API answers with a 400.

Sources are named in ``anthropic_models`` ([S55], [O55], [THINK], ...); each check says which.
"""

from __future__ import annotations

from typing import Any

from .anthropic_models import EFFORTS, ModelRules, refusal_message

# Structured outputs accept a subset of JSON Schema: no numeric or string bounds, no array
# bounds beyond minItems 0/1, and every object closed with additionalProperties: false
# (platform.claude.com/docs/en/build-with-claude/structured-outputs, "JSON Schema
# limitations"; the same list in the Claude API skill's schema-limitations reference).
_UNSUPPORTED_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                         "multipleOf", "minLength", "maxLength", "maxItems", "pattern")


def schema_problem(schema: Any, path: str = "output_config.format.schema") -> str | None:
    """Why the API would refuse this structured-output schema (wording ours), or None."""
    if isinstance(schema, list):
        for i, item in enumerate(schema):
            problem = schema_problem(item, f"{path}.{i}")
            if problem:
                return problem
        return None
    if not isinstance(schema, dict):
        return None
    for key in _UNSUPPORTED_KEYWORDS:
        if key in schema:
            return f"{path}: JSON schema keyword '{key}' is not supported in structured outputs."
    if isinstance(schema.get("minItems"), int) and schema["minItems"] > 1:
        return f"{path}: 'minItems' values other than 0 or 1 are not supported."
    kinds = schema.get("type")
    is_object = kinds == "object" or (isinstance(kinds, list) and "object" in kinds)
    if is_object and schema.get("additionalProperties") is not False:
        return f"{path}: For 'object' type, 'additionalProperties' must be explicitly set to false"
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            for name, sub in value.items():
                problem = schema_problem(sub, f"{path}.{key}.{name}")
                if problem:
                    return problem
        elif key in ("items", "anyOf", "allOf"):
            problem = schema_problem(value, f"{path}.{key}")
            if problem:
                return problem
    return None


def thinking_type(body: dict[str, Any], rules: ModelRules) -> str:
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and isinstance(thinking.get("type"), str):
        return str(thinking["type"])
    return rules.default_thinking


def effort_of(body: dict[str, Any]) -> str | None:
    config = body.get("output_config")
    if isinstance(config, dict) and config.get("effort") is not None:
        return str(config["effort"])
    return None


def model_problem(body: dict[str, Any], rules: ModelRules) -> str | None:
    """What this model refuses in the request, or None."""
    kind = thinking_type(body, rules)
    if kind not in ("adaptive", "between_tools", "disabled", "enabled"):
        return f"thinking.type: Input tag '{kind}' found using 'type' does not match any of the " \
               "expected tags: 'adaptive', 'between_tools', 'disabled', 'enabled'"
    if kind not in rules.thinking_types:  # [S55] [O55] [S5]
        return refusal_message(rules, kind)
    if kind == "enabled":
        budget = (body.get("thinking") or {}).get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024 or budget >= body.get("max_tokens", 0):
            return "thinking.budget_tokens: must be ≥ 1024 and less than max_tokens"
    effort = effort_of(body)
    if effort is not None:
        if effort not in EFFORTS:
            return f"output_config.effort: Input should be {', '.join(EFFORTS)}"
        if not rules.efforts:  # [EFFORT] (wording ours)
            return "output_config.effort: This model does not support the effort parameter."
        if effort not in rules.efforts:  # [EFFORT] (wording ours)
            return f'output_config.effort: "{effort}" is not supported for this model.'
        if kind == "between_tools" and effort not in rules.between_tools_efforts:  # [S55]
            return (f'thinking.type "between_tools" is not supported at effort "{effort}". Use '
                    '"thinking.type.adaptive" for xhigh or max. (wording ours)')
    choice = body.get("tool_choice")
    forced = isinstance(choice, dict) and choice.get("type") in ("any", "tool")
    if forced and not rules.forced_tool_choice:  # [S55] [O55] (wording ours)
        return (f'tool_choice.type "{choice["type"]}" is not supported for this model: forced '
                'tool use returns an error. Use "auto", or structured outputs '
                "(output_config.format).")
    if forced and kind in ("adaptive", "enabled"):  # [THINK] the API's own text
        return "Thinking may not be enabled when tool_choice forces tool use."
    config = body.get("output_config")
    if isinstance(config, dict) and config.get("format") is not None:
        fmt = config["format"]
        if not rules.structured_outputs:
            return "output_config.format: structured outputs are not supported for this model."
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or "schema" not in fmt:
            return "output_config.format: expected {type: 'json_schema', schema: {...}}"
        problem = schema_problem(fmt["schema"])
        if problem:
            return problem
    return thinking_block_problem(body, rules)


def signature_for(model: str, thinking: str) -> str:
    """The fake's thinking-block signature: names the model that produced the block."""
    import hashlib

    return f"sig:{model}:{hashlib.sha256(thinking.encode()).hexdigest()[:16]}"


def thinking_block_problem(body: dict[str, Any], rules: ModelRules) -> str | None:
    """Thinking blocks must come back unchanged, and from this model [S55] [O55]: "thinking
    blocks are tied to the model and the conversation" (wording of the error ours)."""
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content")
        if message.get("role") != "assistant" or not isinstance(content, list):
            continue
        for j, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") != "thinking":
                continue
            signature = str(block.get("signature") or "")
            if signature != signature_for(rules.id, str(block.get("thinking", ""))):
                return (f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block: "
                        "thinking blocks must be passed back unchanged, to the model that wrote "
                        "them.")
    return None
