"""What a Claude model accepts, and the request shape chosen from it.

The Models API (``GET /v1/models/{id}`` → ``capabilities``) says whether a model takes
structured outputs, which ``thinking.type`` values and which effort levels. It does not say
whether ``tool_choice`` may force a tool nor the minimum cacheable prompt, so those come from
the built-in table below, which is also the whole answer when the endpoint is unreachable.
Sources for every row are in docs/claude.md ("Model rules").
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import Any, Literal

import anthropic

log = logging.getLogger(__name__)

EFFORTS = ("low", "medium", "high", "xhigh", "max")
THINKING_TYPES = ("adaptive", "between_tools", "disabled", "enabled")
# between_tools only at these efforts (What's new in Claude Sonnet 5.5).
BETWEEN_TOOLS_EFFORTS = frozenset({"low", "medium", "high"})


@dataclass(frozen=True)
class Prices:
    """USD per million tokens."""

    input: float
    output: float
    write_5m: float
    write_1h: float
    read: float


@dataclass(frozen=True)
class Capabilities:
    model: str
    structured_outputs: bool
    forced_tool_choice: bool
    thinking_types: frozenset[str]
    efforts: frozenset[str]
    min_cache_tokens: int
    prices: Prices | None = None
    source: Literal["api", "table", "default"] = "table"


def _caps(model: str, structured: bool, forced: bool, thinking: set[str], efforts: set[str],
          min_cache: int, prices: Prices) -> Capabilities:
    return Capabilities(model, structured, forced, frozenset(thinking), frozenset(efforts),
                        min_cache, prices)


_ALL = set(EFFORTS)
BUILTIN: dict[str, Capabilities] = {
    c.model: c
    for c in (
        # Forced tool use returns 400; disabled thinking 400, between_tools is the lowest;
        # minimum cacheable prompt 512.
        _caps("claude-sonnet-5-5", True, False, {"adaptive", "between_tools"}, _ALL, 512,
              Prices(2.0, 10.0, 2.50, 4.0, 0.20)),
        # Thinking can't be disabled; forced tool use returns 400; minimum not published
        # (512 assumed, as Opus 5).
        _caps("claude-opus-5-5", True, False, {"adaptive"}, _ALL, 512,
              Prices(4.0, 20.0, 5.0, 8.0, 0.40)),
        _caps("claude-sonnet-5", True, True, {"adaptive", "disabled"}, _ALL, 1024,
              Prices(2.0, 10.0, 2.50, 4.0, 0.20)),
        # Documented minimum 1,024; anthropic-sdk-python#1194 observed 2,048, so we aim there.
        _caps("claude-sonnet-4-6", True, True, {"adaptive", "enabled", "disabled"},
              {"low", "medium", "high", "max"}, 2048, Prices(3.0, 15.0, 3.75, 6.0, 0.30)),
        _caps("claude-haiku-4-5", True, True, {"enabled", "disabled"}, set(), 4096,
              Prices(1.0, 5.0, 1.25, 2.0, 0.10)),
    )
}

# A model in neither the table nor the API's answer: ask for nothing it might refuse.
_UNKNOWN = Capabilities("", False, False, frozenset(), frozenset(), 4096, None, "default")


def builtin(model: str) -> Capabilities:
    hit = BUILTIN.get(model)
    if hit is not None:
        return hit
    # Dated ids ("claude-haiku-4-5-20251001") share their alias's rules.
    for alias, caps in BUILTIN.items():
        if model.startswith(alias + "-") and model.removeprefix(alias + "-").isdigit():
            return replace(caps, model=model)
    return replace(_UNKNOWN, model=model)


def from_model_info(model: str, info: Any) -> Capabilities:
    """The API's capabilities, completed by the table (forcing, cache minimum, prices)."""
    base = builtin(model)
    caps = getattr(info, "capabilities", None)
    if caps is None:
        return base
    types = getattr(getattr(caps, "thinking", None), "types", None)
    thinking = frozenset(
        t for t in THINKING_TYPES if getattr(getattr(types, t, None), "supported", False)
    )
    effort = getattr(caps, "effort", None)
    efforts = frozenset(
        e for e in EFFORTS
        if getattr(effort, "supported", False) and getattr(getattr(effort, e, None),
                                                           "supported", False)
    )
    structured = bool(getattr(getattr(caps, "structured_outputs", None), "supported", False))
    return replace(base, structured_outputs=structured, thinking_types=thinking,
                   efforts=efforts, source="api")


