"""The offline engine: walks a flow with buttons when there is no model to ask.

Pure and deterministic: the position in the flow travels in ``TurnOutput.engine_state`` and
comes back as ``TurnContext.engine_state``; nothing here reads a clock or does I/O.

State (JSON): ``{"v": 1, "mode": "flow" | "discovery", "flow_id": str, "node": str,
"path": [{"flow": id, "node": id, "answer": label}], "ended": null | "resolve" | "escalate"}``.
"""

from __future__ import annotations

from typing import Any

from bot.engines.base import (
    ActionOut,
    FactOut,
    FixOut,
    QuestionOut,
    TurnContext,
    TurnInput,
    TurnOutput,
)
from bot.flows.match import match_flow
from bot.flows.model import ActionNode, EscalateNode, FixNode, Flow, FlowLibrary, QuestionNode

STATE_VERSION = 1
FLOW_CONFIDENCE = 0.9
DISCOVERY_CONFIDENCE = 0.2
FIX_CONFIDENCE = 0.8
MAX_FACT_CHARS = 300
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


class OfflineEngine:
    name = "offline"

    def __init__(self, library: FlowLibrary) -> None:
        self.library = library

    def take_turn(self, ctx: TurnContext) -> TurnOutput:
        facts: list[FactOut] = []
        notes: list[str] = []
        state = _valid_state(ctx.engine_state)
        if state is None:
            if ctx.engine_state is not None:
                notes.append("I lost my place in the flow, so I am starting it again.")
            matched = ctx.flow if isinstance(ctx.flow, Flow) else None
            flow = matched or DISCOVERY
            state = _start(flow)
            notes.append(
                f"This matches the *{flow.title}* flow. Read-only checks come first."
                if matched
                else "No built-in flow fits this yet. A few quick questions, then we can "
                "escalate with what we know."
            )
            return self._present(ctx, state, flow, facts, notes)
        current = self._flow(state["flow_id"], ctx)
        if current is None:
            state["ended"] = "escalate"
            return self._output(
                ctx,
                state,
                DISCOVERY,
                facts,
                recommend="escalate",
                message=(
                    f"The flow `{state['flow_id']}` is no longer available; escalate with what we know."
                ),
            )
        for item in ctx.inputs:
            current = self._apply(item, state, current, ctx, facts, notes)
        return self._present(ctx, state, current, facts, notes)

    # --- inputs -----------------------------------------------------------------------

    def _apply(
        self,
        item: TurnInput,
        state: dict[str, Any],
        flow: Flow,
        ctx: TurnContext,
        facts: list[FactOut],
        notes: list[str],
    ) -> Flow:
        if state["ended"]:
            if item.kind == "reply" and item.text.strip():
                facts.append(FactOut(_clip(item.text), "technician"))
            return flow
        node = flow.nodes.get(state["node"])
        if item.kind == "reply":
            if item.text.strip():
                facts.append(FactOut(_clip(item.text), "technician"))
                if state["mode"] == "discovery":
                    found = match_flow(item.text, self.library)
                    if found is not None:
                        notes.append(
                            f"That looks like *{found.flow.title}*; switching to that flow."
                        )
                        state.update(_start(found.flow, path=state["path"]))
                        return found.flow
            return flow
        if item.kind == "answer" and isinstance(node, QuestionNode):
            label = _label(node, item.choice)
            if label is not None and _is_for(node, _lane_node(ctx, item.item_id)):
                facts.append(FactOut(_fact(node.fact, label, node.question), "technician"))
                _step(state, flow, node.id, label, node.options[label])
        elif item.kind in ("action_done", "action_skip") and isinstance(node, ActionNode):
            if _is_for(node, _lane_node(ctx, item.item_id)):
                done = item.kind == "action_done"
                answer = "Done" if done else "Skipped"
                text = (
                    _fact(node.fact, answer, "")
                    if node.fact and done
                    else f"{answer}: {node.action}"
                )
                facts.append(FactOut(text, "technician"))
                _step(state, flow, node.id, answer, node.next)
        elif (
            item.kind == "fix_decision"
            and isinstance(node, FixNode)
            and _is_for(node, _fix_node(ctx, item.item_id))
        ):
            self._decide(node, item.choice or "", state, flow, facts, notes)
        return flow

    def _decide(
        self,
        node: FixNode,
        choice: str,
        state: dict[str, Any],
        flow: Flow,
        facts: list[FactOut],
        notes: list[str],
    ) -> None:
        if choice == "worked":
            facts.append(FactOut(f"Worked: {node.title}", "technician"))
            _step(state, flow, node.id, "Worked", node.id)
            state["ended"] = "resolve"
            return
        if choice not in ("failed", "rejected"):
            return
        verdict = "Didn't work" if choice == "failed" else "Not applicable"
        facts.append(FactOut(f"{verdict}: {node.title}", "technician"))
        if node.on_fail:
            _step(state, flow, node.id, verdict, node.on_fail)
            notes.append("Moving on to the next branch.")
        else:
            _step(state, flow, node.id, verdict, node.id)
            state["ended"] = "escalate"

    # --- output -----------------------------------------------------------------------

    def _present(
        self,
        ctx: TurnContext,
        state: dict[str, Any],
        flow: Flow,
        facts: list[FactOut],
        notes: list[str],
    ) -> TurnOutput:
        if state["ended"] == "resolve":
            notes.append("Great — press Resolve to write the note.")
            return self._output(ctx, state, flow, facts, recommend="resolve", message=_join(notes))
        node = flow.nodes.get(state["node"])
        if node is None:
            state["ended"] = "escalate"
            notes.append(
                f"The flow has no step `{state['node']}` any more; escalate with what we know."
            )
            return self._output(ctx, state, flow, facts, recommend="escalate", message=_join(notes))
        if isinstance(node, EscalateNode):
            state["ended"] = "escalate"
            notes.append(f"*Escalate to {node.to}:* {node.reason}")
            notes.append(node.summary)
            notes.append(self._path_text(state, ctx))
            return self._output(ctx, state, flow, facts, recommend="escalate", message=_join(notes))
        if state["ended"] == "escalate":
            notes.append("That was the last fix this flow has. Escalate with what we know.")
            notes.append(self._path_text(state, ctx))
            return self._output(ctx, state, flow, facts, recommend="escalate", message=_join(notes))
        out: dict[str, Any] = {}
        if isinstance(node, QuestionNode) and not _open_in_lane(ctx, node.id):
            out["questions"] = [
                QuestionOut(
                    node.question, list(node.options), node_id=node.id, kind=node.kind or "check"
                )
            ]
            notes.append(node.help or "")
        elif isinstance(node, ActionNode) and not _open_in_lane(ctx, node.id):
            out["actions"] = [
                ActionOut(
                    node.action, node.command, node.risk, node_id=node.id, kind=node.kind or "check"
                )
            ]
            notes.append(node.help or "")
        elif isinstance(node, FixNode) and not _open_fix(ctx, node.id):
            out["fixes"] = [
                FixOut(
                    node.title,
                    list(node.steps),
                    node.rationale,
                    FIX_CONFIDENCE,
                    node.risk,
                    verify=node.verify,
                    node_id=node.id,
                )
            ]
        return self._output(ctx, state, flow, facts, message=_join(notes), **out)

    def _output(
        self,
        ctx: TurnContext,
        state: dict[str, Any],
        flow: Flow,
        facts: list[FactOut],
        **fields: Any,
    ) -> TurnOutput:
        discovery = state["mode"] == "discovery"
        return TurnOutput(
            summary=ctx.summary or _first_line(ctx.intake_text) or flow.title,
            domain=(ctx.domain or "other") if discovery else flow.domain,
            confidence=DISCOVERY_CONFIDENCE if discovery else FLOW_CONFIDENCE,
            facts=facts,
            engine_state=_copy_state(state),
            **fields,
        )

    def _flow(self, flow_id: str, ctx: TurnContext) -> Flow | None:
        if flow_id == DISCOVERY_ID:
            return DISCOVERY
        if isinstance(ctx.flow, Flow) and ctx.flow.id == flow_id:
            return ctx.flow
        return self.library.get(flow_id)

    def _path_text(self, state: dict[str, Any], ctx: TurnContext) -> str:
        lines = []
        for step in state["path"]:
            flow = self._flow(str(step.get("flow")), ctx) or DISCOVERY
            node = flow.nodes.get(step["node"])
            lines.append(
                f"• {_node_text(node) if node else step.get('node')} → {step.get('answer')}"
            )
        return (
            "*Path walked:*\n" + "\n".join(lines)
            if lines
            else "*Path walked:* (nothing answered yet)"
        )


