"""Read flow files into ``Flow`` objects, and assemble the library a session matches against.

Nothing here raises on a bad file: every problem becomes a ``FlowProblem`` (file:line) and the
file is skipped, so a malformed flow can never take the bot down.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from bot.flows.check import check_flow
from bot.flows.model import (
    ActionNode,
    EscalateNode,
    FixNode,
    Flow,
    FlowLibrary,
    FlowProblem,
    Node,
    QuestionNode,
    StepKind,
)
from bot.flows.yamlnodes import LList, LMap, YamlShapeError, parse

MAX_FILE_BYTES = 512 * 1024
FLOW_SUFFIXES = (".yaml", ".yml")
_NODE_TYPES = ("question", "action", "fix", "escalate")


class _Bad(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_flow_text(text: str, source: str) -> tuple[Flow | None, list[FlowProblem]]:
    """Parse one flow. Returns the flow (None when it could not be built) and its problems.

    Shape problems (missing keys, wrong types) come from here; graph problems (dangling ids,
    unreachable nodes, cycles) come from ``check_flow``, run by the callers that need them.
    """
    try:
        root = parse(text)
    except YamlShapeError as exc:
        return None, [FlowProblem(source, exc.line, exc.message)]
    problems: list[FlowProblem] = []
    if not isinstance(root, LMap):
        line = getattr(root, "line", 1)
        return None, [FlowProblem(source, line, "a flow file must be a mapping (id, title, ...)")]
    try:
        header = _header(root)
    except _Bad as exc:
        return None, [FlowProblem(source, exc.line, exc.message)]
    nodes: dict[str, Node] = {}
    raw_nodes = root.get("nodes")
    if not isinstance(raw_nodes, LMap) or not raw_nodes.items:
        line = root.line_of("nodes")
        return None, [FlowProblem(source, line, "'nodes' must be a non-empty mapping")]
    for node_id, raw in raw_nodes.items.items():
        try:
            nodes[node_id] = _node(node_id, raw, raw_nodes.line_of(node_id))
        except _Bad as exc:
            problems.append(FlowProblem(source, exc.line, exc.message))
    if problems:
        return None, problems
    flow = Flow(nodes=nodes, source=source, **header)
    return flow, []


def load_flow_file(path: str | Path) -> tuple[Flow | None, list[FlowProblem]]:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            return None, [FlowProblem(str(p), 1, f"file larger than {MAX_FILE_BYTES} bytes")]
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [FlowProblem(str(p), 1, f"cannot read file: {exc}")]
    return load_flow_text(text, str(p))


def load_and_check(
    text: str, source: str, *, strict: bool | None = None
) -> tuple[Flow | None, list[FlowProblem]]:
    """Parse and run every check; the flow is returned only when it has no problems at all."""
    flow, problems = load_flow_text(text, source)
    if flow is None:
        return None, problems
    problems = check_flow(flow, strict=strict)
    return (None if problems else flow), problems


def builtin_sources() -> list[tuple[str, str]]:
    """(source name, text) of every flow shipped in ``bot/flows/library``, sorted by name."""
    folder = resources.files("bot.flows") / "library"
    out = []
    for entry in folder.iterdir():
        if entry.is_file() and entry.name.endswith(FLOW_SUFFIXES):
            out.append((f"builtin:{entry.name}", entry.read_text(encoding="utf-8")))
    return sorted(out)


def builtin_dir() -> Path | None:
    """The built-in library as a directory on disk, when the package is installed as files."""
    folder = Path(str(resources.files("bot.flows") / "library"))
    return folder.resolve() if folder.is_dir() else None


def flow_files(path: str | Path) -> list[Path]:
    """The flow files at ``path``: the file itself, or a directory's *.yaml / *.yml files."""
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.is_file() and f.suffix in FLOW_SUFFIXES)
    return [p]


