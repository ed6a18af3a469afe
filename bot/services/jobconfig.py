"""A workspace's job settings, read once per workspace per pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from bot.domain.nudges import WorkingHours
from bot.services import workspace
from bot.services.container import Services
from storage.models import Account


@dataclass(frozen=True)
class Config:
    nudge_after: timedelta
    park_after: timedelta
    abandon_after: timedelta
    sla: timedelta
    max_nudges: int
    hours: WorkingHours
    escalation_channel: str | None
    escalation_group: str | None


def config(svc: Services, db: Session, account: Account) -> Config:
    def num(key: str, default: int) -> int:
        try:
            return max(1, int(workspace.value(svc, db, account, key) or default))
        except (TypeError, ValueError):
            return default

    group = workspace.value(svc, db, account, "escalation_group")
    return Config(
        nudge_after=timedelta(minutes=num("nudge_after_minutes", 30)),
        park_after=timedelta(minutes=num("park_after_minutes", 240)),
        abandon_after=timedelta(days=num("abandon_after_days", 7)),
        sla=timedelta(minutes=num("escalation_sla_minutes", 15)),
        max_nudges=num("max_nudges", 3),
        hours=workspace.working_hours(svc, db, account),
        escalation_channel=workspace.escalation_channel(svc, db, account),
        escalation_group=str(group) if group else None,
    )
