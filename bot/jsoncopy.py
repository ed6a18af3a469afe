"""A fast ``copy.deepcopy`` for JSON-shaped data (Block Kit, model messages)."""

from __future__ import annotations

import copy
from typing import Any

_ATOMIC = (str, int, float, bool, type(None))


def copy_json(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy`` for JSON-shaped data (same result, shared objects stay shared), fast
    on plain dicts, lists and scalars; anything else goes to ``deepcopy`` with the same memo."""
    cls = type(value)
    if cls in _ATOMIC:
        return value
    if memo is None:
        memo = {}
    if cls is dict:
        done = memo.get(id(value))
        if done is not None:
            return done
        out: dict[Any, Any] = {}
        memo[id(value)] = out
        for k, v in value.items():
            out[k if type(k) is str else copy_json(k, memo)] = (
                v if type(v) is str else copy_json(v, memo)
            )
        return out
    if cls is list:
        done = memo.get(id(value))
        if done is not None:
            return done
        items: list[Any] = []
        memo[id(value)] = items
        items.extend(v if type(v) is str else copy_json(v, memo) for v in value)
        return items
    return copy.deepcopy(value, memo)
