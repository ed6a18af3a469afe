"""Open a session from a PSA ticket: `/flowpilot ticket 12345`, `#12345` or a ticket URL in
a mention, the intake form's ticket field.

The ticket is fetched before anything is created, so an unknown ticket, a closed one or a
workspace without a PSA ends in one clear sentence and no half-made session. What is kept
(``ticket_data``) and what the engines read is redacted and capped.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select

from bot.crypto import secret_box
from bot.errors import DomainError, PsaError
from bot.psa import connections
from bot.psa.base import Ticket
from bot.redact import redact
from bot.services.container import Services
from bot.services.sessions import Intake, Opened, clean_input, open_session, workspace_patterns
from storage.db import unit_of_work
from storage.models import Account, PsaConnection

NO_PSA = ("This workspace has no PSA connected, so tickets cannot be looked up. An admin can "
          "connect ConnectWise with `/flowpilot psa` (or `flowpilot psa connect`).")
FIELD_CHARS = {"summary": 300, "company": 120, "contact": 120, "board": 120, "status": 60,
               "priority": 60}
NOTE_CHARS = 2000

# "12345", "#12345", "ticket 12345", or a ConnectWise link (…?srRecID=12345, …/tickets/12345).
_URL = re.compile(r"https?://[^\s>|]*?(?:srRecID=|/tickets?/)(\d{1,12})", re.I)
_HASH = re.compile(r"(?<![\w&])#(\d{3,12})\b")
_BARE = re.compile(r"^\s*#?(\d{1,12})\s*$")


def ticket_number(text: str, *, bare: bool = False) -> str | None:
    """The ticket a text names (a URL or ``#N``; with ``bare``, also a plain number)."""
    text = text or ""
    for pattern in (_URL, _HASH) + ((_BARE,) if bare else ()):
        m = pattern.search(text)
        if m:
            return m.group(1)
    return None


def _connection(svc: Services, team_id: str) -> PsaConnection:
    with unit_of_work(svc.factory) as db:
        account = db.execute(select(Account).where(Account.slack_team_id == team_id)
                             ).scalar_one_or_none()
        row = connections.connectwise(db, account.id) if account is not None else None
        if row is None:
            raise DomainError(NO_PSA)
        db.expunge(row)
        return row


def fetch(svc: Services, team_id: str, number: str) -> tuple[Ticket, uuid.UUID]:
    """The ticket, redacted, or a readable refusal (no PSA, unknown, closed, PSA down)."""
    row = _connection(svc, team_id)
    box = secret_box(svc.settings.secret_key.get_secret_value()
                     if svc.settings.secret_key else None)
    target = connections.target(row, box, timeout=8.0)
    try:
        ticket = target.fetch_ticket(number)
    except PsaError as exc:
        if exc.status == 404:
            raise DomainError(f"Ticket #{number} was not found in ConnectWise.") from None
        raise DomainError(f"ConnectWise could not be asked about #{number}: {exc.message}"
                          ) from None
    if ticket.closed:
        raise DomainError(f"Ticket #{number} is closed ({ticket.status or 'closed'}); reopen "
                          "it in ConnectWise to troubleshoot it here.")
    return _redacted(ticket, workspace_patterns(svc, team_id)), row.id


def _redacted(t: Ticket, patterns: list[str]) -> Ticket:
    def clean(text: str, limit: int) -> str:
        text, _ = clean_input(text, limit)
        return redact(text, patterns).text

    fields = {k: clean(getattr(t, k), n) for k, n in FIELD_CHARS.items()}
    return Ticket(id=t.id, closed=t.closed, notes=[clean(n, NOTE_CHARS) for n in t.notes[-5:]],
                  **fields)


def open_from_ticket(svc: Services, *, team_id: str, user_id: str, channel: str,
                     number: str, thread_ts: str | None = None, source: str = "command",
                     text: str = "", log: str = "",
                     files: list[dict[str, Any]] | None = None) -> Opened:
    ticket, connection_id = fetch(svc, team_id, number)
    intake_text = ticket.intake_text() + (f"\n\nTechnician: {text.strip()}" if text.strip()
                                          else "")
    return open_session(
        svc, team_id=team_id, user_id=user_id, channel=channel, thread_ts=thread_ts,
        intake=Intake(text=intake_text, log=log, ticket=ticket.id, source=source,
                      ticket_data=ticket.model_dump(), psa_connection_id=connection_id,
                      files=list(files or [])),  # a log or screenshot shared with it
    )


def has_psa(svc: Services, team_id: str) -> bool:
    with unit_of_work(svc.factory) as db:
        account = db.execute(select(Account).where(Account.slack_team_id == team_id)
                             ).scalar_one_or_none()
        return account is not None and connections.connectwise(db, account.id) is not None
