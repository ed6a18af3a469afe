"""Slack's Block Kit limits and the final guard that enforces them on a whole message.

Every limit is enforced here so Slack never rejects a message we build. Lengths are measured
the way Slack's JavaScript does (UTF-16 code units, see ``text``). ``truncate`` and
``split_text`` live in ``text`` and are re-exported here.
"""

from __future__ import annotations

from typing import Any

from bot.jsoncopy import copy_json

from .text import cut_index, slack_len, split_text, truncate

__all__ = ["enforce_blocks", "enforce_message", "slack_len", "split_text", "truncate"]

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 3000
ACTIONS_ELEMENTS = 25
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
BUTTON_URL = 3000
ACTION_ID = 255
BLOCK_ID = 255
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
SELECT_OPTIONS = 100
OPTION_TEXT = 75
OPTION_VALUE = 150
INPUT_LABEL = 2000
INPUT_HINT = 2000
PLACEHOLDER = 150
INPUT_MAX_LENGTH = 3000
MESSAGE_TEXT = 3000
TOTAL_BLOCK_TEXT = 12_000
# Block Kit's markdown block: "Limit 12,000 characters max"
# (docs.slack.dev/reference/block-kit/blocks/markdown-block); all of a message's markdown
# text counts toward TOTAL_BLOCK_TEXT here as well.
MARKDOWN_TEXT = 12_000
# context_actions holds at most 5 elements; a feedback button's text at most 75 characters
# (docs.slack.dev/reference/block-kit/blocks/context-actions-block,
# docs.slack.dev/reference/block-kit/block-elements/feedback-buttons-element).
CONTEXT_ACTIONS_ELEMENTS = 5
MODAL_TITLE = 24
PRIVATE_METADATA = 3000

# Below this a text is not shrunk further by the final guard; blocks are dropped instead.
_SHRINK_FLOOR = 300


# A markdown block is its own text object: {"type": "markdown", "text": …}.
_TEXT_TYPES = ("mrkdwn", "plain_text", "markdown")


def _walk_texts(node: Any, found: list[dict[str, Any]]) -> None:
    if isinstance(node, dict):
        if node.get("type") in _TEXT_TYPES and isinstance(node.get("text"), str):
            found.append(node)
            return
        values: Any = node.values()
    else:
        values = node
    for value in values:
        if isinstance(value, dict | list):
            _walk_texts(value, found)


def _text_objects(block: Block) -> list[dict[str, Any]]:
    """Every text object of a block (dicts with a ``type`` of mrkdwn/plain_text and ``text``)."""
    found: list[dict[str, Any]] = []
    if isinstance(block, dict | list):
        _walk_texts(block, found)
    return found


def _text_size(node: Any) -> int:
    if isinstance(node, dict):
        text = node.get("text")
        if isinstance(text, str) and node.get("type") in _TEXT_TYPES:
            return slack_len(text)
        values: Any = node.values()
    else:
        values = node
    total = 0
    for value in values:
        if isinstance(value, dict | list):
            total += _text_size(value)
    return total


def block_text_size(blocks: list[Block]) -> int:
    """Total length of every text object in ``blocks`` (what ``msg_blocks_too_long`` counts)."""
    total = 0
    for b in blocks:
        if isinstance(b, dict | list):
            total += _text_size(b)
    return total


def _cap_text(obj: Any, limit: int, *, note: bool = True) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = truncate(obj["text"], limit, note=note) or " "


def _cap_str(node: dict[str, Any], key: str, limit: int) -> None:
    if isinstance(node.get(key), str) and slack_len(node[key]) > limit:
        node[key] = node[key][: cut_index(node[key], limit)]


def _fix_option(option: dict[str, Any]) -> None:
    _cap_text(option.get("text"), OPTION_TEXT, note=False)
    _cap_str(option, "value", OPTION_VALUE)


def _fix_element(el: dict[str, Any]) -> None:
    """Clamp an interactive element (button, select, input) in place."""
    kind = el.get("type")
    _cap_text(el.get("text"), BUTTON_TEXT if kind == "button" else CONTEXT_TEXT, note=False)
    _cap_str(el, "value", BUTTON_VALUE)
    _cap_str(el, "url", BUTTON_URL)
    _cap_str(el, "action_id", ACTION_ID)
    _cap_text(el.get("placeholder"), PLACEHOLDER, note=False)
    limit = el.get("max_length", INPUT_MAX_LENGTH)
    _cap_str(el, "initial_value", limit if isinstance(limit, int) else INPUT_MAX_LENGTH)
    if isinstance(el.get("options"), list):
        el["options"] = el["options"][:SELECT_OPTIONS]
        for option in el["options"]:
            _fix_option(option)
    if isinstance(el.get("initial_option"), dict):
        _fix_option(el["initial_option"])
    for side in ("positive_button", "negative_button"):  # feedback_buttons
        if isinstance(el.get(side), dict):
            _cap_text(el[side].get("text"), BUTTON_TEXT, note=False)
            _cap_str(el[side], "value", BUTTON_VALUE)
    confirm = el.get("confirm")
    if isinstance(confirm, dict):
        _cap_text(confirm.get("title"), CONFIRM_TITLE, note=False)
        _cap_text(confirm.get("text"), CONFIRM_TEXT, note=False)


def _unique(value: str, seen: set[str], sep: str, limit: int) -> str:
    candidate, n = value, 1
    while candidate in seen:
        n += 1
        tail = f"{sep}{n}"
        candidate = value[: limit - len(tail)] + tail
    seen.add(candidate)
    return candidate


