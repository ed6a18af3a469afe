"""An independent check of a rendered message against Slack's limits, for tests and logs.

``violations`` re-measures what ``limits.enforce_message`` promises; an empty list means
Slack will not reject the message for its size or shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import limits
from .limits import Block, block_text_size, slack_len


def iter_texts(node: Any) -> Iterator[str]:
    """Every string shown to a person in ``node`` (text objects, at any depth)."""
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text", "markdown") and isinstance(
                node.get("text"), str):
            yield node["text"]
            return
        for value in node.values():
            yield from iter_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from iter_texts(value)


def iter_elements(blocks: list[Block]) -> Iterator[dict[str, Any]]:
    """Every interactive element (buttons, selects, inputs) of ``blocks``."""
    for b in blocks:
        if b.get("type") in ("actions", "context_actions"):
            yield from b.get("elements", [])
        if isinstance(b.get("accessory"), dict):
            yield b["accessory"]
        if isinstance(b.get("element"), dict):
            yield b["element"]


def _too_long(problems: list[str], where: str, value: Any, limit: int) -> None:
    if isinstance(value, str) and slack_len(value) > limit:
        problems.append(f"{where}: {slack_len(value)} > {limit}")


def violations(
    blocks: list[Block],
    text: str | None = None,
    *,
    max_blocks: int = limits.MAX_BLOCKS,
    max_chars: int | None = limits.TOTAL_BLOCK_TEXT,
) -> list[str]:
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"{len(blocks)} blocks > {max_blocks}")
    if max_chars is not None and block_text_size(blocks) > max_chars:
        problems.append(f"block text {block_text_size(blocks)} > {max_chars}")
    if text is not None and not text.strip():
        problems.append("empty fallback text")
    if text is not None:
        _too_long(problems, "fallback text", text, limits.MESSAGE_TEXT)
    block_ids: set[str] = set()
    for n, b in enumerate(blocks):
        where = f"block {n} ({b.get('type')})"
        bid = b.get("block_id")
        if bid is not None:
            _too_long(problems, f"{where} block_id", bid, limits.BLOCK_ID)
            if bid in block_ids:
                problems.append(f"{where}: duplicate block_id {bid}")
            block_ids.add(bid)
        if b.get("type") == "section":
            _too_long(problems, where, (b.get("text") or {}).get("text"), limits.SECTION_TEXT)
        if b.get("type") == "header":
            _too_long(problems, where, b["text"]["text"], limits.HEADER_TEXT)
        if b.get("type") == "markdown":
            _too_long(problems, where, b.get("text"), limits.MARKDOWN_TEXT)
        if b.get("type") == "context_actions":
            if not 1 <= len(b.get("elements", [])) <= limits.CONTEXT_ACTIONS_ELEMENTS:
                problems.append(f"{where}: {len(b.get('elements', []))} elements")
            for el in b.get("elements", []):
                for side in ("positive_button", "negative_button"):
                    button = el.get(side) or {}
                    _too_long(problems, f"{where} {side}",
                              (button.get("text") or {}).get("text"), limits.BUTTON_TEXT)
                    _too_long(problems, f"{where} {side} value", button.get("value"),
                              limits.BUTTON_VALUE)
        if b.get("type") == "context" and len(b.get("elements", [])) > limits.CONTEXT_ELEMENTS:
            problems.append(f"{where}: {len(b['elements'])} elements")
        if b.get("type") == "actions":
            elements = b.get("elements", [])
            if len(elements) > limits.ACTIONS_ELEMENTS:
                problems.append(f"{where}: {len(elements)} elements")
            action_ids = [e.get("action_id") for e in elements]
            if len(set(action_ids)) != len(action_ids):
                problems.append(f"{where}: duplicate action_id")
    for el in iter_elements(blocks):
        if el.get("type") == "button":
            _too_long(problems, "button text", el["text"]["text"], limits.BUTTON_TEXT)
        _too_long(problems, "value", el.get("value"), limits.BUTTON_VALUE)
        _too_long(problems, "action_id", el.get("action_id"), limits.ACTION_ID)
    return problems
