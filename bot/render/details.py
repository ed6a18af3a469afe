"""``/flowpilot show``: one session's details and where its outputs went (pure: view-models in,
blocks out)."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import blocks as bk
from .blocks import Message
from .labels import domain_label
from .safe import code_span, mention, neutralize, one_line, plain

OUTPUT_LABELS = {
    "resolution_note": "Resolution note", "escalation_package": "Escalation package",
    "time_entry": "Time entry", "status_change": "Ticket status", "take_over_note": "Take-over note",
}
TARGET_LABELS = {"slack": "Slack", "psa": "PSA", "webhook": "webhook"}
STATUS_ICONS = {"posted": "✅", "pending": "⏳", "failed": "⚠️", "gave_up": "⛔"}


@dataclass(frozen=True)
class DeliveryLine:
    kind: str
    target: str
    status: str
    attempts: int
    queued: str
    changed: str
    posted: str
    external_id: str
    last_error: str


@dataclass(frozen=True)
class SessionDetails:
    ref: str
    title: str
    status: str
    session_type: str
    owner: str
    opened: str
    last_change: str
    resolved: str
    flow_title: str
    flow_domain: str
    flow_source: str
    flow_file: str
    match_score: float | None
    ticket: str
    connection: str
    note_posted: str
    note_external_id: str
    package_external_id: str
    deliveries: list[DeliveryLine] = field(default_factory=list)


def _delivery(d: DeliveryLine) -> str:
    icon = STATUS_ICONS.get(d.status, "•")
    what = f"{OUTPUT_LABELS.get(d.kind, d.kind)} → {TARGET_LABELS.get(d.target, d.target)}"
    if d.status == "posted":
        state = f"delivered {d.posted}" if d.posted else "delivered"
        if d.external_id:
            state += f", id {code_span(d.external_id, max_len=64)}"
    else:
        state = f"{d.status} since {d.changed or d.queued}"
        if d.attempts:
            state += f" after {d.attempts} attempt{'s' if d.attempts != 1 else ''}"
    line = f"{icon} *{what}*: {state} (queued {d.queued})"
    if d.last_error and d.status != "posted":
        line += f"\n      last error: {neutralize(one_line(d.last_error), max_len=300)}"
    return line


def render_session_details(d: SessionDetails) -> Message:
    title = neutralize(one_line(d.title), max_len=200) or "(untitled)"
    facts = [f"*Status:* {d.status}" + (f" · {d.session_type}" if d.session_type else ""),
             f"*Owner:* {mention(d.owner)}" if d.owner else "",
             f"*Opened:* {d.opened}", f"*Last change:* {d.last_change}",
             f"*Resolved:* {d.resolved}" if d.resolved else ""]
    if d.flow_title:
        flow = f"*Flow:* {neutralize(d.flow_title, max_len=120)} ({domain_label(d.flow_domain)}"
        flow += f", {d.flow_source}"
        if d.flow_file:
            flow += f" {code_span(d.flow_file.rsplit('/', 1)[-1], max_len=80)}"
        flow += ")"
        if d.match_score is not None:
            flow += f", match {round(d.match_score * 100)}%"
        facts.append(flow)
    if d.ticket:
        psa = f"*Ticket:* #{neutralize(d.ticket, max_len=40)}"
        if d.connection:
            psa += f" on {neutralize(d.connection, max_len=120)}"
        facts.append(psa)
    ids = []
    if d.note_external_id:
        ids.append(f"resolution note {code_span(d.note_external_id, max_len=64)}")
    if d.package_external_id:
        ids.append(f"escalation package {code_span(d.package_external_id, max_len=64)}")
    if ids:
        facts.append("*In the PSA:* " + ", ".join(ids))
    if d.note_posted:
        facts.append(f"*Note posted in the thread:* {d.note_posted}")
    out = [bk.header(plain(f"{d.ref} — {one_line(d.title)[:100] or 'session'}")),
           bk.section("\n".join(f for f in facts if f))]
    if d.deliveries:
        out.append(bk.section("*Where its outputs went*\n" + "\n".join(_delivery(x) for x in d.deliveries)))
    else:
        out.append(bk.context(["Nothing delivered yet: outputs go out when the session is "
                               "resolved, escalated or taken over."]))
    return bk.finish(out, f"{d.ref}: {title} ({d.status})")
