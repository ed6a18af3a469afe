"""Issue 18, branching: "Try another path from here" on a past turn forks the session at that
turn, the abandoned path is kept and summarised, the model and the offline engine continue
from the fork, and the header's Paths menu switches back. Through signed requests, offline
and with Claude at the wire; on SQLite and PostgreSQL (FLOWPILOT_TEST_DB)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from lifecycle_support import ESC, fix_button, load, open_session
from sqlalchemy import select, update
from support import Harness

from bot.domain.refs import session_ref
from storage.models import (
    AISession,
    AISessionStep,
    ForkPoint,
    SessionBranch,
    SessionSuggestedFix,
)

Make = Callable[..., Harness]


def _turns(h: Harness, sid: uuid.UUID) -> list[AISessionStep]:
    with h.svc.factory() as db:
        return list(db.execute(select(AISessionStep).where(
            AISessionStep.session_id == sid, AISessionStep.step_type == "ai_turn")
            .order_by(AISessionStep.step_order)).scalars())


def _branches(h: Harness, sid: uuid.UUID) -> list[SessionBranch]:
    with h.svc.factory() as db:
        return list(db.execute(select(SessionBranch).where(SessionBranch.session_id == sid)
                               .order_by(SessionBranch.branch_order)).scalars())


def _fork(h: Harness, thread: str, step: AISessionStep, sid: uuid.UUID,
          user: str = "U1") -> int:
    """Click "Try another path from here" on the message showing ``step``."""
    value = f"{sid}|{step.id}"
    ts, button = h.find_button("fp_branch", where=lambda b: b.get("value") == value)
    assert button["action_id"] == "fp_branch"
    status, _ = h.click("fp_branch", value, message_ts=ts, thread_ts=thread, user=user)
    h.settle()
    return status


def _paths_menu(h: Harness, thread: str) -> dict[str, Any]:
    header = next(m for m in h.slack.messages("C1") if m["ts"] == thread)
    for block in header.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == "fp_branch_switch":
                return dict(element)
    raise AssertionError("no Paths menu in the header")


def _switch(h: Harness, thread: str, value: str, user: str = "U1") -> int:
    from bot.sandbox.signing import block_action_body

    shown = next(m for m in h.slack.messages("C1") if m.get("ts") == thread)
    body, ctype = block_action_body("T0001", user, "C1", thread, "fp_branch_switch", value,
                                    thread_ts=thread, message=shown, action_type="static_select",
                                    response_url=h.slack.hook_url(f"T0001/act/{user}"))
    status, _ = h.send(body, ctype)
    h.settle()
    return status


def _answer(h: Harness, thread: str, label: str) -> None:
    ts, button = h.find_button("fp_answer", where=lambda b: b["text"]["text"] == label)
    h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
    h.settle()


def _bare(lane: dict[str, Any] | None) -> dict[str, Any]:
    """A lane without the ts of the messages its items are shown in."""
    return {k: [{f: v for f, v in i.items() if f != "message_ts"} for i in items]
            for k, items in (lane or {}).items()}


def _open_offline(h: Harness) -> tuple[uuid.UUID, str]:
    h.command("outlook keeps popping pw box since this morning")
    h.settle()
    with h.svc.factory() as db:
        s = db.execute(select(AISession)).scalar_one()
    return s.id, s.slack_thread_ts


def _first_options(h: Harness) -> list[str]:
    ts, button = h.find_button("fp_answer")
    msg = next(m for m in h.slack.messages("C1") if m["ts"] == ts)
    return [e["text"]["text"] for b in msg["blocks"] for e in b.get("elements") or []
            if str(e.get("action_id", "")).startswith("fp_answer")]


# --- offline ---------------------------------------------------------------------------------


def test_offline_fork_returns_to_the_flow_node_and_a_switch_comes_back(harness: Harness) -> None:
    h = harness
    sid, thread = _open_offline(h)
    options = _first_options(h)
    assert len(options) >= 2
    _answer(h, thread, options[0])
    second = _first_options(h)
    _answer(h, thread, second[0])
    turns = _turns(h, sid)
    assert len(turns) == 3
    first = turns[0]
    node_at_fork = (first.content or {})["state"]["engine_state"]
    before = load(h, sid)
    path1_node, path1_lane = before.engine_state, before.pending_task_lane

    assert _fork(h, thread, first, sid) == 200
    s = load(h, sid)
    assert s.is_branching and s.engine_state == node_at_fork
    assert _bare(s.pending_task_lane) == _bare((first.content or {})["state"]["lane"])
    b1, b2 = _branches(h, sid)
    assert (b1.name, b1.is_active, b1.parent_branch_id, b1.fork_point_id) == (
        "Path 1", False, None, None)
    assert (b2.name, b2.is_active, b2.parent_branch_id, b2.branch_order) == (
        "Path 2", True, b1.id, 1)
    assert s.active_branch_id == b2.id
    with h.svc.factory() as db:
        fp = db.get(ForkPoint, b2.fork_point_id)
        assert fp is not None and fp.step_id == first.id and fp.label.startswith("turn 1")
    # Path 1 kept and summarised: what was answered on it after the fork.
    assert b1.state is not None and b1.state["engine_state"] == path1_node
    assert options[0] in b1.summary and second[0] in b1.summary
    assert b1.summary.startswith("Path 1 (after turn 1): ")
    # The thread says so, and the fork turn is posted again with its question open.
    said = json.dumps(h.bot_messages("C1", thread)[-2:])
    assert "Path 2" in said and "Path 1 is kept" in said
    assert _first_options(h) == options
    menu = _paths_menu(h, thread)
    assert [o["value"] for o in menu["options"]] == [f"{sid}|{b1.id}", f"{sid}|{b2.id}"]
    assert menu["initial_option"]["value"] == f"{sid}|{b2.id}"

    # The offline engine carries on from that node with the other answer.
    _answer(h, thread, options[1])
    turns = _turns(h, sid)
    assert len(turns) == 4 and turns[-1].branch_id == b2.id
    assert all(t.branch_id == b1.id for t in turns[:3])
    assert load(h, sid).engine_state != path1_node

    # Back to Path 1, exactly as it was left.
    assert _switch(h, thread, f"{sid}|{b1.id}") == 200
    s = load(h, sid)
    assert s.active_branch_id == b1.id
    assert s.engine_state == path1_node and _bare(s.pending_task_lane) == _bare(path1_lane)
    b1, b2 = _branches(h, sid)
    assert b1.is_active and b1.state is None and not b2.is_active
    assert options[1] in b2.summary and "Path 2" in b2.summary
    assert "Back on Path 1" in json.dumps(h.bot_messages("C1", thread)[-2:])
    # A second switch to the path we are on changes nothing.
    assert _switch(h, thread, f"{sid}|{b1.id}") == 200
    assert "already on Path 1" in h.ephemerals_text("U1")

    # Resolve: the note lists both paths.
    h.command(f"resolve {session_ref(str(sid))} fixed it on the first path")
    h.settle()
    note = load(h, sid).resolution_note_markdown or ""
    assert "## Paths tried" in note and "Path 1: the path this note describes" in note
    assert options[1] in note  # Path 2's summary


def test_fork_refusals_leave_everything_as_it_was(harness: Harness) -> None:
    h = harness
    sid, thread = _open_offline(h)
    options = _first_options(h)
    _answer(h, thread, options[0])
    first, latest = _turns(h, sid)

    # The latest turn: nothing to leave yet.
    assert _fork(h, thread, latest, sid) == 200
    assert "latest turn" in h.ephemerals_text("U1")
    assert not load(h, sid).is_branching

    # Someone who may not act.
    assert _fork(h, thread, first, sid, user="UOUTSIDER") == 200
    assert "⚠️" in h.ephemerals_text("UOUTSIDER") and not load(h, sid).is_branching

    # A turn running (its lease held): refused, nothing lost.
    with h.svc.factory() as db, db.begin():
        db.execute(update(AISession).where(AISession.id == sid).values(
            turn_lease_until=h.svc.clock() + timedelta(minutes=5)))
    assert _fork(h, thread, first, sid) == 200
    assert "still answering" in h.ephemerals_text("U1") and not load(h, sid).is_branching
    with h.svc.factory() as db, db.begin():
        db.execute(update(AISession).where(AISession.id == sid).values(turn_lease_until=None))

    # Forged values: garbage, a step of nowhere.
    for value in (f"{sid}|nope", "garbage", f"{sid}|{uuid.uuid4()}"):
        ts, _ = h.find_button("fp_branch")
        assert h.click("fp_branch", value, message_ts=ts, thread_ts=thread)[0] == 200
        h.settle()
    assert "no longer valid" in h.ephemerals_text("U1")
    assert "another session" in h.ephemerals_text("U1")
    assert not load(h, sid).is_branching

    # The fork itself, then a double click: one fork.
    assert _fork(h, thread, first, sid) == 200
    assert len(_branches(h, sid)) == 2
    ts, button = h.find_button("fp_branch", where=lambda b: b.get("value") == f"{sid}|{first.id}")
    h.click("fp_branch", button["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    assert len(_branches(h, sid)) == 2
    assert "already on a new path from this turn" in h.ephemerals_text("U1")
    with h.svc.factory() as db:
        assert len(db.execute(select(ForkPoint)).scalars().all()) == 1


def test_a_fork_from_a_message_of_another_session_is_refused(harness: Harness) -> None:
    h = harness
    sid_a, thread_a = _open_offline(h)
    _answer(h, thread_a, _first_options(h)[0])
    h.command("the printer on floor 2 shows offline for everyone")
    h.settle()
    with h.svc.factory() as db:
        other = db.execute(select(AISession).where(AISession.id != sid_a)).scalar_one()
    step_b = _turns(h, other.id)[0]
    # Session A's button value carrying session B's turn: refused, both unchanged.
    ts, _ = h.find_button("fp_branch")
    h.click("fp_branch", f"{sid_a}|{step_b.id}", message_ts=ts, thread_ts=thread_a)
    h.settle()
    assert "belongs to another session" in h.ephemerals_text("U1")
    assert not load(h, sid_a).is_branching and not load(h, other.id).is_branching


def test_a_resolved_session_cannot_fork_and_says_why(harness: Harness) -> None:
    h = harness
    sid, thread = _open_offline(h)
    _answer(h, thread, _first_options(h)[0])
    first = _turns(h, sid)[0]
    value = f"{sid}|{first.id}"
    h.command(f"resolve {session_ref(str(sid))} sorted")
    h.settle()
    # The re-rendered turn no longer offers the button; an old copy of it is refused.
    assert not any(value in json.dumps(m) for m in h.bot_messages("C1", thread)[-1:])
    ts = thread
    h.click("fp_branch", value, message_ts=ts, thread_ts=thread)
    h.settle()
    assert "resolved" in h.ephemerals_text("U1") and "final" in h.ephemerals_text("U1")
    assert not load(h, sid).is_branching


# --- Claude --------------------------------------------------------------------------------------


def test_claude_continues_from_the_fork_without_the_abandoned_messages(
    make: Make, fake_anthropic: Any
) -> None:
    h = make(FLOWPILOT_ESCALATION_CHANNEL=ESC)
    thread, sid = open_session(h, fake_anthropic)
    first = _turns(h, sid)[0]

    # Path 1: the first fix fails, the model moves on.
    fake_anthropic.reply_turn(summary="Outlook prompts after password change", domain="email",
                              message="PATH-ONE-TURN-TWO: check the modern auth registry keys.")
    ts, failed = fix_button(h, "fp_fix_failed", "Remove the stale Office credentials")
    h.click(failed["action_id"], failed["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    fake_anthropic.reply_turn(summary="Outlook prompts after password change", domain="email",
                              message="PATH-ONE-TURN-THREE: look at the Entra sign-in logs.")
    h.reply("the registry keys look normal", thread)
    h.settle()
    assert len(_turns(h, sid)) == 3
    history_before = list(load(h, sid).conversation_messages)
    assert len(history_before) == 6

    assert _fork(h, thread, first, sid) == 200
    s = load(h, sid)
    assert len(s.conversation_messages) == 2  # the model's history: up to the fork
    with h.svc.factory() as db:
        fix = db.execute(select(SessionSuggestedFix).where(
            SessionSuggestedFix.title == "Remove the stale Office credentials")).scalar_one()
    assert fix.user_decision == "pending"  # as it was at that turn
    b1 = _branches(h, sid)[0]
    assert "Remove the stale Office credentials" in b1.summary and "didn't work" in b1.summary

    fake_anthropic.reply_turn(summary="Outlook prompts after password change", domain="email",
                              message="PATH-TWO: recreate the profile instead.")
    h.reply("let's try something else", thread)
    h.settle()
    body = fake_anthropic.message_requests[-1].body
    history = json.dumps(body["messages"][:-1])
    assert len(body["messages"]) == 3  # turn 1 (user, assistant) and this turn
    assert "PATH-ONE-TURN-TWO" not in history and "PATH-ONE-TURN-THREE" not in history
    blocks = [b.get("text", "") for b in body["messages"][-1]["content"]]
    tried = [t for t in blocks if t.startswith("<paths_tried>")]
    assert len(tried) == 1  # the abandoned path, as one summary line
    assert "Remove the stale Office credentials” didn't work" in tried[0]
    assert "PATH-ONE-TURN-THREE" in tried[0]  # its last word, inside the summary only
    assert not any("PATH-ONE" in t or "registry keys look normal" in t
                   for t in blocks if not t.startswith("<paths_tried>"))
    # Not kept in the stored conversation (per-turn context).
    assert "<paths_tried>" not in json.dumps(load(h, sid).conversation_messages)

    # Switch back to Path 1: its conversation and fix decision return.
    assert _switch(h, thread, f"{sid}|{b1.id}") == 200
    s = load(h, sid)
    assert s.conversation_messages == history_before
    with h.svc.factory() as db:
        assert db.get(SessionSuggestedFix, fix.id).user_decision == "failed"  # type: ignore[union-attr]
        assert db.execute(select(SessionSuggestedFix).where(
            SessionSuggestedFix.session_id == sid)).scalars().all()
    fake_anthropic.reply_turn(summary="Outlook prompts after password change", domain="email",
                              message="Back on path one.")
    h.reply("back to the first idea", thread)
    h.settle()
    messages = fake_anthropic.message_requests[-1].body["messages"]
    history = json.dumps(messages[:-1])
    assert "PATH-ONE-TURN-THREE" in history and "PATH-TWO" not in history
    assert len(messages) == 7  # Path 1's three turns, and this one
    assert "PATH-TWO" not in json.dumps(load(h, sid).conversation_messages)
    tried = [b["text"] for b in messages[-1]["content"]
             if b.get("text", "").startswith("<paths_tried>")]
    assert len(tried) == 1 and "Path 2 (from turn 1)" in tried[0]  # the path left, named

    # Escalate: the package lists the paths.
    h.command(f"escalate {session_ref(str(sid))} needs an Exchange admin")
    h.settle()
    s = load(h, sid)
    package = s.escalation_package_markdown or ""
    assert s.status == "escalated" and "## Paths tried" in package
    assert "Path 1: the path this note describes" not in package
    assert ("Path 2 (from turn 1): 1 turn, nothing answered or decided; last said: "
            "“PATH-TWO: recreate the profile instead”") in package
    assert "Path 1: the path the session is on now" in package
    posted = json.dumps(h.slack.messages(ESC))
    assert "Paths tried" in posted and "Path 2 (from turn 1)" in posted
    # An escalated session keeps its paths: no fork, no switch, and says why.
    assert _switch(h, thread, f"{sid}|{_branches(h, sid)[1].id}") == 200
    assert "escalated" in h.ephemerals_text("U1")
    assert load(h, sid).active_branch_id == b1.id


def test_a_fork_from_an_inherited_turn_sees_only_the_steps_before_it(harness: Harness) -> None:
    h = harness
    sid, thread = _open_offline(h)
    first_options = _first_options(h)
    _answer(h, thread, first_options[0])
    _answer(h, thread, _first_options(h)[0])
    t1, t2, t3 = _turns(h, sid)
    assert _fork(h, thread, t2, sid) == 200  # Path 2 from turn 2
    assert _fork(h, thread, t1, sid) == 200  # Path 3 from turn 1, inherited from Path 1
    b1, b2, b3 = _branches(h, sid)
    assert (b3.name, b3.parent_branch_id, b3.is_active) == ("Path 3", b2.id, True)
    s = load(h, sid)
    assert s.engine_state == (t1.content or {})["state"]["engine_state"]
    assert _first_options(h) == first_options  # turn 1's question, open again
    # Turn 2 lies after Path 3's fork: it is not on this path, so no fork from it.
    ts, _ = h.find_button("fp_branch")
    h.click("fp_branch", f"{sid}|{t2.id}", message_ts=ts, thread_ts=thread)
    h.settle()
    assert "on another path" in h.ephemerals_text("U1")
    assert len(_branches(h, sid)) == 3
    _answer(h, thread, first_options[1])
    assert _turns(h, sid)[-1].branch_id == b3.id
    # Back to Path 2 (turn 2's state, nothing done on it): its node returns.
    assert _switch(h, thread, f"{sid}|{b2.id}") == 200
    assert load(h, sid).engine_state == (t2.content or {})["state"]["engine_state"]
    assert "Path 3 (from turn 1)" in _branches(h, sid)[2].summary
    assert first_options[1] in _branches(h, sid)[2].summary


def test_a_failed_turn_of_the_path_left_does_not_ride_along(
    make: Make, fake_anthropic: Any
) -> None:
    from storage.models import InboundEvent

    h = make()
    thread, sid = open_session(h, fake_anthropic)
    fake_anthropic.reply_turn(summary="Outlook prompts", domain="email", message="SECOND")
    h.reply("web works fine", thread)
    h.settle()
    first = _turns(h, sid)[0]
    fake_anthropic.fail(500, times=3)
    h.reply("FAILED-REPLY on path one", thread)
    h.settle()
    with h.svc.factory() as db:
        assert db.execute(select(InboundEvent).where(InboundEvent.status == "failed")).first()
    assert _fork(h, thread, first, sid) == 200
    assert load(h, sid).is_branching
    with h.svc.factory() as db:
        left = db.execute(select(InboundEvent).where(
            InboundEvent.session_id == sid, InboundEvent.error.like("Path 1 was left%"))).scalars().all()
    assert [e.status for e in left] == ["ignored"]
    fake_anthropic.reply_turn(summary="Outlook prompts", domain="email", message="PATH-TWO")
    h.reply("a new idea", thread)
    h.settle()
    last = fake_anthropic.message_requests[-1].body["messages"]
    assert "FAILED-REPLY" not in json.dumps(last) and "a new idea" in json.dumps(last[-1])


def test_a_parked_session_asks_to_be_resumed_first(harness: Harness) -> None:
    h = harness
    sid, thread = _open_offline(h)
    _answer(h, thread, _first_options(h)[0])
    first = _turns(h, sid)[0]
    h.command(f"park {session_ref(str(sid))}")
    h.settle()
    assert load(h, sid).status == "paused"
    ts, _ = h.find_button("fp_branch")
    h.click("fp_branch", f"{sid}|{first.id}", message_ts=ts, thread_ts=thread)
    h.settle()
    assert "Resume it first" in h.ephemerals_text("U1") and not load(h, sid).is_branching
    h.command(f"resume {session_ref(str(sid))}")
    h.settle()
    # The refused click freed its delivery: the same click now forks.
    h.click("fp_branch", f"{sid}|{first.id}", message_ts=ts, thread_ts=thread)
    h.settle()
    assert load(h, sid).is_branching and len(_branches(h, sid)) == 2
