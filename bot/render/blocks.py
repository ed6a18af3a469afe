"""Small Block Kit builders (plain dicts) and the ``Message`` every renderer returns.

Builders take text that is already safe (see ``safe``) and apply the per-field limits;
``finish`` runs the final guard over a whole message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from . import limits
from .limits import Block, truncate

ButtonStyle = Literal["primary", "danger"] | None
METADATA_EVENT = "flowpilot_session"


@dataclass(frozen=True)
class Message:
    """A rendered message: notification ``text`` (always set) and ``blocks``."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    metadata: dict[str, Any] | None = None

    def as_kwargs(self, *, metadata: bool = False) -> dict[str, Any]:
        """Keyword arguments for chat.postMessage / chat.update / respond.

        ``metadata=True`` also passes the message metadata (the session id) when there is one;
        leave it off for calls that do not take metadata (chat.postEphemeral, respond).
        """
        kwargs: dict[str, Any] = {"text": self.text, "blocks": self.blocks}
        if metadata and self.metadata is not None:
            kwargs["metadata"] = self.metadata
        return kwargs


def session_metadata(session_id: str) -> dict[str, Any]:
    return {"event_type": METADATA_EVENT, "event_payload": {"session_id": session_id}}


def finish(
    blocks: list[Block], text: str, *, session_id: str | None = None
) -> Message:
    """Run the final guard and wrap the result."""
    out, fallback = limits.enforce_message(blocks, text)
    meta = session_metadata(session_id) if session_id else None
    return Message(text=fallback, blocks=out, metadata=meta)


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text or " "}


def plain_text(text: str, limit: int | None = None) -> dict[str, Any]:
    if limit is not None:
        text = truncate(text, limit, note=False)
    return {"type": "plain_text", "text": text or " ", "emoji": True}


def header(text: str) -> Block:
    return {"type": "header", "text": plain_text(text, limits.HEADER_TEXT)}


def section(text: str, *, block_id: str | None = None, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(truncate(text, limits.SECTION_TEXT))}
    if block_id:
        block["block_id"] = block_id[: limits.BLOCK_ID]
    if accessory:
        block["accessory"] = accessory
    return block


def sections(texts: list[str]) -> list[Block]:
    """One section per chunk of each text, every chunk within the section limit."""
    out: list[Block] = []
    for text in texts:
        out.extend(section(chunk) for chunk in limits.split_text(text, limits.SECTION_TEXT))
    return out


def context(parts: list[str], *, block_id: str | None = None) -> Block:
    """A context line; more than ten parts are packed so the block keeps ten elements."""
    parts = [p for p in parts if p] or [" "]
    if len(parts) > limits.CONTEXT_ELEMENTS:
        keep = limits.CONTEXT_ELEMENTS - 1
        parts = parts[:keep] + [" · ".join(parts[keep:])]
    block: Block = {
        "type": "context",
        "elements": [mrkdwn(truncate(p, limits.CONTEXT_TEXT)) for p in parts],
    }
    if block_id:
        block["block_id"] = block_id[: limits.BLOCK_ID]
    return block


def divider() -> Block:
    return {"type": "divider"}


def button(
    text: str, action_id: str, value: str, *, style: ButtonStyle = None
) -> dict[str, Any]:
    """A button; ``text`` must already be plain-safe (see ``safe.plain``)."""
    el: dict[str, Any] = {
        "type": "button",
        "text": plain_text(" ".join(text.split()), limits.BUTTON_TEXT),
        "action_id": action_id[: limits.ACTION_ID],
        "value": value[: limits.BUTTON_VALUE],
    }
    if style:
        el["style"] = style
    return el


def actions(elements: list[dict[str, Any]], *, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": elements[: limits.ACTIONS_ELEMENTS]}
    if block_id:
        block["block_id"] = block_id[: limits.BLOCK_ID]
    return block
