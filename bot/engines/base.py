"""What every engine sees and returns. Plain dataclasses: no Slack, no SQL.

A *turn* takes the session's current state plus the inputs that arrived since the last turn
(thread replies, quick answers, action and fix decisions) and returns what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

# Re-exported: the engine contract speaks the domain's vocabulary (one definition).
from bot.domain.vocabulary import DOMAINS as DOMAINS
from bot.domain.vocabulary import FACT_SOURCES as FACT_SOURCES
from bot.domain.vocabulary import RECOMMENDS as RECOMMENDS
from bot.domain.vocabulary import RISKS as RISKS

Recommend = Literal["continue", "resolve", "escalate"]


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


@dataclass(frozen=True)
class FactOut:
    text: str
    source: str = "inference"


@dataclass(frozen=True)
class QuestionOut:
    text: str
    options: list[str] = field(default_factory=list)
    # Offline engine: the flow node this question stands for (None for Claude).
    node_id: str | None = None
    # Offline engine: option label -> fact text recorded when chosen.
    kind: Literal["check", "change"] = "check"


@dataclass(frozen=True)
class ActionOut:
    text: str
    command: str | None = None
    risk: str = "low"
    node_id: str | None = None
    kind: Literal["check", "change"] = "check"


@dataclass(frozen=True)
class FixOut:
    title: str
    steps: list[str] = field(default_factory=list)
    rationale: str = ""
    confidence: float = 0.5
    risk: str = "low"
    supersedes: str | None = None  # id of an earlier fix this one replaces
    verify: str = ""  # how to verify it worked
    node_id: str | None = None


@dataclass(frozen=True)
class TurnOutput:
    summary: str
    domain: str
    confidence: float
    message: str = ""
    facts: list[FactOut] = field(default_factory=list)
    questions: list[QuestionOut] = field(default_factory=list)
    actions: list[ActionOut] = field(default_factory=list)
    fixes: list[FixOut] = field(default_factory=list)
    recommend: Recommend = "continue"
    usage: Usage = field(default_factory=Usage)
    # Engine-private state to store on the session and hand back next turn
    # (the offline engine keeps its position in the flow here). JSON-serialisable.
    engine_state: dict[str, Any] | None = None
    # Messages to append to the session's stored conversation (Claude engine), JSON-serialisable.
    transcript: list[dict[str, Any]] = field(default_factory=list)
    model: str | None = None
    request_id: str | None = None
    # Offline engine: the flow the session follows after this turn ("" = none, the discovery
    # checklist; None = the engine does not say), the "Wrong flow?" choices (id, title) with
    # ("none", "None of these") last, and lane questions a typed reply answered (id, option).
    flow_id: str | None = None
    other_flows: list[tuple[str, str]] = field(default_factory=list)
    answered: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class FactView:
    id: str
    text: str
    source: str


@dataclass(frozen=True)
class LaneItemView:
    """A question or an action of the task lane, with its outcome so far."""

    id: str
    kind: Literal["question", "action"]
    text: str
    options: list[str] = field(default_factory=list)
    command: str | None = None
    risk: str = "low"
    status: str = "open"  # open | answered | done | skipped
    answer: str | None = None
    node_id: str | None = None


@dataclass(frozen=True)
class FixView:
    id: str
    title: str
    steps: list[str]
    rationale: str
    status: str  # pending | trying | worked | failed | rejected | superseded
    node_id: str | None = None


@dataclass(frozen=True)
class TurnInput:
    """Something that happened since the last turn, in order."""

    kind: Literal["intake", "reply", "answer", "action_done", "action_skip", "fix_decision", "retry"]
    author: str  # display name or Slack id of the person (never a secret)
    text: str = ""  # reply text (already redacted by the caller for the model)
    item_id: str | None = None  # question / action / fix id
    choice: str | None = None  # chosen option, or fix decision (worked|failed|rejected)
    files: int = 0  # files shared with it, still to read (bot/services/attachments.py)


@dataclass(frozen=True)
class ImageInput:
    """A screenshot shared with this turn, for a model that reads images (base64, never
    stored): the workspace allowed images and the file passed the size and type limits."""

    name: str
    media_type: str  # image/jpeg | image/png | image/gif | image/webp
    data: str  # base64


@dataclass(frozen=True)
class TurnContext:
    session_id: str
    intake_text: str
    summary: str | None
    domain: str | None
    confidence: float
    facts: list[FactView]
    lane: list[LaneItemView]
    fixes: list[FixView]
    inputs: list[TurnInput]
    # The session's stored conversation (Claude engine's own transcript entries).
    history: list[dict[str, Any]] = field(default_factory=list)
    engine_state: dict[str, Any] | None = None
    # A matched flow (parsed, ``bot.flows.model.Flow``), or None.
    flow: Any = None
    # Stable workspace context for the cached prefix (workspace name, house rules).
    workspace_context: str = ""
    turn_number: int = 0
    # The workspace's model and effort settings (None: the engine's defaults from the env).
    model: str | None = None
    effort: str | None = None
    # The engine the session runs on ("claude" or "offline"; "" for the process default).
    engine: str = ""
    # Past resolutions of the workspace shown in the thread ("Seen before"): problem, fix,
    # steps, when. Per-session context, so outside the cached prefix.
    seen_before: list[dict[str, str]] = field(default_factory=list)
    # Facts the technician marked wrong ("That's wrong…"): the model is told to disregard them
    # (it may have seen them in an earlier turn of the conversation).
    retracted_fact_ids: list[str] = field(default_factory=list)
    # Screenshots shared with this turn's inputs (Claude only; bot/services/attachments.py).
    images: list[ImageInput] = field(default_factory=list)


@runtime_checkable
class Drafter(Protocol):
    """The drafting port of the analysis job (``analyze_resolved``): a resolved session's
    markdown in, a reusable template out (``title``, ``description``, ``language``, ``body``,
    ``parameters``). ClaudeEngine implements it; without a model there is no drafter."""

    model: str  # the model used when the workspace names none

    def draft_template(self, model: str, session_markdown: str) -> dict[str, Any]:
        """Return the draft, or raise ``bot.errors.EngineError`` with a readable message."""
        ...


class Engine(Protocol):
    name: str

    def take_turn(self, ctx: TurnContext) -> TurnOutput:
        """Return the next turn, or raise ``bot.errors.EngineError`` with a readable message."""
        ...

