"""Issue 18: the seed's small columns earn their place, through signed requests: the session
type and the prompt version recorded at intake, the match score and handoff count in the
header, the title renamed from the header, the rating and feedback shown."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lifecycle_support import load, open_session
from sqlalchemy import select
from support import Harness

from bot.domain.refs import session_ref
from bot.engines.prompt import SYSTEM_PROMPT
from storage.models import AISession

Make = Callable[..., Harness]


def _header(h: Harness, thread: str) -> str:
    msg = next(m for m in h.slack.messages("C1") if m["ts"] == thread)
    return json.dumps(msg["blocks"], ensure_ascii=False)


def _only(h: Harness) -> AISession:
    with h.svc.factory() as db:
        return db.execute(select(AISession)).scalar_one()


def test_a_matched_offline_session_is_guided_and_shows_its_match_score(harness: Harness) -> None:
    h = harness
    h.command("outlook keeps popping pw box since this morning")
    h.settle()
    s = _only(h)
    assert s.session_type == "guided"
    assert s.system_prompt_snapshot == "offline: built-in flows (no model prompt)"
    assert s.match_score is not None
    assert f"(match {s.match_score:.2f})" in _header(h, s.slack_thread_ts)


def test_an_unmatched_session_is_open_chat_and_says_so(harness: Harness) -> None:
    h = harness
    h.command("the CEO says everything is weird today")
    h.settle()
    s = _only(h)
    assert (s.session_type, s.match_score) == ("chat", None)
    assert "open discovery" in _header(h, s.slack_thread_ts)


def test_a_claude_session_records_the_prompt_version_it_ran_on(
    make: Make, fake_anthropic: Any
) -> None:
    import hashlib

    h = make()
    _, sid = open_session(h, fake_anthropic)
    snapshot = load(h, sid).system_prompt_snapshot or ""
    digest = hashlib.sha256(SYSTEM_PROMPT.encode()).hexdigest()[:12]
    assert snapshot.startswith("claude ") and f"sha256:{digest}" in snapshot
    assert h.svc.settings.ai_model in snapshot


def test_rename_from_the_header_shows_the_title_and_refuses_bad_titles(
    make: Make, fake_anthropic: Any
) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    ts, button = h.find_button("fp_rename", where=lambda b: b["value"] == str(sid))
    assert h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)[0] == 200
    h.settle()
    modal = [v for v in h.slack.views() if v.get("callback_id") == "fp_rename_modal"][-1]
    assert modal["private_metadata"] == str(sid)
    assert "Outlook" in json.dumps(modal["blocks"])  # prefilled with the summary

    for bad, says in (("   ", "empty"), ("x" * 300, "255 characters")):
        status, body = h.submit("fp_rename_modal", {"fp_rename_title": bad},
                                private_metadata=str(sid))
        assert status == 200 and says in body, body
        assert load(h, sid).title is None  # nothing saved

    status, _ = h.submit("fp_rename_modal",
                         {"fp_rename_title": "Contoso: <!channel> Outlook\nloop password=Hunter2!x"},
                         private_metadata=str(sid))
    assert status == 200
    h.settle()
    title = load(h, sid).title or ""
    assert title.startswith("Contoso: <!channel> Outlook loop") and "Hunter2" not in title
    header = _header(h, thread)
    assert "Contoso:" in header and "<!channel>" not in header  # shown, never pings

    # Someone who never took part may not rename.
    status, _ = h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread,
                        user="UOUTSIDER")
    h.settle()
    assert status == 200 and load(h, sid).title == title
    assert "⚠️" in h.ephemerals_text("UOUTSIDER")
    assert len([v for v in h.slack.views() if v.get("callback_id") == "fp_rename_modal"]) == 1


def test_handoff_count_rating_and_feedback_show_in_the_header(
    make: Make, fake_anthropic: Any
) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    h.command(f"handoff {session_ref(str(sid))} <@UBOB|bob>")
    h.settle()
    assert load(h, sid).handoff_count == 1
    assert "handed off 1×" in _header(h, thread)

    h.command(f"resolve {session_ref(str(sid))} fixed by clearing the cached credentials",
              user="UBOB")
    h.settle()
    assert load(h, sid).status == "resolved"
    h.click("fp_rate:4", "4", message_ts=thread, thread_ts=thread, user="UBOB")
    h.settle()
    h.submit("fp_feedback_modal", {"fp_feedback_text": "Quick & right"}, user="UBOB",
             private_metadata=str(sid))
    h.settle()
    header = _header(h, thread)
    assert "⭐ 4/5" in header and "Quick &amp; right" in header


def _fact_menu(h: Harness) -> tuple[str, dict[str, Any]]:
    for message in reversed(h.slack.messages("C1")):
        for block in message.get("blocks") or []:
            acc = block.get("accessory") or {}
            if acc.get("action_id") == "fp_fact_wrong":
                return str(message["ts"]), acc
    raise AssertionError("no That's wrong menu")


def _pick(h: Harness, ts: str, thread: str, value: str, user: str = "U1") -> int:
    from bot.sandbox.signing import block_action_body

    shown = next(m for m in h.slack.messages("C1") if m.get("ts") == ts)
    body, ctype = block_action_body("T0001", user, "C1", ts, "fp_fact_wrong", value,
                                    thread_ts=thread, message=shown, action_type="static_select",
                                    response_url=h.slack.hook_url(f"T0001/act/{user}"))
    status, _ = h.send(body, ctype)
    h.settle()
    return status


def test_a_fact_marked_wrong_leaves_the_prompt_and_the_note(
    make: Make, fake_anthropic: Any
) -> None:
    from storage.models import SessionFact

    h = make()
    thread, sid = open_session(h, fake_anthropic)
    ts, menu = _fact_menu(h)
    wrong = next(o for o in menu["options"] if "web signs in" in o["text"]["text"])
    assert len(menu["options"]) == 3

    # Hostile and stale values are refused with a line and change nothing.
    assert _pick(h, ts, thread, f"{sid}|not-a-uuid") == 200
    assert _pick(h, ts, thread, f"{sid}|00000000-0000-0000-0000-000000000000") == 200
    assert "not part of this session" in h.ephemerals_text("U1")
    assert _pick(h, ts, thread, wrong["value"], user="UOUTSIDER") == 200
    with h.svc.factory() as db:
        assert all(f.is_active for f in db.query(SessionFact).filter_by(session_id=sid))

    assert _pick(h, ts, thread, wrong["value"]) == 200
    with h.svc.factory() as db:
        facts = {f.text: f.is_active for f in db.query(SessionFact).filter_by(session_id=sid)}
    assert facts["Outlook on the web signs in fine with the new password"] is False
    assert sum(facts.values()) == 2
    shown = json.dumps(next(m for m in h.slack.messages("C1") if m["ts"] == ts)["blocks"])
    assert "~Outlook on the web signs in fine" in shown and "marked wrong" in shown
    assert any("marked a fact wrong" in json.dumps(m) for m in h.bot_messages("C1", thread))
    # A second pick of the same fact (double click) is told, not repeated.
    assert _pick(h, ts, thread, wrong["value"]) == 200
    assert "already marked wrong" in h.ephemerals_text("U1")

    # The next model turn no longer sees the fact.
    fake_anthropic.reply_turn(summary="Outlook prompts for a password", domain="email",
                              facts=[{"text": "MFA is enabled for the user", "source": "technician"}])
    h.reply("MFA is on for her", thread)
    h.settle()
    # The state is sent once; this turn's update names the retracted fact as wrong and
    # never repeats it as a fact.
    with h.svc.factory() as db:
        wrong_id = next(str(f.id) for f in db.query(SessionFact).filter_by(session_id=sid)
                        if not f.is_active)
    update = json.dumps(fake_anthropic.message_requests[-1].body["messages"][-1])
    assert "marked wrong" in update and f"[{wrong_id}]" in update
    assert "Outlook on the web signs in fine" not in update

    h.command(f"resolve {session_ref(str(sid))} cleared the cached credentials")
    h.settle()
    note = load(h, sid).resolution_note_markdown or ""
    assert "Password was changed yesterday" in note
    assert "web signs in fine" not in note


def test_a_fix_marked_trying_stays_open_and_asks_the_model_nothing(
    make: Make, fake_anthropic: Any
) -> None:
    from lifecycle_support import fix_button

    from storage.models import SessionSuggestedFix

    h = make()
    thread, sid = open_session(h, fake_anthropic)
    title = "Remove the stale Office credentials"
    asked = len(fake_anthropic.message_requests)
    ts, button = fix_button(h, "fp_fix_trying", title)
    assert h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)[0] == 200
    h.settle()
    with h.svc.factory() as db:
        fix = db.query(SessionSuggestedFix).filter_by(session_id=sid, title=title).one()
        assert fix.user_decision == "trying" and fix.decided_by_id is not None
        fix_id = str(fix.id)
    assert len(fake_anthropic.message_requests) == asked  # no model turn for "trying"
    shown = json.dumps(next(m for m in h.slack.messages("C1") if m["ts"] == ts)["blocks"])
    assert "being tried" in shown and "fp_fix_worked" in shown
    blocks = next(m for m in h.slack.messages("C1") if m["ts"] == ts)["blocks"]
    (controls,) = [b for b in blocks if b.get("block_id") == f"fp_f:{fix_id}:ctl"]
    assert [e["action_id"] for e in controls["elements"]] == [
        "fp_fix_worked", "fp_fix_failed", "fp_fix_reject"]  # no second "Trying" button

    # A second "Trying" (double click) is refused with a line; Worked still works.
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    assert "⚠️" in h.ephemerals_text("U1")
    ts, button = fix_button(h, "fp_fix_worked", title)
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    with h.svc.factory() as db:
        fix = db.query(SessionSuggestedFix).filter_by(session_id=sid, title=title).one()
        assert fix.user_decision == "worked"
