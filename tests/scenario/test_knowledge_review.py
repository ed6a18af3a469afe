"""Drafts reviewed in Slack, through signed requests: an admin sees pending drafts in App
Home, approves one (a ScriptTemplate), edits and approves another, rejects a third with a
reason; a non-admin cannot; two approvals at once make one script. The approved script is
then offered, filled from the facts, when its problem comes back — as code, never pinging."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from knowledge_support import latest, open_and_resolve
from sqlalchemy import select
from support import Harness

from bot.jobs import analyze_resolved
from bot.services import drafts
from bot.services.identity import ensure_account
from storage.db import unit_of_work
from storage.models import AISession, DraftTemplate, ScriptTemplate, User
from storage.settings_store import set_setting

ADMIN = "UADMIN"
HOSTILE = ("Get-Mailbox -Identity jane@acme.com <!channel> @here <@UCEO> ```\n"
           "Remove-Item C:\\ -Recurse")


def _admins(h: Harness, team: str = "T0001") -> None:
    with unit_of_work(h.svc.factory) as db:
        set_setting(db, ensure_account(db, team).id, "admins", [ADMIN])


def _draft(h: Harness, session_id: uuid.UUID, title: str, body: str = HOSTILE) -> str:
    with unit_of_work(h.svc.factory) as db:
        s = db.get(AISession, session_id)
        assert s is not None
        d = DraftTemplate(account_id=s.account_id, session_id=s.id, title=title,
                          description="From a fix that worked.", language="powershell",
                          body=body.replace("jane@acme.com", "{{user_email}}"),
                          parameters=[{"name": "user_email", "description": "mailbox",
                                       "default": ""}], status="pending", origin="steps")
        db.add(d)
        db.flush()
        return str(d.id)


def _home(h: Harness, user: str) -> dict[str, Any]:
    h.event({"type": "app_home_opened", "user": user, "tab": "home"})
    h.settle()
    homes = [v for v in h.slack.views() if v.get("type") == "home" and v.get("user_id") == user]
    assert homes, "no App Home published"
    return homes[-1]


def _button(view: dict[str, Any], prefix: str, draft_id: str) -> dict[str, Any]:
    for block in view["blocks"]:
        for el in block.get("elements") or []:
            if str(el.get("action_id", "")).startswith(prefix) and el.get("value") == draft_id:
                return el
    raise AssertionError(f"no {prefix} button for {draft_id}")


def _promoted(h: Harness) -> list[ScriptTemplate]:
    with h.svc.factory() as db:
        return list(db.execute(select(ScriptTemplate)).scalars())


def test_review_round_trip_in_app_home(harness: Harness) -> None:
    h = harness
    _admins(h)
    sid = open_and_resolve(h, "Outlook keeps asking for a password since this morning")
    d1, d2, d3 = (_draft(h, sid, t) for t in ("Reset mailbox", "Second", "Third"))

    assert "Drafts to review" not in json.dumps(_home(h, "UNOBODY")["blocks"])
    view = _home(h, ADMIN)
    shown = json.dumps(view["blocks"])
    assert "Drafts to review (3)" in shown
    assert "<!channel>" not in shown and "<@UCEO>" not in shown  # the body is inert code

    # A non-admin forging the click changes nothing.
    b = _button(view, "fp_draft_approve", d1)
    h.click(b["action_id"], b["value"], message_ts="1.1", user="UNOBODY")
    h.settle()
    assert _promoted(h) == [] and "admin" in h.ephemerals_text("UNOBODY")

    h.click(b["action_id"], b["value"], message_ts="1.1", user=ADMIN)
    h.settle()
    [script] = _promoted(h)
    with h.svc.factory() as db:
        draft = db.get(DraftTemplate, uuid.UUID(d1))
        admin = db.execute(select(User).where(User.slack_user_id == ADMIN)).scalar_one()
    assert draft is not None and draft.status == "promoted"
    assert draft.promoted_template_id == script.id and draft.reviewed_by_id == admin.id
    assert script.language == "powershell" and script.parameters[0]["name"] == "user_email"
    assert script.source_session_id == sid

    # The same click again: still one script.
    h.click(b["action_id"], b["value"], message_ts="1.1", user=ADMIN)
    h.settle()
    assert len(_promoted(h)) == 1 and "already reviewed" in h.ephemerals_text(ADMIN)

    # Edit & approve: the modal, then its submission with a changed body.
    b = _button(_home(h, ADMIN), "fp_draft_edit", d2)
    h.click(b["action_id"], b["value"], message_ts="1.1", user=ADMIN)
    h.settle()
    modal = [v for v in h.slack.views() if v.get("callback_id") == "fp_draft_modal"][-1]
    assert modal["private_metadata"] == d2
    h.submit("fp_draft_modal", {"fp_draft_title": "Restart spooler",
                                "fp_draft_language": "powershell",
                                "fp_draft_body": "Restart-Service Spooler -ComputerName {{pc}}"},
             private_metadata=d2, user=ADMIN)
    h.settle()
    edited = next(s for s in _promoted(h) if s.title == "Restart spooler")
    assert [p["name"] for p in edited.parameters] == ["pc"]

    # Reject with a reason (an empty reason is refused in the modal).
    b = _button(_home(h, ADMIN), "fp_draft_reject", d3)
    h.click(b["action_id"], b["value"], message_ts="1.1", user=ADMIN)
    h.settle()
    status, body = h.submit("fp_draft_reject_modal", {"fp_draft_reason": "  "},
                            private_metadata=d3, user=ADMIN)
    assert status == 200 and "fp_draft_reason" in body
    h.submit("fp_draft_reject_modal", {"fp_draft_reason": "Too specific to one client"},
             private_metadata=d3, user=ADMIN)
    h.settle()
    with h.svc.factory() as db:
        rejected = db.get(DraftTemplate, uuid.UUID(d3))
    assert rejected is not None and rejected.status == "dismissed"
    assert rejected.review_note == "Too specific to one client" and rejected.reviewed_by_id
    assert "Drafts to review" not in json.dumps(_home(h, ADMIN)["blocks"])

    # /flowpilot scripts lists both approved scripts, where each came from and who approved it.
    h.command("scripts")
    h.settle()
    listed = h.ephemerals_text("U1")
    assert "Reset mailbox" in listed and "Restart spooler" in listed
    assert "from <@UALICE>'s session" in listed and f"approved by <@{ADMIN}>" in listed
    assert "Rejected lately" not in listed  # the reasons are for admins
    h.command("scripts", user=ADMIN)
    h.settle()
    mine = h.ephemerals_text(ADMIN)
    assert "Rejected lately" in mine and "Too specific to one client" in mine


def test_two_approvals_at_once_make_one_script(harness: Harness) -> None:
    h = harness
    _admins(h)
    sid = open_and_resolve(h, "Outlook keeps asking for a password since this morning")
    d = _draft(h, sid, "Once only")
    results: list[Any] = []

    def approve() -> None:
        results.append(drafts.approve(h.svc, team_id="T0001", user_id=ADMIN, draft_id=d))

    threads = [threading.Thread(target=approve) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_promoted(h)) == 1
    assert sorted(r.done_now for r in results) == [False, False, False, True]
    assert len({r.script_id for r in results}) == 1


def test_an_approved_script_is_offered_when_the_problem_recurs(harness: Harness) -> None:
    h = harness
    _admins(h)
    sid = open_and_resolve(h, "Outlook keeps asking for a password since this morning")
    d = _draft(h, sid, "Reset mailbox")
    drafts.approve(h.svc, team_id="T0001", user_id=ADMIN, draft_id=d)

    h.command("outlook password prompt keeps coming back for bob@acme.com", user="UBOB")
    h.settle()
    second = latest(h)
    seen = [m for m in h.bot_messages("C1", second.slack_thread_ts)
            if "Seen before" in m.get("text", "")]
    assert len(seen) == 1
    text = json.dumps(seen[0]["blocks"])
    assert "Get-Mailbox -Identity bob@acme.com" in text  # filled from the session's facts
    assert "```" in text and "<!channel>" not in text and "<@UCEO>" not in text
    assert "@here" not in text  # json.dumps shows the defusing zero-width joiner as \u200d

    ts, button = h.find_button("fp_seen_before")
    h.click(button["action_id"], button["value"], message_ts=ts, user="UBOB",
            thread_ts=second.slack_thread_ts)
    h.settle()
    [script] = _promoted(h)
    assert script.use_count == 1 and script.last_used_at is not None
    h.command("scripts", user="UBOB")
    h.settle()
    assert "used once" in h.ephemerals_text("UBOB")
    assert f"last used {script.last_used_at:%Y-%m-%d}" in h.ephemerals_text("UBOB")
    # Nothing is ever run: the only effect is messages in Slack.
    assert not [c for c in h.slack.calls() if "exec" in c.method]


def test_offline_analysis_then_review(harness: Harness) -> None:
    h = harness
    _admins(h)
    open_and_resolve(h, "Outlook keeps asking for a password since this morning")
    analyze_resolved(h.svc, h.svc.clock())  # the flow's fix has no commands: nothing to review
    with h.svc.factory() as db:
        assert db.execute(select(DraftTemplate)).first() is None
