"""Helpers shared by the lifecycle scenario tests: open a session with a fix on the table."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from storage.models import AISession

ESC = "CESC"
PROBLEM = "Outlook keeps asking for a password since the password change yesterday"


def script_first_turn(fake_anthropic: Any) -> None:
    fake_anthropic.reply_turn(
        summary="Outlook prompts for a password after a password change", domain="email",
        confidence=0.72,
        message="Web works, so the account is fine; the desktop client holds a stale token.",
        facts=[
            {"text": "Outlook for Microsoft 365 on Windows 11, one user", "source": "intake"},
            {"text": "Password was changed yesterday in Entra ID", "source": "intake"},
            {"text": "Outlook on the web signs in fine with the new password",
             "source": "technician"},
        ],
        questions=[{"text": "Is MFA enabled for this user?", "options": ["Yes", "No"]}],
        actions=[{"text": "List cached Windows credentials", "command": "cmdkey /list",
                  "risk": "low"}],
        fixes=[
            {"title": "Remove the stale Office credentials",
             "steps": ["Close Outlook", "Open Credential Manager > Windows Credentials",
                       "Remove every MicrosoftOffice16_Data:* entry", "Start Outlook and sign in"],
             "rationale": "After a password change the cached Office token keeps failing, so "
                          "Outlook prompts in a loop.", "confidence": 0.7, "risk": "low"},
            {"title": "Recreate the Outlook profile",
             "steps": ["Control Panel > Mail > Show Profiles", "Add a new profile",
                       "Set it as default and start Outlook"],
             "rationale": "A damaged profile can keep an old authentication state.",
             "confidence": 0.4, "risk": "medium"},
        ],
        recommend="continue",
    )


def open_session(h: Any, fake_anthropic: Any, *, user: str = "U1", team: str = "T0001",
                 channel: str = "C1") -> tuple[str, uuid.UUID]:
    """Open a session by command; returns (thread ts = header ts, session id)."""
    script_first_turn(fake_anthropic)
    status, _ = h.command(PROBLEM, user=user, channel=channel, team=team)
    assert status == 200
    h.settle()
    with h.svc.factory() as db:
        session = db.execute(
            select(AISession).where(AISession.slack_channel_id == channel)
            .order_by(AISession.created_at.desc())
        ).scalars().first()
        assert session is not None
        return session.slack_thread_ts, session.id


def load(h: Any, session_id: uuid.UUID) -> AISession:
    with h.svc.factory() as db:
        session = db.get(AISession, session_id)
        assert session is not None
        _ = (session.user, session.escalated_to, list(session.handoffs),
             list(session.resolution_outputs))
        return session


def fix_button(h: Any, prefix: str, title: str) -> tuple[str, dict[str, Any]]:
    """(message ts, button) of a fix's decision button, found by the fix title."""
    with h.svc.factory() as db:
        from storage.models import SessionSuggestedFix

        fix = db.execute(
            select(SessionSuggestedFix).where(SessionSuggestedFix.title == title)
        ).scalars().first()
        assert fix is not None
        fix_id = str(fix.id)
    return h.find_button(prefix, where=lambda b: fix_id in str(b.get("value")))  # type: ignore[no-any-return]
