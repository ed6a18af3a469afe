"""``/flowpilot show fp-…``: one session's details for the people who ask "where is this at?"
— its state, the flow it matched, its ticket and PSA connection, and where each of its outputs
went (Slack, the PSA, the webhook): delivered when, the PSA's id, or the last error. Any
session of the workspace, open or closed; times in the asker's time zone."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from bot.domain.refs import session_ref
from bot.errors import DomainError, NotFoundError
from bot.render.details import DeliveryLine, SessionDetails
from bot.services.container import Services
from bot.services.identity import find_user
from bot.services.outputs import local_stamp
from storage.db import unit_of_work
from storage.models import Account, AISession, SessionResolutionOutput
from storage.queries.threads import latest_session_in_thread

MAX_DELIVERIES = 20


def find_any(svc: Services, team_id: str, ref: str | None,
             link: tuple[str, str] | None) -> str:
    """The session of this workspace a reference or a thread link names, whatever its status."""
    with unit_of_work(svc.factory) as db:
        if link is not None:
            session = latest_session_in_thread(db, *link)
            if session is None or session.account.slack_team_id != team_id:
                raise NotFoundError("That link is not a FlowPilot session's thread.")
            return str(session.id)
        if not ref:
            raise DomainError("Name the session: `/flowpilot show fp-…` (the reference in its "
                              "header) or paste its thread's link.")
        ids = db.execute(
            select(AISession.id).join(Account, Account.id == AISession.account_id)
            .where(Account.slack_team_id == team_id)
        ).scalars().all()
    found = [str(i) for i in ids if i.hex.startswith(ref)]
    if not found:
        raise NotFoundError(f"No session of this workspace is fp-{ref}.")
    if len(found) > 1:
        raise DomainError(f"fp-{ref} names more than one session; use a longer reference.")
    return found[0]


def _stamp(at: datetime | None, tz: str) -> str:
    return local_stamp(at, tz) if at is not None else ""


def session_details(svc: Services, team_id: str, user_id: str, session_id: str) -> SessionDetails:
    with unit_of_work(svc.factory) as db:
        session = db.get(AISession, uuid.UUID(session_id))
        if session is None or session.account.slack_team_id != team_id:
            raise NotFoundError("No such session in this workspace.")
        account = session.account
        viewer = find_user(db, account, user_id)
        tz = viewer.tz if viewer is not None and viewer.tz else "UTC"
        tree = session.matched_flow
        connection = session.psa_connection
        rows = db.execute(
            select(SessionResolutionOutput)
            .where(SessionResolutionOutput.session_id == session.id)
            .order_by(SessionResolutionOutput.created_at, SessionResolutionOutput.output_type)
            .limit(MAX_DELIVERIES)
        ).scalars().all()
        deliveries = [
            DeliveryLine(kind=r.output_type, target=r.target, status=r.status,
                         attempts=r.attempts, queued=_stamp(r.created_at, tz),
                         changed=_stamp(r.updated_at, tz), posted=_stamp(r.posted_at, tz),
                         external_id=r.external_id or "", last_error=r.last_error or "")
            for r in rows
        ]
        return SessionDetails(
            ref=session_ref(str(session.id)), title=session.title or session.problem_summary or "",
            status=session.status, session_type=session.session_type or "",
            owner=session.user.slack_user_id if session.user is not None else "",
            opened=_stamp(session.created_at, tz), last_change=_stamp(session.updated_at, tz),
            resolved=_stamp(session.resolved_at, tz),
            flow_title=tree.title if tree is not None else "",
            flow_domain=tree.domain if tree is not None else "",
            flow_source=tree.source if tree is not None else "",
            flow_file=str((tree.definition or {}).get("source") or "") if tree is not None else "",
            match_score=session.match_score, ticket=session.psa_ticket_id or "",
            connection=connection.name if connection is not None else "",
            note_posted=_stamp(session.resolution_note_posted_at, tz),
            note_external_id=session.resolution_note_external_id or "",
            package_external_id=session.escalation_package_external_id or "",
            deliveries=deliveries,
        )
