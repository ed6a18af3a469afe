"""Walk every built-in flow the way a technician can: every option of every question, every
action done, every fix either working or not. Each walk must end in a resolution (a fix that
worked) or an explicit escalation (an escalate node, or a failed fix with nowhere else to go),
and together the walks must reach every node, use every option and try both outcomes of every
fix. Independent of ``bot.flows.check.all_paths`` on purpose: it re-derives the walks from the
node types, so a checker bug cannot hide a dead end."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.flows import load_library
from bot.flows.model import ActionNode, EscalateNode, FixNode, Flow, QuestionNode

LIBRARY = load_library()
FLOWS = sorted(LIBRARY, key=lambda f: f.id)
MAX_WALKS = 5_000


@dataclass(frozen=True)
class Walk:
    steps: tuple[tuple[str, str], ...]  # (node id, what happened there)
    end: str  # "resolved" | "escalated"


class DeadEnd(AssertionError):
    pass


def walks(flow: Flow) -> list[Walk]:
    out: list[Walk] = []

    def go(node_id: str, steps: tuple[tuple[str, str], ...]) -> None:
        if len(out) > MAX_WALKS:
            raise DeadEnd(f"{flow.id}: more than {MAX_WALKS} walks")
        if node_id not in flow.nodes:
            raise DeadEnd(f"{flow.id}: {steps} leads to missing node {node_id!r}")
        if any(node_id == seen for seen, _ in steps):
            raise DeadEnd(f"{flow.id}: walk loops back to {node_id!r} after {steps}")
        node = flow.nodes[node_id]
        if isinstance(node, QuestionNode):
            if not node.options:
                raise DeadEnd(f"{flow.id}: question {node_id!r} has no options")
            for label, target in node.options.items():
                go(target, (*steps, (node_id, label)))
        elif isinstance(node, ActionNode):
            go(node.next, (*steps, (node_id, "done")))
        elif isinstance(node, FixNode):
            out.append(Walk((*steps, (node_id, "worked")), "resolved"))
            if node.on_fail:
                go(node.on_fail, (*steps, (node_id, "did not work")))
            else:
                out.append(Walk((*steps, (node_id, "did not work")), "escalated"))
        elif isinstance(node, EscalateNode):
            out.append(Walk((*steps, (node_id, "escalate")), "escalated"))
        else:  # pragma: no cover - a new node type must be taught to this walker
            raise DeadEnd(f"{flow.id}: unknown node type at {node_id!r}")

    go(flow.start, ())
    return out


def test_the_library_has_the_27_flows() -> None:
    assert len(LIBRARY) == 27
    assert {
        "new_user_setup",
        "mailbox_permissions",
        "intune_enrollment",
        "bitlocker_recovery",
        "windows_update",
        "blue_screen",
        "dock_monitor",
        "audio_webcam",
        "mobile_mail",
        "ssl_certificate",
        "dhcp_exhaustion",
        "switch_port_poe",
    } <= {f.id for f in LIBRARY}


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.id)
def test_every_walk_ends_in_a_resolution_or_an_escalation(flow: Flow) -> None:
    found = walks(flow)
    assert found
    for walk in found:
        assert walk.steps[0][0] == flow.start
        last_id, what = walk.steps[-1]
        last = flow.nodes[last_id]
        if walk.end == "resolved":
            assert isinstance(last, FixNode) and what == "worked"
        else:
            assert isinstance(last, EscalateNode) or (
                isinstance(last, FixNode) and last.on_fail is None and what == "did not work"
            )


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.id)
def test_walks_cover_every_node_option_and_fix_outcome(flow: Flow) -> None:
    found = walks(flow)
    taken = {step for walk in found for step in walk.steps}
    visited = {node_id for node_id, _ in taken}
    assert visited == set(flow.nodes), f"unreachable: {set(flow.nodes) - visited}"
    for node in flow.nodes.values():
        if isinstance(node, QuestionNode):
            missing = [label for label in node.options if (node.id, label) not in taken]
            assert not missing, (node.id, missing)
        if isinstance(node, FixNode):
            assert {(node.id, "worked"), (node.id, "did not work")} <= taken, node.id
    ends = {walk.steps[-1][0] for walk in found}
    leaves = {n.id for n in flow.nodes.values() if isinstance(n, FixNode | EscalateNode)}
    assert leaves <= ends, f"leaves no walk ends at: {leaves - ends}"
    assert any(walk.end == "resolved" for walk in found)
    assert any(walk.end == "escalated" for walk in found)


def test_the_walker_refuses_a_loop_and_a_dangling_option() -> None:
    from bot.flows.loader import load_flow_text

    looping = """
id: loop
title: Loop
domain: other
match: [loop]
start: a
nodes:
  a:
    question: Again?
    options:
      Yes: b
      No: done
  b:
    action: Go back.
    next: a
  done:
    fix: {title: Done, steps: [one, two], rationale: r}
"""
    flow, _ = load_flow_text(looping, "loop.yaml")
    assert flow is not None
    with pytest.raises(DeadEnd, match="loops back"):
        walks(flow)
    dangling = looping.replace("next: a", "next: nowhere")
    flow, _ = load_flow_text(dangling, "dangling.yaml")
    assert flow is not None
    with pytest.raises(DeadEnd, match="missing node"):
        walks(flow)
