from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.domain import DomainRuleError, WorkingHours, next_working_moment, snooze_until, within

WH = WorkingHours()
LA = "America/Los_Angeles"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_hours() -> None:
    assert (WH.start, WH.end, WH.days) == (time(8), time(18), frozenset({0, 1, 2, 3, 4}))


def test_los_angeles_monday_morning_is_within() -> None:
    monday = utc(2026, 11, 23, 17, 30)  # 09:30 PST
    assert monday.weekday() == 0
    assert within(WH, monday, LA)
    assert not within(WH, monday, "Asia/Tokyo")  # 02:30 Tuesday


def test_saturday_is_not_within() -> None:
    saturday = utc(2026, 11, 28, 17, 30)
    assert saturday.weekday() == 5
    assert not within(WH, saturday, LA)


def test_end_is_exclusive_and_start_inclusive() -> None:
    assert within(WH, utc(2026, 11, 23, 16, 0), LA)  # 08:00 PST
    assert not within(WH, utc(2026, 11, 24, 2, 0), LA)  # 18:00 PST Monday


def test_sunday_utc_can_be_monday_in_tokyo() -> None:
    sunday_utc = utc(2026, 11, 29, 23, 30)  # Monday 08:30 JST
    assert within(WH, sunday_utc, "Asia/Tokyo")
    assert not within(WH, sunday_utc, "UTC")


@pytest.mark.parametrize("tz", ["Not/AZone", "", "../etc/passwd"])
def test_unknown_time_zone_is_utc(tz: str) -> None:
    assert within(WH, utc(2026, 11, 23, 9, 0), tz)
    assert not within(WH, utc(2026, 11, 23, 19, 0), tz)


def test_next_working_moment_inside_is_now() -> None:
    now = utc(2026, 11, 23, 17, 30)
    assert next_working_moment(WH, now, LA) == now


def test_next_working_moment_before_start_same_day() -> None:
    early = utc(2026, 11, 23, 14, 0)  # 06:00 PST Monday
    assert next_working_moment(WH, early, LA) == utc(2026, 11, 23, 16, 0)


def test_next_working_moment_over_the_weekend() -> None:
    friday_evening = utc(2026, 11, 28, 3, 0)  # Friday 19:00 PST
    nxt = next_working_moment(WH, friday_evening, LA)
    assert nxt == utc(2026, 11, 30, 16, 0)  # Monday 08:00 PST
    assert nxt.tzinfo == UTC
    assert within(WH, nxt, LA)


def test_next_working_moment_across_spring_forward() -> None:
    # US clocks go forward on Sunday 2026-03-08: Monday 08:00 is PDT (UTC-7).
    saturday = utc(2026, 3, 7, 20, 0)
    assert next_working_moment(WH, saturday, LA) == utc(2026, 3, 9, 15, 0)


def test_snooze_tomorrow_on_friday_evening_lands_monday_morning_local() -> None:
    friday_evening = utc(2026, 3, 7, 3, 0)  # Friday 2026-03-06 19:00 PST
    until = snooze_until("tomorrow", friday_evening, LA, WH)
    assert until == utc(2026, 3, 9, 15, 0)  # Monday 08:00 PDT
    assert until.tzinfo == UTC


def test_snooze_tomorrow_in_autumn_after_fall_back() -> None:
    # Europe/London leaves BST on Sunday 2026-10-25.
    friday = utc(2026, 10, 23, 17, 0)  # 18:00 BST
    assert snooze_until("tomorrow", friday, "Europe/London") == utc(2026, 10, 26, 8, 0)


def test_snooze_tomorrow_midweek_is_next_day() -> None:
    tuesday_noon = utc(2026, 11, 24, 20, 0)  # 12:00 PST Tuesday
    assert snooze_until("tomorrow", tuesday_noon, LA, WH) == utc(2026, 11, 25, 16, 0)


@pytest.mark.parametrize(
    ("option", "delta"), [("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2))]
)
def test_snooze_relative(option: str, delta: timedelta) -> None:
    now = utc(2026, 11, 23, 17, 30)
    assert snooze_until(option, now, LA, WH) == now + delta


def test_snooze_unknown_option_refused() -> None:
    with pytest.raises(DomainRuleError, match="30m, 2h"):
        snooze_until("forever", utc(2026, 11, 23, 17, 30), LA, WH)


def test_custom_days_and_bad_hours() -> None:
    weekend_crew = WorkingHours(start=time(10), end=time(16), days=frozenset({5, 6}))
    assert within(weekend_crew, utc(2026, 11, 28, 12, 0), "UTC")
    assert next_working_moment(weekend_crew, utc(2026, 11, 23, 12, 0), "UTC") == utc(
        2026, 11, 28, 10, 0
    )
    with pytest.raises(DomainRuleError):
        WorkingHours(start=time(18), end=time(8))
    with pytest.raises(DomainRuleError):
        WorkingHours(days=frozenset())
    with pytest.raises(DomainRuleError):
        WorkingHours(days=frozenset({7}))


def test_naive_now_refused() -> None:
    with pytest.raises(ValueError):
        within(WH, datetime(2026, 11, 23, 17, 30), LA)
