"""Issue 18: ``resolution_summary`` / ``resolution_action`` are filled on resolve (the note in
one line; the fix, or the technician's words, that resolved it) and knowledge search matches
and shows them ("Seen before")."""

from __future__ import annotations

import json
import uuid

from knowledge_support import latest, open_and_resolve
from sqlalchemy import select
from support import Harness

from bot.domain.refs import session_ref
from bot.services import knowledge
from bot.services.outputs import resolution_lines
from storage.models import AISession, KnowledgeEntry, SessionSuggestedFix

PROBLEM = "Outlook keeps asking for a password since this morning"
AGAIN = "outlook password prompt keeps coming back for a user"
NOTE = "Re-registered the device with dsregcmd /leave and signed in again"


def _seen_before(h: Harness, thread: str) -> str:
    return " ".join(json.dumps(m.get("blocks") or [], ensure_ascii=False)
                    for m in h.bot_messages("C1", thread) if "Seen before" in m.get("text", ""))


def test_a_note_only_resolution_is_summarised_searched_and_shown(harness: Harness) -> None:
    h = harness
    h.command(PROBLEM, user="UALICE")
    h.settle()
    first = latest(h)
    # Resolved with the technician's words only (no fix marked Worked).
    assert h.command(f"resolve {session_ref(str(first.id))} {NOTE}", user="UALICE")[0] == 200
    h.settle()
    done = latest(h)
    assert done.status == "resolved"
    summary = done.resolution_summary or ""
    assert summary.startswith(PROBLEM) and "fixed by: Re-registered the device" in summary
    assert "\n" not in summary
    assert done.resolution_action == NOTE
    with h.svc.factory() as db:
        entry = db.execute(select(KnowledgeEntry)).scalar_one()
        assert entry.fix_title.startswith("Re-registered the device")
        assert entry.fix_steps == []
        # The action's words find it, though the problem never said them.
        found = knowledge.find(db, done.account_id, "dsregcmd re-registered device")
        assert [e.id for e in found] == [entry.id]

    h.command(AGAIN, user="UBOB")
    h.settle()
    shown = _seen_before(h, latest(h).slack_thread_ts)
    assert "fixed by: Re-registered the device with dsregcmd" in shown
    assert "Fixed by:" not in shown  # the summary already says it; not twice


def test_a_worked_fix_is_the_resolution_action(harness: Harness) -> None:
    h = harness
    sid = open_and_resolve(h, PROBLEM)
    with h.svc.factory() as db:
        s = db.get(AISession, sid)
        assert s is not None
        fix = db.execute(select(SessionSuggestedFix).where(
            SessionSuggestedFix.session_id == sid,
            SessionSuggestedFix.user_decision == "worked")).scalar_one()
        assert s.resolution_summary == f"{s.problem_summary} — fixed by: {fix.title}"
        action = (s.resolution_action or "").splitlines()
        assert action[0] == fix.title
        assert action[1:] == [f"{n}. {step}" for n, step in enumerate(fix.steps, 1)]


def test_an_edited_note_gives_its_resolution_section() -> None:
    session = AISession(id=uuid.uuid4(), problem_summary="  VPN drops\nevery hour ", fixes=[])
    edited = ("# Resolution note: VPN drops\n\n## Problem\nVPN drops\n\n## Resolution\n"
              "**Raised the DHCP lease on the firewall**\n1. Set lease to 8h\n\n"
              "## Verification\n_None recorded._\n")
    summary, action = resolution_lines(session, "", edited)
    assert summary == "VPN drops every hour — fixed by: Raised the DHCP lease on the firewall"
    assert action == "Raised the DHCP lease on the firewall\n1. Set lease to 8h"
    # Nothing said anywhere: the problem alone, no action.
    assert resolution_lines(session, "", "## Resolution\n_None recorded._\n") == (
        "VPN drops every hour", None)
    # A huge note: one bounded line.
    summary, action = resolution_lines(session, "x" * 10_000, "")
    assert len(summary) == 500 and summary.endswith("…") and action is not None
    assert len(action) == 4000
