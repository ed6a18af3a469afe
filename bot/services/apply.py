"""Between the engine and the database: what a turn sees, and storing what it returned."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.domain import confidence as conf
from bot.domain import fixes as fixrules
from bot.domain import lane as lanerules
from bot.engines.base import (
    DOMAINS,
    FACT_SOURCES,
    FactView,
    FixView,
    LaneItemView,
    TurnContext,
    TurnInput,
    TurnOutput,
    Usage,
)
from bot.services import knowledge, present, workspace
from bot.services.branching import snapshot
from bot.services.container import Services
from bot.services.sessions import add_step
from storage.models import (
    Account,
    AISession,
    AISessionStep,
    InboundEvent,
    SessionFact,
    SessionSuggestedFix,
    User,
)
from storage.queries import deliveries

MAX_OPTIONS = 8
# What the model is told of ``ai_sessions.intake_type`` (the vocabulary's words).
INTAKE_SAYS = {
    "screenshot": "Input so far includes a screenshot (shown to you only when the workspace "
                  "allows images; otherwise the technician types what it shows).",
    "log_paste": "Input so far includes a log (pasted or a shared text file).",
    "combined": "Input so far combines typed text with a log file or a screenshot.",
}
MAX_TEXT = 2_000


def build_context(
    svc: Services, db: Session, session: AISession, events: list[InboundEvent]
) -> TurnContext:
    intake = session.intake_content or {}
    parts = [str(intake.get("text") or "")]
    if intake.get("thread"):
        parts.append("Thread so far:\n" + str(intake["thread"]))
    if intake.get("log_content"):
        parts.append("Pasted log:\n" + str(intake["log_content"]))
    if intake.get("ticket"):
        parts.append(f"Ticket: {intake['ticket']}")
    if session.intake_type in INTAKE_SAYS:  # what the technician gave (issue 18)
        parts.append(INTAKE_SAYS[session.intake_type])
    items = present.lane_items(session)
    lane = [
        LaneItemView(
            id=i, kind="question" if item.get("kind") == "question" else "action",
            text=str(item.get("text", "")), options=list(item.get("options") or []),
            command=item.get("command"), risk=str(item.get("risk", "low")),
            status=str(item.get("status", "open")), answer=item.get("answer"),
            node_id=item.get("node_id"),
        )
        for i, item in items.items()
    ]
    inputs = [_turn_input(e) for e in events]
    ai = workspace.values(svc, db, session.account, "ai_model", "ai_effort")  # one read
    return TurnContext(
        session_id=str(session.id),
        intake_text="\n\n".join(p for p in parts if p).strip(),
        summary=session.problem_summary, domain=session.problem_domain,
        confidence=session.confidence_score,
        facts=[FactView(str(f.id), f.text, f.source) for f in session.facts if f.is_active],
        retracted_fact_ids=[str(f.id) for f in session.facts if not f.is_active],
        lane=lane,
        fixes=[
            FixView(str(f.id), f.title, list(f.steps or []), f.rationale, f.user_decision, f.node_id)
            for f in session.fixes
        ],
        inputs=inputs,
        history=list(session.conversation_messages or []),
        engine_state=session.engine_state,
        flow=svc.flows.get(session.flow_key, session.account_id, db) if session.flow_key else None,
        workspace_context=f"Workspace: {session.account.name or session.account.slack_team_id}.",
        turn_number=session.step_count,
        # The workspace's AI settings apply to turns, not only to the analysis job.
        model=_text(ai["ai_model"]), effort=_text(ai["ai_effort"]),
        engine=session.engine,
        seen_before=knowledge.context_for(db, session.id) if svc.engine_name == "claude" else [],
        paths_tried=present.paths_tried(session),
    )


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _turn_input(event: InboundEvent) -> TurnInput:
    p = event.payload or {}
    kind = event.kind if event.kind in deliveries.TURN_KINDS else "reply"
    return TurnInput(
        kind=kind,  # type: ignore[arg-type]
        author=str(p.get("author_name") or p.get("author") or "technician"),
        text=str(p.get("text") or ""), item_id=p.get("item_id"), choice=p.get("choice"),
        files=len(p.get("files") or []),
    )


@dataclass
class Applied:
    step: AISessionStep
    facts: list[SessionFact] = field(default_factory=list)  # the turn's new facts
    superseded_message_ts: list[str] = field(default_factory=list)

    @property
    def step_id(self) -> uuid.UUID:
        return self.step.id


def apply_output(
    svc: Services, db: Session, session: AISession, out: TurnOutput,
    event_ids: list[uuid.UUID], now: datetime,
) -> Applied:
    """Store one turn: summary, confidence, facts, task lane, fixes, tokens, the step."""
    _apply_summary(session, out)
    facts = _add_facts(db, session, out, event_ids, now)
    question_ids, action_ids = _extend_lane(session, out)
    typed_answer_ts = _typed_answers(db, session, out, event_ids, now)
    if out.flow_id is not None:
        _follow_flow(svc, db, session, out.flow_id)
    fix_ids, superseded = _add_fixes(session, out, now)
    add_session_usage(svc, session, out.usage)
    _apply_conversation(session, out, now)
    content = _step_content(svc, out, [str(f.id) for f in facts], question_ids, action_ids,
                            fix_ids, event_ids)
    # The working state right after this turn: "Try another path from here" puts it back.
    content["state"] = snapshot(db, session)
    step = add_step(db, session, "ai_turn", None, content, now,
                    input_tokens=out.usage.input_tokens, output_tokens=out.usage.output_tokens)
    db.flush()
    add_account_usage(db, session.account_id, out.usage)
    deliveries.finish_all(db, event_ids, "done", now)
    return Applied(step=step, facts=facts, superseded_message_ts=[*superseded, *typed_answer_ts])


def _apply_summary(session: AISession, out: TurnOutput) -> None:
    if out.summary.strip():
        session.problem_summary = out.summary.strip()[:120]
    session.problem_domain = out.domain if out.domain in DOMAINS else "other"
    session.confidence_score = conf.clamp_confidence(out.confidence)
    session.confidence_tier = conf.tier_for(session.confidence_score)


def _add_facts(db: Session, session: AISession, out: TurnOutput,
               event_ids: list[uuid.UUID], now: datetime) -> list[SessionFact]:
    facts = []
    said_by = _sole_author(db, session, event_ids) if any(
        f.source in PERSON_SOURCES for f in out.facts) else None
    for fact in out.facts:
        text = fact.text.strip()[:MAX_TEXT]
        if not text:
            continue
        source = fact.source if fact.source in FACT_SOURCES else "inference"
        by = said_by if source in PERSON_SOURCES else None
        fact_row = SessionFact(
            id=uuid.uuid4(), session_id=session.id, text=text, source=source,
            source_type="turn", created_at=now,
            # Who gave it (history: "who decided what"): the one person whose inputs this
            # turn answered; a turn over several people's inputs names nobody.
            created_by_id=by[0] if by else None, source_ref=by[1] if by else None,
        )
        db.add(fact_row)
        facts.append(fact_row)
    return facts


PERSON_SOURCES = ("technician", "action")  # facts a person gave (not intake, not inference)


def _sole_author(db: Session, session: AISession,
                 event_ids: list[uuid.UUID]) -> tuple[uuid.UUID, str] | None:
    """(user id, inbound event id) of the one person whose inputs this turn took, if one."""
    if not event_ids:
        return None
    events = db.execute(select(InboundEvent.id, InboundEvent.payload)
                        .where(InboundEvent.id.in_(event_ids))).all()
    authors = {str((p or {}).get("author") or ""): eid for eid, p in events}
    authors.pop("", None)
    authors.pop("flowpilot", None)
    if len(authors) != 1:
        return None
    (slack_id, event_id), = authors.items()
    user = db.execute(select(User.id).where(User.account_id == session.account_id,
                                            User.slack_user_id == slack_id)).scalar_one_or_none()
    return (user, str(event_id)) if user is not None else None


def _extend_lane(session: AISession, out: TurnOutput) -> tuple[list[str], list[str]]:
    """The turn's questions and actions join the task lane; returns their ids."""
    lane = dict(session.pending_task_lane or {"questions": [], "actions": []})
    questions, actions = list(lane.get("questions") or []), list(lane.get("actions") or [])
    question_ids, action_ids = [], []
    for q in out.questions:
        if not q.text.strip():
            continue
        opts = [o.strip()[:200] for o in q.options if o.strip()][:MAX_OPTIONS]
        item = lanerules.new_question(q.text.strip()[:MAX_TEXT], opts, id=str(uuid.uuid4()),
                                      node_id=q.node_id, kind=q.kind)
        questions.append(item)
        question_ids.append(item["id"])
    for a in out.actions:
        if not a.text.strip():
            continue
        item = lanerules.new_action(a.text.strip()[:MAX_TEXT], (a.command or None), a.risk,
                                    id=str(uuid.uuid4()), node_id=a.node_id, kind=a.kind)
        actions.append(item)
        action_ids.append(item["id"])
    session.pending_task_lane = {**lane, "questions": questions, "actions": actions}
    return question_ids, action_ids


