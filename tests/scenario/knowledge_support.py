"""Helpers for the knowledge scenarios: walk the offline Outlook flow to its fix, mark it
worked and resolve the session through signed requests."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from support import Harness

from bot.domain.refs import session_ref
from storage.models import AISession


def latest(h: Harness, channel: str = "C1") -> AISession:
    with h.svc.factory() as db:
        s = db.execute(select(AISession).where(AISession.slack_channel_id == channel)
                       .order_by(AISession.created_at.desc())).scalars().first()
        assert s is not None
        return s


def path_to_fix(h: Harness, flow_id: str) -> list[str]:
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


def open_and_resolve(h: Harness, problem: str, *, note: str = "", team: str = "T0001",
                     channel: str = "C1", user: str = "UALICE") -> uuid.UUID:
    """Open a session, walk its flow to the fix, Worked, then ``/flowpilot resolve note``."""
    h.command(problem, team=team, channel=channel, user=user)
    h.settle()
    s = latest(h, channel)
    assert s.flow_key, f"{problem!r} matched no flow"
    thread = s.slack_thread_ts
    for label in path_to_fix(h, s.flow_key):
        if label == "Done":
            ts, button = h.find_button("fp_action_done", channel)
        else:
            ts, button = h.find_button(
                "fp_answer", channel,
                where=lambda b, lbl=label: b["text"]["text"] == lbl[:75])  # type: ignore[misc]
        h.click(button["action_id"], button["value"], message_ts=ts, thread_ts=thread,
                team=team, channel=channel, user=user)
        h.settle()
    ts, worked = h.find_button("fp_fix_worked", channel)
    h.click(worked["action_id"], worked["value"], message_ts=ts, thread_ts=thread, team=team,
            channel=channel, user=user)
    h.settle()
    # A slash command carries no thread, so it names its session (handlers/lifecycle.py).
    status, _ = h.command(f"resolve {session_ref(str(s.id))} {note}".strip(), team=team,
                          channel=channel, user=user)
    assert status == 200
    h.settle()
    done = latest(h, channel)
    assert done.id == s.id and done.status == "resolved"
    return s.id
