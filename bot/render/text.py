"""Measuring, truncating (visibly) and splitting text the way Slack counts it.

Lengths are UTF-16 code units, as Slack's JavaScript counts them; never less than ``len()``.
"""

from __future__ import annotations

import re

_PARTIAL_ENTITY = re.compile(r"&[#a-zA-Z0-9]{0,8}$")
_PARTIAL_ANGLE = re.compile(r"<[^<>\n]{0,300}$")


def slack_len(text: str) -> int:
    """Length as Slack counts it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def cut_index(text: str, units: int) -> int:
    """The largest i with ``slack_len(text[:i]) <= units``."""
    if units <= 0:
        return 0
    if slack_len(text) == len(text):
        return min(units, len(text))
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            return i
    return len(text)


def _clean_cut(text: str, cut: int) -> int:
    """Move a cut back so it does not split an entity, a ``<…>`` token or a word."""
    head = text[:cut]
    m = _PARTIAL_ENTITY.search(head) or _PARTIAL_ANGLE.search(head)
    if m:
        head = head[: m.start()]
    if len(head) == cut and cut < len(text) and not text[cut].isspace():
        space = max(head.rfind(" "), head.rfind("\n"))
        if space >= max(1, len(head) - 40):
            head = head[:space]
    return len(head)


def _note(more: int) -> str:
    return f"… (truncated, {more:,} more characters)"


def truncate(text: str, limit: int, *, note: bool = True) -> str:
    """``text`` if it fits in ``limit``, else a visibly shortened version that fits.

    With ``note`` the end says how many characters were cut; without it a single "…" marks
    the cut (for button labels and other short fields). An open code fence is closed.
    """
    if slack_len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    total = len(text)
    suffix = "…"
    budget = limit - 1
    if note and limit >= 60:
        suffix = _note(total)  # the widest the count can be
        budget = limit - slack_len(suffix) - 4  # room for a closing fence
    cut = _clean_cut(text, cut_index(text, budget))
    kept = text[:cut].rstrip()
    if note and limit >= 60:
        if kept.count("```") % 2 == 1:
            kept += "```"
        suffix = _note(total - cut)
    return kept + suffix


def split_text(text: str, limit: int) -> list[str]:
    """Split into chunks of at most ``limit``, on paragraph, then line, then word boundaries.

    A code fence cut by a split is closed at the end of one chunk and reopened in the next.
    """
    if limit < 40:
        raise ValueError("limit too small to split")
    chunks: list[str] = []
    rest = text
    while slack_len(rest) > limit:
        window = rest[: cut_index(rest, limit - 4)]  # room to close a fence
        cut = -1
        for sep in ("\n\n", "\n", " "):
            idx = window.rfind(sep)
            if idx >= len(window) // 3:
                cut = idx
                break
        if cut <= 0:
            cut = _clean_cut(rest, len(window)) or len(window)
        chunk, tail = rest[:cut].rstrip(), rest[cut:].lstrip("\n ")
        if chunk.count("```") % 2 == 1:
            chunk += "\n```"
            tail = "```\n" + tail
        if len(tail) >= len(rest):  # no progress (cannot happen with limit >= 40): hard cut
            chunk, tail = rest[: len(window)], rest[len(window) :]
        rest = tail
        if chunk:
            chunks.append(chunk)
    if rest.strip() or not chunks:
        chunks.append(rest)
    return chunks
