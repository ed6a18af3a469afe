"""View models: what the renderers need, already looked up, as plain dataclasses.

Times come pre-formatted (``decided_at_text="10:42"``) so rendering never reads a clock or
knows a time zone. Ids in ``*_id``/``decided_by`` fields are Slack user ids when they match
``U…``/``W…`` (rendered as mentions); anything else is shown as plain text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

EngineName = Literal["claude", "offline"]
RecommendName = Literal["continue", "resolve", "escalate"]


@dataclass(frozen=True)
class HeaderView:
    session_id: str
    summary: str
    domain: str = "other"
    tier: str = ""  # guided | exploring | discovery; empty = from ``confidence``
    confidence: float = 0.0
    status: str = "active"  # active | paused | requesting_escalation | escalated | resolved | abandoned
    owner_id: str | None = None
    escalated_to_id: str | None = None
    time_active_text: str = ""  # e.g. "42 min"
    time_parked_text: str = ""
    flow_title: str | None = None
    ticket_ref: str | None = None
    step_count: int = 0
    # Issue 18: the seed columns the header shows.
    title: str | None = None  # set by the technician (Rename); shown above the summary
    session_type: str = "guided"  # guided | chat (see bot/services/session_meta.py)
    match_score: float | None = None  # the matched flow's score at intake
    handoff_count: int = 0
    rating: int | None = None
    feedback: str | None = None
    team: str | None = None  # the owner's team (issue 18)
    escalation_team: str | None = None  # the team it was escalated to


@dataclass(frozen=True)
class FactItem:
    text: str
    source: str = "inference"  # intake | technician | action | inference
    id: str = ""  # the session_facts row; empty = not retractable from this message
    active: bool = True  # False once someone said "That's wrong" (kept, struck through)


@dataclass(frozen=True)
class QuestionItem:
    id: str
    text: str
    options: list[str] = field(default_factory=list)
    status: str = "open"  # open | answered | skipped
    answer: str | None = None
    decided_by: str | None = None
    decided_at_text: str = ""


@dataclass(frozen=True)
class ActionItem:
    id: str
    text: str
    command: str | None = None
    risk: str = "low"  # low | medium | high
    status: str = "open"  # open | done | skipped
    decided_by: str | None = None
    decided_at_text: str = ""
    kind: str = "check"  # check | change


@dataclass(frozen=True)
class FixItem:
    id: str
    title: str
    steps: list[str] = field(default_factory=list)
    rationale: str = ""
    verify: str = ""
    risk: str = "low"
    confidence: float | None = None
    status: str = "pending"  # pending | trying | worked | failed | rejected | superseded
    decided_by: str | None = None
    decided_at_text: str = ""
    supersedes_title: str | None = None
    superseded_by_title: str | None = None  # shown once this fix is superseded


@dataclass(frozen=True)
class SeenBeforeItem:
    """A similar resolved session of the same workspace (knowledge flywheel)."""

    summary: str
    fix_title: str = ""
    when_text: str = ""
    link: str | None = None  # permalink we built (https only)


@dataclass(frozen=True)
class TurnView:
    session_id: str
    message: str = ""
    facts: list[FactItem] = field(default_factory=list)
    questions: list[QuestionItem] = field(default_factory=list)
    actions: list[ActionItem] = field(default_factory=list)
    fixes: list[FixItem] = field(default_factory=list)
    recommend: RecommendName = "continue"
    engine: EngineName = "claude"
    # Users the model's text may mention (the session's participants); others are escaped.
    allowed_user_ids: frozenset[str] = frozenset()
    seen_before: list[SeenBeforeItem] = field(default_factory=list)
    # Offline turns: the "Wrong flow?" choices, (flow id, title), "none" last.
    other_flows: list[tuple[str, str]] = field(default_factory=list)
    # Escalated already (an engineer owns it): no "may need an escalation engineer" hint.
    escalated: bool = False


# --- Resolution note and escalation package ----------------------------------------------


@dataclass(frozen=True)
class TriedStep:
    """An action of the task lane and what came of it."""

    text: str
    result: str = ""  # e.g. "done", "skipped", or what the technician reported
    command: str | None = None


@dataclass(frozen=True)
class TriedFix:
    title: str
    outcome: str = ""  # worked | failed | rejected | superseded | pending | trying
    steps: list[str] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Hypothesis:
    text: str
    likelihood: float | None = None  # 0..1; the list is rendered in the order given


@dataclass(frozen=True)
class ResolutionData:
    session_id: str
    problem: str  # the summary
    details: str = ""  # the original intake (already redacted), shown under Problem
    domain: str = "other"
    environment: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    steps_tried: list[TriedStep] = field(default_factory=list)
    failed_fixes: list[TriedFix] = field(default_factory=list)
    root_cause: str = ""
    resolution_title: str = ""
    resolution_steps: list[str] = field(default_factory=list)
    verification: str = ""
    time_spent_text: str = ""
    ticket_ref: str | None = None
    technician: str = ""  # display name (the note is read outside Slack)
    resolved_at_text: str = ""
    technician_note: str = ""  # from the resolve modal


@dataclass(frozen=True)
class EscalationData:
    session_id: str
    summary: str
    reason: str = ""
    urgency: str = "normal"  # low | normal | high | critical
    domain: str = "other"
    confidence: float | None = None
    environment: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    steps_tried: list[TriedStep] = field(default_factory=list)
    fixes_tried: list[TriedFix] = field(default_factory=list)
    open_questions: list[str] = field(default_factory=list)
    hypotheses: list[Hypothesis] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    thread_url: str | None = None
    time_spent_text: str = ""
    ticket_ref: str | None = None
    technician: str = ""  # display name of who escalated
    owner_id: str | None = None  # Slack id, used only in the Slack message
    team: str = ""  # the team it was escalated to (issue 18)
