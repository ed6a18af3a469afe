"""Workspace settings: ``account_settings`` overrides the ``FLOWPILOT_*`` defaults."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.domain.nudges import WorkingHours
from storage.models import Account
from storage.settings_store import get_all_settings

if TYPE_CHECKING:
    from bot.services.container import Services

# Setting keys an admin may set (``/flowpilot settings``), with their types.
KEYS: dict[str, type] = {
    "escalation_channel": str,
    "escalation_group": str,  # a Slack user group id (S…) tagged when no engineer is chosen
    "digest_channel": str,
    "digest_hour": int,
    "nudge_after_minutes": int,
    "park_after_minutes": int,
    "abandon_after_days": int,
    "escalation_sla_minutes": int,
    "max_nudges": int,
    "working_hours_start": str,  # "08:00"
    "working_hours_end": str,  # "18:00"
    "working_days": str,  # "0-4" or "0,1,2,3,4"
    "ai_model": str,
    "ai_effort": str,  # low | medium | high | xhigh | max (FLOWPILOT_AI_EFFORT by default)
    "redaction_patterns": list,
    "admins": list,
    # Screenshots go to Claude (issue 18). Off by default: an image can't be redacted.
    "allow_images": bool,
}


def all_settings(db: Session, account: Account) -> dict[str, Any]:
    return get_all_settings(db, account.id)


def value(svc: Services, db: Session, account: Account, key: str) -> Any:
    return values(svc, db, account, key)[key]


def values(svc: Services, db: Session, account: Account, *keys: str) -> dict[str, Any]:
    """Several settings in one read: the workspace's own, else the process's default."""
    stored = get_all_settings(db, account.id)
    return {key: stored[key] if stored.get(key) is not None else getattr(svc.settings, key, None)
            for key in keys}


def nudge_after(svc: Services, db: Session, account: Account) -> timedelta:
    return timedelta(minutes=int(value(svc, db, account, "nudge_after_minutes") or 30))


def escalation_channel(svc: Services, db: Session, account: Account) -> str | None:
    channel = value(svc, db, account, "escalation_channel")
    return str(channel) if channel else None


def redaction_patterns(db: Session, account: Account) -> list[str]:
    patterns = get_all_settings(db, account.id).get("redaction_patterns") or []
    return [p for p in patterns if isinstance(p, str) and _compiles(p)]


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
        return True
    except re.error:
        return False


def working_hours(svc: Services, db: Session, account: Account) -> WorkingHours:
    from datetime import time

    data = get_all_settings(db, account.id)
    try:
        start = time.fromisoformat(str(data.get("working_hours_start") or "08:00"))
        end = time.fromisoformat(str(data.get("working_hours_end") or "18:00"))
        days_text = str(data.get("working_days") or "0-4")
        if "-" in days_text:
            a, b = (int(x) for x in days_text.split("-", 1))
            days = frozenset(range(a, b + 1))
        else:
            days = frozenset(int(x) for x in days_text.split(",") if x.strip())
        return WorkingHours(start=start, end=end, days=days)
    except (ValueError, TypeError):
        return WorkingHours()
