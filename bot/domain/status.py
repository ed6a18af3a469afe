"""The session state machine: statuses, events and the table of legal moves."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from .errors import DomainRuleError

ACTIVE = "active"
PAUSED = "paused"  # shown as "parked" to people
RESOLVED = "resolved"
ESCALATED = "escalated"
REQUESTING_ESCALATION = "requesting_escalation"
ABANDONED = "abandoned"

ALL_STATUSES: tuple[str, ...] = (
    ACTIVE,
    PAUSED,
    REQUESTING_ESCALATION,
    ESCALATED,
    RESOLVED,
    ABANDONED,
)
# Escalated sessions stay open: the engineer who takes over carries on in the thread.
OPEN_STATUSES: frozenset[str] = frozenset({ACTIVE, PAUSED, REQUESTING_ESCALATION, ESCALATED})
TERMINAL_STATUSES: frozenset[str] = frozenset({RESOLVED, ABANDONED})
TURN_STATUSES: frozenset[str] = frozenset({ACTIVE, REQUESTING_ESCALATION, ESCALATED})

# The words people see for each status.
STATUS_LABELS: Mapping[str, str] = MappingProxyType(
    {
        ACTIVE: "active",
        PAUSED: "parked",
        REQUESTING_ESCALATION: "being escalated",
        ESCALATED: "escalated",
        RESOLVED: "resolved",
        ABANDONED: "abandoned",
    }
)


class SessionEvent(StrEnum):
    PARK = "park"
    RESUME = "resume"
    RESOLVE = "resolve"
    REQUEST_ESCALATION = "request_escalation"
    ESCALATION_POSTED = "escalation_posted"
    TAKE_OVER = "take_over"
    ABANDON = "abandon"


PARK = SessionEvent.PARK.value
RESUME = SessionEvent.RESUME.value
RESOLVE = SessionEvent.RESOLVE.value
REQUEST_ESCALATION = SessionEvent.REQUEST_ESCALATION.value
ESCALATION_POSTED = SessionEvent.ESCALATION_POSTED.value
TAKE_OVER = SessionEvent.TAKE_OVER.value
ABANDON = SessionEvent.ABANDON.value
ALL_EVENTS: tuple[str, ...] = tuple(e.value for e in SessionEvent)

TRANSITIONS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        ACTIVE: MappingProxyType(
            {
                PARK: PAUSED,
                RESOLVE: RESOLVED,
                REQUEST_ESCALATION: REQUESTING_ESCALATION,
                ABANDON: ABANDONED,
                TAKE_OVER: ACTIVE,  # a plain handoff
            }
        ),
        PAUSED: MappingProxyType(
            {
                RESUME: ACTIVE,
                RESOLVE: RESOLVED,
                REQUEST_ESCALATION: REQUESTING_ESCALATION,
                ABANDON: ABANDONED,
                TAKE_OVER: ACTIVE,  # handing off a parked session resumes it
            }
        ),
        REQUESTING_ESCALATION: MappingProxyType(
            {
                ESCALATION_POSTED: ESCALATED,
                TAKE_OVER: ACTIVE,
                RESOLVE: RESOLVED,  # someone fixed it meanwhile
                ABANDON: ABANDONED,
            }
        ),
        ESCALATED: MappingProxyType(
            {
                TAKE_OVER: ACTIVE,
                RESOLVE: RESOLVED,
                PARK: PAUSED,
                ABANDON: ABANDONED,
            }
        ),
        RESOLVED: MappingProxyType({}),
        ABANDONED: MappingProxyType({}),
    }
)

_REFUSALS: Mapping[str, str] = MappingProxyType(
    {
        PARK: "it can't be parked",
        RESUME: "it can't be resumed",
        RESOLVE: "it can't be resolved",
        REQUEST_ESCALATION: "it can't be escalated",
        ESCALATION_POSTED: "it has no escalation waiting to be posted",
        TAKE_OVER: "it can't be taken over",
        ABANDON: "it can't be abandoned",
    }
)

_NO_TURNS: Mapping[str, str] = MappingProxyType(
    {
        PAUSED: "This session is parked. Press Resume to continue.",
        RESOLVED: "This session is resolved. Start a new one with /flowpilot <problem>.",
        ABANDONED: "This session was abandoned. Start a new one with /flowpilot <problem>.",
    }
)


def _check_status(status: str) -> None:
    if status not in TRANSITIONS:
        raise DomainRuleError(f"'{status}' is not a session status.")


def _check_event(event: str) -> None:
    if event not in _REFUSALS:
        raise DomainRuleError(f"'{event}' is not something that can happen to a session.")


def allowed_events(current: str) -> frozenset[str]:
    """The events the session can take from ``current`` (empty when terminal)."""
    _check_status(current)
    return frozenset(TRANSITIONS[current])


def can(current: str, event: str) -> bool:
    return event in TRANSITIONS.get(current, {})


def transition(current: str, event: str) -> str:
    """The status after ``event``, or DomainRuleError naming both."""
    _check_status(current)
    _check_event(event)
    nxt = TRANSITIONS[current].get(event)
    if nxt is not None:
        return nxt
    raise DomainRuleError(_refusal(current, event))


# Refusals that mean "you are asking for where the session already is".
_REPEATS: frozenset[tuple[str, str]] = frozenset(
    {
        (PAUSED, PARK),
        (ACTIVE, RESUME),
        (REQUESTING_ESCALATION, REQUEST_ESCALATION),
        (ESCALATED, REQUEST_ESCALATION),
        (ESCALATED, ESCALATION_POSTED),
    }
)


def _refusal(current: str, event: str) -> str:
    repeat = (current, event) in _REPEATS
    already = "already " if repeat or current in TERMINAL_STATUSES else ""
    again = " again" if repeat and event in (PARK, REQUEST_ESCALATION) else ""
    return f"This session is {already}{STATUS_LABELS[current]}; {_REFUSALS[event]}{again}."


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def accepts_turns(status: str) -> bool:
    """Whether a reply in the thread counts as a turn.

    Escalated sessions still take turns: the technician and the engineer keep talking.
    """
    return status in TURN_STATUSES


def explain_no_turns(status: str) -> str:
    """Why a reply was not taken as a turn ("" when the status accepts turns)."""
    if accepts_turns(status):
        return ""
    return _NO_TURNS.get(status, f"This session is {STATUS_LABELS.get(status, status)}.")
