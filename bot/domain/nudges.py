"""Working hours, so nudges reach people when they are at work, in their own time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import DomainRuleError
from .timekeeping import require_aware

SNOOZE_OPTIONS: tuple[str, ...] = ("30m", "2h", "tomorrow")
_SNOOZE_DELAYS = {"30m": timedelta(minutes=30), "2h": timedelta(hours=2)}


@dataclass(frozen=True)
class WorkingHours:
    start: time = time(8, 0)
    end: time = time(18, 0)
    days: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))  # Mon..Fri

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise DomainRuleError("Working hours must start before they end.")
        if not self.days or not self.days <= frozenset(range(7)):
            raise DomainRuleError("Working days are weekdays 0 (Monday) to 6 (Sunday).")


def zone(tz: str | None) -> tzinfo:
    """The named time zone; anything unknown or malformed is UTC."""
    if not tz:
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _local_start(wh: WorkingHours, day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, wh.start, tzinfo=tz)


def within(wh: WorkingHours, now_utc: datetime, tz: str) -> bool:
    local = require_aware(now_utc).astimezone(zone(tz))
    return local.weekday() in wh.days and wh.start <= local.time() < wh.end


def _next_start_after(wh: WorkingHours, day: date, tz: tzinfo) -> datetime:
    """The start of the first working day strictly after ``day``, in UTC."""
    for offset in range(1, 8):
        candidate = day + timedelta(days=offset)
        if candidate.weekday() in wh.days:
            return _local_start(wh, candidate, tz).astimezone(UTC)
    raise AssertionError("WorkingHours always has at least one working day")


def next_working_moment(wh: WorkingHours, now_utc: datetime, tz: str) -> datetime:
    """``now_utc`` if it is within working hours, else the next start of them (UTC)."""
    if within(wh, now_utc, tz):
        return now_utc
    zone_ = zone(tz)
    local = now_utc.astimezone(zone_)
    if local.weekday() in wh.days and local.time() < wh.start:
        return _local_start(wh, local.date(), zone_).astimezone(UTC)
    return _next_start_after(wh, local.date(), zone_)


def snooze_until(
    option: str, now_utc: datetime, tz: str, wh: WorkingHours | None = None
) -> datetime:
    """When a snoozed nudge comes back: in 30 minutes, 2 hours, or at the next working day's start."""
    require_aware(now_utc)
    if option in _SNOOZE_DELAYS:
        return now_utc + _SNOOZE_DELAYS[option]
    if option == "tomorrow":
        zone_ = zone(tz)
        return _next_start_after(wh or WorkingHours(), now_utc.astimezone(zone_).date(), zone_)
    raise DomainRuleError("A nudge can be snoozed for 30m, 2h or until tomorrow.")
