"""Post a stored escalation package to the workspace's escalation channel — exactly once.

Shared with the scheduled job ``post_escalations`` (which retries failed posts): whoever
calls, the row is claimed first with a conditional UPDATE (a lease), so two callers never
both post. On success the session becomes ``escalated`` with an SLA deadline; on a Slack
refusal it stays ``requesting_escalation`` and the next attempt is scheduled with backoff.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from bot.domain import status as st
from bot.errors import SlackError
from bot.render.outputs import render_escalation_message
from bot.render.safe import channel_link, group_mention, mention, safe_link
from bot.render.views import EscalationData
from bot.services import outbox, outbox_slack, outputs, workspace  # noqa: F401 (the sender)
from bot.services.container import Services
from bot.services.lifecycle import move_status
from bot.services.refresh import refresh_header
from storage.db import unit_of_work
from storage.models import AISession, OutboxMessage
from storage.queries.outputs import output_row

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
NOTE_AFTER_FAILURES = 3
MAX_BACKOFF_MINUTES = 60


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the 1st, 2nd, 3rd, 4th failure, at most an hour."""
    return timedelta(minutes=min(MAX_BACKOFF_MINUTES, 2 ** max(0, min(attempts - 1, 10))))


def _claim(svc: Services, session_id: uuid.UUID, now: datetime) -> bool:
    with unit_of_work(svc.factory) as db:
        result = db.execute(
            update(AISession)
            .where(AISession.id == session_id,
                   AISession.status == st.REQUESTING_ESCALATION,
                   AISession.escalation_message_ts.is_(None),
                   or_(AISession.job_lease_until.is_(None), AISession.job_lease_until < now))
            .values(job_lease_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _release(svc: Services, session_id: uuid.UUID) -> None:
    with unit_of_work(svc.factory) as db:
        db.execute(
            update(AISession).where(AISession.id == session_id)
            .values(job_lease_until=None).execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class _Post:
    channel: str
    thread_channel: str
    thread_ts: str
    text: str
    blocks: list[dict[str, object]]
    metadata: dict[str, object] | None
    tagged: str
    requested: str  # when this escalation was requested: one outbox row per request
    note: str = ""  # why nobody was tagged (a team's user group Slack could not read)


def _package(session: AISession, now: datetime) -> EscalationData:
    if session.escalation_package:
        return outputs.escalation_from_json(session.escalation_package)
    return outputs.escalation_data(
        session, now, reason=session.escalation_reason or "", thread_url=None,
        urgency=session.escalation_urgency or "normal", technician="",
    )


def _prepare(svc: Services, session_id: uuid.UUID, now: datetime) -> _Post | None:
    with unit_of_work(svc.factory) as db:
        session = db.get(AISession, session_id)
        if session is None or session.escalation_message_ts is not None:
            return None
        channel = session.escalation_channel_id or workspace.escalation_channel(
            svc, db, session.account)
        stored = session.escalation_package or {}
        note = ""
        if session.escalation_team_id is not None and "tagged_ids" in stored:
            # To a team: whom the request picked (every member, or the one in turn).
            engineers = [str(u) for u in stored.get("tagged_ids") or []]
            group, note = None, str(stored.get("tag_note") or "")
        else:
            engineers = [session.escalated_to.slack_user_id] if session.escalated_to else []
            group = None if engineers else workspace.value(svc, db, session.account,
                                                           "escalation_group")
        msg = render_escalation_message(
            _package(session, now), engineer_ids=engineers, group_id=str(group or "") or None,
            session_id=str(session.id), take_over_enabled=True, taken_by=None,
        )
        tagged = " ".join(mention(e) for e in engineers) if engineers else (
            group_mention(str(group)) if group else "")
        requested = (session.status_changed_at or now).isoformat()
        return _Post(channel or "", session.slack_channel_id, session.slack_thread_ts,
                     msg.text, msg.blocks, msg.metadata, tagged, requested, note)


def post_escalation_package(svc: Services, session_id: uuid.UUID) -> bool:
    """Post the package of a session waiting in ``requesting_escalation``; True once posted.

    The post goes through the outbox (kind ``escalation``): recorded first, and before any
    repost the channel is checked for our marker, so a 429 or a timeout whose post did
    land is never posted twice. This function keeps its own backoff (``post_escalations``);
    the outbox sweep only finishes an attempt whose process died mid-send."""
    now = svc.clock()
    if not _claim(svc, session_id, now):
        return False
    try:
        post = _prepare(svc, session_id, now)
        if post is None:
            return False
        if not post.channel:
            _failed(svc, session_id, SlackError("No escalation channel is set.",
                                                code="channel_not_found"), now, post)
            return False
        message_id, sent = _record(svc, session_id, post, now)
        if sent is not None:  # posted earlier, but its after-sent hook never finished
            _package_sent(svc, sent, str(sent["ts"]))
            return True
        if outbox.attempt(svc, message_id) is not None:
            return True  # the after-sent hook (_package_sent) recorded it
        error = _hold(svc, message_id)
        if error is not None:
            _failed(svc, session_id, SlackError(f"Slack said {error}.", code=error), now, post)
        return False
    finally:
        _release(svc, session_id)


def _record(svc: Services, session_id: uuid.UUID, post: _Post,
            now: datetime) -> tuple[uuid.UUID, dict[str, Any] | None]:
    """The package's outbox row (one per escalation request); a failed one is made due
    again, its attempt count kept so the marker check runs before the repost."""
    payload = {"channel": post.channel, "text": post.text, "blocks": post.blocks,
               "session_id": str(session_id),
               "after": {"thread_channel": post.thread_channel, "thread_ts": post.thread_ts,
                         "tagged": post.tagged, "note": post.note}}
    key = f"escalation:{session_id}:{post.requested}"
    with unit_of_work(svc.factory) as db:
        message_id = outbox.enqueue(db, target="slack", kind="escalation", dedupe_key=key,
                                    payload=payload, now=now, session_id=session_id)
        if message_id is not None:
            return message_id, None
        row = db.execute(select(OutboxMessage).where(
            OutboxMessage.dedupe_key == key)).scalar_one()
        if row.status == "sent" and row.result_ref:
            return row.id, {**row.payload, "ts": row.result_ref}
        if row.status == "failed":
            row.status, row.next_attempt_at, row.told_at = "pending", now, None
        return row.id, None


def _hold(svc: Services, message_id: uuid.UUID) -> str | None:
    """After a failed attempt: the error, and the row left to ``post_escalations``'s backoff
    (not the outbox sweep's). None when another process is sending it right now."""
    with unit_of_work(svc.factory) as db:
        row = db.get(OutboxMessage, message_id)
        if row is None or row.status in ("sending", "sent"):
            return None
        if row.status == "pending":
            row.next_attempt_at = None
        return row.last_error or "error"


def _package_sent(svc: Services, payload: dict[str, Any], ts: str) -> None:
    after = payload.get("after") or {}
    post = _Post(str(payload["channel"]), str(after.get("thread_channel") or ""),
                 str(after.get("thread_ts") or ""), "", [], None, str(after.get("tagged") or ""),
                 "", str(after.get("note") or ""))
    _posted(svc, uuid.UUID(str(payload["session_id"])), post, ts, svc.clock())


outbox.SENT["escalation"] = outbox.SentHooks(
    after=lambda svc, payload, ts, _found: _package_sent(svc, payload, ts))


def _posted(svc: Services, session_id: uuid.UUID, post: _Post, ts: str, now: datetime) -> None:
    with unit_of_work(svc.factory) as db:
        session = db.get(AISession, session_id, with_for_update=True, populate_existing=True)
        if session is None:
            return
        session.escalation_message_ts = ts
        session.escalation_package_posted_at = now
        # (``escalation_package_external_id`` is the PSA's note id: bot.services.output_delivery.)
        session.escalation_post_next_at = None
        session.job_lease_until = None
        if st.can(session.status, st.ESCALATION_POSTED):
            move_status(session, st.ESCALATION_POSTED, now)
            sla = int(workspace.value(svc, db, session.account, "escalation_sla_minutes")
                      or svc.settings.escalation_sla_minutes)
            session.escalation_deadline_at = now + timedelta(minutes=sla)
        row = output_row(db, session_id, "escalation_package")
        if row is not None:
            row.status, row.external_id, row.posted_at = "posted", ts, now
            row.attempts += 1
            row.last_error = None
    link = svc.notifier.permalink(post.channel, ts)
    where = channel_link(post.channel)
    if link:
        where = safe_link(link, "the escalation channel")
    if post.tagged:
        tagging = f", tagging {post.tagged}."
    elif post.note:
        tagging = f". ⚠️ {post.note}"
    else:
        tagging = (" (no engineer or group was tagged: an admin can set one with "
                   "`/flowpilot settings set escalation_group @group`).")
    _say(svc, post, f"🔺 Escalated: the package is in {where}{tagging} "
                    "Whoever takes it over carries on here, in this thread.")
    refresh_header(svc, session_id)


def _failed(svc: Services, session_id: uuid.UUID, exc: SlackError, now: datetime,
            post: _Post) -> None:
    with unit_of_work(svc.factory) as db:
        session = db.get(AISession, session_id, with_for_update=True, populate_existing=True)
        if session is None:
            return
        session.escalation_post_attempts += 1
        attempts = session.escalation_post_attempts
        session.escalation_post_next_at = now + backoff(attempts)
        session.job_lease_until = None
        row = output_row(db, session_id, "escalation_package")
        if row is not None:
            row.status, row.last_error = "failed", f"{exc.code or 'error'}: {exc.message}"[:2000]
            row.attempts += 1
    log.warning("escalation post of %s failed (attempt %d): %s", session_id, attempts, exc.code)
    if attempts == 1:
        refresh_header(svc, session_id)  # the header shows "escalation requested"
    if attempts == NOTE_AFTER_FAILURES:
        _say(svc, post, (
            f"⚠️ The escalation channel {channel_link(post.channel)} is rejecting FlowPilot's "
            f"posts ({exc.code or 'error'}): {exc.message} The escalation package is saved and "
            "I will keep retrying. Invite FlowPilot to the channel (`/invite @FlowPilot`) or "
            "ask an admin to check `/flowpilot settings`."
        ))


def _say(svc: Services, post: _Post, text: str) -> None:
    try:
        svc.notifier.post(post.thread_channel, text, thread_ts=post.thread_ts)
    except SlackError as exc:
        log.warning("could not post in the session thread: %s", exc.message)


def mark_taken(svc: Services, session_id: uuid.UUID, channel: str, ts: str, taken_by: str,
               at_text: str) -> None:
    """Replace the Take over button of the posted package with who took it, and when."""
    now = svc.clock()
    with unit_of_work(svc.factory) as db:
        session = db.get(AISession, session_id)
        if session is None:
            return
        msg = render_escalation_message(
            _package(session, now), engineer_ids=[], group_id=None,
            session_id=str(session_id), take_over_enabled=False, taken_by=taken_by,
            taken_at_text=at_text,
        )
    try:
        svc.notifier.update(channel, ts, msg.text, msg.blocks)
    except SlackError as exc:
        log.warning("could not mark the escalation of %s as taken: %s", session_id, exc.message)
