"""A session's history as a modal: hand-offs, parks and resumes, escalations and take-overs,
and who decided what, oldest first. Bounded: a long session shows its newest events and says
how many earlier ones were left out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot import ids

from . import blocks as bk
from . import limits
from .labels import who
from .limits import Block
from .safe import neutralize, one_line
from .views import HistoryEvent, HistoryView

EVENT_TEXT = 300  # of one event's untrusted text
CHUNK = 2800  # characters of event lines per section (Slack: 3,000)

ICONS = {
    "opened": "🧭", "handoff": "🔁", "take_over": "🙋", "park": "⏸️", "resume": "▶️",
    "request_escalation": "🔺", "escalation_posted": "📣", "resolve": "✅", "abandon": "⚪",
    "answer": "💬", "action": "☑️", "fix_decision": "🛠️", "fact": "🧠", "system": "🔁",
    "fix_suggested": "💡",
}
SAYS = {
    "opened": "opened the session", "park": "parked it", "resume": "resumed it",
    "request_escalation": "escalated it", "escalation_posted": "posted the escalation package",
    "resolve": "resolved it", "abandon": "closed it without a resolution",
    "answer": "answered", "action": "", "fix_decision": "", "fact": "added a fact",
    "system": "", "fix_suggested": "suggested a fix",
}


def _when(at: int) -> str:
    """Slack's date token: each viewer sees their own time zone (fallback: UTC)."""
    fallback = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{at}^{{date_short}} {{time}}|{fallback}>"


def event_line(e: HistoryEvent) -> str:
    actor = who(e.who) if e.who else "FlowPilot"
    text = neutralize(one_line(e.text), max_len=EVENT_TEXT) if e.text else ""
    icon = ICONS.get(e.kind, "•")
    if e.kind == "handoff":
        what = f"{actor} handed it to {who(e.other)}"
    elif e.kind == "take_over":
        what = f"{who(e.other)} took it over from {actor}"
    else:
        verb = SAYS.get(e.kind, e.kind.replace("_", " "))
        what = f"{actor} {verb}".rstrip()
    said = f" — {text}" if text else ""
    return f"{icon} {_when(e.at)} · {what}{said}"


def render_history_modal(h: HistoryView) -> dict[str, Any]:
    title = neutralize(one_line(h.title), max_len=200) or "Untitled session"
    out: list[Block] = [bk.section(f"*{title}*")]
    if h.earlier:
        out.append(bk.context([f"… {h.earlier} earlier event{'s' if h.earlier != 1 else ''} "
                               "not shown (newest first kept)."]))
    if not h.events:
        out.append(bk.section("_Nothing has happened yet: no hand-offs, parks, escalations or "
                              "decisions._"))
    chunk: list[str] = []
    size = 0
    for line in map(event_line, h.events):
        if chunk and size + len(line) + 1 > CHUNK:
            out.append(bk.section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        out.append(bk.section("\n".join(chunk)))
    return {
        "type": "modal",
        "callback_id": ids.HISTORY_MODAL,
        "title": bk.plain_text("Session history", limits.MODAL_TITLE),
        "close": bk.plain_text("Close", limits.MODAL_TITLE),
        "private_metadata": h.session_id[: limits.PRIVATE_METADATA],
        "blocks": limits.enforce_blocks(out, max_blocks=limits.MAX_MODAL_BLOCKS, max_chars=None),
    }

