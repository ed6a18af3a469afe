"""Building the resolution note's and escalation package's view models from stored state."""

from __future__ import annotations

from datetime import timedelta

from test_outputs_examples import START, escalated_moment, realistic_session, resolved_moment

from bot.services import outputs
from bot.services.escalation import backoff
from storage.models import SessionSuggestedFix


def test_hypotheses_rank_untried_fixes_by_confidence_then_the_models_reading() -> None:
    session = realistic_session()
    session.fixes.append(SessionSuggestedFix(title="Exclude the user from legacy CA policy",
                                             steps=[], rationale="", confidence=0.9,
                                             position=2, user_decision="pending"))
    ranked = outputs.hypotheses(session)
    assert [h.likelihood for h in ranked[:2]] == [0.9, 0.55]
    assert ranked[0].text == "Exclude the user from legacy CA policy"
    assert ranked[-1].likelihood is None and "Latest reading" in ranked[-1].text


def test_the_latest_worked_fix_is_the_resolution() -> None:
    session, now = resolved_moment()
    session.fixes[0].user_decision = "worked"
    session.fixes[0].decided_at = START + timedelta(minutes=5)
    data = outputs.resolution_data(session, now)
    assert data.resolution_title.startswith("Re-register")
    assert data.root_cause.startswith("The Primary Refresh Token")
    assert data.failed_fixes == []


def test_without_a_worked_fix_the_root_cause_is_left_open() -> None:
    session, now = escalated_moment()
    data = outputs.resolution_data(session, now, note="Rebooted; gone.")
    assert data.resolution_title == "" and data.root_cause == ""
    assert data.technician_note == "Rebooted; gone."
    assert [f.title for f in data.failed_fixes] == ["Clear the stale Office credentials"]


def test_intake_facts_are_environment_and_the_rest_are_confirmed() -> None:
    session = realistic_session()
    env, facts = outputs.environment(session), outputs.confirmed_facts(session)
    assert env[0].startswith("Outlook for Microsoft 365") and env[-1].startswith("Playbook:")
    assert not set(env) & set(facts) and len(facts) == 4


def test_the_intake_is_quoted_only_when_it_adds_to_the_summary() -> None:
    session = realistic_session()
    assert outputs.intake_details(session).startswith("Since her password")
    session.intake_content = {"text": session.problem_summary}
    assert outputs.intake_details(session) == ""


def test_next_steps_default_when_nothing_is_open() -> None:
    session = realistic_session()
    session.pending_task_lane = {}
    session.fixes = []
    assert outputs.next_steps(session)[0].startswith("Read the thread")


def test_the_stored_package_round_trips() -> None:
    session, now = escalated_moment()
    data = outputs.escalation_data(session, now, reason="stuck", urgency="bogus",
                                   thread_url=None, technician="Dana")
    assert data.urgency == "normal"
    assert outputs.escalation_from_json(outputs.to_json(data)) == data


def test_time_spent_counts_up_to_now() -> None:
    session = realistic_session()
    assert outputs.time_spent_text(session, START + timedelta(seconds=75)) == "1m 15s active"


def test_escalation_retry_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4, 7, 8, 50)] == [
        1, 2, 4, 8, 60, 60, 60]
