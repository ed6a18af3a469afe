"""The daily digest message: yesterday's numbers and the sessions stale right now."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot import ids

from . import blocks as bk
from .blocks import Message
from .knowledge import drafts_digest_line
from .safe import mention, neutralize, one_line, safe_link


@dataclass
class DigestData:
    day: str
    opened: int = 0
    resolved: int = 0
    escalated: int = 0
    median_text: str = "—"  # median time to resolve, e.g. "42 min"
    domains: list[tuple[str, int]] = field(default_factory=list)
    stale: list[tuple[str, str | None, str, str]] = field(default_factory=list)  # title, link, idle, owner
    stale_total: int = 0
    # Escalations nobody has taken over: session id, title, link, waiting for, owner.
    waiting: list[tuple[str, str, str | None, str, str]] = field(default_factory=list)
    waiting_total: int = 0
    drafts_pending: int = 0  # set on the week's first digest (Monday): the review queue


def render_digest(d: DigestData) -> Message:
    lines = [f"*Yesterday ({d.day})*: {d.opened} opened · {d.resolved} resolved · "
             f"{d.escalated} escalated · median time to resolve {d.median_text}"]
    if d.domains:
        lines.append("*Top domains*: " + ", ".join(f"{neutralize(n, max_len=40)} ({c})"
                                                    for n, c in d.domains))
    if d.drafts_pending:
        lines.append(drafts_digest_line(d.drafts_pending))
    out = [bk.header("📊 FlowPilot daily digest"), bk.section("\n".join(lines))]
    if d.waiting:
        out.append(bk.section(f"*🔺 Waiting for someone to take over ({d.waiting_total})*"))
        for sid, title, link, waited, owner in d.waiting:
            label = neutralize(one_line(title), max_len=80)
            shown = safe_link(link, label) if link else label
            out.append(bk.section(f"• {shown} — waiting {waited}, from {mention(owner)}",
                                  accessory=bk.button("🙋 Take over", ids.TAKE_OVER, sid)))
        if d.waiting_total > len(d.waiting):
            out.append(bk.context([f"…and {d.waiting_total - len(d.waiting)} more."]))
    if d.stale:
        items = []
        for title, link, idle, owner in d.stale:
            label = neutralize(one_line(title), max_len=80)
            shown = safe_link(link, label) if link else label
            items.append(f"• {shown} — quiet for {idle}, {mention(owner)}")
        more = f"\n…and {d.stale_total - len(d.stale)} more." if d.stale_total > len(d.stale) else ""
        out.append(bk.section(f"*Stale now ({d.stale_total})*\n" + "\n".join(items) + more))
    else:
        out.append(bk.context(["No stale sessions right now. 🎉"]))
    waiting = f", {d.waiting_total} waiting for someone to take over" if d.waiting_total else ""
    return bk.finish(out, f"FlowPilot daily digest for {d.day}: {d.opened} opened, "
                          f"{d.resolved} resolved, {d.escalated} escalated{waiting}")
