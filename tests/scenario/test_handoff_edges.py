"""The escalation hand-off says only what is true: no claimed tags when nobody was tagged, a
package that stops asking for an engineer once taken over, and where the engineer replies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lifecycle_support import ESC, load, open_session
from support import Harness

from bot.render.turn import render_turn
from bot.render.views import FactItem, TurnView

Make = Callable[..., Harness]


def test_no_group_no_claimed_tags_then_take_over_updates_the_package(
        make: Make, fake_anthropic: Any) -> None:
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    thread, sid = open_session(h, fake_anthropic)
    h.submit("fp_escalate_modal", {"fp_escalate_reason": "Needs an Exchange admin."},
             private_metadata=str(sid))
    h.settle()
    said = " ".join(m.get("text", "") for m in h.bot_messages("C1", thread))
    assert "Escalated: the package is in" in said
    assert "tagging" not in said and "no engineer or group was tagged" in said
    (package,) = h.slack.messages(ESC)
    shown = json.dumps(package["blocks"])
    assert "needs an engineer" in shown
    assert "Reply in the session thread" in shown

    h.slack.set_user("UENG", tz="UTC")
    h.click("fp_take_over", str(sid), message_ts=package["ts"], channel=ESC, user="UENG")
    h.settle()
    assert load(h, sid).user.slack_user_id == "UENG"
    (package,) = h.slack.messages(ESC)
    shown = json.dumps(package["blocks"]) + package.get("text", "")
    assert "needs an engineer" not in shown and "needs you" not in shown
    assert "Taken over by <@UENG>" in shown
    assert "fp_take_over" in shown and '"type": "button"' not in shown


def test_the_engineer_is_not_told_to_escalate_nor_called_technician() -> None:
    view = TurnView(session_id="s1", message="Nothing more in the flow.", recommend="escalate",
                    facts=[FactItem("Mailbox is on-prem", source="technician")], escalated=True)
    text = json.dumps(render_turn(view).blocks)
    assert "may need an escalation engineer" not in text and "fp_escalate" not in text
    assert "(technician)" not in text and "(from the thread)" in text
    before = json.dumps(render_turn(TurnView(session_id="s1", recommend="escalate")).blocks)
    assert "may need an escalation engineer" in before and "fp_escalate" in before
