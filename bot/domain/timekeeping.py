"""Exact accounting of a session's active and parked seconds.

Seconds are whole, but ``since`` only moves forward by the seconds counted, so the
fractions left over carry into the next accrual and nothing is lost over many calls.
At a park or resume the sub-second remainder goes to the new state: the total stays
exact, and each bucket is within a second of the true split per switch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .errors import DomainRuleError
from .status import ABANDONED, PAUSED, RESOLVED, STATUS_LABELS
from .validation import validate_non_negative

LEDGER_ACTIVE = "active"
LEDGER_PARKED = "parked"
LEDGER_STOPPED = "stopped"
LEDGER_STATES: tuple[str, ...] = (LEDGER_ACTIVE, LEDGER_PARKED, LEDGER_STOPPED)

_SECOND = timedelta(seconds=1)


def require_aware(now: datetime) -> datetime:
    """Refuse naive datetimes: the domain only does arithmetic on real instants."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("The domain needs timezone-aware datetimes; got a naive one.")
    return now


@dataclass(frozen=True)
class TimeLedger:
    active_seconds: int
    parked_seconds: int
    since: datetime
    state: str

    def __post_init__(self) -> None:
        validate_non_negative("Active seconds", self.active_seconds)
        validate_non_negative("Parked seconds", self.parked_seconds)
        require_aware(self.since)
        if self.state not in LEDGER_STATES:
            raise DomainRuleError(f"'{self.state}' is not a state a session's clock can be in.")


def start(now: datetime) -> TimeLedger:
    return TimeLedger(0, 0, require_aware(now), LEDGER_ACTIVE)


def accrue(ledger: TimeLedger, now: datetime) -> TimeLedger:
    """Count the whole seconds since ``since`` into the current bucket."""
    require_aware(now)
    if ledger.state == LEDGER_STOPPED:
        return ledger
    if now < ledger.since:
        # The clock stepped back: count nothing, and count again from here.
        return replace(ledger, since=now)
    counted = (now - ledger.since) // _SECOND
    since = ledger.since + timedelta(seconds=counted)
    if ledger.state == LEDGER_ACTIVE:
        return replace(ledger, active_seconds=ledger.active_seconds + counted, since=since)
    return replace(ledger, parked_seconds=ledger.parked_seconds + counted, since=since)


def _switch(ledger: TimeLedger, now: datetime, state: str, verb: str) -> TimeLedger:
    if ledger.state == LEDGER_STOPPED:
        raise DomainRuleError(f"This session's clock has stopped; it can't be {verb}.")
    return replace(accrue(ledger, now), state=state)


def park(ledger: TimeLedger, now: datetime) -> TimeLedger:
    return _switch(ledger, now, LEDGER_PARKED, "parked")


def resume(ledger: TimeLedger, now: datetime) -> TimeLedger:
    return _switch(ledger, now, LEDGER_ACTIVE, "resumed")


def stop(ledger: TimeLedger, now: datetime) -> TimeLedger:
    return replace(accrue(ledger, now), state=LEDGER_STOPPED)


def ledger_state_for(status: str) -> str:
    """The clock state of a session status: parked when paused, stopped when finished."""
    if status not in STATUS_LABELS:
        raise DomainRuleError(f"'{status}' is not a session status.")
    if status == PAUSED:
        return LEDGER_PARKED
    if status in (RESOLVED, ABANDONED):
        return LEDGER_STOPPED
    return LEDGER_ACTIVE


def ledger_from_columns(
    active_seconds: int, parked_seconds: int, status: str, last_transition_at: datetime
) -> TimeLedger:
    """Rebuild the ledger from the stored counters and the time they were last brought up to date."""
    return TimeLedger(
        active_seconds=validate_non_negative("Active seconds", active_seconds),
        parked_seconds=validate_non_negative("Parked seconds", parked_seconds),
        since=require_aware(last_transition_at),
        state=ledger_state_for(status),
    )


def seconds_to_text(s: int | float) -> str:
    """ "1h 05m", "4m 12s" or "12s" (negative reads as 0s)."""
    total = max(0, int(s))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
