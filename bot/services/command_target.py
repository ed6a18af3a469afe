"""Which session a ``/flowpilot resolve|park|resume|handoff|escalate`` acts on: the one it
names (a short reference or a thread link). Never guessed: with no name, the person is told
their open sessions and how to name one."""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.refs import session_ref
from bot.errors import DomainError, NotFoundError
from bot.services.container import Services
from bot.services.queries import my_open_sessions
from storage.db import unit_of_work
from storage.models import Account, AISession
from storage.models.session import OPEN_STATUSES
from storage.queries.threads import latest_session_in_thread


def by_ref(svc: Services, team_id: str, prefix: str) -> str:
    """The open session of this workspace whose id starts with ``prefix``."""
    with unit_of_work(svc.factory) as db:
        ids = db.execute(
            select(AISession.id).join(Account, Account.id == AISession.account_id)
            .where(Account.slack_team_id == team_id, AISession.status.in_(OPEN_STATUSES))
        ).scalars().all()
    found = [str(i) for i in ids if i.hex.startswith(prefix)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFoundError(f"No open session is fp-{prefix}. {_how(svc, team_id, None)}")
    raise DomainError(f"fp-{prefix} names more than one session; use a longer reference.")


def by_link(svc: Services, team_id: str, channel: str, thread_ts: str) -> str:
    with unit_of_work(svc.factory) as db:
        session = latest_session_in_thread(db, channel, thread_ts)
        team = session.account.slack_team_id if session is not None else None
        sid = str(session.id) if session is not None else None
    if sid is None or team != team_id:
        raise NotFoundError("That link is not a FlowPilot session's thread.")
    return sid


def unnamed(svc: Services, team_id: str, user_id: str, command: str) -> DomainError:
    """The refusal for a command that did not name its session."""
    return DomainError(f"Which session? Slack does not tell FlowPilot which thread a command "
                       f"was typed in, so name it: `/flowpilot {command} fp-…` (the reference "
                       f"in the session's header) or paste the thread's link. "
                       f"{_how(svc, team_id, user_id)}")


def _how(svc: Services, team_id: str, user_id: str | None) -> str:
    if user_id is None:
        return "`/flowpilot list` shows your open sessions."
    lines = my_open_sessions(svc, team_id, user_id)
    if not lines:
        return "You have no open sessions."
    shown = "; ".join(f"`{session_ref(s.session_id)}` {(s.summary or '(no summary)')[:60]}"
                      for s in lines[:10])
    return f"Your open sessions: {shown}."