def _add_fixes(session: AISession, out: TurnOutput, now: datetime) -> tuple[list[str], list[str]]:
    """The turn's fixes join the session (superseding older ones it names); returns their
    ids and the ts of the superseded fixes' messages (to re-render)."""
    superseded: list[str] = []
    fix_ids = []
    existing = {str(f.id): f for f in session.fixes}
    position = len(existing)
    for fix in out.fixes:
        if not fix.title.strip():
            continue
        row = SessionSuggestedFix(
            id=uuid.uuid4(), session_id=session.id, position=position,
            title=fix.title.strip()[:500], steps=[str(s)[:MAX_TEXT] for s in fix.steps][:20],
            rationale=fix.rationale[:MAX_TEXT], verify=fix.verify[:MAX_TEXT],
            confidence=conf.clamp_confidence(fix.confidence),
            risk=fix.risk if fix.risk in ("low", "medium", "high") else "medium",
            node_id=fix.node_id, user_decision="pending", created_at=now,
        )
        position += 1
        old = existing.get(str(fix.supersedes)) if fix.supersedes else None
        if old is not None and fixrules.can_decide_fix(old.user_decision, "superseded"):
            old.user_decision = "superseded"
            old.superseded_by_id = row.id
            old.decided_at = now
            row.supersedes_id = old.id
            if old.slack_message_ts:
                superseded.append(old.slack_message_ts)
        session.fixes.append(row)
        fix_ids.append(str(row.id))
    return fix_ids, superseded


