"""Issue 19: commands never misfire, the session's history, and Slack's AI surfaces (thread
status, markdown blocks, 👍/👎 on turns), end to end through signed requests, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lifecycle_support import load, open_session
from sqlalchemy import func, select
from support import TEAM, Harness

from bot.clock import utcnow
from bot.domain.refs import session_ref
from bot.render.check import iter_texts
from bot.sandbox.signing import block_action_body
from bot.services.feedback import turn_feedback_counts
from bot.services.turns import LOADING_MESSAGES, WORKING
from storage.models import AISession, AISessionStep, SessionFact, TurnFeedback

Make = Callable[..., Harness]


def _sessions(h: Harness) -> list[AISession]:
    with h.svc.factory() as db:
        return list(db.execute(select(AISession)).scalars())


def _hook_posts(h: Harness) -> list[dict[str, Any]]:
    return [c.body for c in h.slack.calls("response_url")]


def _ephemeral_click(h: Harness, action_id: str, value: str, *, user: str = "U1",
                     team: str = TEAM) -> None:
    """A click on an ephemeral message (Slack sends no ``message`` with it)."""
    body, ctype = block_action_body(team, user, "C1", "1700000000.999999", action_id, value,
                                    ephemeral=True,
                                    response_url=h.slack.hook_url(f"{team}/eph/{user}"))
    status, _ = h.send(body, ctype)
    assert status == 200


def _button(blocks: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    for block in blocks:
        for el in block.get("elements") or []:
            if str(el.get("action_id", "")).startswith(prefix):
                return dict(el)
    raise AssertionError(f"no {prefix} in {blocks}")


# ── commands ─────────────────────────────────────────────────────────────────────────────


def test_a_single_unknown_word_asks_and_start_opens_once(make: Make,
                                                         fake_anthropic: Any) -> None:
    h = make()
    h.command("staus")
    h.settle()
    assert _sessions(h) == []  # nothing opened
    (prompt,) = [p for p in _hook_posts(h) if "Start a session about" in str(p)]
    assert "'staus'" in prompt["text"] and prompt["response_type"] == "ephemeral"
    start = _button(prompt["blocks"], "fp_cmd_start")
    _button(prompt["blocks"], "fp_cmd_cancel")

    fake_anthropic.reply_turn(summary="staus", message="What is wrong?", recommend="continue")
    _ephemeral_click(h, start["action_id"], start["value"])
    _ephemeral_click(h, start["action_id"], start["value"])  # a double click
    h.settle()
    (session,) = _sessions(h)
    assert session.intake_content.get("text") == "staus"
    assert any(p.get("replace_original") and "Opening a session" in str(p)
               for p in _hook_posts(h))


def test_a_close_misspelling_names_the_subcommand_and_cancel_removes_the_prompt(
        make: Make) -> None:
    h = make()
    h.command("pakr")
    h.settle()
    (prompt,) = [p for p in _hook_posts(h) if "Start a session about" in str(p)]
    assert "Did you mean `park`?" in prompt["text"]
    cancel = _button(prompt["blocks"], "fp_cmd_cancel")
    _ephemeral_click(h, cancel["action_id"], cancel["value"])
    h.settle()
    assert any(p.get("delete_original") for p in _hook_posts(h))
    assert _sessions(h) == []


def test_hostile_and_huge_single_words(make: Make, fake_anthropic: Any) -> None:
    h = make()
    h.command("<!channel>")
    h.settle()
    (prompt,) = [p for p in _hook_posts(h) if "Start a session about" in str(p)]
    shown = "\n".join(iter_texts(prompt["blocks"])) + prompt["text"]  # what people see
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert _button(prompt["blocks"], "fp_cmd_start")["value"].endswith("|<!channel>")
    assert _sessions(h) == []
    # A 4,000-character "word" is a paste, not a typo: no button could carry it, so it opens
    # a session at once with all of it.
    fake_anthropic.reply_turn(summary="A pasted blob", message="Let's look.", recommend="continue")
    blob = "x" * 4000
    h.command(blob)
    h.settle()
    (session,) = _sessions(h)
    assert session.intake_content.get("text") == blob


def test_two_words_still_open_a_session_and_help_is_grouped(make: Make,
                                                           fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)  # PROBLEM has many words
    assert load(h, sid).status == "active" and thread
    h.command("help")
    h.settle()
    told = "\n".join(str(p.get("text")) for p in _hook_posts(h))
    for heading in ("*Sessions*", "*Knowledge*", "*Teams (admins)*", "*PSA*",
                    "*Workspace (admins)*"):
        assert heading in told
    assert "/flowpilot park fp-…" in told and "/flowpilot ticket <number>" in told
    h.command("resolve\nfp-000000 done")  # a subcommand, then a newline: still the subcommand
    h.settle()
    assert any("No open session is fp-000000" in str(p.get("text")) for p in _hook_posts(h))
    assert len(_sessions(h)) == 1


# ── history ──────────────────────────────────────────────────────────────────────────────


def _history_modal(h: Harness) -> dict[str, Any]:
    modals = [v for v in h.slack.views() if v.get("callback_id") == "fp_history_modal"]
    assert modals, h.ephemerals_text("U1")
    return modals[-1]


def test_history_shows_who_did_what(make: Make, fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic, user="U0ANA")
    ref = session_ref(str(sid))
    h.command(f"park {ref}", user="U0ANA")
    h.settle()
    h.command(f"resume {ref}", user="U0ANA")
    h.settle()
    h.command(f"handoff {ref} <@U0BEN>", user="U0ANA")
    h.settle()
    ts, button = h.find_button("fp_history", where=lambda b: b["value"] == str(sid))
    h.click(button["action_id"], button["value"], message_ts=ts, user="U3")  # any member
    h.settle()
    modal = _history_modal(h)
    text = json.dumps(modal["blocks"], ensure_ascii=False)
    assert "opened the session" in text
    assert "<@U0ANA> parked it" in text and "<@U0ANA> resumed it" in text
    assert "<@U0ANA> handed it to <@U0BEN>" in text
    assert "FlowPilot suggested a fix — Remove the stale Office credentials" in text
    lines = [t for t in text.split("\\n") if "<!date^" in t]
    assert [n for n, t in enumerate(lines) if "parked it" in t] < \
        [n for n, t in enumerate(lines) if "resumed it" in t]  # oldest first
    assert "<!date^" in text  # each viewer sees their own time
    assert len(modal["blocks"]) <= 100


def test_history_of_a_long_session_is_bounded(make: Make, fake_anthropic: Any) -> None:
    h = make()
    _thread, sid = open_session(h, fake_anthropic)
    with h.svc.factory() as db, db.begin():
        session = db.get(AISession, sid)
        assert session is not None
        start = session.step_count
        base = utcnow()
        for n in range(200):
            db.add(AISessionStep(session_id=sid, step_order=start + n, step_type="status",
                                 actor_user_id=session.user_id,
                                 content={"event": "park" if n % 2 else "resume",
                                          "author": "U1"},
                                 created_at=base + timedelta(seconds=n)))
        session.step_count = start + 200
    ts, button = h.find_button("fp_history", where=lambda b: b["value"] == str(sid))
    h.click(button["action_id"], button["value"], message_ts=ts)
    h.settle()
    modal = _history_modal(h)
    text = json.dumps(modal["blocks"], ensure_ascii=False)
    assert "earlier events not shown" in text
    assert text.count("<!date^") == 60  # the newest 60
    assert len(modal["blocks"]) <= 100
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in modal["blocks"])


def test_history_of_another_workspaces_session_is_refused(make: Make,
                                                         fake_anthropic: Any) -> None:
    h = make()
    _thread, sid = open_session(h, fake_anthropic)
    _ephemeral_click(h, "fp_history", str(sid), user="UOTHER", team="T0OTHER")
    h.settle()
    assert not [v for v in h.slack.views() if v.get("callback_id") == "fp_history_modal"]


# ── Slack's AI surfaces ──────────────────────────────────────────────────────────────────


def test_status_is_set_before_the_model_and_ends_with_the_answer(make: Make,
                                                               fake_anthropic: Any) -> None:
    h = make()
    thread, _sid = open_session(h, fake_anthropic)
    calls = [c.body for c in h.slack.calls("assistant.threads.setStatus")]
    assert calls[0]["status"] == WORKING and calls[0]["loading_messages"] == LOADING_MESSAGES
    assert calls[0]["thread_ts"] == thread and calls[0]["channel_id"] == "C1"
    # Slack removes the status when the app's answer arrives in the thread: no second call.
    assert len(calls) == 1
    assert h.slack.status("C1", thread) == ""


def test_status_is_cleared_when_the_answer_could_not_be_posted(make: Make,
                                                              fake_anthropic: Any) -> None:
    h = make()
    h.slack.fail_when("chat.postMessage",
                      lambda c: "markdown" in json.dumps(c.body.get("blocks") or []),
                      status=500, error="internal_error")
    thread, _sid = open_session(h, fake_anthropic)
    calls = [c.body for c in h.slack.calls("assistant.threads.setStatus")]
    assert [c["status"] for c in calls] == [WORKING, ""]
    assert h.slack.status("C1", thread) == ""


def test_a_refused_status_never_breaks_the_turn(make: Make, fake_anthropic: Any) -> None:
    h = make()
    h.slack.fail_when("assistant.threads.setStatus", lambda c: True, status=200,
                      error="not_allowed_token_type")
    thread, sid = open_session(h, fake_anthropic)
    turns = [m for m in h.bot_messages("C1", thread) if "markdown" in json.dumps(m["blocks"])]
    assert turns, "the turn was posted"
    # Refused once: never cleared (nothing was set), and the session is fine.
    assert len(h.slack.calls("assistant.threads.setStatus")) == 1
    assert load(h, sid).last_turn_error is None


def test_model_prose_is_a_safe_markdown_block_with_feedback_buttons(
        make: Make, fake_anthropic: Any) -> None:
    h = make()
    fake_anthropic.reply_turn(
        summary="Printer offline", domain="printing", confidence=0.6,
        message="**Check** the [status page](https://evil.example/x) <!channel> @here",
        recommend="continue")
    h.command("the office printer shows offline")
    h.settle()
    (session,) = _sessions(h)
    (turn,) = [m for m in h.bot_messages("C1", session.slack_thread_ts)
               if any(b.get("type") == "markdown" for b in m.get("blocks") or [])]
    md = next(b for b in turn["blocks"] if b["type"] == "markdown")["text"]
    assert "**Check**" in md
    assert "status page (https://evil.example/x)" in md  # a label never hides a link
    assert "<!channel>" not in md and "@here" not in md
    feedback = next(b for b in turn["blocks"] if b["type"] == "context_actions")
    assert feedback["elements"][0]["type"] == "feedback_buttons"


def _feedback_values(h: Harness, thread: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    for m in h.bot_messages("C1", thread):
        for b in m.get("blocks") or []:
            if b.get("type") == "context_actions":
                el = b["elements"][0]
                return str(m["ts"]), el["positive_button"], el["negative_button"]
    raise AssertionError("no feedback buttons")


def test_turn_feedback_one_vote_per_person_changeable(make: Make, fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    ts, up, down = _feedback_values(h, thread)
    h.click("fp_turn_feedback", up["value"], message_ts=ts, thread_ts=thread, user="U1")
    h.click("fp_turn_feedback", up["value"], message_ts=ts, thread_ts=thread, user="U1")
    h.settle()
    with h.svc.factory() as db:
        assert db.execute(select(func.count()).select_from(TurnFeedback)).scalar_one() == 1
    assert h.ephemerals_text("U1").count("this turn helped") == 1
    h.click("fp_turn_feedback", down["value"], message_ts=ts, thread_ts=thread, user="U2")
    h.click("fp_turn_feedback", up["value"], message_ts=ts, thread_ts=thread, user="U2")
    h.settle()  # U2: 👎 then 👍 on the same, unchanged message: changed, not swallowed
    h.click("fp_turn_feedback", down["value"], message_ts=ts, thread_ts=thread, user="U1")
    h.settle()
    since = utcnow() - timedelta(days=1)
    with h.svc.factory() as db:
        rows = dict(db.execute(select(TurnFeedback.user_id, TurnFeedback.vote)).all())
        assert sorted(rows.values()) == ["down", "up"]
        counts = turn_feedback_counts(db, TEAM, since)
        assert (counts.up, counts.down, counts.total) == (1, 1, 2)
        mine = turn_feedback_counts(db, TEAM, since, user_id="U1")  # U1 owns the session
        assert mine.total == 2
        assert turn_feedback_counts(db, TEAM, since, user_id="U2").total == 0
        assert turn_feedback_counts(db, "T0OTHER", since).total == 0
        assert turn_feedback_counts(db, TEAM, utcnow() + timedelta(hours=1)).total == 0
    assert load(h, sid).status == "active"
    h.command("stats", user="U1")  # the owner's own stats carry the votes on their turns
    h.settle()
    shown = h.ephemerals_text("U1")  # JSON: the emoji are escaped
    assert "*Quality*" in shown and "Model turns rated" in shown and ": 1 / 1" in shown


def test_feedback_on_another_workspace_or_session_is_refused(make: Make,
                                                            fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic)
    _thread2, sid2 = open_session(h, fake_anthropic)
    ts, up, _down = _feedback_values(h, thread)
    _sid, step_id, _vote = up["value"].split("|")
    # Another workspace names this session: not found there.
    _ephemeral_click(h, "fp_turn_feedback", up["value"], user="UOTHER", team="T0OTHER")
    # Another session of this workspace with this session's turn: not part of it.
    h.click("fp_turn_feedback", f"{sid2}|{step_id}|up", message_ts=ts, user="U1")
    # A made-up value.
    h.click("fp_turn_feedback", f"{sid}|{uuid.uuid4()}|meh", message_ts=ts, user="U1")
    h.settle()
    with h.svc.factory() as db:
        assert db.execute(select(func.count()).select_from(TurnFeedback)).scalar_one() == 0
    assert "not part of this session" in h.ephemerals_text("U1")
    assert "no longer valid" in h.ephemerals_text("U1")


def test_a_persons_facts_name_them(make: Make, fake_anthropic: Any) -> None:
    h = make()
    thread, sid = open_session(h, fake_anthropic, user="U0ANA")
    fake_anthropic.reply_turn(
        summary="Outlook prompts", confidence=0.7, message="Noted.",
        facts=[{"text": "MFA is enforced by conditional access", "source": "technician"},
               {"text": "Token cache likely stale", "source": "inference"}],
        recommend="continue")
    h.reply("MFA is on, enforced by CA", thread, user="U0ANA")
    h.settle()
    with h.svc.factory() as db:
        facts = {f.text: f for f in db.execute(
            select(SessionFact).where(SessionFact.session_id == sid)).scalars()}
        assert facts["MFA is enforced by conditional access"].created_by_id is not None
        assert facts["Token cache likely stale"].created_by_id is None
    ts, button = h.find_button("fp_history", where=lambda b: b["value"] == str(sid))
    h.click(button["action_id"], button["value"], message_ts=ts, user="U0ANA")
    h.settle()
    text = json.dumps(_history_modal(h)["blocks"], ensure_ascii=False)
    assert "<@U0ANA> added a fact — MFA is enforced by conditional access" in text
