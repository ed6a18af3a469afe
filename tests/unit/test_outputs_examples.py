"""The committed examples under docs/examples/ are what the code renders for one realistic
session: Outlook prompting for a password after a password change.

The escalation package is rendered at the moment the technician escalated (one fix failed,
one still untried); the resolution note once the engineer's fix worked. Regenerate with
``FLOWPILOT_WRITE_EXAMPLES=1 pytest tests/unit/test_outputs_examples.py``.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.render.notes import render_escalation_package_markdown, render_resolution_note_markdown
from bot.services import outputs
from storage.models import AISession, AISessionStep, SessionFact, SessionSuggestedFix, Tree, User

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
START = datetime(2026, 11, 24, 14, 5, tzinfo=UTC)
SID = uuid.UUID("5f0c2a9e-8d1b-4c47-9b7e-2f6a1d3c4e58")


def _fact(text: str, source: str) -> SessionFact:
    return SessionFact(id=uuid.uuid4(), text=text, source=source, is_active=True,
                       created_at=START)


def realistic_session() -> AISession:
    """The session as stored when the technician escalated it, 34 minutes in."""
    tech = User(id=uuid.uuid4(), slack_user_id="U04TECH", display_name="Dana Whitfield",
                tz="America/Chicago", is_admin=False)
    session = AISession(
        id=SID, status="active", engine="claude", problem_summary="Outlook keeps prompting for a password "
        "after the user's password change", problem_domain="email", confidence_score=0.62,
        confidence_tier="exploring", psa_ticket_id="CW-48213",
        intake_content={"text": "Since her password was reset yesterday, Outlook on Maria's "
                                "laptop asks for her password every few minutes. Entering the "
                                "new password is accepted, then it asks again. Phone mail is "
                                "fine."},
        total_active_seconds=0, total_parked_seconds=0, status_changed_at=START,
        created_at=START, step_count=0, participants=["U04TECH"],
    )
    session.user = tech
    session.matched_flow = Tree(title="Outlook not syncing, not receiving, or prompting for a "
                                      "password", flow_key="outlook", domain="email")
    session.facts = [
        _fact("Outlook for Microsoft 365 (Current Channel) on Windows 11 23H2, one user",
              "intake"),
        _fact("Password was reset yesterday by the helpdesk in Entra ID", "intake"),
        _fact("Mail on the user's iPhone and in Outlook on the web works with the new password",
              "technician"),
        _fact("Only this user is affected; colleagues on the same network are fine", "technician"),
        _fact("Credential Manager still holds MicrosoftOffice16_Data entries from before the "
              "reset", "action"),
        _fact("Entra sign-in logs show success for Outlook, then error 50076 (MFA required) "
              "on the next token refresh", "action"),
    ]
    session.pending_task_lane = {
        "questions": [
            {"id": "q1", "kind": "question", "text": "Is it only this user, or several?",
             "options": ["Just this user", "Several"], "status": "answered",
             "answer": "Just this user"},
            {"id": "q2", "kind": "question",
             "text": "Was the device joined to Entra ID or only registered?",
             "options": ["Joined", "Registered", "Not sure"], "status": "open"},
        ],
        "actions": [
            {"id": "a1", "kind": "action", "text": "List cached Windows credentials",
             "command": "cmdkey /list", "status": "done"},
            {"id": "a2", "kind": "action",
             "text": "Check the Entra sign-in logs for the user's Outlook sign-ins",
             "command": None, "status": "done"},
            {"id": "a3", "kind": "action", "text": "Check the device's Entra join state",
             "command": "dsregcmd /status", "status": "open"},
        ],
    }
    session.fixes = [
        SessionSuggestedFix(
            id=uuid.uuid4(), position=0, title="Clear the stale Office credentials",
            steps=["Close Outlook and Teams",
                   "Open Credential Manager > Windows Credentials",
                   "Remove every MicrosoftOffice16_Data:* and ADAL entry",
                   "Start Outlook and sign in with the new password"],
            rationale="Cached tokens from before the reset keep failing and trigger the prompt.",
            verify="Outlook stays connected for 30 minutes without prompting.",
            confidence=0.7, risk="low", user_decision="failed", created_at=START,
            decided_at=START + timedelta(minutes=20)),
        SessionSuggestedFix(
            id=uuid.uuid4(), position=1,
            title="Re-register the device's Web Account Manager token broker",
            steps=["Sign the user out of Office apps (File > Office Account > Sign out)",
                   "Run dsregcmd /status and note AzureAdPrt",
                   "If AzureAdPrt is NO, sign out of Windows and back in with the new password",
                   "Start Outlook and sign in once"],
            rationale="The Primary Refresh Token was issued with the old password; until "
                      "Windows gets a new PRT, every token refresh fails MFA silently and "
                      "Outlook falls back to a password prompt.",
            verify="dsregcmd /status shows AzureAdPrt : YES and Outlook stays connected "
                   "through a token refresh (an hour) without prompting.",
            confidence=0.55, risk="low", user_decision="pending", created_at=START),
    ]
    session.steps = [AISessionStep(
        id=uuid.uuid4(), step_order=0, step_type="ai_turn", created_at=START,
        content={"message": "The sign-in logs point at the device token, not the mailbox: the "
                            "password is accepted, then the silent refresh fails MFA."})]
    return session


def escalated_moment() -> tuple[AISession, datetime]:
    session = realistic_session()
    return session, START + timedelta(minutes=34)


def resolved_moment() -> tuple[AISession, datetime]:
    """The same session once the engineer's fix worked (after a 40 min parked wait)."""
    session = realistic_session()
    session.total_active_seconds, session.total_parked_seconds = 34 * 60 + 40, 40 * 60
    session.status_changed_at = START + timedelta(minutes=74, seconds=40)
    fix = session.fixes[1]
    fix.user_decision, fix.decided_at = "worked", START + timedelta(minutes=88)
    session.facts.append(_fact("dsregcmd /status showed AzureAdPrt : NO before the sign-out",
                               "action"))
    session.pending_task_lane["actions"][2]["status"] = "done"  # type: ignore[index]
    session.pending_task_lane["questions"][1].update(  # type: ignore[index]
        status="answered", answer="Joined")
    return session, START + timedelta(minutes=91, seconds=12)


