"""Graph checks on flows: what ``flowpilot flows check`` reports, each problem as file:line."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

from bot.domain.vocabulary import DOMAINS
from bot.flows.model import (
    ESCALATION_TEAMS,
    LEAF_TYPES,
    ActionNode,
    EscalateNode,
    FixNode,
    Flow,
    FlowProblem,
    Node,
    QuestionNode,
)

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
MAX_PATHS = 20_000
Report = Callable[[int, str], None]


def check_flow(flow: Flow, *, strict: bool | None = None) -> list[FlowProblem]:
    """Every problem of one parsed flow. ``strict`` (default: built-ins) also requires the
    library's house rules: ``kind`` on every question and action, ``verify`` and ``rationale``
    on every fix, a known escalation team."""
    strict = flow.builtin if strict is None else strict
    out: list[FlowProblem] = []

    def bad(line: int, message: str) -> None:
        out.append(FlowProblem(flow.source, line, message))

    if not _ID.match(flow.id):
        bad(flow.line, f"flow id '{flow.id}' must be lowercase letters, digits, '-', '_' or '.'")
    if flow.domain not in DOMAINS:
        bad(flow.line, f"domain '{flow.domain}' is not one of {', '.join(DOMAINS)}")
    if flow.start not in flow.nodes:
        bad(flow.start_line, f"start node '{flow.start}' does not exist")
    for node in flow.nodes.values():
        _check_node(node, flow, strict, bad)
    if not any(isinstance(n, LEAF_TYPES) for n in flow.nodes.values()):
        bad(flow.line, "the flow has no fix or escalate node: it can never end")
    if flow.start not in flow.nodes:
        return sorted(out, key=lambda p: p.line)
    reachable = _reachable(flow)
    for node in flow.nodes.values():
        if node.id not in reachable:
            bad(node.line, f"node '{node.id}' is unreachable from start '{flow.start}'")
    ending = _can_end(flow)
    for node in flow.nodes.values():
        if node.id in reachable and node.id not in ending and _targets_exist(node, flow):
            loop = _find_loop(flow, node.id, ending)
            where = f" (cycle {' -> '.join(loop)})" if loop else ""
            bad(
                node.line,
                f"node '{node.id}' never reaches a fix or escalate: cycle without an exit{where}",
            )
    return sorted(out, key=lambda p: p.line)


def _check_node(node: object, flow: Flow, strict: bool, bad: Report) -> None:
    if isinstance(node, QuestionNode):
        if len(node.options) < 2:
            bad(node.line, f"question '{node.id}' needs at least two options")
        for label, target in node.options.items():
            if target not in flow.nodes:
                line = node.option_lines.get(label, node.line)
                bad(line, f"option '{label}' of '{node.id}' goes to unknown node '{target}'")
        _check_template(node.fact, node.id, node.line, bad)
    elif isinstance(node, ActionNode):
        if node.next not in flow.nodes:
            bad(node.next_line, f"action '{node.id}' goes to unknown node '{node.next}'")
        if node.next == node.id:
            bad(node.next_line, f"action '{node.id}' leads to itself")
        _check_template(node.fact, node.id, node.line, bad)
    elif isinstance(node, FixNode):
        if node.on_fail is not None and node.on_fail not in flow.nodes:
            bad(node.on_fail_line, f"on_fail of '{node.id}' goes to unknown node '{node.on_fail}'")
        if node.on_fail == node.id:
            bad(node.on_fail_line, f"on_fail of '{node.id}' leads to itself")
        if strict and (not node.verify or not node.rationale):
            bad(node.line, f"fix '{node.id}' needs a rationale and a verify step")
    elif isinstance(node, EscalateNode) and strict and node.to not in ESCALATION_TEAMS:
        bad(node.line, f"escalate '{node.id}': 'to' must be one of {', '.join(ESCALATION_TEAMS)}")
    if strict and isinstance(node, QuestionNode | ActionNode) and node.kind is None:
        bad(node.line, f"'{node.id}' needs 'kind: check' or 'kind: change'")


def _check_template(template: str | None, node_id: str, line: int, bad: Report) -> None:
    for name in _PLACEHOLDER.findall(template or ""):
        if name != "answer":
            bad(line, f"fact of '{node_id}' uses '{{{name}}}'; only '{{answer}}' is filled in")


def _successors(flow: Flow, node_id: str) -> list[str]:
    node = flow.nodes.get(node_id)
    return [s for s in node.successors() if s in flow.nodes] if node else []


def _targets_exist(node: Node, flow: Flow) -> bool:
    return all(s in flow.nodes for s in node.successors())


def _reachable(flow: Flow) -> set[str]:
    seen = {flow.start}
    queue = deque([flow.start])
    while queue:
        for nxt in _successors(flow, queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _can_end(flow: Flow) -> set[str]:
    """Nodes from which some choice of answers reaches a fix or escalate leaf."""
    preds: dict[str, set[str]] = {nid: set() for nid in flow.nodes}
    for nid in flow.nodes:
        for nxt in _successors(flow, nid):
            preds[nxt].add(nid)
    done = {nid for nid, n in flow.nodes.items() if isinstance(n, LEAF_TYPES)}
    queue = deque(done)
    while queue:
        for p in preds[queue.popleft()]:
            if p not in done:
                done.add(p)
                queue.append(p)
    return done


def _find_loop(flow: Flow, start: str, ending: set[str]) -> list[str]:
    path: list[str] = []
    on_path: set[str] = set()
    visited: set[str] = set()

    def dfs(nid: str) -> list[str]:
        path.append(nid)
        on_path.add(nid)
        visited.add(nid)
        for nxt in _successors(flow, nid):
            if nxt in ending:
                continue
            if nxt in on_path:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in visited and (found := dfs(nxt)):
                return found
        path.pop()
        on_path.discard(nid)
        return []

    return dfs(start)


def all_paths(flow: Flow, *, limit: int = MAX_PATHS) -> list[list[str]]:
    """Every walk from start, as node ids. A walk ends at a fix or escalate node (a fix with
    ``on_fail`` also continues), or where it could only go back to a node already walked
    (a cycle counts once) or to a missing node; such walks end on a non-leaf node."""
    paths: list[list[str]] = []
    if flow.start not in flow.nodes:
        return [[flow.start]]

    def walk(path: list[str]) -> None:
        if len(paths) >= limit:
            return
        node = flow.nodes[path[-1]]
        if isinstance(node, LEAF_TYPES):
            paths.append(list(path))
        onward = [s for s in node.successors() if s not in path]
        if not isinstance(node, LEAF_TYPES) and not onward:
            paths.append(list(path))
        for nxt in onward:
            if nxt not in flow.nodes:
                paths.append([*path, nxt])
            else:
                walk([*path, nxt])

    walk([flow.start])
    return paths


def check_paths(
    paths: Iterable[str | Path] = (), *, strict: bool | None = None
) -> list[FlowProblem]:
    """Check flow files (files or directories of *.yaml). No paths: the built-in library.

    Flows in the built-in library are always checked strictly; ids must be unique across
    everything checked together.
    """
    from bot.flows.loader import builtin_dir, builtin_sources, flow_files, load_and_check

    sources: list[tuple[str, str, bool | None]] = []  # (name, text, strict)
    problems: list[FlowProblem] = []
    given = list(paths)
    if not given:
        sources = [(name, text, True) for name, text in builtin_sources()]
    for p in given:
        path = Path(p)
        if not path.exists():
            problems.append(FlowProblem(str(path), 0, "no such file or directory"))
            continue
        files = flow_files(path)
        library_dir = builtin_dir()
        in_library = library_dir is not None and path.resolve().is_relative_to(library_dir)
        if path.is_dir() and not files:
            problems.append(FlowProblem(str(path), 0, "no *.yaml or *.yml flow files here"))
        for f in files:
            try:
                text = f.read_text(encoding="utf-8")
                sources.append((str(f), text, True if in_library else strict))
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(FlowProblem(str(f), 1, f"cannot read file: {exc}"))
    seen: dict[str, str] = {}
    for name, text, strict_here in sources:
        flow, found = load_and_check(text, name, strict=strict_here)
        problems.extend(found)
        if flow is not None:
            if flow.id in seen:
                problems.append(
                    FlowProblem(
                        name, flow.line, f"flow id '{flow.id}' is also used by {seen[flow.id]}"
                    )
                )
            seen.setdefault(flow.id, name)
    return problems
