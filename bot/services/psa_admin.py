"""Connecting a PSA from Slack (the admin-only modal): the same checks as the CLI."""

from __future__ import annotations

from bot.errors import NotAllowedError
from bot.psa.connections import CwDetails, describe, require_box, save_connectwise
from bot.services.admin import is_admin
from bot.services.container import Services
from bot.services.identity import ensure_account, ensure_user
from storage.db import unit_of_work


def require_admin(svc: Services, team_id: str, user_id: str) -> None:
    with unit_of_work(svc.factory) as db:
        user = ensure_user(db, ensure_account(db, team_id), user_id, svc.notifier)
        if not is_admin(db, svc, user):
            raise NotAllowedError("Only workspace admins can connect a PSA.")


def status_line(svc: Services, team_id: str) -> str:
    from sqlalchemy import select

    from bot.psa import connections
    from storage.models import Account

    with unit_of_work(svc.factory) as db:
        account = db.execute(select(Account).where(Account.slack_team_id == team_id)
                             ).scalar_one_or_none()
        rows = [r for r in ((connections.connectwise(db, account.id),
                             connections.webhook(db, account.id)) if account else ()) if r]
        return "; ".join(describe(r) for r in rows) or "no PSA connected"


def connect(svc: Services, team_id: str, user_id: str, details: CwDetails) -> str:
    """Admin check, validation, one API call, then store (secrets encrypted). Returns the
    line to show; raises a readable error, and stores nothing, when any step fails."""
    require_admin(svc, team_id, user_id)
    box = require_box(svc.settings.secret_key.get_secret_value()
                      if svc.settings.secret_key else None)
    details.validate()
    client = details.client(timeout=8.0)
    try:
        answered = client.check()
    finally:
        client.close()
    with unit_of_work(svc.factory) as db:
        row = save_connectwise(db, box, ensure_account(db, team_id), details)
        return f"{describe(row)} — {answered}"
