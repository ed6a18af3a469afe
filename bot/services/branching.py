"""Branching a session (issue 18, the seed's fork points): "Try another path from here" on a
past turn, and switching back to a path tried before.

Every turn stores a snapshot of the session's working state on its step (``snapshot``). A
fork puts the snapshot of the chosen turn back: facts, fixes and their decisions, the task
lane, the offline engine's flow node, the model's conversation up to that turn. The path
being left keeps its whole working state on its ``session_branches`` row (``state``) and a
one-line ``summary`` of what it tried, so switching back restores it exactly, the model is
told what was tried (never the abandoned messages), and the note and package list the paths.

The live rows (``session_facts``, ``session_suggested_fixes``, the session's JSON columns)
always hold the active path only, so every other reader (prompt, header, note, package,
search) sees the active path without knowing about branches.
"""

from __future__ import annotations

import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import branching as br
from bot.domain import status as st
from bot.errors import DomainError, NotFoundError, SlackError
from bot.render.blocks import finish, section
from bot.render.safe import neutralize
from bot.services import present
from bot.services.container import Services
from bot.services.lifecycle import _load, _txn
from bot.services.refresh import post_turn, refresh_header, turn_message_view
from bot.services.sessions import require_may_act
from storage.models import (
    AISession,
    AISessionStep,
    ForkPoint,
    SessionBranch,
    SessionFact,
    SessionSuggestedFix,
)
from storage.queries import deliveries

_NOT_NOW = {
    st.RESOLVED: "This session is resolved, so its paths are final (the resolution note lists "
                 "them). Open a new session to try something else.",
    st.ESCALATED: "This session is escalated: the engineer who has it carries on from where it "
                  "is. Paths can't be changed under them.",
    st.REQUESTING_ESCALATION: "This session is being escalated: paths can't be changed while "
                              "the package goes out.",
    st.ABANDONED: "This session was abandoned. Open a new session to try something else.",
    st.PAUSED: "This session is parked. Resume it first, then try another path.",
}
BUSY = ("FlowPilot is still answering the last reply. Try again once its answer is in the "
        "thread; nothing changed.")


# --- snapshots and saved paths -----------------------------------------------------------------


def snapshot(db: Session, session: AISession) -> dict[str, Any]:
    """The session's working state now (right after a turn): stored on the turn's step."""
    facts = db.execute(select(SessionFact.id, SessionFact.is_active)
                       .where(SessionFact.session_id == session.id)).all()
    return {
        "facts": {str(fid): bool(active) for fid, active in facts},
        "fixes": {str(f.id): f.user_decision for f in session.fixes},
        "lane": session.pending_task_lane or {"questions": [], "actions": []},
        "engine_state": session.engine_state,
        "messages": len(session.conversation_messages or []),
        **_headline(session),
    }


def _headline(session: AISession) -> dict[str, Any]:
    return {"summary": session.problem_summary, "domain": session.problem_domain,
            "confidence": session.confidence_score, "tier": session.confidence_tier,
            "flow_key": session.flow_key,
            "matched_flow_id": str(session.matched_flow_id) if session.matched_flow_id else None}


def _put_headline(session: AISession, snap: dict[str, Any]) -> None:
    session.problem_summary = snap.get("summary")
    session.problem_domain = snap.get("domain")
    session.confidence_score = float(snap.get("confidence") or 0.0)
    session.confidence_tier = str(snap.get("tier") or session.confidence_tier)
    session.flow_key = snap.get("flow_key")
    flow = snap.get("matched_flow_id")
    session.matched_flow_id = uuid.UUID(flow) if flow else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _row(obj: Any) -> dict[str, Any]:
    return {c.key: _jsonable(getattr(obj, c.key)) for c in obj.__table__.columns}


