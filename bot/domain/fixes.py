"""What happened to a suggested fix: the decisions a technician can record."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .errors import DomainRuleError

PENDING = "pending"
TRYING = "trying"
WORKED = "worked"
FAILED = "failed"
REJECTED = "rejected"
SUPERSEDED = "superseded"

FIX_STATES: tuple[str, ...] = (PENDING, TRYING, WORKED, FAILED, REJECTED, SUPERSEDED)
FIX_DECISIONS: tuple[str, ...] = (TRYING, WORKED, FAILED, REJECTED, SUPERSEDED)
TERMINAL_FIX_STATES: frozenset[str] = frozenset({WORKED, FAILED, REJECTED, SUPERSEDED})

FIX_DECISION_LABELS: Mapping[str, str] = MappingProxyType(
    {
        WORKED: "Worked",
        FAILED: "Didn't work",
        REJECTED: "Not applicable",
        SUPERSEDED: "Superseded",
        TRYING: "Trying",
        PENDING: "Pending",
    }
)

_LEGAL: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        PENDING: frozenset(FIX_DECISIONS),
        TRYING: frozenset({WORKED, FAILED, REJECTED, SUPERSEDED}),
    }
)


def is_terminal_fix(state: str) -> bool:
    return state in TERMINAL_FIX_STATES


def can_decide_fix(current: str, decision: str) -> bool:
    return decision in _LEGAL.get(current, frozenset())


def decide_fix(current: str, decision: str) -> str:
    """The fix's new state, or DomainRuleError saying why the decision can't be recorded."""
    if current not in FIX_STATES:
        raise DomainRuleError(f"'{current}' is not a state a fix can be in.")
    if decision not in FIX_DECISIONS:
        raise DomainRuleError(f"'{decision}' is not a decision a fix can take.")
    if can_decide_fix(current, decision):
        return decision
    if current in TERMINAL_FIX_STATES:
        if current == SUPERSEDED:
            raise DomainRuleError("This fix was already superseded by a newer one.")
        raise DomainRuleError(f"This fix was already marked {FIX_DECISION_LABELS[current]}.")
    # Only trying → trying is left.
    raise DomainRuleError("This fix is already being tried.")
