"""Which workspace work is for, and what happens to a workspace's account when FlowPilot is
installed, uninstalled or refused there.

Slack calls take their token from the workspace set with ``bot.tokens.acting_for``; these
helpers set it from what the work knows (a session, an account, a team id), reading the
workspace's Enterprise Grid org from its account so org-wide installs are found too.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from bot.tokens import TokenSource, acting_for
from storage.db import unit_of_work
from storage.models import Account, AISession

if TYPE_CHECKING:
    from bot.services.container import Services

log = logging.getLogger(__name__)


def tokens(svc: Services) -> TokenSource | None:
    return svc.notifier.tokens


def multi(svc: Services) -> bool:
    source = tokens(svc)
    return source is not None and not source.single


@contextlib.contextmanager
def for_session(svc: Services, session_id: uuid.UUID) -> Iterator[tuple[str, str | None]]:
    if not multi(svc):  # one workspace, one token: nothing to look up
        yield "", None
        return
    with unit_of_work(svc.factory) as db:
        row = db.execute(
            select(Account.slack_team_id, Account.slack_enterprise_id)
            .join(AISession, AISession.account_id == Account.id)
            .where(AISession.id == session_id)
        ).first()
    team, enterprise = (row[0], row[1]) if row is not None else ("", None)
    warm(svc, team, enterprise)
    with acting_for(team, enterprise):
        yield team, enterprise


@contextlib.contextmanager
def for_account(svc: Services, account_id: uuid.UUID) -> Iterator[tuple[str, str | None]]:
    if not multi(svc):
        yield "", None
        return
    with unit_of_work(svc.factory) as db:
        row = db.execute(select(Account.slack_team_id, Account.slack_enterprise_id)
                         .where(Account.id == account_id)).first()
    team, enterprise = (row[0], row[1]) if row is not None else ("", None)
    warm(svc, team, enterprise)
    with acting_for(team, enterprise):
        yield team, enterprise


@contextlib.contextmanager
def for_team(svc: Services, team_id: str | None) -> Iterator[None]:
    """Work that only knows the team id (queued work items): its org from the account."""
    enterprise = None
    if team_id and multi(svc):
        with unit_of_work(svc.factory) as db:
            enterprise = db.execute(select(Account.slack_enterprise_id)
                                    .where(Account.slack_team_id == team_id)).scalar()
        warm(svc, team_id, enterprise)
    with acting_for(team_id, enterprise):
        yield


def warm(svc: Services, team_id: str | None, enterprise_id: str | None) -> None:
    """Look the token up (and refresh it if due) now, before the work opens a transaction:
    on SQLite a lookup or refresh inside one would wait for the write lock it holds."""
    source = tokens(svc)
    if source is not None and not source.single and team_id:
        source.grant(team_id, enterprise_id)


def usable(svc: Services, team_id: str, enterprise_id: str | None) -> bool:
    """False for a workspace without an installation, or whose token Slack refused earlier
    in this process: jobs skip its sessions (and the rest of the pass goes on)."""
    source = tokens(svc)
    if source is None or source.single:
        return True
    return not source.is_refused(team_id, enterprise_id) and source.grant(
        team_id, enterprise_id) is not None


def remember_enterprise(svc: Services, team_id: str, enterprise_id: str) -> None:
    """Record a workspace's Enterprise Grid org on its account (once per process), so jobs
    find an org-wide install's token."""
    known = svc.grid_known
    if team_id in known:
        return
    from bot.services.identity import ensure_account

    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)  # created on first sight, as everywhere
        if account.slack_enterprise_id != enterprise_id:
            account.slack_enterprise_id = enterprise_id
    known.add(team_id)


# ── install, uninstall, refusal ─────────────────────────────────────────────────────────


def installed(svc: Services, team_id: str | None, enterprise_id: str | None,
              team_name: str = "") -> None:
    """A (re)install: the workspace's account is active again, with its settings and
    sessions (an org-wide install reactivates every workspace of the org)."""
    from bot.services.identity import ensure_account

    with unit_of_work(svc.factory) as db:
        if team_id:
            account = ensure_account(db, team_id, team_name)
            account.is_active = True
            account.uninstalled_at = None
            if enterprise_id:
                account.slack_enterprise_id = enterprise_id
        elif enterprise_id:
            db.execute(update(Account).where(Account.slack_enterprise_id == enterprise_id)
                       .values(is_active=True, uninstalled_at=None)
                       .execution_options(synchronize_session=False))
    source = tokens(svc)
    if source is not None:
        source.forget(team_id, enterprise_id)
    log.info("installed in workspace %s (org %s)", team_id, enterprise_id)


def uninstalled(svc: Services, team_id: str | None, enterprise_id: str | None, *,
                org: bool) -> None:
    """``app_uninstalled`` (or the bot token revoked): the account is kept, with its settings
    and sessions, but inactive; the installation rows and their tokens are deleted."""
    now = svc.clock()
    with unit_of_work(svc.factory) as db:
        if org and enterprise_id:
            db.execute(update(Account).where(Account.slack_enterprise_id == enterprise_id)
                       .values(is_active=False, uninstalled_at=now)
                       .execution_options(synchronize_session=False))
        elif team_id:
            from bot.services.identity import ensure_account

            account = ensure_account(db, team_id)
            account.is_active = False
            account.uninstalled_at = now
    store = svc.installation_store
    if store is not None:
        try:
            store.delete_all(enterprise_id=enterprise_id, team_id=None if org else team_id)
        except Exception:
            log.warning("could not delete the installation of %s", team_id or enterprise_id)
    source = tokens(svc)
    if source is not None:
        source.forget(None if org else team_id, enterprise_id)


def refused(svc: Services, team_id: str | None, enterprise_id: str | None, error: str) -> None:
    """Slack refused the workspace's token mid-work: mark the account inactive (a reinstall
    reactivates it); the token stays stored until Slack says it was revoked."""
    if not team_id:
        return
    with unit_of_work(svc.factory) as db:
        db.execute(update(Account).where(Account.slack_team_id == team_id)
                   .values(is_active=False).execution_options(synchronize_session=False))
