"""analyze_resolved: Claude drafts a template; the model down marks it failed, retried later."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from test_jobs_support import T0, app, clock, load, seed, svc

from bot.clock import FakeClock
from bot.jobs import analyze_resolved
from bot.sandbox.fake_slack import FakeSlack
from bot.services.container import Services
from storage.db import unit_of_work
from storage.models import DraftTemplate

__all__ = ["app", "clock", "svc"]  # fixtures

DRAFT = {"title": "Reset Outlook credential prompt", "description": "When Outlook loops.",
         "language": "powershell", "body": "param($User)\nGet-Mailbox $User",
         "parameters": [{"name": "User", "description": "mailbox"}]}


@pytest.fixture()
def claude(db_url: str, engine: Engine, fake_slack: FakeSlack, fake_anthropic: Any,
           clock: FakeClock) -> Iterator[Services]:
    from support import Harness

    h = Harness(db_url, fake_slack, anthropic_url=fake_anthropic.url, clock=clock, workers=1)
    yield h.svc
    h.close()


def _resolved(svc: Services, slack: FakeSlack, **cols: Any) -> Any:
    values: dict[str, Any] = dict(status="resolved", analysis_status="pending",
                                  resolved_at=T0 - timedelta(minutes=5), next_nudge_at=None,
                                  resolution_note_markdown="Re-created the Outlook profile.",
                                  intake_content={"text": "Outlook keeps asking for a password"})
    values.update(cols)
    return seed(svc, slack, **values)


def _drafts(svc: Services) -> list[DraftTemplate]:
    with unit_of_work(svc.factory) as db:
        return list(db.execute(select(DraftTemplate)).scalars())


def test_claude_drafts_a_template(claude: Services, fake_slack: FakeSlack,
                                  fake_anthropic: Any) -> None:
    sid = _resolved(claude, fake_slack)
    fake_anthropic.reply_tool("draft_template", DRAFT)
    result = analyze_resolved(claude, T0)
    assert (result.claimed, result.done) == (1, 1)
    [draft] = _drafts(claude)
    assert draft.title == DRAFT["title"] and draft.status == "pending" and draft.session_id == sid
    s = load(claude, sid)
    assert s is not None and s.analysis_status == "completed" and s.job_lease_until is None
    sent = fake_anthropic.message_requests[-1].body
    # The default model refuses forced tool use: the draft comes as structured outputs.
    assert sent["output_config"]["format"]["type"] == "json_schema" and "tool_choice" not in sent
    assert "Re-created the Outlook profile." in str(sent["messages"])
    assert analyze_resolved(claude, T0).claimed == 0


def test_model_down_marks_failed_then_retries_later(claude: Services, fake_slack: FakeSlack,
                                                    fake_anthropic: Any) -> None:
    sid = _resolved(claude, fake_slack)
    fake_anthropic.fail(500, times=3)  # the SDK's own two retries fail too
    assert analyze_resolved(claude, T0).failed == 1
    s = load(claude, sid)
    assert s is not None and s.analysis_status == "failed" and s.analysis_error
    assert _drafts(claude) == []
    assert analyze_resolved(claude, T0 + timedelta(minutes=10)).claimed == 0
    fake_anthropic.reply_tool("draft_template", DRAFT)
    assert analyze_resolved(claude, T0 + timedelta(minutes=31)).done == 1
    s = load(claude, sid)
    assert s is not None and s.analysis_status == "completed" and s.analysis_error is None
    assert len(_drafts(claude)) == 1


def test_failed_analysis_is_given_up_after_a_week(claude: Services, fake_slack: FakeSlack) -> None:
    _resolved(claude, fake_slack, analysis_status="failed", analysis_error="overloaded",
              resolved_at=T0 - timedelta(days=8))
    assert analyze_resolved(claude, T0).claimed == 0


def test_without_claude_analysis_is_skipped(svc: Services, fake_slack: FakeSlack) -> None:
    sid = _resolved(svc, fake_slack)
    active = seed(svc, fake_slack, owner="U200", analysis_status="pending")
    result = analyze_resolved(svc, T0)
    assert (result.claimed, result.skipped) == (1, 1)
    s = load(svc, sid)
    assert s is not None and s.analysis_status == "skipped"
    a = load(svc, active)
    assert a is not None and a.analysis_status == "pending"


def _worked_fix(svc: Services, sid: Any, steps: list[str]) -> None:
    from storage.models import SessionSuggestedFix

    with unit_of_work(svc.factory) as db:
        db.add(SessionSuggestedFix(session_id=sid, position=0, title="Unlock and reset",
                                   steps=steps, rationale="", user_decision="worked",
                                   created_at=T0, decided_at=T0))


def test_without_claude_a_fix_with_commands_becomes_a_draft_script(
        svc: Services, fake_slack: FakeSlack) -> None:
    sid = _resolved(svc, fake_slack)
    _worked_fix(svc, sid, ["Check the lockout source in event 4740",
                           "Run: Unlock-ADAccount -Identity jane.doe",
                           "`Set-ADAccountPassword -Identity jane.doe -Reset`"])
    result = analyze_resolved(svc, T0)
    assert (result.claimed, result.done) == (1, 1)
    [draft] = _drafts(svc)
    assert draft.origin == "steps" and draft.status == "pending" and draft.session_id == sid
    assert draft.language == "powershell"
    assert "Unlock-ADAccount" in draft.body and "event 4740" not in draft.body
    assert [p["name"] for p in draft.parameters] == ["identity"]
    assert "{{identity}}" in draft.body and "jane.doe" not in draft.body
    s = load(svc, sid)
    assert s is not None and s.analysis_status == "completed"


def test_without_claude_a_fix_without_commands_is_skipped(
        svc: Services, fake_slack: FakeSlack) -> None:
    sid = _resolved(svc, fake_slack)
    _worked_fix(svc, sid, ["Close Outlook", "Sign in again"])
    assert analyze_resolved(svc, T0).skipped == 1
    assert _drafts(svc) == []
    s = load(svc, sid)
    assert s is not None and s.analysis_status == "skipped"
