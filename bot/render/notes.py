"""Resolution notes and escalation packages as markdown, from stored state (no model call).

The markdown is read by people outside Slack (a client, a PSA ticket), so it carries display
names, never Slack ids, and is redacted once more before it leaves.
"""

from __future__ import annotations

from bot.redact import redact

from .labels import DOMAIN_LABELS, percent
from .safe import clean, one_line
from .views import EscalationData, ResolutionData, TriedFix, TriedStep

NONE = "_None recorded._"
FIX_OUTCOMES = {
    "worked": "worked",
    "failed": "didn't work",
    "rejected": "not applicable",
    "superseded": "superseded",
    "pending": "not tried",
    "trying": "being tried",
}
URGENCIES = {"low": "Low", "normal": "Normal", "high": "High", "critical": "Critical"}

Section = tuple[str, str, str]  # (key, title, markdown body)


def _line(text: str, limit: int = 1000) -> str:
    text = one_line(clean(text))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _block(text: str, limit: int = 4000) -> str:
    text = clean(text).strip()
    if len(text) > limit:
        text = f"{text[:limit].rstrip()}… (truncated, {len(text) - limit:,} more characters)"
    return text


def md_code(text: str) -> str:
    text = _line(text, 600)
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def bullets(items: list[str], *, numbered: bool = False) -> str:
    lines = [_line(i) for i in items if i and i.strip()]
    if not lines:
        return NONE
    if numbered:
        return "\n".join(f"{n}. {text}" for n, text in enumerate(lines, start=1))
    return "\n".join(f"- {text}" for text in lines)


def _step_line(step: TriedStep) -> str:
    line = _line(step.text, 500)
    if step.command:
        line += f" ({md_code(step.command)})"
    if step.result.strip():
        line += f" — {_line(step.result, 300)}"
    return line


def _fix_line(fix: TriedFix) -> str:
    outcome = FIX_OUTCOMES.get(fix.outcome, _line(fix.outcome, 40))
    line = f"**{_line(fix.title, 300)}**" + (f" — {outcome}" if outcome else "")
    if fix.note.strip():
        line += f": {_line(fix.note, 300)}"
    return line


def _domain(domain: str) -> str:
    return DOMAIN_LABELS.get(domain, _line(domain, 40))


def _join(title: str, meta: list[str], sections: list[Section]) -> str:
    parts = [f"# {_line(title, 200)}"]
    if meta:
        parts.append(" · ".join(meta))
    parts.extend(f"## {name}\n{body.strip() or NONE}" for _key, name, body in sections)
    return redact("\n\n".join(parts) + "\n").text


def resolution_sections(d: ResolutionData) -> list[Section]:
    problem = _line(d.problem, 500) or NONE
    if d.details.strip():
        quoted = "\n".join(f"> {ln}" for ln in _block(d.details, 1500).split("\n"))
        problem += f"\n\n{quoted}"
    resolution = f"**{_line(d.resolution_title, 300)}**\n" if d.resolution_title.strip() else ""
    if d.resolution_steps:
        resolution += bullets(d.resolution_steps, numbered=True)
    if d.technician_note.strip():
        resolution += f"\n\nTechnician's note: {_block(d.technician_note, 2000)}"
    sections: list[Section] = [
        ("problem", "Problem", problem),
        ("environment", "Environment", bullets(d.environment)),
        ("facts", "What we confirmed", bullets(d.facts)),
    ]
    if d.steps_tried:
        sections.append(("steps", "Steps taken", bullets([_step_line(s) for s in d.steps_tried])))
    sections += [
        ("failed", "What was tried and did not work", bullets([_fix_line(f) for f in d.failed_fixes])),
        ("root_cause", "Root cause", _block(d.root_cause, 2000) or "_Not determined._"),
        ("resolution", "Resolution", resolution.strip() or NONE),
        ("verification", "Verification", _block(d.verification, 1500) or NONE),
        ("time", "Time spent", _line(d.time_spent_text, 100) or NONE),
    ]
    return sections


def render_resolution_note_markdown(data: ResolutionData) -> str:
    meta = [f"**Domain:** {_domain(data.domain)}"]
    if data.ticket_ref:
        meta.append(f"**Ticket:** {_line(data.ticket_ref, 60)}")
    if data.technician:
        meta.append(f"**Technician:** {_line(data.technician, 80)}")
    if data.resolved_at_text:
        meta.append(f"**Resolved:** {_line(data.resolved_at_text, 60)}")
    return _join(f"Resolution note: {data.problem}", meta, resolution_sections(data))


def escalation_sections(d: EscalationData) -> list[Section]:
    ranked = []
    for h in d.hypotheses:
        text = _line(h.text, 500)
        if h.likelihood is not None:
            text += f" (likelihood {percent(h.likelihood)})"
        ranked.append(text)
    return [
        ("summary", "Summary", _line(d.summary, 500) or NONE),
        ("urgency", "Urgency", URGENCIES.get(d.urgency, _line(d.urgency, 20)) or "Normal"),
        ("reason", "Reason for escalation", _block(d.reason, 2000) or NONE),
        ("environment", "Environment", bullets(d.environment)),
        ("facts", "What we know", bullets(d.facts)),
        ("steps", "Steps tried", bullets([_step_line(s) for s in d.steps_tried])),
        ("fixes", "Fixes tried", bullets([_fix_line(f) for f in d.fixes_tried])),
        ("questions", "Open questions", bullets(d.open_questions)),
        ("hypotheses", "Hypotheses", bullets(ranked, numbered=True)),
        ("next", "Suggested next steps", bullets(d.next_steps, numbered=True)),
        ("thread", "Thread link", _line(d.thread_url or "", 3000) or "_Not available._"),
        ("time", "Time spent", _line(d.time_spent_text, 100) or NONE),
    ]


def render_escalation_package_markdown(data: EscalationData) -> str:
    meta = [f"**Urgency:** {URGENCIES.get(data.urgency, _line(data.urgency, 20))}"]
    meta.append(f"**Domain:** {_domain(data.domain)}")
    if data.confidence is not None:
        meta.append(f"**Confidence:** {percent(data.confidence)}")
    if data.ticket_ref:
        meta.append(f"**Ticket:** {_line(data.ticket_ref, 60)}")
    if data.team:
        meta.append(f"**Team:** {_line(data.team, 63)}")
    if data.technician:
        meta.append(f"**Escalated by:** {_line(data.technician, 80)}")
    return _join(f"Escalation: {data.summary}", meta, escalation_sections(data))
