"""What a session produces in Slack: the resolution note, the escalation package, the rating
prompt and the idle nudge. The markdown itself is built in ``notes``.
"""

from __future__ import annotations

import re

from bot import ids

from . import blocks as bk
from .blocks import Message
from .labels import domain_label, percent, urgency_label, who
from .limits import Block
from .mrkdwn import markdown_to_mrkdwn
from .notes import (
    NONE,
    escalation_sections,
    render_escalation_package_markdown,
    render_resolution_note_markdown,
)
from .safe import GROUP_ID, USER_ID, group_mention, mention, neutralize, one_line, plain, safe_link
from .views import EscalationData

__all__ = [
    "markdown_to_mrkdwn",
    "render_escalation_message",
    "render_escalation_package_markdown",
    "render_note_message",
    "render_nudge",
    "render_rating_prompt",
    "render_resolution_note_markdown",
    "render_take_over_notice",
]

NOTE_MAX = 10_500
SECTION_MAX = 1500
_H2 = re.compile(r"\n(?=## )")


def _markdown_sections(markdown: str, max_len: int) -> list[Block]:
    """Untrusted markdown as mrkdwn sections, one or more per ``##`` heading."""
    safe = neutralize(markdown.strip(), max_len=max_len)
    return bk.sections([markdown_to_mrkdwn(part) for part in _H2.split(safe) if part.strip()])


def render_note_message(markdown: str, session_id: str, *, final: bool) -> Message:
    """The resolution note in the thread: final (stored) or a draft preview."""
    title = "✅ Resolution note" if final else "📝 Draft resolution note"
    lead = (
        "Stored with the session as its resolution note."
        if final
        else "Preview — nothing is saved until the session is resolved."
    )
    out: list[Block] = [bk.header(title), *_markdown_sections(markdown, NOTE_MAX), bk.context([lead])]
    first = next((ln for ln in markdown.splitlines() if ln.strip()), "")
    first = first.lstrip("# ").removeprefix("Resolution note: ")
    text = f"{title}: {neutralize(one_line(first), max_len=200)}"
    return bk.finish(out, text, session_id=session_id)


def _tags(engineer_ids: list[str], group_id: str | None) -> str:
    tags = [mention(e) for e in engineer_ids if USER_ID.match(e or "")]
    if group_id and GROUP_ID.match(group_id):
        tags.append(group_mention(group_id))
    return " ".join(dict.fromkeys(tags))


