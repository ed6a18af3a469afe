"""Through the real app (signed Slack requests, fake Slack on loopback): leaving a wrong flow
with ``fp_wrong_flow``, a reply that describes another flow, and typed answers."""

from __future__ import annotations

from sqlalchemy import select
from support import Harness

from storage.models import AISession, AISessionStep, SessionFact, Tree


def _session(h: Harness) -> AISession:
    with h.svc.factory() as db:
        return db.execute(select(AISession)).scalar_one()


def _wrong_flow_buttons(h: Harness) -> tuple[str, list[dict[str, object]]]:
    ts, _ = h.find_button("fp_wrong_flow")
    message = next(m for m in h.slack.messages("C1") if m["ts"] == ts)
    buttons = [el for b in message["blocks"] for el in b.get("elements") or []
               if str(el.get("action_id", "")).startswith("fp_wrong_flow")]
    return ts, buttons


def test_choosing_another_flow_switches_the_session(harness: Harness) -> None:
    h = harness
    h.command("printer offline in accounts, spooler keeps stopping")
    h.settle()
    s = _session(h)
    assert s.flow_key == "printer"
    assert 0.6 <= s.confidence_score < 1.0  # the match score, not a constant
    ts, buttons = _wrong_flow_buttons(h)
    action_ids = [b["action_id"] for b in buttons]
    assert len(set(action_ids)) == len(action_ids)  # unique in the message
    assert str(buttons[-1]["value"]).endswith("|none")
    target = next(b for b in buttons if not str(b["value"]).endswith("|none"))
    chosen = str(target["value"]).split("|")[1]
    h.click(str(target["action_id"]), str(target["value"]), message_ts=ts,
            thread_ts=s.slack_thread_ts)
    h.settle()
    after = _session(h)
    assert after.flow_key == chosen
    with h.svc.factory() as db:
        assert db.get(Tree, after.matched_flow_id).flow_key == chosen  # type: ignore[union-attr]
        steps = db.execute(select(AISessionStep).where(
            AISessionStep.session_id == s.id, AISessionStep.step_type == "answer")).scalars().all()
        facts = [f.text for f in db.execute(select(SessionFact)).scalars()]
    assert any("Wrong flow →" in str((st.content or {}).get("text")) for st in steps)
    assert any(f.startswith("Flow changed: Printer") for f in facts)
    last = h.bot_messages("C1", s.slack_thread_ts)[-1]
    assert "Switched from" in str(last["blocks"])


def test_none_of_these_drops_to_discovery_and_a_bogus_choice_is_refused(harness: Harness) -> None:
    h = harness
    h.command("printer offline in accounts")
    h.settle()
    s = _session(h)
    ts, buttons = _wrong_flow_buttons(h)
    h.click(str(buttons[0]["action_id"]), f"{s.id}|no-such-flow", message_ts=ts,
            thread_ts=s.slack_thread_ts)
    h.settle()
    assert "no longer available" in h.ephemerals_text()
    assert _session(h).flow_key == "printer"
    none = buttons[-1]
    h.click(str(none["action_id"]), str(none["value"]), message_ts=ts,
            thread_ts=s.slack_thread_ts)
    h.settle()
    after = _session(h)
    assert after.flow_key is None and after.matched_flow_id is None
    assert "Just one user" in str(h.bot_messages("C1", s.slack_thread_ts)[-1]["blocks"])


def test_a_reply_about_another_product_rematches(harness: Harness) -> None:
    h = harness
    h.command("printer offline in accounts")
    h.settle()
    s = _session(h)
    h.reply("sorry, wrong ticket: the veeam backup job failed overnight", s.slack_thread_ts)
    h.settle()
    assert _session(h).flow_key == "backup-failure"
    assert "rather than" in str(h.bot_messages("C1", s.slack_thread_ts)[-1]["blocks"])


def test_typing_an_option_answers_the_question_like_a_click(harness: Harness) -> None:
    h = harness
    h.command("outlook keeps popping pw box")
    h.settle()
    s = _session(h)
    q_ts, _ = h.find_button("fp_answer")
    h.reply("just this user", s.slack_thread_ts)
    h.settle()
    after = _session(h)
    [first] = [q for q in after.pending_task_lane["questions"] if q.get("node_id") == "scope"]  # type: ignore[index]
    assert first["status"] == "answered" and first["answer"] == "Just this user"
    assert first["decided_by"] == "U1"
    # The question's message is re-rendered with the answer instead of its buttons.
    shown = next(m for m in h.slack.messages("C1") if m["ts"] == q_ts)
    assert "Just this user" in str(shown["blocks"]) and "fp_answer" not in str(shown["blocks"])
    with h.svc.factory() as db:
        facts = [f.text for f in db.execute(select(SessionFact)).scalars()]
    assert "Scope: Just this user" in facts and "just this user" not in facts
