"""Clicks on a turn's buttons: answer a question, mark an action, decide a fix, retry.

Each click is a quick state change (done before the ack) that also queues a turn input; the
handler then re-renders the message in place and kicks the runner.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.domain import DomainRuleError
from bot.domain import fixes as fixrules
from bot.domain import lane as lanerules
from bot.domain import status as st
from bot.errors import DomainError, NotFoundError
from bot.services import workspace
from bot.services.container import Services
from bot.services.identity import ensure_user, meet
from bot.services.sessions import add_participant, add_step, load_for_team, require_may_act, touch
from storage.db import in_transaction, unit_of_work
from storage.models import AISession, User
from storage.queries import deliveries


@contextmanager
def domain_errors() -> Iterator[None]:
    """The pure domain raises ValueError subclasses; show them as our DomainError."""
    try:
        yield
    except DomainRuleError as exc:
        raise DomainError(exc.message) from None


@dataclass(frozen=True)
class ClickTarget:
    session_id: str
    item_id: str
    index: int | None = None


def parse_value(value: str, *, with_index: bool = False) -> ClickTarget:
    """Button values are ``session|item`` or ``session|item|index``; anything else is refused."""
    parts = (value or "").split("|")
    try:
        if with_index:
            sid, item, idx = parts
            return ClickTarget(str(uuid.UUID(sid)), item, int(idx))
        sid, item = parts
        return ClickTarget(str(uuid.UUID(sid)), item)
    except ValueError:
        raise NotFoundError("That button is no longer valid.") from None


@dataclass
class Clicked:
    session_id: uuid.UUID
    message_ts: str | None
    kick: bool = True


Mutation = Callable[[Session, AISession, User], tuple[str, dict[str, Any], str | None]]


def _click(svc: Services, *, team_id: str, user_id: str, session_id: str,
           event_id: uuid.UUID | None, mutate: Mutation) -> Clicked:
    def work(db: Session) -> Clicked:
        now = svc.clock()
        session = load_for_team(db, session_id, team_id, lock=True)
        user = ensure_user(db, session.account, user_id)  # met before the lock
        require_may_act(session, user)
        if not st.accepts_turns(session.status):
            raise DomainError(st.explain_no_turns(session.status))
        kind, payload, message_ts = mutate(db, session, user)
        payload = {**payload, "author": user_id, "author_name": user.display_name,
                   "team_id": team_id}
        add_step(db, session, _STEP[kind], user, payload, now)
        if event_id is not None:
            deliveries.attach(db, event_id, session_id=session.id, kind=kind, payload=payload)
        else:
            deliveries.add_turn_input(db, session, kind=kind, now=now, payload=payload)
        add_participant(session, user_id)
        touch(session, now, human=True, nudge_after=workspace.nudge_after(svc, db, session.account))
        return Clicked(session.id, message_ts)

    meet(svc, team_id, user_id)  # a new person's Slack profile, before the row lock
    with domain_errors():
        # A running turn may store its answer on the same row meanwhile: retried on fresh state.
        return in_transaction(svc.factory, work)


_STEP = {"answer": "answer", "action_done": "action", "action_skip": "action",
         "fix_decision": "fix_decision"}


def answer(svc: Services, *, team_id: str, user_id: str, value: str,
           event_id: uuid.UUID | None = None) -> Clicked:
    target = parse_value(value, with_index=True)

    def mutate(db: Session, session: AISession, user: User) -> tuple[str, dict[str, Any], str | None]:
        lane = session.pending_task_lane or {}
        item = lanerules.find_item(lane, target.item_id)
        if item is None or item.get("kind") != "question":
            raise NotFoundError("That question is no longer part of this session.")
        options = list(item.get("options") or [])
        if target.index is None or not 0 <= target.index < len(options):
            raise NotFoundError("That answer is not one of the question's options.")
        option = options[target.index]
        new = lanerules.answer_question(item, option, user.slack_user_id, svc.clock())
        session.pending_task_lane = lanerules.with_item(lane, new)
        return "answer", {"item_id": target.item_id, "choice": option,
                          "text": f"{item.get('text', '')} → {option}"}, item.get("message_ts")

    return _click(svc, team_id=team_id, user_id=user_id, session_id=target.session_id,
                  event_id=event_id, mutate=mutate)


def complete_action(svc: Services, *, team_id: str, user_id: str, value: str, done: bool,
                    event_id: uuid.UUID | None = None) -> Clicked:
    target = parse_value(value)

    def mutate(db: Session, session: AISession, user: User) -> tuple[str, dict[str, Any], str | None]:
        lane = session.pending_task_lane or {}
        item = lanerules.find_item(lane, target.item_id)
        if item is None or item.get("kind") != "action":
            raise NotFoundError("That action is no longer part of this session.")
        new = lanerules.complete_action(item, done, user.slack_user_id, svc.clock())
        session.pending_task_lane = lanerules.with_item(lane, new)
        kind = "action_done" if done else "action_skip"
        verb = "Done" if done else "Skipped"
        return kind, {"item_id": target.item_id, "choice": "done" if done else "skipped",
                      "text": f"{verb}: {item.get('text', '')}"}, item.get("message_ts")

    return _click(svc, team_id=team_id, user_id=user_id, session_id=target.session_id,
                  event_id=event_id, mutate=mutate)


def decide_fix(svc: Services, *, team_id: str, user_id: str, value: str, decision: str,
               event_id: uuid.UUID | None = None) -> Clicked:
    target = parse_value(value)

    def mutate(db: Session, session: AISession, user: User) -> tuple[str, dict[str, Any], str | None]:
        fix = next((f for f in session.fixes if str(f.id) == target.item_id), None)
        if fix is None:
            raise NotFoundError("That fix is no longer part of this session.")
        fix.user_decision = fixrules.decide_fix(fix.user_decision, decision)
        fix.decided_by_id = user.id
        fix.decided_at = svc.clock()
        label = fixrules.FIX_DECISION_LABELS.get(decision, decision)
        return "fix_decision", {"item_id": target.item_id, "choice": decision,
                                "text": f"Fix '{fix.title}': {label}"}, fix.slack_message_ts

    clicked = _click(svc, team_id=team_id, user_id=user_id, session_id=target.session_id,
                     event_id=event_id, mutate=mutate)
    # "Trying" is news, not a question: the model hears it with the next input, no turn now.
    clicked.kick = decision != fixrules.TRYING
    return clicked


def choose_flow(svc: Services, *, team_id: str, user_id: str, value: str,
                event_id: uuid.UUID | None = None) -> Clicked:
    """"Wrong flow?" on an offline turn: ``session|flow id`` or ``session|none``. The choice
    is recorded as a step and goes to the engine as an answer to ``WRONG_FLOW_ITEM``."""
    from bot.engines.offline import NONE_OF_THESE, WRONG_FLOW_ITEM

    target = parse_value(value)

    def mutate(db: Session, session: AISession, user: User) -> tuple[str, dict[str, Any], str | None]:
        if session.engine != "offline":
            raise DomainError("Choosing another flow is for sessions on the built-in flows.")
        choice = target.item_id
        if choice == NONE_OF_THESE:
            title = "none of the built-in flows"
        else:
            flow = svc.flows.get(choice, session.account_id, db)
            if flow is None:
                raise NotFoundError("That flow is no longer available.")
            title = flow.title
        return "answer", {"item_id": WRONG_FLOW_ITEM, "choice": choice,
                          "text": f"Wrong flow → {title}"}, None

    return _click(svc, team_id=team_id, user_id=user_id, session_id=target.session_id,
                  event_id=event_id, mutate=mutate)


def _taking_turns(svc: Services, db: Session, session_id: str, team_id: str,
                  user_id: str) -> AISession:
    """The session, if this person may act on it and it still takes turns."""
    session = load_for_team(db, session_id, team_id)
    require_may_act(session, ensure_user(db, session.account, user_id))  # met before
    if not st.accepts_turns(session.status):
        raise DomainError(st.explain_no_turns(session.status))
    return session


def use_flows(svc: Services, *, team_id: str, user_id: str, session_id: str) -> uuid.UUID:
    """"Continue with built-in flows" after the model could not be used: the session moves to
    the offline engine for good, and its failed inputs are taken again there."""
    meet(svc, team_id, user_id)
    with unit_of_work(svc.factory) as db, domain_errors():
        session = _taking_turns(svc, db, session_id, team_id, user_id)
        if session.engine == "offline":
            return session.id  # a double click: already moved
        session.engine = "offline"
        session.engine_state = None  # the flow engine starts from the matched flow
        sid = session.id
    return retry(svc, team_id=team_id, user_id=user_id, session_id=str(sid))


def retry(svc: Services, *, team_id: str, user_id: str, session_id: str) -> uuid.UUID:
    """The Retry button: failed inputs go back in the queue (nothing was lost)."""
    from bot.services.turns import requeue_failed

    meet(svc, team_id, user_id)
    with unit_of_work(svc.factory) as db, domain_errors():
        sid = _taking_turns(svc, db, session_id, team_id, user_id).id
    if requeue_failed(svc, sid, svc.clock()) == 0:
        with unit_of_work(svc.factory) as db:
            again = db.get(AISession, sid)
            assert again is not None
            deliveries.add_turn_input(db, again, kind="retry", now=svc.clock(),
                                      payload={"author": user_id, "team_id": team_id})
    return sid