def render_examples() -> dict[str, str]:
    session, now = escalated_moment()
    package = outputs.escalation_data(
        session, now, urgency="high", technician="Dana Whitfield",
        reason="Cleared the cached credentials and the prompt came back within ten minutes. "
               "Sign-in logs show MFA failing on token refresh; I don't have rights to look at "
               "the device's join state or Conditional Access.",
        thread_url="https://acme-msp.slack.com/archives/C05HELPDESK/p1764000000123456",
    )
    session, now = resolved_moment()
    note = outputs.resolution_data(session, now, note="Maria confirmed Outlook stayed "
                                   "connected over lunch; no prompts since 9:20.")
    return {
        "escalation-package.md": render_escalation_package_markdown(package),
        "resolution-note.md": render_resolution_note_markdown(note),
    }


def test_examples_are_what_the_code_renders() -> None:
    rendered = render_examples()
    if os.environ.get("FLOWPILOT_WRITE_EXAMPLES") == "1":
        EXAMPLES.mkdir(parents=True, exist_ok=True)
        for name, text in rendered.items():
            (EXAMPLES / name).write_text(text, encoding="utf-8")
    for name, text in rendered.items():
        assert (EXAMPLES / name).read_text(encoding="utf-8") == text, (
            f"docs/examples/{name} is stale: FLOWPILOT_WRITE_EXAMPLES=1 pytest {__file__}")


def test_the_note_and_package_carry_what_a_reader_needs() -> None:
    rendered = render_examples()
    note, package = rendered["resolution-note.md"], rendered["escalation-package.md"]
    for part in ("Clear the stale Office credentials** — didn't work",
                 "Re-register the device's Web Account Manager token broker",
                 "## Root cause\nThe Primary Refresh Token was issued with the old password",
                 "## Verification\ndsregcmd /status shows AzureAdPrt : YES",
                 "Maria confirmed Outlook stayed connected", "**Ticket:** CW-48213",
                 "**Technician:** Dana Whitfield", "2026-11-24 09:36 (America/Chicago)",
                 "51m 12s active, 40m 00s parked"):
        assert part in note, part
    for part in ("**Urgency:** High", "Cleared the cached credentials",
                 "Is it only this user, or several? — Just this user", "dsregcmd /status",
                 "Was the device joined to Entra ID", "likelihood 55%",
                 "Latest reading of the session", "https://acme-msp.slack.com/archives/",
                 "34m 00s active"):
        assert part in package, part
    assert "U04TECH" not in note + package  # read outside Slack: names, never ids
