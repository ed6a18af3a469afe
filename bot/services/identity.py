"""Workspaces and users are created on first sight."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.notify import Notifier
from storage.models import Account, User


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
    db: Session, account: Account, slack_user_id: str, notifier: Notifier | None = None
) -> User:
    """The user, created on first sight (with name, time zone and admin flag from Slack)."""
    user = find_user(db, account, slack_user_id)
    if user is not None:
        return user
    info = notifier.user_info(slack_user_id) if notifier is not None else {}
    profile = info.get("profile") or {}
    try:
        with db.begin_nested():
            user = User(
                account_id=account.id,
                slack_user_id=slack_user_id,
                display_name=str(
                    profile.get("display_name") or info.get("real_name") or info.get("name")
                    or slack_user_id
                )[:255],
                tz=str(info.get("tz") or "UTC")[:64],
                is_admin=bool(info.get("is_admin") or info.get("is_owner")),
            )
            db.add(user)
    except IntegrityError:
        user = find_user(db, account, slack_user_id)
        assert user is not None
    return user