def _unrow(model: Any, data: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for column in model.__table__.columns:
        if column.key not in data:
            continue
        value = data[column.key]
        # The two tables saved (facts, fixes) name their ids *_id and their times *_at.
        if value is not None and (column.key == "id" or column.key.endswith("_id")):
            value = uuid.UUID(str(value))
        elif value is not None and column.key.endswith("_at"):
            value = datetime.fromisoformat(str(value))
        values[column.key] = value
    return model(**values)


def _saved_state(session: AISession) -> dict[str, Any]:
    """Everything a path needs to come back exactly as it was left."""
    return {
        "facts": [_row(f) for f in session.facts],
        "fixes": [_row(f) for f in session.fixes],
        "lane": session.pending_task_lane,
        "engine_state": session.engine_state,
        "conversation": list(session.conversation_messages or []),
        **_headline(session),
    }


def _replace_rows(db: Session, session: AISession, facts: list[dict[str, Any]],
                  fixes: list[dict[str, Any]]) -> None:
    """Make the live facts and fixes those of a saved path: rows both share (from before the
    fork) are updated in place, the rest deleted or put back under their old ids."""
    pairs: list[tuple[list[Any], Any, list[dict[str, Any]]]] = [
        (session.facts, SessionFact, facts), (session.fixes, SessionSuggestedFix, fixes)]
    for collection, model, rows in pairs:
        wanted = {str(r["id"]): r for r in rows}
        for obj in list(collection):
            data = wanted.pop(str(obj.id), None)
            if data is None:
                collection.remove(obj)  # delete-orphan: the row goes (kept in the saved path)
                continue
            fresh = _unrow(model, data)
            for column in model.__table__.columns:
                if column.key not in ("id", "session_id", "created_at", "updated_at"):
                    setattr(obj, column.key, getattr(fresh, column.key))
        db.flush()
        for data in sorted(wanted.values(), key=lambda r: (r.get("position") or 0,
                                                           str(r.get("created_at") or ""))):
            collection.append(_unrow(model, data))
        db.flush()


def _apply_snapshot(session: AISession, snap: dict[str, Any]) -> None:
    """Put the state of a turn back on the live rows of the current path (a fork)."""
    facts = {str(k): bool(v) for k, v in (snap.get("facts") or {}).items()}
    for fact in list(session.facts):
        if str(fact.id) in facts:
            fact.is_active = facts[str(fact.id)]
        else:
            session.facts.remove(fact)
    fixes = {str(k): str(v) for k, v in (snap.get("fixes") or {}).items()}
    for fix in list(session.fixes):
        decision = fixes.get(str(fix.id))
        if decision is None:
            session.fixes.remove(fix)
            continue
        if fix.user_decision != decision:
            fix.user_decision = decision
            if decision == "pending":
                fix.decided_at, fix.decided_by_id = None, None
            if decision != "superseded":
                fix.superseded_by_id = None
    session.pending_task_lane = _with_message_ts(snap.get("lane"), session.pending_task_lane)
    session.engine_state = snap.get("engine_state")
    session.conversation_messages = list(session.conversation_messages or [])[
        : int(snap.get("messages") or 0)]
    _put_headline(session, snap)


def _with_message_ts(lane: dict[str, Any] | None,
                     live: dict[str, Any] | None) -> dict[str, Any]:
    """A snapshot is taken before its turn is posted: its items learn their message from the
    live lane (so a click on them still re-renders the message they are in)."""
    lane = lane or {"questions": [], "actions": []}
    posted = {str(i.get("id")): i.get("message_ts") for key in ("questions", "actions")
              for i in (live or {}).get(key) or [] if isinstance(i, dict) and i.get("message_ts")}
    return {**lane, **{key: [
        {**item, "message_ts": posted[str(item.get("id"))]}
        if isinstance(item, dict) and not item.get("message_ts") and str(item.get("id")) in posted
        else item
        for item in lane.get(key) or []] for key in ("questions", "actions")}}


def _apply_saved(db: Session, session: AISession, saved: dict[str, Any]) -> None:
    """Put a saved path back (a switch)."""
    _replace_rows(db, session, list(saved.get("facts") or []), list(saved.get("fixes") or []))
    session.pending_task_lane = saved.get("lane")
    session.engine_state = saved.get("engine_state")
    session.conversation_messages = list(saved.get("conversation") or [])
    _put_headline(session, saved)


# --- the paths of a session ---------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    branches: list[SessionBranch]
    forks: dict[uuid.UUID, ForkPoint]
    fork_orders: dict[uuid.UUID, int]  # fork point id -> its step's order

    def by_id(self, branch_id: uuid.UUID | None) -> SessionBranch | None:
        return next((b for b in self.branches if b.id == branch_id), None)


def _paths(db: Session, session: AISession) -> Paths:
    branches = list(db.execute(select(SessionBranch).where(SessionBranch.session_id == session.id)
                               .order_by(SessionBranch.branch_order, SessionBranch.created_at)).scalars())
    rows = db.execute(select(ForkPoint, AISessionStep.step_order)
                      .join(AISessionStep, AISessionStep.id == ForkPoint.step_id, isouter=True)
                      .where(ForkPoint.session_id == session.id)).all()
    return Paths(branches, {fp.id: fp for fp, _ in rows},
                 {fp.id: int(order) for fp, order in rows if order is not None})


def _turns_on_path(db: Session, session: AISession) -> list[AISessionStep]:
    """The model turns of the active path, in order."""
    db.flush()
    return [s for s in present.path_steps(session) if s.step_type == "ai_turn"]


def _base_snapshot(db: Session, branch: SessionBranch, paths: Paths,
                   first_fork: dict[str, Any] | None) -> dict[str, Any] | None:
    """The state a path started from: its fork turn's snapshot; for the original path, the
    turn of the session's first fork."""
    fork = paths.forks.get(branch.fork_point_id) if branch.fork_point_id else None
    if fork is None:
        earliest = min(paths.forks.values(), key=lambda f: f.created_at, default=None)
        fork = earliest
        if fork is None:
            return first_fork
    step = db.get(AISessionStep, fork.step_id) if fork.step_id else None
    state = (step.content or {}).get("state") if step is not None else None
    return state if isinstance(state, dict) else first_fork


def _summary(db: Session, session: AISession, branch: SessionBranch, paths: Paths,
             first_fork: dict[str, Any] | None = None, first_turn: str = "",
             first_order: int = -1) -> str:
    """One line for the path being left (the active one): what it did since it started."""
    base = _base_snapshot(db, branch, paths, first_fork)
    fork = paths.forks.get(branch.fork_point_id) if branch.fork_point_id else None
    if fork is not None:
        start = f"from {fork.label.split(':', 1)[0]}"
        since = paths.fork_orders.get(fork.id, -1)
    else:  # the original path: what it did after the session's first fork turn
        earliest = min(paths.forks.values(), key=lambda f: f.created_at, default=None)
        turn = earliest.label.split(":", 1)[0] if earliest is not None else first_turn
        start = f"after {turn}" if turn else ""
        since = paths.fork_orders.get(earliest.id, -1) if earliest is not None else first_order
    own = [t for t in _turns_on_path(db, session) if t.step_order > since]
    last = str((own[-1].content or {}).get("message") or "") if own else ""
    done, fixes = br.tried_since(base, session.pending_task_lane,
                                 [(str(f.id), f.title, f.user_decision) for f in session.fixes])
    return br.summarise(branch.name, start, done, fixes, turns=len(own), last=last)


# --- fork and switch ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moved:
    session_id: uuid.UUID
    channel: str
    thread_ts: str
    step_id: uuid.UUID | None  # the turn to post again, with its open items
    line: str  # what to tell the thread
    key: str  # outbox dedupe key of the re-posted turn
    actor: str  # the Slack id of who moved (the one mention the line may make)


def _parse(value: str, what: str) -> tuple[str, uuid.UUID]:
    sid, sep, other = (value or "").partition("|")
    try:
        if not sep:
            raise ValueError
        return sid, uuid.UUID(other)
    except ValueError:
        raise NotFoundError(f"That {what} is no longer valid.") from None


def _may_move(db: Session, session: AISession, now: datetime) -> None:
    if session.status != st.ACTIVE:
        raise DomainError(_NOT_NOW.get(session.status, "Paths can't be changed now."))
    if (session.turn_lease_until is not None and session.turn_lease_until > now) \
            or deliveries.has_pending(db, session.id):
        raise DomainError(BUSY)


def _ensure_root(db: Session, session: AISession, now: datetime) -> SessionBranch:
    """The first fork makes the session's original line of investigation ``Path 1``."""
    root = SessionBranch(id=uuid.uuid4(), session_id=session.id, name=br.path_name(0),
                         branch_order=0, is_active=True, created_at=now)
    db.add(root)
    db.flush()
    for step in db.execute(select(AISessionStep).where(
            AISessionStep.session_id == session.id, AISessionStep.branch_id.is_(None))).scalars():
        step.branch_id = root.id
    session.is_branching = True
    session.active_branch_id = root.id
    return root


def _leave(db: Session, session: AISession, branch: SessionBranch, paths: Paths,
           first_fork: dict[str, Any] | None = None, first_turn: str = "",
           first_order: int = -1) -> None:
    branch.summary = _summary(db, session, branch, paths, first_fork, first_turn, first_order)
    branch.state = _saved_state(session)
    branch.is_active = False


def fork(svc: Services, *, team_id: str, user_id: str, value: str) -> Moved:
    """"Try another path from here" on a turn's message."""
    sid, step_id = _parse(value, "button")
    with _txn(svc, team_id, user_id) as db:
        now = svc.clock()
        session, user = _load(db, svc, team_id, user_id, sid)
        require_may_act(session, user)
        step = db.get(AISessionStep, step_id)
        if step is None or step.session_id != session.id:
            raise NotFoundError("That message belongs to another session: a path can only be "
                                "tried from a turn of this session.")
        _may_move(db, session, now)
        snap = (step.content or {}).get("state") if step.step_type == "ai_turn" else None
        if not isinstance(snap, dict):
            raise DomainError("This turn was taken before paths could be tried (or is not a "
                              "turn of FlowPilot's). Try another path from a later turn.")
        paths = _paths(db, session)
        turns = _turns_on_path(db, session)
        active = paths.by_id(session.active_branch_id)
        if step not in turns:
            raise DomainError("That turn is on another path. Switch to it first (the header's "
                              "Paths menu), then try another path from there.")
        fork_point = paths.forks.get(active.fork_point_id) if active and active.fork_point_id \
            else None
        if fork_point is not None and fork_point.step_id == step.id and turns[-1].id == step.id:
            raise DomainError(f"You are already on a new path from this turn ({active.name if active else ''}). "
                              "Answer differently below.")
        if turns[-1].id == step.id:
            raise DomainError("This is the latest turn: there is no other path to leave yet. "
                              "Answer it differently, or try another path from an earlier turn.")
        number = turns.index(step) + 1
        if active is None:
            active = _ensure_root(db, session, now)
            paths = _paths(db, session)
            _leave(db, session, active, paths, first_fork=snap, first_turn=f"turn {number}",
                   first_order=step.step_order)
        else:
            _leave(db, session, active, paths)
        deliveries.drop_failed(db, session.id, now, f"{active.name} was left at turn {number}")
        message = " ".join(str((step.content or {}).get("message") or "").split())
        point = ForkPoint(id=uuid.uuid4(), session_id=session.id, step_id=step.id,
                          label=f"turn {number}: {message}"[:255], created_at=now)
        db.add(point)
        db.flush()
        order = len(paths.branches)
        new = SessionBranch(id=uuid.uuid4(), session_id=session.id, fork_point_id=point.id,
                            parent_branch_id=active.id, name=br.path_name(order),
                            branch_order=order, is_active=True, created_at=now)
        db.add(new)
        db.flush()
        session.active_branch_id = new.id
        _apply_snapshot(session, snap)
        session.last_activity_at = session.last_human_activity_at = now
        line = (f"🔀 *{new.name}*: <@{user.slack_user_id}> went back to turn {number} to try "
                f"another path. {active.name} is kept (switch back from the header's Paths "
                f"menu) — {active.summary}")
        return Moved(session.id, session.slack_channel_id, session.slack_thread_ts, step.id,
                     line, f"turn:{step.id}:fork:{point.id}", user.slack_user_id)


def switch(svc: Services, *, team_id: str, user_id: str, value: str) -> Moved:
    """The header's Paths menu: go back to a path tried before, as it was left."""
    sid, branch_id = _parse(value, "menu")
    with _txn(svc, team_id, user_id) as db:
        now = svc.clock()
        session, user = _load(db, svc, team_id, user_id, sid)
        require_may_act(session, user)
        paths = _paths(db, session)
        target = paths.by_id(branch_id)
        if target is None:
            raise NotFoundError("That path is not part of this session.")
        _may_move(db, session, now)
        active = paths.by_id(session.active_branch_id)
        if target.is_active or active is None:
            raise DomainError(f"You are already on {target.name}.")
        if not isinstance(target.state, dict):
            raise DomainError(f"{target.name} has no saved state to go back to.")
        _leave(db, session, active, paths)
        deliveries.drop_failed(db, session.id, now, f"{active.name} was left for {target.name}")
        saved = target.state
        target.state, target.is_active, target.summary = None, True, ""
        session.active_branch_id = target.id
        _apply_saved(db, session, saved)
        session.last_activity_at = session.last_human_activity_at = now
        turns = _turns_on_path(db, session)
        last = turns[-1].id if turns else None
        line = (f"↩️ *Back on {target.name}* (<@{user.slack_user_id}>), as it was left. "
                f"{active.name} is kept — {active.summary}")
        return Moved(session.id, session.slack_channel_id, session.slack_thread_ts, last, line,
                     f"turn:{last}:switch:{uuid.uuid4()}", user.slack_user_id)


def announce(svc: Services, moved: Moved) -> None:
    """Tell the thread, post the turn the path stands at again (its open questions and fixes
    with live buttons), and refresh the header (its Paths menu)."""
    text = neutralize(moved.line, allowed_user_ids=frozenset({moved.actor}), max_len=2900)
    with suppress(SlackError):
        msg = finish([section(text)], text)
        svc.notifier.post(moved.channel, msg.text, msg.blocks, thread_ts=moved.thread_ts)
    if moved.step_id is not None:
        from storage.db import unit_of_work

        with unit_of_work(svc.factory) as db:
            session = db.get(AISession, moved.session_id)
            step = db.get(AISessionStep, moved.step_id)
            if session is None or step is None:
                return
            view = turn_message_view(db, session, step)
        post_turn(svc, moved.session_id, moved.step_id, view, moved.channel, moved.thread_ts,
                  [], dedupe_key=moved.key)
    refresh_header(svc, moved.session_id)
