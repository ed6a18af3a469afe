"""From stored state to the renderers' view models (no Slack calls, no writes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain import confidence as conf
from bot.domain import status as st
from bot.domain import timekeeping
from bot.render.views import ActionItem, FactItem, FixItem, HeaderView, QuestionItem, TurnView
from storage.models import AISession, AISessionStep, SessionFact, SessionSuggestedFix, User


def local_time_text(at: datetime | str | None, tz: str = "UTC") -> str:
    if at is None:
        return ""
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            return ""
    try:
        zone = ZoneInfo(tz)
    except Exception:
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).strftime("%H:%M")


def ledger_now(session: AISession, now: datetime) -> timekeeping.TimeLedger:
    """The session's time ledger brought up to ``now`` (nothing is written)."""
    ledger = timekeeping.ledger_from_columns(
        session.total_active_seconds, session.total_parked_seconds, session.status,
        session.status_changed_at or session.created_at,
    )
    return timekeeping.accrue(ledger, now)


def header_view(session: AISession, now: datetime) -> HeaderView:
    ledger = ledger_now(session, now)
    return HeaderView(
        session_id=str(session.id),
        summary=session.problem_summary or _intake_first_line(session) or "New session",
        domain=session.problem_domain or "other",
        tier=session.confidence_tier,
        confidence=session.confidence_score,
        status=session.status,
        owner_id=session.user.slack_user_id if session.user else None,
        escalated_to_id=session.escalated_to.slack_user_id if session.escalated_to else None,
        time_active_text=timekeeping.seconds_to_text(ledger.active_seconds),
        time_parked_text=(
            timekeeping.seconds_to_text(ledger.parked_seconds) if ledger.parked_seconds else ""
        ),
        flow_title=(session.matched_flow.title if session.matched_flow else None),
        ticket_ref=ticket_ref(session),
        step_count=session.step_count,
        title=session.title, session_type=session.session_type or "guided",
        match_score=session.match_score, handoff_count=session.handoff_count or 0,
        rating=session.session_rating, feedback=session.session_feedback,
        team=session.team.name if session.team is not None else None,
        escalation_team=(session.escalation_team.name if session.escalation_team is not None
                         and session.status in (st.REQUESTING_ESCALATION, st.ESCALATED)
                         else None),
    )


def ticket_ref(session: AISession) -> str | None:
    """"#1001 · Contoso Ltd · New" for a PSA ticket, else the number typed at intake."""
    data = session.ticket_data or {}
    if not data.get("id"):
        return session.psa_ticket_id
    return " · ".join(str(x) for x in (f"#{data['id']}", data.get("company"),
                                       data.get("status")) if x)


def _intake_first_line(session: AISession) -> str:
    text = str((session.intake_content or {}).get("text") or "").strip()
    return text.splitlines()[0][:120] if text else ""


def lane_items(session: AISession) -> dict[str, dict[str, Any]]:
    lane = session.pending_task_lane or {}
    items = list(lane.get("questions") or []) + list(lane.get("actions") or [])
    return {str(item["id"]): item for item in items}


def turn_view(
    session: AISession, step: AISessionStep, users: dict[Any, User], tz: str = "UTC",
    facts: list[SessionFact] | None = None,
) -> TurnView:
    """Rebuild a turn's message from its step record and the items' current state.
    ``facts``: where to find the turn's facts, when not in ``session.facts``."""
    content = step.content or {}
    items = lane_items(session)
    facts_by_id = {str(f.id): f for f in (session.facts if facts is None else facts)}
    fixes_by_id = {str(f.id): f for f in session.fixes}
    questions, actions = [], []
    for item_id in content.get("question_ids", []):
        item = items.get(item_id)
        if item is not None:
            questions.append(question_item(item, tz))
    for item_id in content.get("action_ids", []):
        item = items.get(item_id)
        if item is not None:
            actions.append(action_item(item, tz))
    fixes = [
        fix_item(fixes_by_id[i], fixes_by_id, users, tz)
        for i in content.get("fix_ids", []) if i in fixes_by_id
    ]
    shown = [fact_item(facts_by_id[i]) for i in content.get("fact_ids", []) if i in facts_by_id]
    allowed = frozenset(str(p) for p in (session.participants or []))
    return TurnView(
        session_id=str(session.id),
        message=str(content.get("message") or ""),
        facts=shown, questions=questions, actions=actions, fixes=fixes,
        recommend=content.get("recommend", "continue"),
        engine="claude" if session.engine == "claude" else "offline",
        allowed_user_ids=allowed,
        other_flows=_other_flows(content),
        escalated=session.escalated_to_id is not None or session.status == "escalated",
    )


def _other_flows(content: dict[str, Any]) -> list[tuple[str, str]]:
    raw = content.get("other_flows")
    if not isinstance(raw, list):
        return []
    return [(str(p[0]), str(p[1])) for p in raw
            if isinstance(p, list | tuple) and len(p) == 2][:4]


def question_item(item: dict[str, Any], tz: str) -> QuestionItem:
    return QuestionItem(
        id=str(item["id"]), text=str(item.get("text", "")),
        options=[str(o) for o in item.get("options") or []],
        status=str(item.get("status", "open")), answer=item.get("answer"),
        decided_by=item.get("decided_by"), decided_at_text=local_time_text(item.get("decided_at"), tz),
    )


def action_item(item: dict[str, Any], tz: str) -> ActionItem:
    return ActionItem(
        id=str(item["id"]), text=str(item.get("text", "")), command=item.get("command"),
        risk=str(item.get("risk", "low")), status=str(item.get("status", "open")),
        decided_by=item.get("decided_by"),
        decided_at_text=local_time_text(item.get("decided_at"), tz),
        kind=str(item.get("step_kind") or "check"),
    )


def fix_item(
    fix: SessionSuggestedFix, fixes_by_id: dict[str, SessionSuggestedFix],
    users: dict[Any, User], tz: str,
) -> FixItem:
    decided_by = users.get(fix.decided_by_id) if fix.decided_by_id else None
    sup = fixes_by_id.get(str(fix.supersedes_id)) if fix.supersedes_id else None
    sup_by = fixes_by_id.get(str(fix.superseded_by_id)) if fix.superseded_by_id else None
    return FixItem(
        id=str(fix.id), title=fix.title, steps=[str(s) for s in fix.steps or []],
        rationale=fix.rationale, verify=fix.verify, risk=fix.risk, confidence=fix.confidence,
        status=fix.user_decision,
        decided_by=decided_by.slack_user_id if decided_by else None,
        decided_at_text=local_time_text(fix.decided_at, tz),
        supersedes_title=sup.title if sup else None,
        superseded_by_title=sup_by.title if sup_by else None,
    )


def fact_item(fact: SessionFact) -> FactItem:
    return FactItem(text=fact.text, source=fact.source, id=str(fact.id), active=fact.is_active)


def tier(confidence: float) -> str:
    return conf.tier_for(confidence)
