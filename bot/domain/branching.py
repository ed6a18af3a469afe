"""Branching a session (issue 18): the paths of a session, and what one of them tried.

A *snapshot* is the working state a session had right after one of its turns, stored on that
turn's step: ``{"facts": {fact id: active}, "fixes": {fix id: decision}, "lane": lane,
"engine_state": …, "messages": n, …}``. Forking at a turn puts that snapshot back. What a
path tried is the difference between the snapshot it started from and where it ended.
Pure: plain dicts in, plain values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SUMMARY_MAX = 300
NAME_PREFIX = "Path"

_OUTCOMES = {"worked": "worked", "failed": "didn't work", "rejected": "not applicable",
             "trying": "being tried", "superseded": "superseded"}


def path_name(order: int) -> str:
    """``Path 1`` for the original line of investigation, ``Path 2`` for the first fork…"""
    return f"{NAME_PREFIX} {order + 1}"


def _short(text: object, limit: int = 60) -> str:
    line = " ".join(str(text or "").split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _items(lane: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    lane = lane or {}
    out: dict[str, Mapping[str, Any]] = {}
    for key in ("questions", "actions"):
        for item in lane.get(key) or []:
            if isinstance(item, Mapping) and item.get("id"):
                out[str(item["id"])] = item
    return out


def tried_since(base: Mapping[str, Any] | None, lane: Mapping[str, Any] | None,
                fixes: Iterable[tuple[str, str, str]]) -> tuple[list[str], list[str]]:
    """What was done on a path after ``base`` (a snapshot, or None for the very start):
    (answers and actions, "fix — outcome" lines). ``fixes``: (id, title, decision) of the
    path's fixes now."""
    base = base or {}
    before = _items(base.get("lane"))
    done: list[str] = []
    for item_id, item in _items(lane).items():
        status = str(item.get("status") or "open")
        if status == "open":
            continue
        old = before.get(item_id)
        if old is not None and str(old.get("status") or "open") == status:
            continue  # already so at the fork
        if item.get("kind") == "question":
            done.append(f"“{_short(item.get('text'))}” → {_short(item.get('answer'))}")
        else:
            verb = "did" if status == "done" else "skipped"
            done.append(f"{verb} “{_short(item.get('text'))}”")
    decided_before = {str(k): str(v) for k, v in (base.get("fixes") or {}).items()}
    fix_lines = []
    for fix_id, title, decision in fixes:
        if decision in ("pending", "superseded") or decided_before.get(fix_id) == decision:
            continue
        fix_lines.append(f"fix “{_short(title)}” {_OUTCOMES.get(decision, decision)}")
    return done, fix_lines


def summarise(name: str, start: str, done: list[str], fixes: list[str], *,
              turns: int = 0, last: str = "") -> str:
    """One line: which path, where it started, what it tried and how that ended. ``turns``:
    the path's own model turns; ``last``: the latest of them (its first sentence is kept)."""
    head = f"{name}{f' ({start})' if start else ''}"
    ended = ""
    if turns and last.strip():
        sentence = " ".join(last.split()).split(". ")[0].rstrip(".")
        ended = f"; last said: “{_short(sentence, 100)}”"
    if not done and not fixes:
        if not turns:
            return f"{head}: nothing tried yet."
        line = f"{head}: {turns} turn{'s' if turns != 1 else ''}, nothing answered or decided{ended}."
        return line if len(line) <= SUMMARY_MAX else line[: SUMMARY_MAX - 1].rstrip() + "…"
    worked = any(line.endswith(" worked") for line in fixes)
    parts = []
    if done:
        parts.append("; ".join(done))
    if fixes:
        parts.append("; ".join(fixes))
    outcome = "" if worked or fixes else " — left open"
    line = f"{head}: {'; '.join(parts)}{outcome}{ended}."
    if len(line) > SUMMARY_MAX:
        line = line[: SUMMARY_MAX - 1].rstrip() + "…"
    return line


def lineage(branches: Mapping[str, tuple[str | None, int | None]], active: str) -> dict[str, float]:
    """The steps visible on ``active``: branch id -> the last step order of that branch on
    this path (``inf`` for the active branch itself). ``branches``: id -> (parent id, the
    step order of the fork point the branch started from)."""
    out: dict[str, float] = {active: float("inf")}
    current = active
    while True:
        parent, fork_order = branches.get(current, (None, None))
        if parent is None or parent in out:
            return out
        # A fork taken further up than the child's own fork point cuts the parent there too.
        out[parent] = min(float(fork_order if fork_order is not None else -1), out[current])
        current = parent


def on_path(visible: Mapping[str, float], branch_id: str | None, step_order: int,
            root: str | None) -> bool:
    """Whether a step lies on the path ``visible`` describes (NULL branch = the root path)."""
    key = branch_id or root
    if key is None:
        return True
    limit = visible.get(key)
    return limit is not None and step_order <= limit
