"""The sandbox escapes typed text as Slack does (should_escape)."""

from __future__ import annotations

from bot.sandbox.escapes import escape

USERS = {"bob": "U0BOB", "flowpilot": "UFPBOT"}
CHANNELS = {"escalations": "C0ESCALATE"}


def test_people_and_channels_become_ids() -> None:
    assert escape("handoff fp-1a2b3c @bob", USERS, CHANNELS) == "handoff fp-1a2b3c <@U0BOB>"
    assert escape("settings set escalation_channel #escalations", USERS, CHANNELS) == \
        "settings set escalation_channel <#C0ESCALATE|escalations>"
    assert escape("ask @Bob.", USERS, CHANNELS) == "ask <@U0BOB>."
    assert escape("@here look", USERS, CHANNELS) == "<!here> look"


def test_what_names_nobody_is_left_alone() -> None:
    for text in ("mail alice@example.com", "ticket #1234", "@nobody", "#nowhere",
                 "<@U0BOB> already escaped", "see https://x.test/#anchor"):
        assert escape(text, USERS, CHANNELS) == text
