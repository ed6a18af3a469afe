"""The session's header message (status, controls) and small status messages."""

from __future__ import annotations

from collections.abc import Iterable

from bot import ids
from bot.domain.refs import session_ref

from . import blocks as bk
from .blocks import Message
from .labels import domain_label, status_label, tier_text, who
from .limits import Block
from .safe import neutralize, one_line
from .views import HeaderView

_RESOLVE = ("✅ Resolve", ids.RESOLVE)
_ESCALATE = ("🔺 Escalate", ids.ESCALATE)
_PARK = ("⏸️ Park", ids.PARK)
_RESUME = ("▶️ Resume", ids.RESUME)
_RENAME = ("✏️ Rename", ids.RENAME)

# Which controls each status shows, first one styled primary.
_CONTROLS: dict[str, tuple[tuple[str, str], ...]] = {
    "active": (_RESOLVE, _ESCALATE, _PARK, _RENAME),
    "paused": (_RESUME, _RESOLVE, _ESCALATE, _RENAME),
    "requesting_escalation": (_RESOLVE, _RENAME),  # parking waits until the package is posted
    "escalated": (_RESOLVE, _PARK, _RENAME),
}


def control_buttons(session_id: str, status: str) -> list[Block]:
    """Resolve / Escalate / Park / Resume buttons for ``status``; none when terminal."""
    controls = _CONTROLS.get(status, ())
    return [
        bk.button(label, action_id, session_id, style="primary" if i == 0 else None)
        for i, (label, action_id) in enumerate(controls)
    ]


def render_header(h: HeaderView) -> Message:
    summary = neutralize(one_line(h.summary or ""), max_len=2900)
    parts = [
        f"*{domain_label(h.domain)}*",
        tier_text(h.tier, h.confidence),
        status_label(h.status),
    ]
    if h.owner_id:
        parts.append(f"owner {who(h.owner_id)}")
    if h.team:
        parts.append(f"👥 {neutralize(one_line(h.team), max_len=63)}")
    if h.escalated_to_id:
        parts.append(f"escalated to {who(h.escalated_to_id)}")
    if h.escalation_team:
        parts.append(f"escalated to team *{neutralize(one_line(h.escalation_team), max_len=63)}*")
    if h.time_active_text:
        parts.append(f"⏱️ active {neutralize(h.time_active_text, max_len=40)}")
    if h.time_parked_text:
        parts.append(f"parked {neutralize(h.time_parked_text, max_len=40)}")
    if h.step_count:
        parts.append(f"{h.step_count} step{'s' if h.step_count != 1 else ''}")
    if h.flow_title:
        match = f" (match {h.match_score:.2f})" if h.match_score is not None else ""
        parts.append(f"📚 flow: {neutralize(one_line(h.flow_title), max_len=150)}{match}")
    elif h.session_type == "chat":
        parts.append("💬 open discovery (no flow matched)")
    if h.handoff_count:
        parts.append(f"handed off {h.handoff_count}×")
    if h.ticket_ref:
        parts.append(f"🎫 ticket {neutralize(one_line(h.ticket_ref), max_len=60)}")
    parts.append(f"ref `{session_ref(h.session_id)}`")  # names it in /flowpilot park fp-…
    title = neutralize(one_line(h.title or ""), max_len=250)
    out: list[Block] = [
        bk.header("🧭 FlowPilot session"),
        bk.section((f"*{title}*\n" if title else "")
                   + (f"*{summary}*" if summary else "_No summary yet._")),
        bk.context([" · ".join(parts)]),
    ]
    if h.rating is not None or h.feedback:
        stars = f"⭐ {h.rating}/5" if h.rating is not None else "feedback"
        said = f" — “{neutralize(one_line(h.feedback), max_len=500)}”" if h.feedback else ""
        out.append(bk.context([f"{stars}{said}"]))
    buttons = control_buttons(h.session_id, h.status)
    if buttons:
        out.append(bk.actions(buttons, block_id=f"fp_controls:{h.session_id}"))
    status_word = status_label(h.status).split(" ", 1)[-1]
    short = neutralize(one_line(h.summary or "new session"), max_len=200)
    return bk.finish(out, f"FlowPilot session: {short} ({status_word})", session_id=h.session_id)


def render_working(text: str = "FlowPilot is working on it…") -> Message:
    line = f"⏳ {neutralize(one_line(text), max_len=200)}"
    return bk.finish([bk.context([line])], line)


def render_engine_failure(session_id: str, reason: str = "", *, use_flows: bool = False) -> Message:
    """The model failed for now: say so kindly and offer a Retry button. When the model cannot
    be used at all (bad key, refused request, model retired), say that once and offer to carry
    on with the built-in flows instead."""
    if use_flows:
        lead = ("⚠️ The AI model can't be used right now, so an admin needs to look at it. "
                "Nothing was lost: you can carry on with the built-in troubleshooting flows.")
        buttons = [bk.button("🧭 Continue with built-in flows", ids.USE_FLOWS, session_id,
                             style="primary"),
                   bk.button("🔁 Retry", ids.RETRY, session_id)]
    else:
        lead = "⚠️ The model is slow or unavailable right now. Nothing was lost. Retry?"
        buttons = [bk.button("🔁 Retry", ids.RETRY, session_id, style="primary")]
    out: list[Block] = [bk.section(lead)]
    if reason.strip():
        out.append(bk.context([neutralize(one_line(reason), max_len=500)]))
    out.append(bk.actions(buttons, block_id=f"fp_retry:{session_id}"))
    return bk.finish(out, lead, session_id=session_id)


def render_ephemeral(text: str, *, allowed_user_ids: Iterable[str] = frozenset()) -> Message:
    """A short message only the clicker sees (errors, confirmations)."""
    body = neutralize(text, allowed_user_ids=allowed_user_ids, max_len=2900)
    return bk.finish([bk.section(body)], body)
