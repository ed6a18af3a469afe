"""The offline engine: walks a flow with buttons when there is no model to ask.

Pure and deterministic: the position in the flow travels in ``TurnOutput.engine_state`` and
comes back as ``TurnContext.engine_state``; nothing here reads a clock or does I/O.

State (JSON): ``{"v": 1, "mode": "flow" | "discovery", "flow_id": str, "node": str,
"path": [{"flow": id, "node": id, "answer": label}], "ended": null | "resolve" | "escalate",
"score": float}``; ``score`` is how well the intake (or the reply that switched flows)
matched the flow, and becomes the turn's confidence. States without it still load.

Leaving a wrong flow: every turn on a flow offers the next best flows for the intake
(``TurnOutput.other_flows``, rendered as the ``fp_wrong_flow`` control); the click comes back
as an ``answer`` input whose ``item_id`` is ``WRONG_FLOW_ITEM`` and whose ``choice`` is a flow
id or ``"none"`` (back to the discovery checklist). A typed reply that describes another
flow and says nothing for this one switches too, and says so.
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
from bot.engines.discovery import DISCOVERY, DISCOVERY_ID
from bot.engines.replies import contradicts, flow_score, other_flows, typed_option
from bot.flows.match import DEFAULT_THRESHOLD, match_flow
from bot.flows.model import ActionNode, EscalateNode, FixNode, Flow, FlowLibrary, QuestionNode

STATE_VERSION = 1
FLOW_CONFIDENCE = 0.9  # only for a state saved before scores were kept
DISCOVERY_CONFIDENCE = 0.2
FIX_CONFIDENCE = 0.8
MAX_FACT_CHARS = 300
WRONG_FLOW_ITEM = "fp_wrong_flow"  # item_id of the "Wrong flow?" choice (an answer input)
NONE_OF_THESE = "none"




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
            state = _start(flow, score=self._intake_score(ctx, matched))
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
        answered: list[tuple[str, str]] = []
        for item in ctx.inputs:
            current = self._apply(item, state, current, ctx, facts, notes, answered)
        return self._present(ctx, state, current, facts, notes, answered)

    # --- inputs -----------------------------------------------------------------------

    def _apply(
        self,
        item: TurnInput,
        state: dict[str, Any],
        flow: Flow,
        ctx: TurnContext,
        facts: list[FactOut],
        notes: list[str],
        answered: list[tuple[str, str]],
    ) -> Flow:
        if item.kind == "answer" and item.item_id == WRONG_FLOW_ITEM:
            return self._switch(item.choice or "", state, flow, ctx, facts, notes)
        if state["ended"]:
            if item.kind == "reply" and item.text.strip():
                facts.append(FactOut(_clip(item.text), "technician"))
            return flow
        node = flow.nodes.get(state["node"])
        if item.kind == "reply":
            return self._reply(item.text, state, flow, node, ctx, facts, notes, answered)
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

    def _reply(
        self,
        text: str,
        state: dict[str, Any],
        flow: Flow,
        node: object,
        ctx: TurnContext,
        facts: list[FactOut],
        notes: list[str],
        answered: list[tuple[str, str]],
    ) -> Flow:
        """A typed reply: an answer to the open question, a near miss (ask), a description
        of another problem (switch flows and say so), or a fact."""
        if not text.strip():
            return flow
        # Only a question the technician can see (open in the lane) is answered by typing:
        # a click earlier in the same batch may have moved the walk to an unseen one.
        item_id = _open_item_for(ctx, node.id) if isinstance(node, QuestionNode) else None
        if isinstance(node, QuestionNode) and item_id is not None:
            typed = typed_option(text, list(node.options))
            if typed is not None and typed.how == "exact":
                facts.append(FactOut(_fact(node.fact, typed.label, node.question), "technician"))
                answered.append((item_id, typed.label))
                notes.append(f"Taking “{_clip(text, 60)}” as the answer *{typed.label}*.")
                _step(state, flow, node.id, typed.label, node.options[typed.label])
                return flow
            if typed is not None:
                notes.append(
                    f"Did you mean *{typed.label}*? Press its button (or type it exactly) to "
                    "answer; I have not recorded anything."
                )
                return flow
        facts.append(FactOut(_clip(text), "technician"))
        if state["mode"] == "discovery":
            found = match_flow(text, self.library)
            if found is not None:
                notes.append(f"That looks like *{found.flow.title}*; switching to that flow.")
                state.update(_start(found.flow, path=state["path"], score=found.score))
                return found.flow
            return flow
        other = contradicts(text, flow, self.library)
        if other is None:
            return flow
        notes.append(
            f"That sounds like *{other.flow.title}* rather than *{flow.title}*, so I am "
            "switching to that flow (use *Wrong flow?* to go back)."
        )
        facts.append(FactOut(f"Flow changed: {flow.title} → {other.flow.title}", "inference"))
        state.update(_start(other.flow, path=state["path"], score=other.score))
        return other.flow

    def _switch(
        self,
        choice: str,
        state: dict[str, Any],
        flow: Flow,
        ctx: TurnContext,
        facts: list[FactOut],
        notes: list[str],
    ) -> Flow:
        """The technician's "Wrong flow?" choice: another flow, or none (discovery)."""
        if choice == NONE_OF_THESE:
            if state["mode"] == "discovery":
                return flow
            facts.append(FactOut(f"Not the {flow.title} flow (technician)", "technician"))
            notes.append(
                f"Leaving *{flow.title}*. No built-in flow fits, so a few quick questions "
                "instead; then we can escalate with what we know."
            )
            state.update(_start(DISCOVERY, path=state["path"]))
            return DISCOVERY
        chosen = self.library.get(choice)
        if chosen is None or chosen.id == flow.id:
            return flow
        facts.append(FactOut(f"Flow changed: {flow.title} → {chosen.title}", "technician"))
        notes.append(f"Switched from *{flow.title}* to *{chosen.title}*, as you chose.")
        score = flow_score(ctx.intake_text, chosen.id, self.library) or 0.0
        # The technician's choice is evidence too: never shown below the match threshold.
        state.update(_start(chosen, path=state["path"], score=max(score, DEFAULT_THRESHOLD)))
        return chosen

    def _intake_score(self, ctx: TurnContext, flow: Flow | None) -> float:
        if flow is None:
            return DISCOVERY_CONFIDENCE
        if 0.0 < ctx.confidence <= 1.0:
            return float(ctx.confidence)
        score = flow_score(ctx.intake_text, flow.id, self.library)
        return score if score is not None else FLOW_CONFIDENCE

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
        answered: list[tuple[str, str]] | None = None,
    ) -> TurnOutput:
        fields: dict[str, Any] = {"answered": list(answered or [])}
        if state["ended"] == "resolve":
            notes.append("Great — press Resolve to write the note.")
            return self._output(
                ctx, state, flow, facts, recommend="resolve", message=_join(notes), **fields
            )
        node = flow.nodes.get(state["node"])
        if node is None:
            state["ended"] = "escalate"
            notes.append(
                f"The flow has no step `{state['node']}` any more; escalate with what we know."
            )
            return self._output(
                ctx, state, flow, facts, recommend="escalate", message=_join(notes), **fields
            )
        if isinstance(node, EscalateNode):
            state["ended"] = "escalate"
            notes.append(f"*Escalate to {node.to}:* {_escalation_reason(flow, node, state)}")
            notes.append(node.summary)
            notes.append(self._path_text(state, ctx))
            return self._output(
                ctx, state, flow, facts, recommend="escalate", message=_join(notes), **fields
            )
        if state["ended"] == "escalate":
            notes.append("That was the last fix this flow has. Escalate with what we know.")
            notes.append(self._path_text(state, ctx))
            return self._output(
                ctx, state, flow, facts, recommend="escalate", message=_join(notes), **fields
            )
        out: dict[str, Any] = dict(fields)
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
        score = state.get("score")
        confidence = (
            DISCOVERY_CONFIDENCE
            if discovery
            else float(score) if isinstance(score, int | float) else FLOW_CONFIDENCE
        )
        others = [] if state["ended"] == "resolve" else self._other_flows(ctx, state)
        return TurnOutput(
            summary=ctx.summary or _first_line(ctx.intake_text) or flow.title,
            domain=(ctx.domain or "other") if discovery else flow.domain,
            confidence=confidence,
            facts=facts,
            engine_state=_copy_state(state),
            flow_id="" if discovery else flow.id,
            other_flows=others,
            **fields,
        )

    def _other_flows(self, ctx: TurnContext, state: dict[str, Any]) -> list[tuple[str, str]]:
        """The "Wrong flow?" choices: the next best flows for the intake (and the flows the
        session has been on), then "none of these" unless already in discovery."""
        if state["mode"] == "discovery":
            return []
        current = state["flow_id"]
        visited = [str(p.get("flow")) for p in state["path"]]
        seen = [f for f in dict.fromkeys(visited) if f not in (current, DISCOVERY_ID)]
        flows = [self.library.get(f) for f in seen]
        flows += other_flows(ctx.intake_text, current, self.library)
        out = list(dict.fromkeys((f.id, f.title) for f in flows if f is not None))[:3]
        return [*out, (NONE_OF_THESE, "None of these")]

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


