"""Outputs of a session: steps in the order they happened, hypotheses that are hypotheses."""

from __future__ import annotations

from test_outputs_examples import realistic_session

from bot.services import outputs
from storage.models import AISessionStep


def test_steps_tried_follow_the_time_they_were_decided() -> None:
    session = realistic_session()
    lane = session.pending_task_lane
    assert lane is not None
    lane["actions"][0]["decided_at"] = "2026-11-24T10:05:00+00:00"  # cmdkey first
    lane["questions"][0]["decided_at"] = "2026-11-24T10:07:00+00:00"  # then the scope question
    lane["actions"][1]["decided_at"] = "2026-11-24T10:06:00+00:00"  # sign-in logs in between
    texts = [s.text for s in outputs.steps_tried(session)]
    assert texts == ["List cached Windows credentials",
                     "Check the Entra sign-in logs for the user's Outlook sign-ins",
                     "Is it only this user, or several?"]


def test_undated_steps_keep_lane_order_after_dated_ones() -> None:
    session = realistic_session()
    lane = session.pending_task_lane
    assert lane is not None
    lane["actions"][1]["decided_at"] = "2026-11-24T10:06:00+00:00"
    texts = [s.text for s in outputs.steps_tried(session)]
    assert texts[0].startswith("Check the Entra sign-in logs")
    assert texts[1:] == ["Is it only this user, or several?", "List cached Windows credentials"]


def test_an_offline_sessions_flow_guidance_is_not_a_hypothesis() -> None:
    session = realistic_session()
    session.engine = "offline"
    session.steps.append(AISessionStep(step_type="ai_turn", content={
        "message": "This matches the *Outlook* flow. Read-only checks come first."}))
    assert all("Latest reading" not in h.text for h in outputs.hypotheses(session))
    assert all(h.likelihood is not None for h in outputs.hypotheses(session))


def test_the_models_reading_is_whole_sentences() -> None:
    long = ("The token is refreshed with a stale PRT. " * 20).strip()
    kept = outputs.first_sentences(long + "\n\nSecond paragraph.", 120)
    assert kept.endswith("PRT.") and len(kept) <= 120 and "Second" not in kept
    one = outputs.first_sentences("word " * 200, 50)
    assert one.endswith("…") and len(one) <= 50 and not one.endswith(" …")
    assert outputs.first_sentences("", 50) == ""
