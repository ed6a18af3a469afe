"""Knowledge messages, pure: "Seen before" in a thread, scripts as copy-ready code, the draft
review queue (App Home) and its modals, ``/flowpilot scripts``.

Everything stored came from people or the model: it goes through ``neutralize`` (mrkdwn),
``plain`` (plain_text) or ``code_block`` (a script body: shown, never run, never pinging).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot import ids

from . import blocks as bk
from .blocks import Message
from .limits import Block
from .modals import View, _modal, _text_input
from .safe import code_block, mention, neutralize, one_line, plain, safe_link

SEEN_BEFORE_MAX = 3
STEPS_SHOWN = 4
DRAFTS_SHOWN = 10


@dataclass(frozen=True)
class ScriptView:
    id: str
    title: str
    language: str
    body: str  # parameters filled where the facts said them
    missing: list[str] = field(default_factory=list)  # parameters left for the technician
    use_count: int = 0
    about: ScriptAbout | None = None  # provenance and history, for ``/flowpilot scripts``


@dataclass(frozen=True)
class ScriptAbout:
    """Where an approved script came from and how it has been used (dates as YYYY-MM-DD)."""

    description: str = ""
    author: str = ""  # Slack id of the technician whose session it came from
    ticket: str = ""
    approved_by: str = ""  # Slack id of the admin who approved it
    approved_on: str = ""
    last_used: str = ""
    changed_on: str = ""  # set when it was changed after it was created


@dataclass(frozen=True)
class RejectedView:
    title: str
    reason: str
    by: str  # Slack id
    on: str


@dataclass(frozen=True)
class SeenBeforeView:
    entry_id: int
    problem: str
    fix_title: str
    fix_steps: list[str]
    resolved_by: str | None  # Slack user id
    when_text: str
    link: str | None
    script: ScriptView | None = None
    summary: str = ""  # the session's resolution summary: the problem and what fixed it


def seen_before_value(session_id: str, entry_id: int) -> str:
    return f"{session_id}|{entry_id}"


def parse_seen_before_value(value: str) -> tuple[str, int]:
    session_id, _, entry = value.partition("|")
    return session_id, int(entry)


def script_text(s: ScriptView, *, max_len: int = 2400) -> str:
    """A script as a copy-ready code block under its title (shown as code, never run)."""
    head = f"📜 *{neutralize(one_line(s.title), max_len=150)}* _({neutralize(s.language, max_len=20)})_"
    if s.missing:
        head += " — fill in: " + ", ".join(f"`{neutralize(m, max_len=40)}`" for m in s.missing)
    return f"{head}\n{code_block(s.body, max_len=max_len)}"


def _hit_text(n: int, hit: SeenBeforeView) -> str:
    head = one_line(hit.summary or hit.problem)
    lines = [f"*{n}. {neutralize(head, max_len=300) or 'A past session'}*"]
    if hit.fix_title and one_line(hit.fix_title) not in head:
        lines.append(f"Fixed by: _{neutralize(one_line(hit.fix_title), max_len=200)}_")
    for i, step in enumerate(hit.fix_steps[:STEPS_SHOWN], 1):
        lines.append(f"   {i}. {neutralize(one_line(step), max_len=200)}")
    if len(hit.fix_steps) > STEPS_SHOWN:
        lines.append(f"   _… {len(hit.fix_steps) - STEPS_SHOWN} more steps_")
    who = f"{mention(hit.resolved_by)}, " if hit.resolved_by else ""
    link = f" · {safe_link(hit.link, 'open the thread')}" if hit.link else ""
    lines.append(f"_{who}{neutralize(hit.when_text, max_len=40)}_{link}")
    return "\n".join(lines)


def render_seen_before(session_id: str, hits: list[SeenBeforeView]) -> Message | None:
    """The best past resolutions of the workspace; None when there are none (no empty block)."""
    hits = hits[:SEEN_BEFORE_MAX]
    if not hits:
        return None
    out: list[Block] = [bk.section("🔁 *Seen before* — this workspace solved something like "
                                   "this already:")]
    for n, hit in enumerate(hits, 1):
        out.append(bk.section(_hit_text(n, hit)))
        if hit.script is not None:
            out.append(bk.section(script_text(hit.script)))
        label = "Use this fix" + (" and script" if hit.script else "")
        out.append(bk.actions([bk.button(label, ids.with_suffix(ids.SEEN_BEFORE, n),
                                         seen_before_value(session_id, hit.entry_id))]))
    return bk.finish(out, f"Seen before: {len(hits)} similar resolved session(s)",
                     session_id=session_id)


def render_adopted(who: str, fix_title: str, script: ScriptView | None) -> str:
    text = f"🔁 {mention(who)} added a past fix: _{neutralize(one_line(fix_title), max_len=200)}_"
    if script is not None:
        text += "\n" + script_text(script)
    return text


# ── drafts (App Home) ────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class DraftView:
    id: str
    title: str
    description: str
    language: str
    body: str
    parameters: list[str]
    origin: str  # claude | steps
    created_text: str
    source_link: str | None = None


def _draft_blocks(d: DraftView) -> list[Block]:
    params = ", ".join(f"`{neutralize(p, max_len=40)}`" for p in d.parameters) or "none"
    origin = "drafted by Claude" if d.origin == "claude" else "from the fix's steps"
    source = f" · {safe_link(d.source_link, 'source thread')}" if d.source_link else ""
    text = (f"*{neutralize(one_line(d.title), max_len=150)}* _({neutralize(d.language, max_len=20)},"
            f" {origin}, {neutralize(d.created_text, max_len=40)})_{source}\n"
            f"{neutralize(one_line(d.description), max_len=300)}\nParameters: {params}\n"
            f"{code_block(d.body, max_len=1500)}")
    return [
        bk.section(text),
        bk.actions([
            bk.button("Approve", ids.with_suffix(ids.DRAFT_APPROVE, d.id), d.id, style="primary"),
            bk.button("Edit & approve", ids.with_suffix(ids.DRAFT_EDIT, d.id), d.id),
            bk.button("Reject", ids.with_suffix(ids.DRAFT_REJECT, d.id), d.id, style="danger"),
        ]),
    ]


def drafts_blocks(drafts: list[DraftView], total: int) -> list[Block]:
    """The review queue for an admin's App Home (nothing when the queue is empty)."""
    if not drafts:
        return []
    out: list[Block] = [bk.divider(), bk.header(f"Drafts to review ({total})")]
    for d in drafts[:DRAFTS_SHOWN]:
        out += _draft_blocks(d)
    if total > DRAFTS_SHOWN:
        out.append(bk.context([f"… and {total - DRAFTS_SHOWN} more after these."]))
    return out


