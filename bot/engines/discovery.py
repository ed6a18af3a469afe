"""The discovery checklist: the short flow a session runs when no built-in flow fits."""

from __future__ import annotations

from bot.flows.model import ActionNode, EscalateNode, Flow, QuestionNode

DISCOVERY_ID = "discovery"


def _discovery_flow() -> Flow:
    """The short checklist for a problem no flow matches. Node ids are prefixed so they never
    collide with the flow a session may switch to."""

    def ask(node_id: str, question: str, fact: str, labels: list[str], nxt: str) -> QuestionNode:
        return QuestionNode(
            f"discovery.{node_id}",
            question,
            dict.fromkeys(labels, f"discovery.{nxt}"),
            kind="check",
            fact=fact,
        )

    nodes: list[QuestionNode | ActionNode | EscalateNode] = [
        ask(
            "scope",
            "Who is affected?",
            "Scope: {answer}",
            ["Just one user", "Several users", "Everyone at the site"],
            "since",
        ),
        ask(
            "since",
            "Since when?",
            "Started: {answer}",
            ["Today", "Since yesterday", "This week", "Longer"],
            "changes",
        ),
        ask(
            "changes",
            "Did anything change recently (updates, a new device, a password, the network)?",
            "Recent changes: {answer}",
            ["Yes, something changed", "No changes I know of", "Not sure"],
            "error_text",
        ),
        ActionNode(
            "discovery.error_text",
            "Copy the exact error text into the thread",
            next="discovery.escalate",
            kind="check",
        ),
        EscalateNode(
            "discovery.escalate",
            "No built-in flow fits this problem; the facts gathered are ready for an engineer.",
        ),
    ]
    return Flow(
        DISCOVERY_ID,
        "Discovery checklist",
        "other",
        ["(no flow matched)"],
        "discovery.scope",
        {n.id: n for n in nodes},
        source="builtin:discovery",
    )


DISCOVERY = _discovery_flow()
