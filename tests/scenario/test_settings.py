"""``/flowpilot settings``: everyone sees them, only admins change them, bad values refused."""

from __future__ import annotations

from support import Harness

from bot.services import workspace
from bot.services.identity import ensure_account
from storage.db import unit_of_work


def test_admins_set_and_unset_settings_others_are_refused(harness: Harness) -> None:
    h = harness
    h.command("settings", user="UTECH")
    h.settle()
    assert "_All defaults._" in h.ephemerals_text("UTECH")
    h.command("settings set escalation_channel <#C0ESC|escalations>", user="UTECH")
    h.settle()
    assert "Only workspace admins" in h.ephemerals_text("UTECH")

    h.slack.set_user("UADMIN", is_admin=True)
    h.command("settings set escalation_channel <#C0ESC|escalations>", user="UADMIN")
    h.command("settings set nudge_after_minutes 45", user="UADMIN")
    h.command("settings set nudge_after_minutes 0", user="UADMIN")
    h.command("settings set colour blue", user="UADMIN")
    h.settle()
    told = h.ephemerals_text("UADMIN")
    assert "`escalation_channel` is now <#C0ESC>" in told
    assert "between 1 and 10080" in told and "Unknown setting `colour`" in told
    with unit_of_work(h.svc.factory) as db:
        account = ensure_account(db, "T0001")
        assert workspace.escalation_channel(h.svc, db, account) == "C0ESC"
        assert workspace.nudge_after(h.svc, db, account).total_seconds() == 45 * 60

    h.command("settings", user="UTECH")
    h.settle()
    assert "`nudge_after_minutes`: `45`" in h.ephemerals_text("UTECH")
    assert "_Last changed 20" in h.ephemerals_text("UTECH")  # when an admin last changed them

    h.command("settings unset nudge_after_minutes", user="UADMIN")
    h.settle()
    with unit_of_work(h.svc.factory) as db:
        account = ensure_account(db, "T0001")
        assert workspace.nudge_after(h.svc, db, account).total_seconds() == 30 * 60
