"""From stored state to the resolution note's and the escalation package's view models.

Nothing here calls Slack or writes: the thread link comes in from the caller, and the
markdown itself is rendered by ``bot.render.notes``.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain import timekeeping
from bot.render.views import EscalationData, Hypothesis, ResolutionData, TriedFix, TriedStep
from bot.services import present
from storage.models import AISession, SessionSuggestedFix

# Fixes still worth trying, best first, become the escalation's hypotheses.
OPEN_FIX_STATES = ("pending", "trying")
NOT_WORKED_STATES = ("failed", "rejected")
MAX_HYPOTHESES = 6
MAX_READING = 400  # characters of the model's latest reading kept as a hypothesis


def time_spent_text(session: AISession, now: datetime) -> str:
    ledger = present.ledger_now(session, now)
    text = timekeeping.seconds_to_text(ledger.active_seconds) + " active"
    if ledger.parked_seconds:
        text += f", {timekeeping.seconds_to_text(ledger.parked_seconds)} parked"
    return text


def local_stamp(at: datetime, tz: str) -> str:
    try:
        zone = ZoneInfo(tz or "UTC")
    except Exception:
        zone = ZoneInfo("UTC")
    local = at.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} ({zone.key})"


def intake_details(session: AISession) -> str:
    """The original intake, when it says more than the one-line summary."""
    intake = session.intake_content or {}
    text = str(intake.get("text") or "").strip()
    if not text or text == (session.problem_summary or "").strip():
        return ""
    return text


def environment(session: AISession) -> list[str]:
    """What the technician told us at intake, plus the ticket and the playbook used."""
    env = [f.text for f in session.facts if f.is_active and f.source == "intake"]
    if session.matched_flow is not None:
        env.append(f"Playbook: {session.matched_flow.title}")
    return env


def confirmed_facts(session: AISession) -> list[str]:
    """Facts learned during the session (intake facts are listed under Environment)."""
    return [f.text for f in session.facts if f.is_active and f.source != "intake"]


def _lane(session: AISession) -> dict[str, list[dict[str, Any]]]:
    lane = session.pending_task_lane or {}
    return {"questions": list(lane.get("questions") or []),
            "actions": list(lane.get("actions") or [])}


def steps_tried(session: AISession) -> list[TriedStep]:
    """Questions answered and actions done or skipped, in the order they happened (by the
    time each was decided; the lane's order breaks ties and places undated items last)."""
    lane = _lane(session)
    dated: list[tuple[str, int, TriedStep]] = []
    position = 0
    for q in lane["questions"]:
        if q.get("status") == "answered" and q.get("answer"):
            step = TriedStep(text=str(q.get("text", "")), result=str(q["answer"]))
            dated.append((str(q.get("decided_at") or "~"), position, step))
        position += 1
    for a in lane["actions"]:
        status = str(a.get("status", "open"))
        if status in ("done", "skipped"):
            step = TriedStep(text=str(a.get("text", "")), result=status,
                             command=a.get("command") or None)
            dated.append((str(a.get("decided_at") or "~"), position, step))
        position += 1
    # ISO-8601 stamps of one clock sort as text; "~" sorts after every digit.
    return [step for _, _, step in sorted(dated, key=lambda d: (d[0], d[1]))]


def open_questions(session: AISession) -> list[str]:
    return [str(q.get("text", "")) for q in _lane(session)["questions"]
            if q.get("status", "open") == "open"]


def _tried_fix(fix: SessionSuggestedFix) -> TriedFix:
    return TriedFix(title=fix.title, outcome=fix.user_decision,
                    steps=[str(s) for s in fix.steps or []])


def worked_fix(session: AISession) -> SessionSuggestedFix | None:
    """The fix marked Worked (the latest one if there are several)."""
    worked = [f for f in session.fixes if f.user_decision == "worked"]
    if not worked:
        return None
    return max(worked, key=lambda f: (f.decided_at or f.created_at, f.position))


def last_model_message(session: AISession) -> str:
    for step in reversed(session.steps):
        if step.step_type == "ai_turn":
            return str((step.content or {}).get("message") or "").strip()
    return ""


def resolution_data(session: AISession, now: datetime, *, note: str = "") -> ResolutionData:
    fix = worked_fix(session)
    owner = session.user
    return ResolutionData(
        session_id=str(session.id),
        problem=session.problem_summary or "Untitled problem",
        details=intake_details(session),
        domain=session.problem_domain or "other",
        environment=environment(session),
        facts=confirmed_facts(session),
        steps_tried=steps_tried(session),
        failed_fixes=[_tried_fix(f) for f in session.fixes
                      if f.user_decision in NOT_WORKED_STATES],
        root_cause=fix.rationale if fix is not None else "",
        resolution_title=fix.title if fix is not None else "",
        resolution_steps=[str(s) for s in fix.steps or []] if fix is not None else [],
        verification=fix.verify if fix is not None else "",
        time_spent_text=time_spent_text(session, now),
        ticket_ref=session.psa_ticket_id,
        technician=owner.display_name if owner is not None else "",
        resolved_at_text=local_stamp(now, owner.tz if owner is not None else "UTC"),
        technician_note=note.strip(),
    )


MAX_SUMMARY = 500
MAX_ACTION = 4000


def _note_resolution(markdown: str) -> list[str]:
    """The lines of a note's *Resolution* section (the note may have been edited by hand)."""
    lines: list[str] = []
    inside = False
    for line in markdown.splitlines():
        if line.startswith("## "):
            inside = line[3:].strip().lower() == "resolution"
            continue
        text = line.strip().strip("*").strip()
        if inside and text and text != "_None recorded._":
            lines.append(text)
    return lines


def resolution_lines(session: AISession, note: str, markdown: str) -> tuple[str, str | None]:
    """``resolution_summary`` (the note in one line: the problem and what fixed it) and
    ``resolution_action`` (the fix that worked with its steps; else the technician's words;
    else the Resolution section of the note as stored)."""
    problem = " ".join((session.problem_summary or "Problem").split())
    fix = worked_fix(session)
    said = [ln.strip() for ln in note.splitlines() if ln.strip()]
    from_note = _note_resolution(markdown)
    if fix is not None:
        how = fix.title
        action: str | None = "\n".join(
            [fix.title, *(f"{n}. {s}" for n, s in enumerate(fix.steps or [], start=1))])
    elif said:
        how, action = said[0], "\n".join(said)
    elif from_note:
        how, action = from_note[0], "\n".join(from_note)
    else:
        how, action = "", None
    how = " ".join(how.split())
    summary = f"{problem} — fixed by: {how}" if how else problem
    if len(summary) > MAX_SUMMARY:
        summary = summary[:MAX_SUMMARY - 1].rstrip() + "…"
    return summary, action[:MAX_ACTION] if action else None


def hypotheses(session: AISession) -> list[Hypothesis]:
    """Fixes not yet tried, most likely first; then the model's latest reading, if any."""
    pending = sorted((f for f in session.fixes if f.user_decision in OPEN_FIX_STATES),
                     key=lambda f: (-f.confidence, f.position))
    out = [Hypothesis(text=f"{f.title}: {f.rationale}" if f.rationale else f.title,
                      likelihood=f.confidence) for f in pending]
    # The offline engine's messages are flow guidance ("This matches the … flow"), not a
    # reading of the problem: only the model's latest reading is a hypothesis.
    message = last_model_message(session) if session.engine == "claude" else ""
    reading = first_sentences(message, MAX_READING)
    if reading and len(out) < MAX_HYPOTHESES:
        out.append(Hypothesis(text=f"Latest reading of the session: {reading}"))
    return out[:MAX_HYPOTHESES]


def first_sentences(text: str, limit: int) -> str:
    """The first paragraph's whole sentences that fit in ``limit`` characters (at least the
    first sentence, cut at a word if it alone is longer), never half a sentence."""
    paragraph = " ".join(text.split("\n\n")[0].split())
    if len(paragraph) <= limit:
        return paragraph
    sentences = re.split(r"(?<=[.!?])\s+", paragraph)
    out = ""
    for sentence in sentences:
        if len(out) + len(sentence) + 1 > limit:
            break
        out = f"{out} {sentence}".strip()
    if out:
        return out
    return paragraph[: limit - 1].rsplit(" ", 1)[0] + "…"


def next_steps(session: AISession) -> list[str]:
    steps = []
    for a in _lane(session)["actions"]:
        if a.get("status", "open") == "open":
            cmd = f" (`{a['command']}`)" if a.get("command") else ""
            steps.append(f"{a.get('text', '')}{cmd}")
    pending = sorted((f for f in session.fixes if f.user_decision in OPEN_FIX_STATES),
                     key=lambda f: (-f.confidence, f.position))
    if pending:
        steps.append(f"Try the most likely fix not yet tried: {pending[0].title}")
    for q in open_questions(session)[:3]:
        steps.append(f"Answer the open question: {q}")
    if not steps:
        steps.append("Read the thread, confirm the facts above with the user, and take it "
                     "from the reason for escalation.")
    return steps


def escalation_data(
    session: AISession, now: datetime, *, reason: str, urgency: str, thread_url: str | None,
    technician: str, team: str = "",
) -> EscalationData:
    return EscalationData(
        session_id=str(session.id),
        summary=session.problem_summary or "Untitled problem",
        reason=reason.strip(),
        urgency=urgency if urgency in ("low", "normal", "high", "critical") else "normal",
        domain=session.problem_domain or "other",
        confidence=session.confidence_score,
        environment=environment(session),
        facts=confirmed_facts(session),
        steps_tried=steps_tried(session),
        fixes_tried=[_tried_fix(f) for f in session.fixes if f.user_decision not in OPEN_FIX_STATES],
        open_questions=open_questions(session),
        hypotheses=hypotheses(session),
        next_steps=next_steps(session),
        thread_url=thread_url,
        time_spent_text=time_spent_text(session, now),
        ticket_ref=session.psa_ticket_id,
        technician=technician,
        owner_id=session.user.slack_user_id if session.user is not None else None,
        team=team,
    )


def to_json(data: EscalationData) -> dict[str, Any]:
    return asdict(data)


def escalation_from_json(raw: dict[str, Any]) -> EscalationData:
    """Rebuild the stored package (``ai_sessions.escalation_package``) for re-rendering."""
    d = dict(raw)
    d["steps_tried"] = [TriedStep(**s) for s in d.get("steps_tried") or []]
    d["fixes_tried"] = [TriedFix(**f) for f in d.get("fixes_tried") or []]
    d["hypotheses"] = [Hypothesis(**h) for h in d.get("hypotheses") or []]
    known = set(EscalationData.__dataclass_fields__)
    return EscalationData(**{k: v for k, v in d.items() if k in known})
