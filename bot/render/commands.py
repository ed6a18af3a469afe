"""Replies to ``/flowpilot <one word>``: a single unknown word is asked about, never run."""

from __future__ import annotations

from bot import ids

from . import blocks as bk
from .blocks import Message
from .safe import neutralize, one_line

WORD_SHOWN = 200  # of a long word, what the prompt quotes (the Start button carries it all)


def _quoted(word: str) -> str:
    return neutralize(one_line(word), max_len=WORD_SHOWN) or "…"


def render_start_prompt(word: str, nonce: str, suggestion: str | None = None) -> Message:
    """"Start a session about '…'?" with Start / Cancel; a close misspelling of a subcommand
    is named first. ``nonce`` makes the Start click count once however often it is pressed."""
    lines = []
    if suggestion:
        lines.append(f"Did you mean `{suggestion}`? (`/flowpilot {suggestion}`, or "
                     "`/flowpilot help` for everything.)")
    lines.append(f"Start a session about '{_quoted(word)}'?")
    buttons = [
        bk.button("🧭 Start", ids.CMD_START, f"{nonce}|{word}", style="primary"),
        bk.button("Cancel", ids.CMD_CANCEL, nonce),
    ]
    text = " ".join(lines)
    return bk.finish([bk.section("\n".join(lines)), bk.actions(buttons, block_id="fp_cmd")],
                     text)


def render_starting(word: str) -> Message:
    line = f"🧭 Opening a session about '{_quoted(word)}'…"
    return bk.finish([bk.context([line])], line)
