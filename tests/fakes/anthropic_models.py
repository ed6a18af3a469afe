"""What each current Claude model accepts, as the Anthropic stand-in enforces it.

Every rule names the page it comes from. Where the docs give the exact error text it is
copied; where they only say "returns 400" the message is ours and marked ``(wording ours)``.
Sources (looked up 2026-12-01):

- [S55] What's new in Claude Sonnet 5.5,
  https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5
  ("forced tool use returns an error"; "send thinking: {type: between_tools} instead of
  disabled ... disabled returns 400 invalid_request_error whose message points to
  between_tools"; between_tools only at low/medium/high effort; effort may not change
  mid-conversation with between_tools; thinking blocks are tied to the model and the
  conversation; adaptive on by default, default effort high).
- [O55] What's new in Claude Opus 5.5,
  https://platform.claude.com/docs/en/models/opus-5-5/whats-new-opus-5-5
  (thinking can't be disabled: disabled and enabled+budget each 400 with the quoted messages;
  forced tool use returns an error; default effort medium; $4/$20).
- [S5] Claude Sonnet 5 overview, https://platform.claude.com/docs/en/models/sonnet-5/overview
  (adaptive on by default; manual extended thinking returns 400; $2/$10, 5m write $2.50,
  1h write $4, read $0.20).
- [S55P] Claude Sonnet 5.5 overview, https://platform.claude.com/docs/en/models/sonnet-5-5/overview
  (same prices as Sonnet 5; Haiku 4.5: 200K context, 64K output, extended thinking, $1/$5).
- [CACHE] Prompt caching, https://platform.claude.com/docs/en/build-with-claude/prompt-caching
  (minimum cacheable prompt: 1,024 for Sonnet 4.6; 4,096 for Haiku 4.5; prices 1.25x / 2x /
  0.1x of base input). Sonnet 5.5's 512 and Sonnet 5's 1,024 come from secondary write-ups
  (apidog "Sonnet 5.5 vs Sonnet 5"; creeta "Claude's prompt cache fails silently") that cite
  the docs; Opus 5.5's minimum was not found anywhere: 512 is assumed (as Opus 5).
- [EFFORT] Effort, https://platform.claude.com/docs/en/build-with-claude/effort (supported on
  Opus 4.5+, Sonnet 4.6+; Sonnet 4.6 has no xhigh; Haiku 4.5 is not listed).
- [THINK] Extended thinking / tool use: forcing a tool with thinking on is refused with
  "Thinking may not be enabled when tool_choice forces tool use." (the API's text, quoted in
  solstone commit c4a4f0c; the reference notes §4 say the same).
- [MODELS] Models API, ``GET /v1/models/{id}`` -> ModelInfo with ``capabilities``
  (anthropic SDK 2.15 ``types/model_info.py``, ``model_capabilities.py``, ``thinking_types.py``).
- [404] Unknown model: 404 ``{"type":"error","error":{"type":"not_found_error",
  "message":"model: <id>"}}`` (bodies quoted in anthropics/claude-code#5349 and
  mattermost-plugin-agents#257).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EFFORTS = ("low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class ModelRules:
    id: str
    display_name: str
    line: str
    structured_outputs: bool
    forced_tool_choice: bool  # tool_choice any/tool accepted at all [S55][O55]
    thinking_types: frozenset[str]  # accepted thinking.type values
    default_thinking: str  # what an omitted ``thinking`` means
    efforts: frozenset[str]  # accepted output_config.effort values (empty: no effort)
    between_tools_efforts: frozenset[str] = frozenset()
    min_cache_tokens: int = 1024
    max_tokens: int = 64_000
    max_input_tokens: int = 200_000
    # USD per million tokens: input, output, 5m write, 1h write, cache read.
    prices: tuple[float, float, float, float, float] = (3.0, 15.0, 3.75, 6.0, 0.30)
    refusals: dict[str, str] = field(default_factory=dict)  # thinking.type -> 400 message


def _adaptive_only(kind: str) -> str:
    # [O55] exact text
    return (f'"thinking.type.{kind}" is not supported for this model. Use '
            '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.')


RULES: dict[str, ModelRules] = {
    r.id: r
    for r in (
        ModelRules(
            id="claude-sonnet-5-5", display_name="Claude Sonnet 5.5", line="sonnet",
            structured_outputs=True, forced_tool_choice=False,  # [S55]
            thinking_types=frozenset({"adaptive", "between_tools"}), default_thinking="adaptive",
            efforts=frozenset(EFFORTS), between_tools_efforts=frozenset({"low", "medium", "high"}),
            min_cache_tokens=512, max_tokens=128_000, max_input_tokens=1_000_000,
            prices=(2.0, 10.0, 2.50, 4.0, 0.20),  # [S55P]
            refusals={
                # [S55]: "a message pointing to between_tools" (wording ours)
                "disabled": '"thinking.type.disabled" is not supported for this model. Use '
                '"thinking.type.between_tools" to turn off up-front thinking.',
                "enabled": _adaptive_only("enabled"),
            },
        ),
        ModelRules(
            id="claude-opus-5-5", display_name="Claude Opus 5.5", line="opus",
            structured_outputs=True, forced_tool_choice=False,  # [O55]
            thinking_types=frozenset({"adaptive"}), default_thinking="adaptive",
            efforts=frozenset(EFFORTS), min_cache_tokens=512,  # minimum assumed (see above)
            max_tokens=128_000, max_input_tokens=1_000_000,
            prices=(4.0, 20.0, 5.0, 8.0, 0.40),  # [O55] $4/$20; cache at 1.25x/2x/0.1x [CACHE]
            refusals={"disabled": _adaptive_only("disabled"), "enabled": _adaptive_only("enabled")},
        ),
        ModelRules(
            id="claude-sonnet-5", display_name="Claude Sonnet 5", line="sonnet",
            structured_outputs=True, forced_tool_choice=True,
            thinking_types=frozenset({"adaptive", "disabled"}), default_thinking="adaptive",  # [S5]
            efforts=frozenset(EFFORTS), min_cache_tokens=1024,
            max_tokens=128_000, max_input_tokens=1_000_000,
            prices=(2.0, 10.0, 2.50, 4.0, 0.20),  # [S5]
            refusals={"enabled": _adaptive_only("enabled")},
        ),
        ModelRules(
            id="claude-sonnet-4-6", display_name="Claude Sonnet 4.6", line="sonnet",
            structured_outputs=True, forced_tool_choice=True,
            thinking_types=frozenset({"adaptive", "enabled", "disabled"}),
            default_thinking="disabled",
            efforts=frozenset({"low", "medium", "high", "max"}),  # [EFFORT] no xhigh
            min_cache_tokens=1024,  # [CACHE]; sdk-python#1194 reports 2,048 observed
            max_tokens=64_000, max_input_tokens=1_000_000,
            prices=(3.0, 15.0, 3.75, 6.0, 0.30),
        ),
        ModelRules(
            id="claude-haiku-4-5", display_name="Claude Haiku 4.5", line="haiku",
            structured_outputs=True, forced_tool_choice=True,
            thinking_types=frozenset({"enabled", "disabled"}), default_thinking="disabled",
            efforts=frozenset(),  # [EFFORT] not listed
            min_cache_tokens=4096,  # [CACHE]
            max_tokens=64_000, max_input_tokens=200_000,
            prices=(1.0, 5.0, 1.25, 2.0, 0.10),  # [S55P] $1/$5
            refusals={"adaptive": '"thinking.type.adaptive" is not supported for this model. '
                      'Use "thinking.type.enabled" with "budget_tokens". (wording ours)'},
        ),
    )
}

DEFAULT_MODEL = "claude-sonnet-5-5"


def refusal_message(rules: ModelRules, kind: str) -> str:
    return rules.refusals.get(
        kind, f'"thinking.type.{kind}" is not supported for this model. (wording ours)'
    )


def model_info(rules: ModelRules) -> dict[str, Any]:
    """The ``GET /v1/models/{id}`` body [MODELS]."""

    def yes(flag: bool) -> dict[str, bool]:
        return {"supported": flag}

    types = rules.thinking_types
    return {
        "type": "model",
        "id": rules.id,
        "display_name": rules.display_name,
        "created_at": "2026-09-28T00:00:00Z",
        "lifecycle": "active",
        "deprecated_at": None,
        "retires_at": None,
        "line": rules.line,
        "max_input_tokens": rules.max_input_tokens,
        "max_tokens": rules.max_tokens,
        "capabilities": {
            "batch": yes(True),
            "citations": yes(True),
            "code_execution": yes(False),
            "context_management": {"supported": False},
            "effort": {"supported": bool(rules.efforts),
                       **{e: yes(e in rules.efforts) for e in EFFORTS}},
            "image_input": yes(True),
            "pdf_input": yes(True),
            "server_tools": {"supported": False},
            "structured_outputs": yes(rules.structured_outputs),
            "thinking": {
                "supported": bool(types - {"disabled"}),
                "types": {t: yes(t in types)
                          for t in ("adaptive", "between_tools", "disabled", "enabled")},
            },
        },
    }
