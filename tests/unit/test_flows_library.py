"""The built-in flow library: loads clean, passes the checker, and every walk ends well."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.flows import all_paths, check_flow, check_paths, load_library
from bot.flows.model import ActionNode, EscalateNode, FixNode, Flow, QuestionNode

TOPICS = {
    "password-reset",
    "account-lockout",
    "mfa",
    "outlook",
    "mail-delivery",
    "teams-onedrive-sharepoint",
    "vpn",
    "internet-outage",
    "dns",
    "printer",
    "slow-pc",
    "office-activation",
    "phishing-compromise",
    "backup-failure",
    "file-share-rdp",
}
LIBRARY = load_library()
FLOWS = sorted(LIBRARY, key=lambda f: f.id)


def test_library_loads_with_no_problems() -> None:
    assert LIBRARY.problems == []
    assert {f.id for f in LIBRARY} >= TOPICS
    assert all(f.builtin and f.source == f"builtin:{f.id}.yaml" for f in LIBRARY)


def test_checker_passes_on_the_library_by_default_and_by_path() -> None:
    assert check_paths() == []
    library_dir = Path(__file__).resolve().parents[2] / "bot" / "flows" / "library"
    assert check_paths([library_dir]) == []


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.id)
def test_every_path_from_start_ends_in_a_fix_or_an_escalation(flow: Flow) -> None:
    paths = all_paths(flow)
    assert paths
    for path in paths:
        assert path[0] == flow.start
        assert isinstance(flow.nodes[path[-1]], FixNode | EscalateNode), path
    walked = {node_id for path in paths for node_id in path}
    assert walked == set(flow.nodes), "every node is on some path"


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.id)
def test_flow_follows_the_house_rules(flow: Flow) -> None:
    assert check_flow(flow, strict=True) == []
    assert 8 <= len(flow.nodes) <= 24
    assert 10 <= len(flow.match) <= 20
    start = flow.nodes[flow.start]
    assert isinstance(start, QuestionNode | ActionNode) and start.kind == "check"
    for node in flow.nodes.values():
        if isinstance(node, QuestionNode):
            assert node.kind in ("check", "change")
            assert node.fact and "{answer}" in node.fact, f"{node.id} records no fact"
            assert len(node.options) >= 2
            assert all(len(label) <= 75 for label in node.options)  # Slack button text
        elif isinstance(node, ActionNode):
            assert node.kind in ("check", "change")
        elif isinstance(node, FixNode):
            assert len(node.steps) >= 2 and node.rationale and node.verify
            assert node.risk in ("low", "medium", "high")
        else:
            assert isinstance(node, EscalateNode) and node.reason and node.to


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.id)
def test_every_path_checks_before_it_changes(flow: Flow) -> None:
    for path in all_paths(flow):
        first = flow.nodes[path[0]]
        assert getattr(first, "kind", None) == "check"


@pytest.mark.parametrize("flow_id", ["password-reset", "account-lockout", "mfa"])
def test_identity_flows_verify_the_caller_first(flow_id: str) -> None:
    flow = LIBRARY.flows[flow_id]
    start = flow.nodes[flow.start]
    assert isinstance(start, QuestionNode) and "verif" in start.question.lower()
    targets = [flow.nodes[t] for t in start.options.values()]
    assert any(isinstance(t, EscalateNode) and t.to == "security" for t in targets)


def test_phishing_reaches_a_security_escalation_fast() -> None:
    flow = LIBRARY.flows["phishing-compromise"]
    to_security = [
        p
        for p in all_paths(flow)
        if isinstance(flow.nodes[p[-1]], EscalateNode) and flow.nodes[p[-1]].to == "security"  # type: ignore[union-attr]
    ]
    assert to_security
    assert min(len(p) for p in to_security) <= 3


def test_every_fix_that_fails_moves_on_or_escalates() -> None:
    for flow in FLOWS:
        for node in flow.nodes.values():
            if isinstance(node, FixNode) and node.on_fail is not None:
                assert node.on_fail in flow.nodes


def test_outline_names_every_node() -> None:
    flow = LIBRARY.flows["vpn"]
    text = flow.outline()
    assert all(node_id in text for node_id in flow.nodes)
