"""The task lane: open questions and actions, stored as plain JSON dicts.

A lane is ``{"questions": [...], "actions": [...]}``; either key may be missing.
Functions never change the dicts they are given; they return new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .errors import DomainRuleError
from .timekeeping import require_aware
from .vocabulary import RISKS

QUESTION = "question"
ACTION = "action"

OPEN = "open"
ANSWERED = "answered"
DONE = "done"
SKIPPED = "skipped"
ITEM_STATUSES: tuple[str, ...] = (OPEN, ANSWERED, DONE, SKIPPED)

CHECK = "check"
CHANGE = "change"
STEP_KINDS: tuple[str, ...] = (CHECK, CHANGE)


Item = dict[str, Any]
Lane = dict[str, list[Item]]


def normalize_risk(risk: object) -> str:
    """low / medium / high; anything else is treated as high, the careful reading."""
    text = str(risk).strip().lower() if risk is not None else ""
    return text if text in RISKS else "high"


def _step_kind(kind: str) -> str:
    if kind not in STEP_KINDS:
        raise DomainRuleError(f"'{kind}' is not a kind of step; expected check or change.")
    return kind


def _item(kind: str, text: str, *, id: str, node_id: str | None, step_kind: str) -> Item:
    if not text or not text.strip():
        raise DomainRuleError(f"A {kind} needs some text.")
    return {
        "id": id,
        "kind": kind,
        "text": text,
        "options": [],
        "command": None,
        "risk": None,
        "status": OPEN,
        "answer": None,
        "decided_by": None,
        "decided_at": None,
        "node_id": node_id,
        "step_kind": _step_kind(step_kind),
        "message_ts": None,
    }


def new_question(
    text: str,
    options: Iterable[str] = (),
    *,
    id: str,
    node_id: str | None = None,
    kind: str = CHECK,
) -> Item:
    item = _item(QUESTION, text, id=id, node_id=node_id, step_kind=kind)
    item["options"] = [str(o) for o in options]
    return item


def new_action(
    text: str,
    command: str | None,
    risk: str | None,
    *,
    id: str,
    node_id: str | None = None,
    kind: str = CHECK,
) -> Item:
    item = _item(ACTION, text, id=id, node_id=node_id, step_kind=kind)
    item["command"] = command or None
    item["risk"] = normalize_risk(risk)
    return item


def _status(item: Mapping[str, Any]) -> str:
    return str(item.get("status") or OPEN)


def answer_question(item: Mapping[str, Any], option: str, by: str, now: datetime) -> Item:
    """The question answered with ``option``; refuses non-questions, repeats and bad options."""
    if item.get("kind") != QUESTION:
        raise DomainRuleError("That item is an action, not a question; it can't be answered.")
    if _status(item) != OPEN:
        raise DomainRuleError(f"That question was already answered ({item.get('answer')}).")
    options: Sequence[str] = item.get("options") or []
    if not option or not str(option).strip():
        raise DomainRuleError("An answer can't be empty.")
    if options and option not in options:
        raise DomainRuleError(
            f"'{option}' is not one of the answers offered ({', '.join(options)})."
        )
    return {
        **item,
        "status": ANSWERED,
        "answer": option,
        "decided_by": by,
        "decided_at": require_aware(now).isoformat(),
    }


def complete_action(item: Mapping[str, Any], done: bool, by: str, now: datetime) -> Item:
    """The action marked done (``done=True``) or skipped; refuses questions and repeats."""
    if item.get("kind") != ACTION:
        raise DomainRuleError("That item is a question, not an action; answer it instead.")
    if _status(item) != OPEN:
        raise DomainRuleError(f"That action was already marked {_status(item)}.")
    return {
        **item,
        "status": DONE if done else SKIPPED,
        "decided_by": by,
        "decided_at": require_aware(now).isoformat(),
    }


def all_items(lane: Mapping[str, Any] | None) -> list[Item]:
    """Questions first, then actions, in lane order."""
    if not lane:
        return []
    return [*(lane.get("questions") or []), *(lane.get("actions") or [])]


def open_items(lane: Mapping[str, Any] | None) -> list[Item]:
    return [item for item in all_items(lane) if _status(item) == OPEN]


def find_item(lane: Mapping[str, Any] | None, item_id: str) -> Item | None:
    return next((item for item in all_items(lane) if item.get("id") == item_id), None)


def with_item(lane: Mapping[str, Any] | None, item: Mapping[str, Any]) -> Lane:
    """A new lane with the item of the same id replaced; refuses an id not in the lane."""
    if find_item(lane, str(item.get("id"))) is None:
        raise DomainRuleError("That item is no longer in this session's task lane.")
    lane = lane or {}
    return {
        key: [dict(item) if old.get("id") == item.get("id") else old for old in lane.get(key) or []]
        for key in ("questions", "actions")
    }