def load_library(
    extra_dirs: Iterable[str | Path] = (), overrides: Iterable[Flow] = ()
) -> FlowLibrary:
    """Built-in flows, then flows from ``extra_dirs`` (same id replaces), then ``overrides``.

    Bad files are recorded on ``library.problems`` and skipped; this never raises.
    """
    library = FlowLibrary()
    _add_batch(library, [(src, text) for src, text in builtin_sources()])
    for directory in extra_dirs:
        d = Path(directory)
        if not d.is_dir():
            library.problems.append(FlowProblem(str(d), 0, "flows directory not found"))
            continue
        batch: list[tuple[str, str]] = []
        for f in flow_files(d):
            try:
                if f.stat().st_size > MAX_FILE_BYTES:
                    library.problems.append(FlowProblem(str(f), 1, "file too large"))
                    continue
                batch.append((str(f), f.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                library.problems.append(FlowProblem(str(f), 1, f"cannot read file: {exc}"))
        _add_batch(library, batch)
    for flow in overrides:
        problems = check_flow(flow)
        if problems:
            library.problems.extend(problems)
        else:
            library.flows[flow.id] = flow
    return library


def _add_batch(library: FlowLibrary, batch: list[tuple[str, str]]) -> None:
    seen: dict[str, str] = {}
    for source, text in batch:
        flow, problems = load_and_check(text, source)
        library.problems.extend(problems)
        if flow is None:
            continue
        if flow.id in seen:
            library.problems.append(
                FlowProblem(
                    source, flow.line, f"flow id '{flow.id}' is also used by {seen[flow.id]}"
                )
            )
            continue
        seen[flow.id] = source
        library.flows[flow.id] = flow


# --- shape ------------------------------------------------------------------------------


def _header(root: LMap) -> dict[str, Any]:
    known = {
        "id",
        "title",
        "domain",
        "match",
        "keywords",
        "start",
        "nodes",
        "description",
        "version",
    }
    for key in root.items:
        if key not in known:
            raise _Bad(
                root.line_of(key),
                f"unknown key '{key}' (expected one of {', '.join(sorted(known))})",
            )
    return {
        "id": _text(root, "id"),
        "title": _text(root, "title"),
        "domain": _text(root, "domain"),
        "match": _texts(root, "match", required=True),
        "keywords": _texts(root, "keywords", required=False),
        "start": _text(root, "start"),
        "line": root.line,
        "start_line": root.line_of("start"),
    }


def _node(node_id: str, raw: Any, line: int) -> Node:
    if not isinstance(raw, LMap):
        raise _Bad(
            line, f"node '{node_id}' must be a mapping with question, action, fix or escalate"
        )
    types = [t for t in _NODE_TYPES if t in raw.items]
    if len(types) != 1:
        what = "more than one of" if types else "neither"
        raise _Bad(line, f"node '{node_id}' has {what} question, action, fix, escalate")
    allowed = {
        "question": {"question", "options", "kind", "fact", "help"},
        "action": {"action", "next", "kind", "command", "risk", "fact", "help"},
        "fix": {"fix", "on_fail", "kind"},
        "escalate": {"escalate", "kind"},
    }[types[0]]
    for key in raw.items:
        if key not in allowed:
            raise _Bad(
                raw.line_of(key), f"node '{node_id}': unknown key '{key}' for a {types[0]} node"
            )
    kind = _kind(raw)
    if types[0] == "question":
        options = raw.get("options")
        if not isinstance(options, LMap) or not options.items:
            raise _Bad(
                raw.line_of("options"),
                f"node '{node_id}': 'options' must map each label to a node id",
            )
        for label, nxt in options.items.items():
            if not isinstance(nxt, str) or not nxt.strip():
                raise _Bad(
                    options.line_of(label),
                    f"node '{node_id}': option '{label}' must name a node id",
                )
        return QuestionNode(
            id=node_id,
            question=_text(raw, "question"),
            options=dict(options.items),
            kind=kind,
            fact=_opt_text(raw, "fact"),
            help=_opt_text(raw, "help"),
            line=line,
            option_lines=dict(options.key_lines),
        )
    if types[0] == "action":
        return ActionNode(
            id=node_id,
            action=_text(raw, "action"),
            next=_text(raw, "next"),
            kind=kind,
            command=_opt_text(raw, "command"),
            risk=_risk(raw),
            fact=_opt_text(raw, "fact"),
            help=_opt_text(raw, "help"),
            line=line,
            next_line=raw.line_of("next"),
        )
    if types[0] == "fix":
        fix = raw.get("fix")
        if not isinstance(fix, LMap):
            raise _Bad(
                raw.line_of("fix"),
                f"node '{node_id}': 'fix' must be a mapping with title and steps",
            )
        for key in fix.items:
            if key not in {"title", "steps", "rationale", "verify", "risk"}:
                raise _Bad(fix.line_of(key), f"node '{node_id}': unknown key '{key}' in fix")
        return FixNode(
            id=node_id,
            title=_text(fix, "title"),
            steps=_texts(fix, "steps", required=True),
            rationale=_opt_text(fix, "rationale") or "",
            verify=_opt_text(fix, "verify") or "",
            risk=_risk(fix),
            on_fail=_opt_text(raw, "on_fail"),
            line=line,
            on_fail_line=raw.line_of("on_fail"),
        )
    esc = raw.get("escalate")
    if isinstance(esc, str) and esc.strip():
        return EscalateNode(id=node_id, reason=esc.strip(), line=line)
    if not isinstance(esc, LMap):
        raise _Bad(raw.line_of("escalate"), f"node '{node_id}': 'escalate' needs a reason")
    for key in esc.items:
        if key not in {"reason", "to", "summary"}:
            raise _Bad(esc.line_of(key), f"node '{node_id}': unknown key '{key}' in escalate")
    return EscalateNode(
        id=node_id,
        reason=_text(esc, "reason"),
        to=_opt_text(esc, "to") or "tier3",
        summary=_opt_text(esc, "summary") or "",
        line=line,
    )


def _text(m: LMap, key: str) -> str:
    value = m.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _Bad(m.line_of(key), f"'{key}' is required and must be text")
    return value.strip()


def _opt_text(m: LMap, key: str) -> str | None:
    if key not in m.items or m.get(key) is None:
        return None
    return _text(m, key)


def _texts(m: LMap, key: str, *, required: bool) -> list[str]:
    value = m.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, LList) or (required and not value.items):
        raise _Bad(m.line_of(key), f"'{key}' must be a non-empty list of text")
    out = []
    for item, line in zip(value.items, value.lines, strict=True):
        if not isinstance(item, str) or not item.strip():
            raise _Bad(line, f"every item of '{key}' must be text")
        out.append(item.strip())
    return out


def _kind(m: LMap) -> StepKind | None:
    value = _opt_text(m, "kind")
    if value is None:
        return None
    if value == "check":
        return "check"
    if value == "change":
        return "change"
    raise _Bad(m.line_of("kind"), f"'kind' must be check or change, not '{value}'")


def _risk(m: LMap) -> str:
    value = _opt_text(m, "risk") or "low"
    if value not in ("low", "medium", "high"):
        raise _Bad(m.line_of("risk"), f"'risk' must be low, medium or high, not '{value}'")
    return value
