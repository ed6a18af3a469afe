from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.domain import (
    DomainRuleError,
    TimeLedger,
    accrue,
    ledger_from_columns,
    park,
    resume,
    seconds_to_text,
    start,
    stop,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_start_is_active_and_empty() -> None:
    ledger = start(T0)
    assert ledger == TimeLedger(0, 0, T0, "active")


def test_park_resume_sequence_sums_exactly() -> None:
    ledger = start(T0)
    ledger = park(ledger, at(90))
    ledger = resume(ledger, at(90 + 600))
    ledger = park(ledger, at(90 + 600 + 45))
    ledger = stop(ledger, at(90 + 600 + 45 + 30))
    assert (ledger.active_seconds, ledger.parked_seconds) == (135, 630)
    assert ledger.state == "stopped"
    assert stop(ledger, at(10_000)) == ledger
    assert accrue(ledger, at(10_000)) == ledger


def test_many_fractional_accruals_do_not_lose_time() -> None:
    ledger = start(T0)
    now = T0
    for _ in range(1000):
        now += timedelta(seconds=0.3)
        ledger = accrue(ledger, now)
    assert ledger.active_seconds == 300
    assert ledger.since == now


def test_fractions_carry_across_park_and_resume() -> None:
    # Each switch hands its sub-second remainder to the next state: the total is exact,
    # and each bucket is off from the true split by under a second per switch.
    lengths = [12.4, 3.9, 100.25, 0.6, 59.99, 7.3, 0.05, 30.5]
    ledger, now = start(T0), T0
    true_active = true_parked = 0.0
    for i, length in enumerate(lengths):
        now += timedelta(seconds=length)
        if i % 2 == 0:
            true_active += length
            ledger = park(ledger, now)
        else:
            true_parked += length
            ledger = resume(ledger, now)
    assert ledger.active_seconds + ledger.parked_seconds == int(sum(lengths))
    assert abs(ledger.active_seconds - true_active) < len(lengths)
    assert abs(ledger.parked_seconds - true_parked) < len(lengths)


def test_whole_second_switches_split_exactly() -> None:
    ledger = start(T0)
    for i in range(1, 101):
        ledger = park(ledger, at(i * 10 - 3)) if i % 2 else resume(ledger, at(i * 10 - 3))
        ledger = accrue(ledger, at(i * 10 - 2.5))
    ledger = stop(ledger, at(997))
    assert (ledger.active_seconds, ledger.parked_seconds) == (497, 500)


def test_clock_stepping_back_adds_nothing() -> None:
    ledger = accrue(start(T0), at(100))
    back = accrue(ledger, at(40))
    assert back.active_seconds == 100
    assert back.since == at(40)
    later = accrue(back, at(50))
    assert later.active_seconds == 110
    assert park(ledger, at(-5)).active_seconds == 100


def test_other_time_zones_are_the_same_instant() -> None:
    plus_two = timezone(timedelta(hours=2))
    ledger = accrue(start(T0), (T0 + timedelta(seconds=61)).astimezone(plus_two))
    assert ledger.active_seconds == 61


def test_stopped_clock_cannot_park_or_resume() -> None:
    stopped = stop(start(T0), at(5))
    for move in (park, resume):
        with pytest.raises(DomainRuleError, match="stopped"):
            move(stopped, at(6))


def test_naive_time_refused() -> None:
    with pytest.raises(ValueError):
        start(datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        accrue(start(T0), datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("active", "active"),
        ("paused", "parked"),
        ("requesting_escalation", "active"),
        ("escalated", "active"),
        ("resolved", "stopped"),
        ("abandoned", "stopped"),
    ],
)
def test_ledger_from_columns(status: str, state: str) -> None:
    ledger = ledger_from_columns(10, 20, status, T0)
    assert ledger == TimeLedger(10, 20, T0, state)


def test_ledger_from_bad_columns() -> None:
    with pytest.raises(DomainRuleError):
        ledger_from_columns(-1, 0, "active", T0)
    with pytest.raises(DomainRuleError):
        ledger_from_columns(0, 0, "parked", T0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (12, "12s"), (252, "4m 12s"), (3900, "1h 05m"), (90061, "25h 01m"), (-4, "0s")],
)
def test_seconds_to_text(seconds: int, text: str) -> None:
    assert seconds_to_text(seconds) == text
