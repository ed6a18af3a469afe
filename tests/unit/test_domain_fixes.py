from __future__ import annotations

import pytest

from bot.domain import (
    FIX_DECISION_LABELS,
    FIX_DECISIONS,
    FIX_STATES,
    TERMINAL_FIX_STATES,
    DomainRuleError,
    clamp_confidence,
    decide_fix,
    tier_for,
)


@pytest.mark.parametrize("decision", FIX_DECISIONS)
def test_pending_takes_any_decision(decision: str) -> None:
    assert decide_fix("pending", decision) == decision


@pytest.mark.parametrize("decision", ["worked", "failed", "rejected", "superseded"])
def test_trying_can_finish(decision: str) -> None:
    assert decide_fix("trying", decision) == decision


def test_trying_twice_is_refused() -> None:
    with pytest.raises(DomainRuleError, match="already being tried"):
        decide_fix("trying", "trying")


@pytest.mark.parametrize("current", sorted(TERMINAL_FIX_STATES))
@pytest.mark.parametrize("decision", FIX_DECISIONS)
def test_terminal_fix_refuses_every_decision(current: str, decision: str) -> None:
    with pytest.raises(DomainRuleError) as info:
        decide_fix(current, decision)
    assert "already" in info.value.message


def test_refusal_names_the_label() -> None:
    with pytest.raises(DomainRuleError, match=r"^This fix was already marked Worked\.$"):
        decide_fix("worked", "failed")
    with pytest.raises(DomainRuleError, match="Didn't work"):
        decide_fix("failed", "worked")


@pytest.mark.parametrize(("current", "decision"), [("pending", "pending"), ("nope", "worked")])
def test_unknown_values_refused(current: str, decision: str) -> None:
    with pytest.raises(DomainRuleError):
        decide_fix(current, decision)


def test_labels_cover_every_state() -> None:
    assert set(FIX_DECISION_LABELS) == set(FIX_STATES)
    assert FIX_DECISION_LABELS["rejected"] == "Not applicable"


@pytest.mark.parametrize(
    ("raw", "clamped"),
    [
        (0.5, 0.5),
        (1, 1.0),
        (7, 1.0),
        (-3.2, 0.0),
        (float("nan"), 0.0),
        (float("inf"), 1.0),
        ("0.9", 0.0),
        (None, 0.0),
        (True, 0.0),
    ],
)
def test_clamp_confidence(raw: object, clamped: float) -> None:
    assert clamp_confidence(raw) == clamped


@pytest.mark.parametrize(
    ("value", "tier"),
    [
        (0.81, "guided"),
        (0.8, "exploring"),
        (0.4, "exploring"),
        (0.39, "discovery"),
        (0.0, "discovery"),
        (5.0, "guided"),
        (float("nan"), "discovery"),
    ],
)
def test_tier_for(value: float, tier: str) -> None:
    assert tier_for(value) == tier