def render_escalation_message(
    data: EscalationData,
    *,
    engineer_ids: list[str],
    group_id: str | None,
    session_id: str,
    take_over_enabled: bool,
    taken_by: str | None,
    taken_at_text: str = "",
) -> Message:
    """The escalation package for the escalation channel, tagging who should take it."""
    summary = neutralize(one_line(data.summary), max_len=300) or "A session needs help"
    tags = _tags(engineer_ids, group_id)
    urgency = urgency_label(data.urgency)
    if taken_by:
        lead = f"🙋 Taken over by {who(taken_by)}: they carry on in the session thread."
    elif tags:
        lead = f"{tags} — an escalation needs you."
    else:
        lead = "An escalation needs an engineer: whoever takes it over owns the session."
    meta = [f"Urgency: *{urgency}*", domain_label(data.domain)]
    if data.confidence is not None:
        meta.append(f"confidence {percent(data.confidence)}")
    if data.team:
        meta.append(f"👥 team *{neutralize(one_line(data.team), max_len=63)}*")
    if data.owner_id:
        meta.append(f"from {who(data.owner_id)}")
    if data.time_spent_text:
        meta.append(f"⏱️ {neutralize(data.time_spent_text, max_len=60)}")
    if data.ticket_ref:
        meta.append(f"🎫 {neutralize(one_line(data.ticket_ref), max_len=60)}")
    out: list[Block] = [
        bk.header(f"🔺 Escalation: {plain(one_line(data.summary))}"),
        bk.section(f"{lead}\n*{summary}*"),
        bk.context([" · ".join(meta)]),
    ]
    empty: list[str] = []
    for key, title, body in escalation_sections(data):
        if key in ("summary", "urgency", "time"):
            continue  # already in the lines above
        if key == "thread":
            link = safe_link(data.thread_url, "Open the session thread") if data.thread_url else ""
            out.append(bk.section(f"*{title}*\n{link or '_Not available._'}\n"
                                  "_Reply in the session thread: replies under this message "
                                  "do not reach FlowPilot._"))
            continue
        if body.strip() == NONE:
            empty.append(title)
            continue
        safe = neutralize(body, max_len=SECTION_MAX)
        out.extend(bk.sections([f"*{title}*\n{markdown_to_mrkdwn(safe)}"]))
    if empty:
        out.append(bk.context([f"Nothing recorded for: {', '.join(empty)}."]))
    if taken_by:
        when = f" at {neutralize(taken_at_text, max_len=40)}" if taken_at_text else ""
        out.append(bk.context([f"🙋 Taken over by {who(taken_by)}{when}"], block_id="fp_take_over"))
    elif take_over_enabled:
        out.append(
            bk.actions(
                [bk.button("🙋 Take over", ids.TAKE_OVER, session_id, style="primary")],
                block_id="fp_take_over",
            )
        )
    text = (f"Escalation ({urgency}), taken over by {who(taken_by)}: {summary}" if taken_by
            else f"{tags} Escalation ({urgency}): {summary}".strip())
    return bk.finish(out, text, session_id=session_id)


def render_take_over_notice(
    new_owner_id: str, previous_owner_id: str | None = None, at_text: str = ""
) -> Message:
    """The line posted in the session thread when an engineer takes over."""
    text = f"🙋 {who(new_owner_id)} took over this session"
    if previous_owner_id:
        text += f" from {who(previous_owner_id)}"
    if at_text:
        text += f" at {neutralize(at_text, max_len=40)}"
    text += ". The session carries on here with its full history."
    return bk.finish([bk.section(text)], text)


def render_rating_prompt(session_id: str) -> Message:
    lead = "🙏 How did FlowPilot do on this session? (1 = not helpful, 5 = very helpful)"
    buttons = [
        bk.button(f"{n} ⭐", ids.with_suffix(ids.RATE, n), f"{session_id}|{n}") for n in range(1, 6)
    ]
    buttons.append(bk.button("📝 Add feedback", ids.FEEDBACK, session_id))
    out = [bk.section(lead), bk.actions(buttons, block_id=f"fp_rate:{session_id}")]
    return bk.finish(out, "How did FlowPilot do on this session?", session_id=session_id)


SNOOZES = (("30m", "Snooze 30 min"), ("2h", "Snooze 2 h"), ("tomorrow", "Snooze till tomorrow"))


def render_nudge(session_id: str, owner_id: str | None, idle_text: str) -> Message:
    """An idle session's nudge: still working, snooze, or park/resolve/escalate."""
    owner = f"{mention(owner_id)} " if owner_id and USER_ID.match(owner_id) else ""
    idle = neutralize(one_line(idle_text), max_len=60) or "a while"
    lead = f"👋 {owner}this session has been quiet for {idle}. Still working on it?"
    buttons = [bk.button("👍 Still working", ids.NUDGE_STILL_WORKING, session_id, style="primary")]
    buttons += [
        bk.button(label, ids.with_suffix(ids.NUDGE_SNOOZE, key), f"{session_id}|{key}")
        for key, label in SNOOZES
    ]
    buttons += [
        bk.button("⏸️ Park", ids.PARK, session_id),
        bk.button("✅ Resolve", ids.RESOLVE, session_id),
        bk.button("🔺 Escalate", ids.ESCALATE, session_id),
    ]
    out = [bk.section(lead), bk.actions(buttons, block_id=f"fp_nudge:{session_id}")]
    return bk.finish(out, lead, session_id=session_id)
