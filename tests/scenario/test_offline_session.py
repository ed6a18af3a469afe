"""The offline engine (no API key) through the real app: a matched flow runs with buttons."""

from __future__ import annotations

from sqlalchemy import select
from support import Harness

from storage.models import AISession, SessionFact, SessionSuggestedFix, Tree


def _session(h: Harness) -> AISession:
    with h.svc.factory() as db:
        return db.execute(select(AISession)).scalar_one()


def _path_to_fix(h: Harness, flow_id: str) -> list[str]:
    """Button labels that walk a flow from its start to its first fix (breadth first)."""
    from bot.flows.model import ActionNode, FixNode, QuestionNode

    flow = h.svc.flows.get(flow_id)
    assert flow is not None
    queue: list[tuple[str, list[str]]] = [(flow.start, [])]
    seen = set()
    while queue:
        node_id, labels = queue.pop(0)
        if node_id in seen:
            continue
        seen.add(node_id)
        node = flow.node(node_id)
        if isinstance(node, FixNode):
            return labels
        if isinstance(node, QuestionNode):
            queue += [(nxt, [*labels, label]) for label, nxt in node.options.items()]
        elif isinstance(node, ActionNode) and node.next:
            queue.append((node.next, [*labels, "Done"]))
    raise AssertionError("flow has no fix")


def _click_first_open(h: Harness, thread: str) -> str:
    """Click the first button of the newest turn (answer, done or fix); returns its prefix."""
    for prefix in ("fp_fix_", "fp_answer", "fp_action_done"):
        try:
            ts, button = h.find_button(prefix)
        except AssertionError:
            continue
        h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
        h.settle()
        return prefix
    raise AssertionError("no open button")


def test_a_matched_flow_runs_to_a_fix_on_buttons(harness: Harness) -> None:
    h = harness
    assert h.svc.engine.name == "offline"
    h.command("outlook keeps popping pw box since this morning")
    h.settle()
    s = _session(h)
    assert s.engine == "offline" and s.flow_key == "outlook"
    assert s.confidence_tier == "guided" and s.match_score and s.match_score >= 0.55
    with h.svc.factory() as db:
        assert db.get(Tree, s.matched_flow_id).flow_key == "outlook"  # type: ignore[union-attr]
    thread = s.slack_thread_ts
    for label in _path_to_fix(h, "outlook"):
        if label == "Done":
            ts, button = h.find_button("fp_action_done")
        else:
            ts, button = h.find_button("fp_answer", where=lambda b, lbl=label: b["text"]["text"] == lbl[:75])  # type: ignore[misc]
        h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread)
        h.settle()
    with h.svc.factory() as db:
        fix = db.execute(select(SessionSuggestedFix)).scalars().first()
        facts = db.execute(select(SessionFact)).scalars().all()
    assert fix is not None and fix.steps and fix.node_id
    assert facts and all(f.source in ("technician", "action") for f in facts)
    ts, worked = h.find_button("fp_fix_worked")
    h.click(worked["action_id"], worked["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    with h.svc.factory() as db:
        assert db.get(SessionSuggestedFix, fix.id).user_decision == "worked"  # type: ignore[union-attr]
    last = h.bot_messages("C1", thread)[-1]
    assert "fp_resolve" in str(last["blocks"]), "a worked fix offers Resolve"

    # Resolve end to end on the offline engine: modal, note in the thread, rating prompt.
    ts, resolve = h.find_button("fp_resolve")
    h.click(resolve["action_id"], resolve["value"], message_ts=ts, thread_ts=thread)
    h.settle()
    h.submit("fp_resolve_modal", {"fp_resolve_note": "Verified with the user."},
             private_metadata=str(s.id))
    h.settle()
    done = _session(h)
    assert done.status == "resolved" and done.resolution_summary
    assert fix.title in (done.resolution_note_markdown or "")
    assert "Verified with the user." in (done.resolution_note_markdown or "")
    assert h.find_button("fp_rate")


def test_no_match_runs_the_discovery_checklist_then_offers_escalation(harness: Harness) -> None:
    h = harness
    h.command("the thing in room 4 makes a weird noise")
    h.settle()
    s = _session(h)
    assert s.flow_key is None and s.confidence_tier == "discovery"
    thread = s.slack_thread_ts
    first = str(h.bot_messages("C1", thread)[-1]["blocks"])
    assert "fp_answer" in first
    for _ in range(8):
        if "fp_escalate" in str(h.bot_messages("C1", thread)[-1]["blocks"]):
            break
        _click_first_open(h, thread)
    assert "fp_escalate" in str(h.bot_messages("C1", thread)[-1]["blocks"])
    with h.svc.factory() as db:
        assert len(db.execute(select(SessionFact)).all()) >= 3  # scope, since when, changes


def test_offline_session_escalates_end_to_end(db_url: str, engine: object,
                                              fake_slack: object) -> None:
    h = Harness(db_url, fake_slack, FLOWPILOT_ESCALATION_CHANNEL="C0ESC")  # type: ignore[arg-type]
    try:
        h.command("the thing in room 4 makes a weird noise")
        h.settle()
        s = _session(h)
        for _ in range(8):
            if "fp_escalate" in str(h.bot_messages("C1", s.slack_thread_ts)[-1]["blocks"]):
                break
            _click_first_open(h, s.slack_thread_ts)
        ts, escalate = h.find_button("fp_escalate", where=lambda b: b["value"] == str(s.id))
        h.click(escalate["action_id"], escalate["value"], message_ts=ts,
                thread_ts=s.slack_thread_ts)
        h.settle()
        h.submit("fp_escalate_modal", {"fp_escalate_reason": "Not in any runbook; needs eyes.",
                                       "fp_escalate_to": "UENG"}, private_metadata=str(s.id))
        h.settle()
        done = _session(h)
        assert done.status == "escalated" and done.escalation_message_ts
        posted = [m for m in h.slack.messages("C0ESC") if m["ts"] == done.escalation_message_ts]
        assert posted and "<@UENG>" in posted[0]["text"] + str(posted[0]["blocks"])
        assert "fp_take_over" in str(posted[0]["blocks"])
        assert "Scope" in (done.escalation_package_markdown or "")  # the path walked
    finally:
        h.close()


def test_a_reply_becomes_a_fact_and_the_flow_waits(harness: Harness) -> None:
    h = harness
    h.command("vpn connected cant reach file server")
    h.settle()
    s = _session(h)
    h.reply("It is a FortiClient 7.2 on Windows 11", s.slack_thread_ts)
    h.settle()
    with h.svc.factory() as db:
        texts = [f.text for f in db.execute(select(SessionFact)).scalars()]
    assert any("FortiClient 7.2" in t for t in texts)
