"""Checks on single values that arrive from outside (buttons, model output, columns)."""

from __future__ import annotations

from .confidence import TIERS
from .errors import DomainRuleError
from .status import ALL_STATUSES

INTAKE_TYPES: tuple[str, ...] = ("free_text", "psa_ticket", "screenshot", "log_paste", "combined")


def validate_rating(x: object) -> int:
    """A rating 1..5; digit strings (button values) are accepted."""
    value: object = x
    if isinstance(x, str) and x.strip().isdigit():
        value = int(x.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise DomainRuleError("A rating is a whole number from 1 to 5.")
    return value


def validate_non_negative(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DomainRuleError(f"{name} must be a whole number, zero or more (got {value!r}).")
    return value


def _one_of(kind: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise DomainRuleError(f"{value!r} is not {kind}; expected one of {', '.join(allowed)}.")
    return value


def validate_status(s: object) -> str:
    return _one_of("a session status", s, ALL_STATUSES)


def validate_intake_type(s: object) -> str:
    return _one_of("an intake type", s, INTAKE_TYPES)


def validate_confidence_tier(s: object) -> str:
    return _one_of("a confidence tier", s, TIERS)