def _apply_conversation(session: AISession, out: TurnOutput, now: datetime) -> None:
    if out.transcript:
        session.conversation_messages = [*(session.conversation_messages or []), *out.transcript]
    if out.engine_state is not None:
        session.engine_state = out.engine_state
    session.last_turn_error = None
    session.last_activity_at = now


def _step_content(svc: Services, out: TurnOutput, fact_ids: list[str], question_ids: list[str],
                  action_ids: list[str], fix_ids: list[str],
                  event_ids: list[uuid.UUID]) -> dict[str, Any]:
    """The ``ai_turn`` step's content: the message and the ids of what the turn added."""
    usage = out.usage
    content: dict[str, Any] = {
        "message": out.message[:6000], "fact_ids": fact_ids, "question_ids": question_ids,
        "action_ids": action_ids, "fix_ids": fix_ids, "recommend": out.recommend,
        "engine": svc.engine_name, "model": out.model, "request_id": out.request_id,
        "usage": {
            "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "cache_read_input_tokens": usage.cache_read_input_tokens,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        },
        "inputs": [str(e) for e in event_ids],
    }
    if out.other_flows:
        content["other_flows"] = [[str(fid)[:100], str(title)[:150]]
                                  for fid, title in out.other_flows[:4]]
    return content


def _typed_answers(db: Session, session: AISession, out: TurnOutput,
                   event_ids: list[uuid.UUID], now: datetime) -> list[str]:
    """Close the lane questions a typed reply answered, as a click would; returns the
    messages to re-render (their buttons become the answer)."""
    if not out.answered:
        return []
    events = db.execute(
        select(InboundEvent).where(InboundEvent.id.in_(event_ids))
    ).scalars().all() if event_ids else []
    authors = [str((e.payload or {}).get("author") or "") for e in events if e.kind == "reply"]
    by = next((a for a in reversed(authors) if a), "")
    lane = session.pending_task_lane or {}
    to_refresh = []
    for item_id, option in out.answered:
        item = lanerules.find_item(lane, item_id)
        if item is None or item.get("status", "open") != "open" or option not in (item.get("options") or []):
            continue
        lane = lanerules.with_item(lane, lanerules.answer_question(item, option, by, now))
        if item.get("message_ts"):
            to_refresh.append(str(item["message_ts"]))
    session.pending_task_lane = lane
    return to_refresh


def _follow_flow(svc: Services, db: Session, session: AISession, flow_id: str) -> None:
    """The offline engine moved the session to another flow ("" = none): the session's
    flow key and ``trees`` row follow, so the next turn and the header use it."""
    if flow_id == (session.flow_key or ""):
        return
    if not flow_id:
        session.flow_key, session.matched_flow_id = None, None
        return
    flow = svc.flows.get(flow_id, session.account_id, db)
    if flow is None:
        return
    from bot.services.sessions import tree_for

    session.flow_key = flow.id
    session.matched_flow_id = tree_for(db, flow).id


def add_session_usage(svc: Services, session: AISession, usage: Usage) -> None:
    """Tokens of a model call, good or failed, on the session and in /metrics."""
    session.total_input_tokens += usage.input_tokens
    session.total_output_tokens += usage.output_tokens
    session.total_cache_read_tokens += usage.cache_read_input_tokens
    session.total_cache_write_tokens += usage.cache_creation_input_tokens
    for kind, n in (("input", usage.input_tokens), ("output", usage.output_tokens),
                    ("cache_read", usage.cache_read_input_tokens),
                    ("cache_write", usage.cache_creation_input_tokens)):
        if n:
            svc.metrics.tokens.labels(kind).inc(n)


def add_account_usage(db: Session, account_id: uuid.UUID, usage: Usage) -> None:
    _add_account_tokens(db, account_id, usage.input_tokens, usage.output_tokens,
                        usage.cache_read_input_tokens, usage.cache_creation_input_tokens)


def _add_account_tokens(db: Session, account_id: uuid.UUID, input_tokens: int,
                        output_tokens: int, cache_read: int, cache_write: int) -> None:
    """One relative UPDATE: sessions of one workspace finishing at once never lose a count."""
    if not (input_tokens or output_tokens or cache_read or cache_write):
        return
    db.execute(
        update(Account).where(Account.id == account_id).values(
            total_input_tokens=Account.total_input_tokens + input_tokens,
            total_output_tokens=Account.total_output_tokens + output_tokens,
            total_cache_read_tokens=Account.total_cache_read_tokens + cache_read,
            total_cache_write_tokens=Account.total_cache_write_tokens + cache_write,
        ).execution_options(synchronize_session=False)
    )
