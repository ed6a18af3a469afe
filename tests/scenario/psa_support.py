"""Helpers for the PSA scenarios: connect a workspace to the ConnectWise stand-in, open a
session from a ticket through a signed slash command, read what reached the stand-in."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from bot.crypto import SecretBox, generate_key
from bot.psa.connections import CwDetails, save_connectwise, save_webhook
from bot.sandbox.fake_psa import FakePsa
from bot.services.identity import ensure_account
from storage.db import unit_of_work
from storage.models import AISession, SessionResolutionOutput

KEY = generate_key()
ESC = "CESC"


def connect(h: Any, psa: FakePsa, team: str = "T0001", **options: Any) -> None:
    details = CwDetails(site=psa.url, company=psa.company, public_key=psa.public_key,
                        private_key=psa.private_key, client_id=psa.client_id, options=options)
    with unit_of_work(h.svc.factory) as db:
        save_connectwise(db, SecretBox(KEY), ensure_account(db, team), details)


def connect_webhook(h: Any, url: str, secret: str, team: str = "T0001") -> None:
    with unit_of_work(h.svc.factory) as db:
        save_webhook(db, SecretBox(KEY), ensure_account(db, team), url, secret)


def technician(h: Any, user: str = "U1", email: str = "alice@example.com") -> None:
    h.slack.set_user(user, profile={"real_name": "Alice", "display_name": "alice",
                                    "email": email})


def sessions(h: Any) -> list[AISession]:
    with h.svc.factory() as db:
        return list(db.execute(select(AISession).order_by(AISession.created_at)).scalars())


def outputs(h: Any, session_id: uuid.UUID | None = None) -> list[SessionResolutionOutput]:
    with h.svc.factory() as db:
        stmt = select(SessionResolutionOutput).order_by(SessionResolutionOutput.created_at)
        if session_id is not None:
            stmt = stmt.where(SessionResolutionOutput.session_id == session_id)
        return list(db.execute(stmt).scalars())


def open_ticket(h: Any, number: str = "1001", user: str = "U1") -> AISession:
    status, _ = h.command(f"ticket {number}", user=user)
    assert status == 200
    h.settle()
    found = [s for s in sessions(h) if s.psa_ticket_id == number]
    assert found, h.ephemerals_text(user)
    return found[-1]


def flowpilot_notes(psa: FakePsa, ticket: int = 1001) -> list[dict[str, Any]]:
    return [n for n in psa.notes(ticket) if "[FlowPilot ref " in n["text"]]


def on_latest(h: Any, text: str, user: str = "U1") -> tuple[int, str]:
    """``/flowpilot VERB [rest]`` naming the newest session by its reference (a slash command
    carries no thread, so a session command names its session)."""
    from bot.domain.refs import session_ref

    verb, _, rest = text.partition(" ")
    ref = session_ref(str(sessions(h)[-1].id))
    return h.command(f"{verb} {ref} {rest}".rstrip(), user=user)