def _escalation_reason(flow: Flow, node: EscalateNode, state: dict[str, Any]) -> str:
    """The flow's own reason when every check that can lead here was run (it may name
    them); otherwise a reason that names only what was run."""
    walked = {str(p.get("node")) for p in state["path"] if p.get("flow") == flow.id}
    before = {
        n for n in _ancestors(flow, node.id)
        if isinstance(flow.nodes.get(n), QuestionNode | ActionNode)
    }
    if before <= walked:
        return node.reason
    ran = sum(1 for p in state["path"] if p.get("flow") == flow.id)
    if not ran:
        return f"{flow.title}: not fixed, and no check of this flow was run yet."
    checks = "check" if ran == 1 else "checks"
    return f"{flow.title}: not fixed after the {ran} {checks} run (see *Path walked*)."


def _ancestors(flow: Flow, node_id: str) -> set[str]:
    """Every node from which ``node_id`` can be reached."""
    parents: dict[str, set[str]] = {}
    for nid, n in flow.nodes.items():
        for nxt in n.successors():
            parents.setdefault(nxt, set()).add(nid)
    seen: set[str] = set()
    todo = [node_id]
    while todo:
        for parent in parents.get(todo.pop(), set()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def _start(
    flow: Flow, path: list[dict[str, str]] | None = None, score: float | None = None
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "v": STATE_VERSION,
        "mode": "discovery" if flow.id == DISCOVERY_ID else "flow",
        "flow_id": flow.id,
        "node": flow.start,
        "path": list(path or []),
        "ended": None,
    }
    if score is not None:
        state["score"] = round(float(score), 4)
    return state


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
    out = {
        "v": STATE_VERSION,
        "mode": state["mode"],
        "flow_id": state["flow_id"],
        "node": state["node"],
        "path": path,
        "ended": state["ended"],
    }
    score = state.get("score")
    if isinstance(score, int | float) and not isinstance(score, bool) and 0 <= score <= 1:
        out["score"] = float(score)
    return out


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


def _open_item_for(ctx: TurnContext, node_id: str) -> str | None:
    """The open lane question that stands for ``node_id`` (the newest), if any."""
    for item in reversed(ctx.lane):
        if item.kind == "question" and item.node_id == node_id and item.status == "open":
            return item.id
    return None


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


def _clip(text: str, limit: int = MAX_FACT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 120 else line[:119] + "…"
    return ""


def _join(notes: list[str]) -> str:
    return "\n".join(n for n in notes if n)
