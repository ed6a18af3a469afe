"""The model's confidence, and the tier it puts a session in."""

from __future__ import annotations

import math

GUIDED = "guided"
EXPLORING = "exploring"
DISCOVERY = "discovery"
TIERS: tuple[str, ...] = (GUIDED, EXPLORING, DISCOVERY)


def clamp_confidence(x: object) -> float:
    """A number in [0, 1]; anything that is not a real number (or is NaN) is 0.0."""
    # bool is an int, but True is not a confidence.
    if isinstance(x, bool) or not isinstance(x, int | float):
        return 0.0
    value = float(x)
    if math.isnan(value):
        return 0.0
    return min(1.0, max(0.0, value))


def tier_for(confidence: float) -> str:
    """> 0.8 guided, ≥ 0.4 exploring, else discovery."""
    value = clamp_confidence(confidence)
    if value > 0.8:
        return GUIDED
    if value >= 0.4:
        return EXPLORING
    return DISCOVERY
