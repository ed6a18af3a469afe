"""Workspace settings for admins: show the effective values, set or unset one."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.errors import DomainError, NotAllowedError
from bot.services import workspace
from bot.services.container import Services
from bot.services.identity import ensure_account, ensure_user
from storage.db import unit_of_work
from storage.models import AccountSettings, User
from storage.settings_store import get_all_settings, set_setting

CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$|^([CG][A-Z0-9]{2,})$")
GROUP = re.compile(r"^<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>$|^(S[A-Z0-9]{2,})$")
BOUNDS = {
    "nudge_after_minutes": (1, 10_080), "park_after_minutes": (1, 43_200),
    "abandon_after_days": (1, 365), "escalation_sla_minutes": (1, 10_080),
    "max_nudges": (0, 20), "digest_hour": (0, 23),
}


def is_admin(db: Any, svc: Services, user: User) -> bool:
    admins = get_all_settings(db, user.account_id).get("admins") or []
    return user.is_admin or user.slack_user_id in admins


def effective(svc: Services, team_id: str) -> dict[str, Any]:
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)
        return {key: workspace.value(svc, db, account, key) for key in workspace.KEYS}


def last_changed(svc: Services, team_id: str) -> datetime | None:
    """When an admin last changed this workspace's settings (None: never, all defaults)."""
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)
        row = db.execute(select(AccountSettings).where(AccountSettings.account_id == account.id)
                         ).scalar_one_or_none()
        return row.updated_at if row is not None and row.settings else None


def parse(key: str, raw: str) -> Any:
    kind = workspace.KEYS.get(key)
    if kind is None:
        raise DomainError(f"Unknown setting `{key}`. Known: {', '.join(sorted(workspace.KEYS))}.")
    raw = raw.strip()
    if key in ("escalation_channel", "digest_channel"):
        m = CHANNEL.match(raw)
        if not m:
            raise DomainError("Give a channel like #escalations.")
        return m.group(1) or m.group(2)
    if key == "escalation_group":
        m = GROUP.match(raw)
        if not m:
            raise DomainError("Give a user group like @tier3.")
        return m.group(1) or m.group(2)
    if kind is int:
        try:
            value = int(raw)
        except ValueError:
            raise DomainError(f"`{key}` is a whole number.") from None
        low, high = BOUNDS.get(key, (0, 1_000_000))
        if not low <= value <= high:
            raise DomainError(f"`{key}` must be between {low} and {high}.")
        return value
    if kind is bool:
        word = raw.lower()
        if word not in ("on", "off", "true", "false", "yes", "no"):
            raise DomainError(f"`{key}` is `on` or `off`.")
        return word in ("on", "true", "yes")
    if kind is list:
        return [part for part in re.split(r"[\s,]+", raw) if part]
    if key in ("working_hours_start", "working_hours_end") and not re.match(r"^\d{2}:\d{2}$", raw):
        raise DomainError(f"`{key}` is a time like 08:00.")
    return raw[:200]


def change(svc: Services, team_id: str, user_id: str, key: str, raw: str | None) -> Any:
    """Set (or, with ``raw`` None, unset) one workspace setting. Admins only."""
    value = parse(key, raw) if raw is not None else None
    if raw is None and key not in workspace.KEYS:
        raise DomainError(f"Unknown setting `{key}`.")
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)
        user = ensure_user(db, account, user_id, svc.notifier)
        if not is_admin(db, svc, user):
            raise NotAllowedError("Only workspace admins can change FlowPilot's settings.")
        set_setting(db, account.id, key, value)
        account_id = account.id
    svc.caches.redaction_patterns.drop(team_id)
    svc.caches.nudge_after.drop(account_id)
    return value