class ModelNotFound(Exception):
    """The Models API says this model does not exist (or is retired) for this key."""


class CapabilityCache:
    """Capabilities per model, fetched once per process (a failed fetch is retried after
    ``retry_after`` seconds, using the table meanwhile)."""

    def __init__(self, retry_after: float = 300.0) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, Capabilities] = {}
        self._fallback_until: dict[str, float] = {}
        self.retry_after = retry_after

    def remember(self, caps: Capabilities) -> None:
        """Pin a model's capabilities (an operator's override, or a test's)."""
        with self._lock:
            self._known[caps.model] = caps

    def get(self, client: anthropic.Anthropic, model: str) -> Capabilities:
        import time

        with self._lock:
            hit = self._known.get(model)
            if hit is not None:
                return hit
            if self._fallback_until.get(model, 0.0) > time.monotonic():
                return builtin(model)
        try:
            info = client.models.retrieve(model)
        except anthropic.NotFoundError as err:
            raise ModelNotFound(model) from err
        except anthropic.AnthropicError as err:
            log.warning("models endpoint unavailable (%s); using the built-in table for %s",
                        type(err).__name__, model)
            with self._lock:
                self._fallback_until[model] = time.monotonic() + self.retry_after
            return builtin(model)
        caps = from_model_info(model, info)
        with self._lock:
            self._known[model] = caps
        return caps


# ---------------------------------------------------------------------------------------------
# The request shape
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How a turn is asked for on one model."""

    output: Literal["json", "tool"]  # structured outputs, or the submit_turn tool
    tool_choice: dict[str, Any] | None  # for "tool": forced, any, or auto
    thinking: dict[str, Any] | None  # None: leave the field out
    effort: str | None  # None: leave output_config.effort out

    def describe(self) -> str:
        out = ("structured outputs (JSON text block)" if self.output == "json"
               else f"submit_turn tool, tool_choice {self.tool_choice['type']}"  # type: ignore[index]
               )
        think = self.thinking["type"] if self.thinking else "model default"
        return f"{out}; thinking {think}; effort {self.effort or 'not sent'}"


def pick_effort(caps: Capabilities, wanted: str) -> str | None:
    """``wanted`` if the model takes it, else the nearest lower level it takes, else None."""
    if not caps.efforts:
        return None
    order = list(EFFORTS)
    for level in reversed(order[: order.index(wanted) + 1] if wanted in order else order[:1]):
        if level in caps.efforts:
            return level
    return min(caps.efforts, key=order.index)


def lowest_thinking(caps: Capabilities, effort: str | None) -> dict[str, Any] | None:
    """The least thinking the model accepts: disabled, else between_tools (only at low to
    high effort), else adaptive (thinking always on); None when it takes none of them."""
    types = caps.thinking_types
    if "disabled" in types:
        return {"type": "disabled"}
    if "between_tools" in types and (effort is None or effort in BETWEEN_TOOLS_EFFORTS):
        return {"type": "between_tools"}
    if "adaptive" in types:
        return {"type": "adaptive"}
    return None


def choose_shape(caps: Capabilities, effort: str) -> Shape:
    level = pick_effort(caps, effort)
    thinking = lowest_thinking(caps, level)
    if caps.structured_outputs:
        return Shape("json", None, thinking, level)
    thinking_on = thinking is not None and thinking["type"] in ("adaptive", "enabled")
    if caps.forced_tool_choice and not thinking_on:
        choice: dict[str, Any] = {"type": "tool", "name": "submit_turn"}
    else:
        choice = {"type": "auto"}  # the only choice every model takes; a repair retry follows
    return Shape("tool", choice, thinking, level)