def _start(flow: Flow, path: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "v": STATE_VERSION,
        "mode": "discovery" if flow.id == DISCOVERY_ID else "flow",
        "flow_id": flow.id,
        "node": flow.start,
        "path": list(path or []),
        "ended": None,
    }


def _valid_state(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or raw.get("v") != STATE_VERSION:
        return None
    if not isinstance(raw.get("flow_id"), str) or not isinstance(raw.get("node"), str):
        return None
    if raw.get("mode") not in ("flow", "discovery") or not isinstance(raw.get("path"), list):
        return None
    if raw.get("ended") not in (None, "resolve", "escalate"):
        return None
    return _copy_state(raw)


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    path = [dict(p) for p in state["path"] if isinstance(p, dict)]
    return {
        "v": STATE_VERSION,
        "mode": state["mode"],
        "flow_id": state["flow_id"],
        "node": state["node"],
        "path": path,
        "ended": state["ended"],
    }


def _step(state: dict[str, Any], flow: Flow, node_id: str, answer: str, next_id: str) -> None:
    state["path"].append({"flow": flow.id, "node": node_id, "answer": answer})
    state["node"] = next_id


def _lane_node(ctx: TurnContext, item_id: str | None) -> str | None | bool:
    """The flow node a lane item stands for; False when the item is not in the lane."""
    for item in ctx.lane:
        if item.id == item_id:
            return item.node_id
    return False


def _fix_node(ctx: TurnContext, item_id: str | None) -> str | None | bool:
    for fix in ctx.fixes:
        if fix.id == item_id:
            return fix.node_id
    return False


def _is_for(node: QuestionNode | ActionNode | FixNode, target: str | None | bool) -> bool:
    # An item we cannot place (unknown, or without a node id) is taken as meant for the
    # current step; an item of another node is a stale click and changes nothing.
    return target is False or target is None or target == node.id


def _label(node: QuestionNode, choice: str | None) -> str | None:
    if choice is None:
        return None
    if choice in node.options:
        return choice
    folded = choice.strip().casefold()
    return next((label for label in node.options if label.casefold() == folded), None)


def _open_in_lane(ctx: TurnContext, node_id: str) -> bool:
    return any(i.node_id == node_id and i.status == "open" for i in ctx.lane)


def _open_fix(ctx: TurnContext, node_id: str) -> bool:
    return any(f.node_id == node_id and f.status in ("pending", "trying") for f in ctx.fixes)


def _fact(template: str | None, answer: str, question: str) -> str:
    if template:
        return template.replace("{answer}", answer)
    return f"{question.rstrip(' ?')}: {answer}"


def _node_text(node: object) -> str:
    if isinstance(node, QuestionNode):
        return node.question
    if isinstance(node, ActionNode):
        return node.action
    if isinstance(node, FixNode):
        return f"Fix: {node.title}"
    if isinstance(node, EscalateNode):
        return node.reason
    return ""


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_FACT_CHARS else text[: MAX_FACT_CHARS - 1] + "…"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 120 else line[:119] + "…"
    return ""


def _join(notes: list[str]) -> str:
    return "\n".join(n for n in notes if n)
