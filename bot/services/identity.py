"""Workspaces and users are created on first sight.

A new user's profile (name, time zone, admin flag) comes from Slack's ``users.info``. Slack
calls never run while a row lock is held: use cases that lock a session ``meet`` the people
involved first (a read, and for unseen people ``users.info`` outside any transaction, then a
short insert); inside the lock they call ``ensure_user`` without a notifier."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.notify import Notifier
from storage.db import read_only, unit_of_work
from storage.models import Account, User

if TYPE_CHECKING:
    from bot.services.container import Services


def ensure_account(db: Session, slack_team_id: str, name: str = "") -> Account:
    account = db.execute(
        select(Account).where(Account.slack_team_id == slack_team_id)
    ).scalar_one_or_none()
    if account is not None:
        return account
    try:
        with db.begin_nested():
            account = Account(slack_team_id=slack_team_id, name=name or slack_team_id)
            db.add(account)
    except IntegrityError:  # another worker created it at the same moment
        account = db.execute(
            select(Account).where(Account.slack_team_id == slack_team_id)
        ).scalar_one()
    return account


def find_user(db: Session, account: Account, slack_user_id: str) -> User | None:
    return db.execute(
        select(User).where(User.account_id == account.id, User.slack_user_id == slack_user_id)
    ).scalar_one_or_none()


def ensure_user(
    db: Session, account: Account, slack_user_id: str, notifier: Notifier | None = None, *,
    info: dict[str, Any] | None = None,
) -> User:
    """The user, created on first sight with name, time zone and admin flag from ``info``
    (Slack's ``users.info`` answer), else asked of ``notifier`` (only where no row lock is
    held), else defaults."""
    user = find_user(db, account, slack_user_id)
    if user is not None:
        return user
    if info is None:
        info = notifier.user_info(slack_user_id) if notifier is not None else {}
    try:
        with db.begin_nested():
            user = User(account_id=account.id, slack_user_id=slack_user_id,
                        **_profile(info, slack_user_id))
            db.add(user)
    except IntegrityError:
        user = find_user(db, account, slack_user_id)
        assert user is not None
    return user


def _profile(info: dict[str, Any], slack_user_id: str) -> dict[str, Any]:
    """Name, time zone and admin flag from a Slack user object (``users.info``'s ``user``,
    or a ``user_change`` event's)."""
    profile = info.get("profile") or {}
    return {
        "display_name": str(profile.get("display_name") or info.get("real_name")
                            or info.get("name") or slack_user_id)[:255],
        "tz": str(info.get("tz") or "UTC")[:64],
        "is_admin": bool(info.get("is_admin") or info.get("is_owner")),
    }


def profile_changed(svc: Services, team_id: str | None, enterprise_id: str | None,
                    info: dict[str, Any], at: datetime) -> int:
    """Slack's ``user_change`` (a person's profile changed at ``at``): their rows take the new
    name, time zone (nudge hours) and admin flag (who may change settings) in this workspace,
    and in every workspace of the organisation on Enterprise Grid; a deactivated person is no
    admin. A change older than the row's (a retried or late event) never overwrites a newer
    profile. People not seen yet are left alone (created on first sight). How many rows."""
    slack_user_id = str(info.get("id") or "")
    if not slack_user_id or not (team_id or enterprise_id):
        return 0
    fields = _profile(info, slack_user_id)
    if info.get("deleted"):
        fields["is_admin"] = False
    where = [Account.slack_team_id == team_id] if team_id else []
    if enterprise_id:
        where.append(Account.slack_enterprise_id == enterprise_id)
    # Most changes are of people FlowPilot never met, or a status or huddle (the event comes
    # with those too): found by a read, which on SQLite holds up no ack; only a change of
    # what we keep is written.
    changed = (User.slack_user_id == slack_user_id, User.updated_at < at,
               User.account_id.in_(select(Account.id).where(or_(*where))),
               or_(*(getattr(User, name) != value for name, value in fields.items())))
    with read_only(svc.factory.kw["bind"]) as conn:
        if conn.execute(select(User.id).where(*changed).limit(1)).first() is None:
            return 0
    with unit_of_work(svc.factory) as db:
        return int(db.execute(
            update(User).where(*changed).values(**fields, updated_at=at)
            .execution_options(synchronize_session=False)
        ).rowcount)  # type: ignore[attr-defined]


def unseen(db: Session, team_id: str, slack_user_ids: Iterable[str]) -> list[str]:
    """Which of these people the workspace has no user row for yet (one indexed read)."""
    wanted = [u for u in dict.fromkeys(slack_user_ids) if u]
    if not wanted:
        return []
    known = set(db.execute(
        select(User.slack_user_id).join(Account, Account.id == User.account_id)
        .where(Account.slack_team_id == team_id, User.slack_user_id.in_(wanted))
    ).scalars())
    return [u for u in wanted if u not in known]


def meet(svc: Services, team_id: str | None, *slack_user_ids: str | None,
         create_account: bool = False) -> None:
    """Before a transaction that locks rows: create the people not seen before, with their
    Slack profile. ``users.info`` runs here, outside any transaction. A workspace not seen
    before is created only with ``create_account`` (else nothing happens: the use case will
    refuse an unknown workspace itself)."""
    wanted = [u for u in slack_user_ids if u]
    if not team_id or not wanted:
        return
    with unit_of_work(svc.factory) as db:
        missing = unseen(db, team_id, wanted)
        if missing and not create_account and db.execute(
                select(Account.id).where(Account.slack_team_id == team_id)).first() is None:
            return
    if not missing:
        return
    profiles = {u: svc.notifier.user_info(u) for u in missing}  # no transaction open
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)
        for slack_user_id, info in profiles.items():
            ensure_user(db, account, slack_user_id, info=info)