def drafts_digest_line(pending: int) -> str:
    """The weekly digest's line about the review queue ("" when there is nothing to review)."""
    if pending <= 0:
        return ""
    noun = "draft script waits" if pending == 1 else "draft scripts wait"
    return f"📝 {pending} {noun} for review in FlowPilot's App Home."


def draft_edit_modal(d: DraftView) -> View:
    blocks = [
        _text_input(ids.DRAFT_TITLE, "Title", initial=plain(d.title), max_length=255),
        _text_input(ids.DRAFT_LANGUAGE, "Language (powershell, bash, cmd, text)",
                    initial=plain(d.language), max_length=40),
        _text_input(ids.DRAFT_BODY, "Script", multiline=True, initial=d.body,
                    hint="Placeholders like {{user_email}} become parameters."),
    ]
    return _modal(ids.DRAFT_MODAL, "Edit & approve", "Approve", blocks, d.id)


def draft_reject_modal(draft_id: str) -> View:
    blocks = [_text_input(ids.DRAFT_REASON, "Why is it rejected?", multiline=True,
                          max_length=500)]
    return _modal(ids.DRAFT_REJECT_MODAL, "Reject draft", "Reject", blocks, draft_id)


def _about(a: ScriptAbout) -> str:
    parts = []
    if a.author:
        parts.append(f"from {mention(a.author)}'s session"
                     + (f" (ticket #{neutralize(a.ticket, max_len=40)})" if a.ticket else ""))
    if a.approved_by:
        parts.append(f"approved by {mention(a.approved_by)}"
                     + (f" on {a.approved_on}" if a.approved_on else ""))
    if a.changed_on:
        parts.append(f"changed {a.changed_on}")
    if a.last_used:
        parts.append(f"last used {a.last_used}")
    line = " · ".join(parts)
    if a.description:
        line = f"{neutralize(one_line(a.description), max_len=200)}\n    {line}" if line else \
            neutralize(one_line(a.description), max_len=200)
    return f"\n    {line}" if line else ""


def scripts_text(scripts: list[ScriptView], total: int,
                 rejected: list[RejectedView] | None = None) -> str:
    """``/flowpilot scripts``: the workspace's approved scripts, where each came from, and
    (for admins) the drafts rejected lately with the reason given."""
    if not scripts:
        lines = ["No approved scripts yet. Resolved sessions become drafts; admins approve them "
                 "in FlowPilot's App Home."]
    else:
        lines = [f"*Approved scripts ({total})*"]
    for s in scripts:
        uses = "used once" if s.use_count == 1 else f"used {s.use_count} times"
        lines.append(f"• *{neutralize(one_line(s.title), max_len=150)}* "
                     f"_({neutralize(s.language, max_len=20)}, {uses})_"
                     + (_about(s.about) if s.about else ""))
    if total > len(scripts):
        lines.append(f"_… and {total - len(scripts)} more_")
    if rejected:
        lines.append("*Rejected lately*")
        lines += [f"• {neutralize(one_line(r.title), max_len=150)} — "
                  f"{neutralize(one_line(r.reason), max_len=300) or 'no reason given'} "
                  f"_({mention(r.by)}, {r.on})_" for r in rejected]
    return "\n".join(lines)


def script_blocks(s: ScriptView) -> list[dict[str, Any]]:
    return [bk.section(script_text(s))]
