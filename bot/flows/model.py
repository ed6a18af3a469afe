"""The parsed shape of a troubleshooting flow (the seed's ``Tree``). Plain data, no I/O.

A flow is a small directed graph: question and action nodes lead on to other nodes; fix and
escalate nodes are leaves (a fix may name an ``on_fail`` node to move to when it did not work).
Every node remembers the line it was written on so problems can be reported as ``file:line``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

StepKind = Literal["check", "change"]
STEP_KINDS: tuple[str, ...] = ("check", "change")
ESCALATION_TEAMS: tuple[str, ...] = (
    "security",
    "network",
    "identity",
    "messaging",
    "m365",
    "endpoint",
    "server",
    "backup",
    "printing",
    "vendor",
    "tier3",
)


@dataclass(frozen=True)
class FlowProblem:
    """One thing wrong with a flow file, printed as ``file:line: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class QuestionNode:
    id: str
    question: str
    options: dict[str, str]  # option label -> next node id
    kind: StepKind | None = None
    fact: str | None = None  # template, "{answer}" is replaced by the chosen label
    help: str | None = None
    line: int = 0
    # Line of each option, for problems about a single option.
    option_lines: dict[str, int] = field(default_factory=dict, compare=False)

    def successors(self) -> list[str]:
        return list(dict.fromkeys(self.options.values()))


@dataclass(frozen=True)
class ActionNode:
    id: str
    action: str
    next: str
    kind: StepKind | None = None
    command: str | None = None
    risk: str = "low"
    fact: str | None = None  # template, "{answer}" is replaced by "Done" / "Skipped"
    help: str | None = None
    line: int = 0
    next_line: int = 0

    def successors(self) -> list[str]:
        return [self.next]


@dataclass(frozen=True)
class FixNode:
    id: str
    title: str
    steps: list[str]
    rationale: str = ""
    verify: str = ""
    risk: str = "low"
    on_fail: str | None = None  # node to move to when the fix did not work; None = escalate
    line: int = 0
    on_fail_line: int = 0

    def successors(self) -> list[str]:
        return [self.on_fail] if self.on_fail else []


@dataclass(frozen=True)
class EscalateNode:
    id: str
    reason: str
    to: str = "tier3"
    summary: str = ""
    line: int = 0

    def successors(self) -> list[str]:
        return []


Node = QuestionNode | ActionNode | FixNode | EscalateNode
LEAF_TYPES = (FixNode, EscalateNode)


@dataclass(frozen=True)
class Flow:
    id: str
    title: str
    domain: str
    match: list[str]
    start: str
    nodes: dict[str, Node] = field(repr=False)
    source: str = ""  # a file path, or "builtin:<file name>"
    keywords: list[str] = field(default_factory=list)
    line: int = 1
    start_line: int = 1

    @property
    def builtin(self) -> bool:
        return self.source.startswith("builtin:")

    def node(self, node_id: str) -> Node | None:
        return self.nodes.get(node_id)

    def outline(self) -> str:
        """A compact text rendering of the flow (for a model prompt or a CLI listing)."""
        lines = [f"Flow {self.id}: {self.title} (domain {self.domain}, start {self.start})"]
        for node in self.nodes.values():
            lines.append("  " + _outline_node(node))
        return "\n".join(lines)


def _outline_node(node: Node) -> str:
    if isinstance(node, QuestionNode):
        opts = "; ".join(f"{label} -> {nxt}" for label, nxt in node.options.items())
        return f"{node.id} [{node.kind or 'check'}] Q: {node.question} ({opts})"
    if isinstance(node, ActionNode):
        cmd = f" `{node.command}`" if node.command else ""
        return f"{node.id} [{node.kind or 'check'}] DO: {node.action}{cmd} -> {node.next}"
    if isinstance(node, FixNode):
        after = (
            f" (if it fails -> {node.on_fail})" if node.on_fail else " (if it fails -> escalate)"
        )
        return f"{node.id} FIX: {node.title}{after}"
    return f"{node.id} ESCALATE to {node.to}: {node.reason}"


@dataclass
class FlowLibrary:
    """The flows a session can use, by id, and the problems met while loading them."""

    flows: dict[str, Flow] = field(default_factory=dict)
    problems: list[FlowProblem] = field(default_factory=list)
    # Matcher index, built on first use by ``bot.flows.match``.
    _index: Any = field(default=None, repr=False, compare=False)

    def get(self, flow_id: str) -> Flow | None:
        return self.flows.get(flow_id)

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows.values())

    def __len__(self) -> int:
        return len(self.flows)

    def __contains__(self, flow_id: object) -> bool:
        return flow_id in self.flows
