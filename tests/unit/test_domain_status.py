from __future__ import annotations

import pytest

from bot.domain import (
    ABANDONED,
    ACTIVE,
    ALL_EVENTS,
    ALL_STATUSES,
    ESCALATED,
    OPEN_STATUSES,
    PAUSED,
    REQUESTING_ESCALATION,
    RESOLVED,
    STATUS_LABELS,
    TERMINAL_STATUSES,
    DomainRuleError,
    SessionEvent,
    accepts_turns,
    allowed_events,
    can,
    explain_no_turns,
    transition,
)

LEGAL = {
    (ACTIVE, "park"): PAUSED,
    (ACTIVE, "resolve"): RESOLVED,
    (ACTIVE, "request_escalation"): REQUESTING_ESCALATION,
    (ACTIVE, "abandon"): ABANDONED,
    (ACTIVE, "take_over"): ACTIVE,
    (PAUSED, "resume"): ACTIVE,
    (PAUSED, "resolve"): RESOLVED,
    (PAUSED, "request_escalation"): REQUESTING_ESCALATION,
    (PAUSED, "abandon"): ABANDONED,
    (PAUSED, "take_over"): ACTIVE,
    (REQUESTING_ESCALATION, "escalation_posted"): ESCALATED,
    (REQUESTING_ESCALATION, "take_over"): ACTIVE,
    (REQUESTING_ESCALATION, "resolve"): RESOLVED,
    (REQUESTING_ESCALATION, "abandon"): ABANDONED,
    (ESCALATED, "take_over"): ACTIVE,
    (ESCALATED, "resolve"): RESOLVED,
    (ESCALATED, "park"): PAUSED,
    (ESCALATED, "abandon"): ABANDONED,
}
ILLEGAL = [(s, e) for s in ALL_STATUSES for e in ALL_EVENTS if (s, e) not in LEGAL]

EVENT_WORDS = {
    "park": "parked",
    "resume": "resumed",
    "resolve": "resolved",
    "request_escalation": "escalated",
    "escalation_posted": "escalation",
    "take_over": "taken over",
    "abandon": "abandoned",
}


def test_statuses_and_events_are_the_seed_values() -> None:
    assert set(ALL_STATUSES) == {
        "active",
        "paused",
        "resolved",
        "escalated",
        "requesting_escalation",
        "abandoned",
    }
    assert set(OPEN_STATUSES) == {"active", "paused", "requesting_escalation", "escalated"}
    assert set(TERMINAL_STATUSES) == {"resolved", "abandoned"}
    assert set(ALL_EVENTS) == set(EVENT_WORDS)


@pytest.mark.parametrize(("current", "event"), sorted(LEGAL))
def test_legal_transition(current: str, event: str) -> None:
    assert transition(current, event) == LEGAL[(current, event)]
    assert can(current, event)
    assert event in allowed_events(current)


@pytest.mark.parametrize(("current", "event"), ILLEGAL)
def test_illegal_transition_names_status_and_event(current: str, event: str) -> None:
    assert not can(current, event)
    with pytest.raises(DomainRuleError) as info:
        transition(current, event)
    message = info.value.message
    assert message == str(info.value)
    assert STATUS_LABELS[current] in message
    assert EVENT_WORDS[event] in message
    assert message.startswith("This session is ") and message.endswith(".")


def test_example_message() -> None:
    with pytest.raises(
        DomainRuleError, match=r"^This session is already resolved; it can't be parked\.$"
    ):
        transition(RESOLVED, "park")
    with pytest.raises(DomainRuleError, match="already parked; it can't be parked again"):
        transition(PAUSED, "park")


def test_enum_events_work_like_strings() -> None:
    assert transition(ACTIVE, SessionEvent.PARK) == PAUSED


def test_terminal_statuses_allow_nothing() -> None:
    for status in TERMINAL_STATUSES:
        assert allowed_events(status) == frozenset()


@pytest.mark.parametrize(("current", "event"), [("bogus", "park"), (ACTIVE, "reopen")])
def test_unknown_status_or_event_is_refused(current: str, event: str) -> None:
    assert not can(current, event)
    with pytest.raises(DomainRuleError):
        transition(current, event)


def test_domain_rule_error_is_a_value_error() -> None:
    assert issubclass(DomainRuleError, ValueError)


@pytest.mark.parametrize(
    ("status", "accepts"),
    [
        (ACTIVE, True),
        (REQUESTING_ESCALATION, True),
        (ESCALATED, True),
        (PAUSED, False),
        (RESOLVED, False),
        (ABANDONED, False),
    ],
)
def test_accepts_turns(status: str, accepts: bool) -> None:
    assert accepts_turns(status) is accepts
    explanation = explain_no_turns(status)
    assert (explanation == "") is accepts


def test_explanations_are_readable() -> None:
    assert explain_no_turns(PAUSED) == "This session is parked. Press Resume to continue."
    assert explain_no_turns(RESOLVED) == (
        "This session is resolved. Start a new one with /flowpilot <problem>."
    )
    assert "/flowpilot" in explain_no_turns(ABANDONED)
