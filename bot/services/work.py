"""Work after Slack's ack, by name: what ``svc.dispatch.run(name, payload)`` carries out.

The listeners (handlers/) ack, build a JSON payload and hand it over with
``svc.later(name, payload)`` (or the delivery middleware records it as the work item in
queue mode); this process's pool or a worker process (``bot.worker``) then runs the use case
registered here under that name. ``bot.bootstrap`` registers ``WORK`` on the dispatch. The
names are part of the queue's records (``inbound_events.kind = "work:<name>"``): keep them.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from bot.errors import DomainError, readable
from bot.redact import redact
from bot.services import decisions, knowledge, mentions, tickets
from bot.services.attachments import refs_from_event
from bot.services.container import Services
from bot.services.dispatch import Dispatch, WorkFn
from bot.services.notices import refuse, reply_privately, tell
from bot.services.refresh import refresh_turn_messages
from bot.services.sessions import Intake, open_session, workspace_patterns

MENTION = re.compile(r"<@[UW][A-Z0-9]+(\|[^>]*)?>")


def click_work(svc: Services, p: dict[str, Any]) -> None:
    """Apply a quick answer, an action or a fix decision; then the next turn and the
    message's update. A refusal is told to the clicker ephemerally."""
    who = {"team_id": p["team_id"], "user_id": p["user_id"], "value": p["value"],
           "event_id": uuid.UUID(p["event_id"]) if p.get("event_id") else None}
    decision = p["decision"]
    try:
        if decision == "answer":
            clicked = decisions.answer(svc, **who)
        elif decision == "wrong_flow":
            clicked = decisions.choose_flow(svc, **who)
        elif decision in ("done", "skip"):
            clicked = decisions.complete_action(svc, **who, done=decision == "done")
        else:
            clicked = decisions.decide_fix(svc, **who, decision=decision)
    except Exception as exc:
        refuse(svc, p["user_id"], str(p.get("channel") or ""), p.get("thread_ts"), exc,
               event_id=who["event_id"])
        return
    if clicked.kick:
        svc.kick(clicked.session_id)
    if clicked.message_ts:
        refresh_turn_messages(svc, clicked.session_id, [clicked.message_ts])


def open_command(svc: Services, p: dict[str, Any]) -> None:
    """Work after the ack: open the session a ``/flowpilot <problem>`` asked for."""
    try:
        open_session(
            svc, team_id=str(p["team_id"]), user_id=str(p["user_id"]),
            channel=str(p["channel_id"]), thread_ts=None,
            intake=Intake(text=str(p["text"]), source="command"),
        )
    except Exception as exc:
        reply_privately(p.get("response_url"), f"⚠️ Could not open the session: {readable(exc)}")


def open_work(svc: Services, p: dict[str, Any]) -> None:
    """Work after the ack: open a session from the intake form or the message shortcut."""
    try:
        intake = Intake(**p["intake"])
        if intake.ticket and tickets.has_psa(svc, p["team_id"]):  # the form's ticket field
            number = tickets.ticket_number(intake.ticket, bare=True)
            if number is None:
                raise DomainError(f"{intake.ticket!r} is not a ticket number.")
            tickets.open_from_ticket(svc, team_id=p["team_id"], user_id=p["user_id"],
                                     channel=p["channel"], number=number, source="modal",
                                     text=intake.text, log=intake.log, files=intake.files)
            return
        open_session(svc, team_id=p["team_id"], user_id=p["user_id"], channel=p["channel"],
                     thread_ts=p.get("thread_ts"), intake=intake)
    except Exception as exc:
        tell(svc, p["user_id"], p["channel"], None,
             f"⚠️ Could not open the session: {readable(exc)}")


def mention_work(svc: Services, p: dict[str, Any]) -> None:
    """Work after the ack: a mention opens a session (or is a reply in a session's thread)."""
    event_id = uuid.UUID(p["event_id"]) if p.get("event_id") else None
    handle_mention(svc, p["event"], str(p["team_id"]), event_id)


def handle_mention(svc: Services, event: dict[str, Any], team_id: str,
                   event_id: uuid.UUID | None) -> None:
    channel, user = str(event.get("channel")), str(event.get("user") or "")
    ts, thread_ts = str(event.get("ts")), event.get("thread_ts")
    text = MENTION.sub("", event.get("text") or "").strip()
    if not user or event.get("bot_id"):
        return
    if thread_ts:
        patterns = workspace_patterns(svc, team_id)
        session_id = mentions.mention_as_reply(svc, event, redact(text, patterns).text,
                                               team_id, event_id)
        if session_id is not None:
            svc.kick(session_id)
            return
    intake = Intake(text=text, source="mention", files=refs_from_event(event))
    if thread_ts:
        intake.source = "thread"
        intake.thread_messages = [
            f"{m.get('user', 'someone')}: {m.get('text', '')}"
            for m in svc.notifier.thread_messages(channel, str(thread_ts))
            if m.get("ts") != ts and not m.get("bot_id")
        ]
    if not text and not intake.thread_messages and not intake.files:
        svc.notifier.ephemeral(channel, user, "Tell me the problem: `@FlowPilot <problem>`.",
                               thread_ts=thread_ts)
        return
    try:
        number = tickets.ticket_number(text)  # "#12345" or a ticket link (issue 13)
        if number is not None and tickets.has_psa(svc, team_id):
            tickets.open_from_ticket(svc, team_id=team_id, user_id=user, channel=channel,
                                     number=number, thread_ts=str(thread_ts or ts),
                                     source="mention", text=text, files=intake.files)
            return
        open_session(svc, team_id=team_id, user_id=user, channel=channel,
                     thread_ts=str(thread_ts or ts), intake=intake)
    except Exception as exc:
        svc.notifier.ephemeral(channel, user, f"⚠️ Could not open the session: {readable(exc)}",
                               thread_ts=thread_ts)


def seen_before_work(svc: Services, p: dict[str, Any]) -> None:
    """After the ack: add the past fix to the session and post it (with its script)."""
    where = (p["user_id"], str(p.get("channel") or ""), p.get("thread_ts"))
    try:
        done = knowledge.adopt(svc, team_id=p["team_id"], user_id=p["user_id"], value=p["value"])
    except Exception as exc:
        tell(svc, *where, f"⚠️ {readable(exc)}")
        return
    if done.step_id is None:
        tell(svc, *where, "That fix is already among this session's fixes.")
        return
    knowledge.announce_adopted(svc, done, p["user_id"])


# name -> use case; the names are recorded in inbound_events.kind ("work:<name>").
WORK: dict[str, WorkFn] = {
    "click": click_work,
    "open_command": open_command,
    "open_session": open_work,
    "mention": mention_work,
    "seen_before": seen_before_work,
}


def register_work(dispatch: Dispatch) -> None:
    """Every named work item onto the dispatch (called from ``bot.bootstrap``)."""
    for name, fn in WORK.items():
        dispatch.register(name, fn)
