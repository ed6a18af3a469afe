"""Slack's ``user_change`` event keeps people's profiles current: the name shown in notes and
packages, the time zone nudges keep working hours by, and the admin flag that decides who may
change settings. A demoted or deactivated admin can no longer change settings; a retried or
late event never overwrites a newer profile; people not seen yet and malformed events change
nothing."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from support import Harness

from storage.db import unit_of_work
from storage.models import User


def _user_object(user_id: str, **fields: Any) -> dict[str, Any]:
    """A user object as the event carries it (docs.slack.dev/reference/events/user_change)."""
    user: dict[str, Any] = {
        "id": user_id, "team_id": "T0001", "name": "alex", "deleted": False,
        "real_name": "Alex Doe", "tz": "America/New_York", "tz_label": "Eastern Standard Time",
        "tz_offset": -18000, "is_admin": False, "is_owner": False,
        "profile": {"real_name": "Alex Doe", "display_name": "alex"},
    }
    user.update(fields)
    return user


def _changed(h: Harness, user: dict[str, Any], at: float) -> None:
    assert h.event({"type": "user_change", "user": user, "event_ts": f"{at:.6f}",
                    "cache_ts": int(at)}) == (200, "")
    h.settle()


def _row(h: Harness, user_id: str) -> tuple[str, str, bool] | None:
    with unit_of_work(h.svc.factory) as db:
        row = db.execute(select(User.display_name, User.tz, User.is_admin)
                         .where(User.slack_user_id == user_id)).first()
    return (row[0], row[1], row[2]) if row else None


def test_a_demoted_admin_can_no_longer_change_settings(harness: Harness) -> None:
    h = harness
    h.slack.set_user("UADMIN", is_admin=True)
    h.command("settings set nudge_after_minutes 45", user="UADMIN")
    h.settle()
    assert "`nudge_after_minutes` is now" in h.ephemerals_text("UADMIN")
    assert _row(h, "UADMIN") == ("user_uadmin", "America/New_York", True)

    # Demoted in Slack: FlowPilot hears it from the event, not from users.info.
    _changed(h, _user_object("UADMIN", name="pat", is_admin=False, tz="Europe/Berlin",
                             profile={"display_name": "Pat (IT)"}), time.time() + 60)
    assert _row(h, "UADMIN") == ("Pat (IT)", "Europe/Berlin", False)
    h.command("settings set nudge_after_minutes 50", user="UADMIN")
    h.settle()
    assert "Only workspace admins" in h.ephemerals_text("UADMIN")


def test_a_deactivated_person_is_no_admin_and_a_late_event_changes_nothing(
        harness: Harness) -> None:
    h = harness
    h.slack.set_user("UOWNER", is_owner=True)
    h.command("settings set nudge_after_minutes 45", user="UOWNER")
    h.settle()
    assert _row(h, "UOWNER") == ("user_uowner", "America/New_York", True)
    now = time.time()
    _changed(h, _user_object("UOWNER", is_owner=True, deleted=True,
                             profile={"display_name": "Old Owner"}), now + 120)
    assert _row(h, "UOWNER") == ("Old Owner", "America/New_York", False)
    # An earlier change delivered late (a retry) does not bring the old profile back.
    _changed(h, _user_object("UOWNER", is_owner=True, tz="Asia/Tokyo"), now + 60)
    assert _row(h, "UOWNER") == ("Old Owner", "America/New_York", False)


def test_people_not_seen_yet_and_malformed_events_change_nothing(harness: Harness) -> None:
    h = harness
    h.command("Outlook keeps asking for a password", user="UTECH")  # met on first sight
    h.settle()
    before = _row(h, "UTECH")
    assert before is not None
    _changed(h, _user_object("UNEW", tz="Europe/Paris"), time.time() + 60)
    for bad in (None, "UTECH", {"id": ""}, {"tz": "Europe/Paris"}):
        assert h.event({"type": "user_change", "user": bad}) == (200, "")
    # A malformed event time is refused at the boundary, with a clear message.
    status, said = h.event({"type": "user_change",
                            "user": _user_object("UTECH", tz="Europe/Paris"), "event_ts": "soon"})
    assert status == 400 and "not a Slack timestamp" in said
    h.settle()
    with unit_of_work(h.svc.factory) as db:
        people = db.execute(select(func.count()).select_from(User)
                            .where(User.slack_user_id == "UNEW")).scalar()
    assert people == 0, "the event creates no one (people are created on first sight)"
    assert _row(h, "UTECH") == before


def test_another_workspaces_event_does_not_touch_this_one(harness: Harness) -> None:
    h = harness
    h.command("Outlook keeps asking for a password", user="UTECH")  # met on first sight
    h.settle()
    before = _row(h, "UTECH")
    assert h.event({"type": "user_change", "user": _user_object("UTECH", tz="Europe/Paris"),
                    "event_ts": f"{time.time() + 60:.6f}"}, team="T0OTHER")[0] == 200
    h.settle()
    assert _row(h, "UTECH") == before