def _fix_block(block: Block) -> None:
    kind = block.get("type")
    if kind == "header":
        _cap_text(block.get("text"), HEADER_TEXT, note=False)
    elif kind == "section":
        _cap_text(block.get("text"), SECTION_TEXT)
        if isinstance(block.get("fields"), list):
            block["fields"] = block["fields"][:SECTION_FIELDS]
            for f in block["fields"]:
                _cap_text(f, FIELD_TEXT)
        if isinstance(block.get("accessory"), dict):
            _fix_element(block["accessory"])
    elif kind == "context":
        elements = block.get("elements") or []
        if len(elements) > CONTEXT_ELEMENTS:
            extra = [e.get("text", "") for e in elements[CONTEXT_ELEMENTS - 1 :]]
            merged = {"type": "mrkdwn", "text": " · ".join(t for t in extra if t) or "…"}
            elements = elements[: CONTEXT_ELEMENTS - 1] + [merged]
        for el in elements:
            _cap_text(el, CONTEXT_TEXT)
        block["elements"] = elements
    elif kind == "actions":
        block["elements"] = (block.get("elements") or [])[:ACTIONS_ELEMENTS]
        seen: set[str] = set()
        for el in block["elements"]:
            _fix_element(el)
            if isinstance(el.get("action_id"), str):
                sep = "." if ":" in el["action_id"] else ":"
                el["action_id"] = _unique(el["action_id"], seen, sep, ACTION_ID)
    elif kind == "markdown":
        _cap_text(block, MARKDOWN_TEXT)
    elif kind == "context_actions":
        block["elements"] = (block.get("elements") or [])[:CONTEXT_ACTIONS_ELEMENTS]
        for el in block["elements"]:
            _fix_element(el)
    elif kind == "input":
        _cap_text(block.get("label"), INPUT_LABEL, note=False)
        _cap_text(block.get("hint"), INPUT_HINT, note=False)
        if isinstance(block.get("element"), dict):
            _fix_element(block["element"])
    _cap_str(block, "block_id", BLOCK_ID)


def _interactive(blocks: list[Block]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for b in blocks:
        for el in [*(b.get("elements") or []), b.get("accessory"), b.get("element")]:
            if isinstance(el, dict) and isinstance(el.get("action_id"), str):
                found.append(el)
    return found


def _shrinkable(blocks: list[Block]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for b in blocks:
        if b.get("type") == "markdown" and isinstance(b.get("text"), str):
            out.append(b)
        elif b.get("type") == "section":
            out.extend(t for t in [b.get("text"), *(b.get("fields") or [])] if isinstance(t, dict))
        elif b.get("type") == "context":
            out.extend(e for e in b.get("elements", []) if e.get("type") in ("mrkdwn", "plain_text"))
    return out


def more_items_block(count: int, what: str = "items") -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"… {count:,} more {what} not shown"}],
    }


def _dropped_items(dropped: list[Block]) -> int:
    return max(1, sum(1 for b in dropped if b.get("type") not in ("actions", "divider")))


def enforce_blocks(
    blocks: list[Block], *, max_blocks: int = MAX_BLOCKS, max_chars: int | None = TOTAL_BLOCK_TEXT
) -> list[Block]:
    """A copy of ``blocks`` that respects every per-block limit, the block count and size."""
    out = [copy_json(b, {}) for b in blocks if isinstance(b, dict)]
    for b in out:
        _fix_block(b)
    seen: set[str] = set()
    for b in out:
        if isinstance(b.get("block_id"), str):
            b["block_id"] = _unique(b["block_id"], seen, "~", BLOCK_ID)
    # Action ids unique across the whole message, not only within a block: a model answer
    # with many items repeats the same buttons, and a duplicate gets the message refused.
    actions: set[str] = set()
    for el in _interactive(out):
        # Handlers match "prefix" or "prefix:anything": a suffix keeps the match.
        sep = "." if ":" in el["action_id"] else ":"
        el["action_id"] = _unique(el["action_id"], actions, sep, ACTION_ID)
    if len(out) > max_blocks:
        keep = max_blocks - 1
        # Do not leave an item's text without its buttons.
        if keep > 1 and out[keep - 1].get("type") == "section" and out[keep].get("type") == "actions":
            keep -= 1
        out = out[:keep] + [more_items_block(_dropped_items(out[keep:]))]
    if max_chars is None:
        return out
    total = block_text_size(out)
    texts = _shrinkable(out)
    while total > max_chars and texts:
        biggest = max(texts, key=lambda t: slack_len(t["text"]))
        size = slack_len(biggest["text"])
        if size <= _SHRINK_FLOOR:
            break
        biggest["text"] = truncate(biggest["text"], max(_SHRINK_FLOOR, size - (total - max_chars)))
        total = block_text_size(out)
    dropped: list[Block] = []
    while total > max_chars - 60 and len(out) > 1:
        dropped.insert(0, out.pop())
        total = block_text_size(out)
    if dropped:
        out.append(more_items_block(_dropped_items(dropped)))
    return out


def fallback_text(text: str, blocks: list[Block]) -> str:
    """The notification text: always present, at most ``MESSAGE_TEXT`` long."""
    text = (text or "").strip()
    if not text:
        for b in blocks:
            for t in _text_objects(b):
                if t["text"].strip():
                    text = " ".join(t["text"].split())
                    break
            if text:
                break
    return truncate(text or "FlowPilot", MESSAGE_TEXT)


def enforce_message(
    blocks: list[Block], text: str, *, max_blocks: int = MAX_BLOCKS
) -> tuple[list[Block], str]:
    """The final guard for a message: capped counts and sizes, and a fallback text."""
    out = enforce_blocks(blocks, max_blocks=max_blocks)
    return out, fallback_text(text, out)
