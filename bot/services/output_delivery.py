"""The outbox of a session's external outputs (``session_resolution_outputs``).

Resolving, escalating or taking over a session writes one row per output in the same
transaction as the status change (the resolution note's Slack thread post; for a workspace
with a PSA, the ticket note, the time entry, the status change, the escalation package and
the take-over note; for a webhook, the same as JSON). Rows are then delivered right away
(``deliver_session``) and by the ``deliver_outputs`` job until they are sent:

- a pass claims a row with one conditional UPDATE (pending and due → leased, attempts + 1), so
  two passes never send the same row at once;
- the PSA's id is stored with ``posted`` in one commit;
- a row tried before is first looked for on the ticket (``PsaTarget.find``: the note carries
  its ref), so a timeout after the PSA stored it does not post it twice;
- failures back off (1, 2, 5, 10, 20, 30, then 60 minutes, at least ``Retry-After``); refusals
  that cannot heal (no member for the e-mail, a missing status) fail at once, and the
  technician is told in the thread.

Slack escalation packages are not here: ``bot.services.escalation`` posts those.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.crypto import secret_box
from bot.errors import ConfigError, PsaError, SlackError
from bot.psa import connections
from bot.psa.base import Outbound
from bot.redact import redact
from bot.render.outputs import render_note_message
from bot.render.safe import neutralize
from bot.services.container import Services
from storage.db import unit_of_work
from storage.models import AISession, PsaConnection, SessionResolutionOutput, User
from storage.queries.outputs import output_row
from storage.settings_store import get_setting

log = logging.getLogger(__name__)

SRO = SessionResolutionOutput
KIND = {"resolution_note": "note", "escalation_package": "package", "time_entry": "time_entry",
        "take_over_note": "take_over", "status_change": "status"}
BACKOFF_MINUTES = (1, 2, 5, 10, 20, 30, 60)
MAX_ATTEMPTS = 40  # about a day and a half of hourly tries
LEASE = timedelta(minutes=2)
BATCH = 100
DONE, SKIPPED, FAILED = "done", "skipped", "failed"
LABEL = {"resolution_note": "resolution note", "escalation_package": "escalation package",
         "time_entry": "time entry", "take_over_note": "take-over note",
         "status_change": "ticket status"}


# ── queueing (inside the caller's transaction) ──────────────────────────────────────────


def _row(db: Session, session: AISession, kind: str, target: str, markdown: str,
         content: dict[str, Any], now: datetime) -> SRO:
    row = output_row(db, session.id, kind, target)
    if row is None:
        row = SRO(session_id=session.id, output_type=kind, target=target, attempts=0,
                  created_at=now)
        db.add(row)
    elif row.status == "posted" and kind != "take_over_note":
        return row  # sent already: never twice
    row.content_markdown, row.content = markdown, dict(content)
    row.status, row.external_id, row.posted_at, row.last_error = "pending", None, None, None
    row.attempts, row.next_attempt_at = 0, now
    return row


def _targets(db: Session, session: AISession) -> tuple[PsaConnection | None,
                                                       PsaConnection | None]:
    return _ticket_connection(db, session), connections.webhook(db, session.account_id)


def _ticket_connection(db: Session, session: AISession) -> PsaConnection | None:
    """The ConnectWise connection a session's ticket belongs to: the one it was fetched
    through (``psa_connection_id``) while that connection is active. A ticket number means
    nothing on another PSA, so when that connection was switched off nothing is posted to
    whichever one is active now. Sessions whose ticket came with no connection recorded use
    the workspace's active one."""
    if not session.psa_ticket_id:
        return None
    if session.psa_connection_id is None:
        return connections.connectwise(db, session.account_id)
    row = db.get(PsaConnection, session.psa_connection_id)
    if row is None or not row.is_active or row.kind != "connectwise":
        log.warning("session %s: its ticket's PSA connection is no longer active; "
                    "nothing posted to the PSA", session.id)
        return None
    return row


def round_minutes(seconds: float, step: int) -> int:
    """Active time rounded up to ``step`` minutes, at least one step."""
    step = max(1, step)
    minutes = max(1, -(-int(seconds) // 60))
    return max(step, -(-minutes // step) * step)


def _time_content(session: AISession, opts: dict[str, Any], now: datetime) -> dict[str, Any]:
    minutes = round_minutes(session.total_active_seconds or 0, int(opts["round_minutes"]))
    end = now.replace(microsecond=0)
    start = end - timedelta(minutes=minutes)
    owner = session.user.slack_user_id if session.user is not None else ""
    return {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "minutes": minutes,
            "active_seconds": int(session.total_active_seconds or 0), "user": owner,
            "billable": bool(opts["billable"]), "work_type": opts["work_type"]}


def queue_resolution(db: Session, session: AISession, markdown: str, now: datetime) -> None:
    slack = output_row(db, session.id, "resolution_note")
    if slack is not None:
        slack.next_attempt_at = now  # the thread post goes through the outbox too
    cw, hook = _targets(db, session)
    summary = f"FlowPilot session: {session.problem_summary or 'troubleshooting'}"
    if cw is not None:
        opts = connections.options(cw)
        _row(db, session, "resolution_note", "psa", markdown, {"flag": opts["note_flag"]}, now)
        _row(db, session, "time_entry", "psa", summary, _time_content(session, opts, now), now)
        if opts.get("resolved_status"):
            _row(db, session, "status_change", "psa", "",
                 {"status": opts["resolved_status"]}, now)
    if hook is not None:
        opts = connections.options(cw)
        _row(db, session, "resolution_note", "webhook", markdown, {"flag": "resolution"}, now)
        _row(db, session, "time_entry", "webhook", summary, _time_content(session, opts, now),
             now)


def queue_escalation(db: Session, session: AISession, now: datetime) -> None:
    """The package as stored with the session (``escalation_package_markdown``) goes to the
    PSA and the webhook: what the engineer reads there is what Slack showed."""
    markdown = session.escalation_package_markdown or ""
    cw, hook = _targets(db, session)
    for row, target in ((cw, "psa"), (hook, "webhook")):
        if row is not None:
            _row(db, session, "escalation_package", target, markdown, {"flag": "internal"}, now)


def queue_take_over(db: Session, session: AISession, to: User, kind: str,
                    now: datetime) -> None:
    cw, hook = _targets(db, session)
    verb = "Taken over" if kind == "take_over" else "Handed off"
    text = (f"{verb} in Slack by {to.display_name or to.slack_user_id} "
            f"({now.strftime('%Y-%m-%d %H:%M UTC')}); the FlowPilot session continues with them.")
    for row, target in ((cw, "psa"), (hook, "webhook")):
        if row is not None:
            _row(db, session, "take_over_note", target, text, {"flag": "internal"}, now)


# ── delivering ──────────────────────────────────────────────────────────────────────────


@dataclass
class _Job:
    id: uuid.UUID
    kind: str
    target: str
    markdown: str
    content: dict[str, Any]
    attempts: int
    session_id: uuid.UUID
    ticket_id: str | None
    channel: str
    thread_ts: str
    patterns: list[Any] = field(default_factory=list)
    connection: PsaConnection | None = None


def due_where(now: datetime) -> list[Any]:
    return [SRO.status == "pending", SRO.next_attempt_at.is_not(None), SRO.next_attempt_at <= now,
            or_(SRO.target != "slack", SRO.output_type == "resolution_note")]


def _claim(svc: Services, output_id: uuid.UUID, now: datetime) -> _Job | None:
    with unit_of_work(svc.factory) as db:
        result = db.execute(update(SRO).where(SRO.id == output_id, *due_where(now))
                            .values(next_attempt_at=now + LEASE, attempts=SRO.attempts + 1)
                            .execution_options(synchronize_session=False))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = db.get(SRO, output_id)
        assert row is not None
        s = row.session
        conn = None
        if row.target != "slack":
            conn = (connections.connectwise(db, s.account_id) if row.target == "psa"
                    else connections.webhook(db, s.account_id))
            if conn is not None:
                db.expunge(conn)
        return _Job(row.id, row.output_type, row.target, row.content_markdown,
                    dict(row.content or {}), row.attempts, s.id, s.psa_ticket_id,
                    s.slack_channel_id, s.slack_thread_ts,
                    list(get_setting(db, s.account_id, "redaction_patterns", []) or []), conn)


def deliver_one(svc: Services, output_id: uuid.UUID, now: datetime | None = None) -> str:
    now = now or svc.clock()
    job = _claim(svc, output_id, now)
    if job is None:
        return SKIPPED
    try:
        external = _send(svc, job, now)
    except (PsaError, SlackError, ConfigError) as exc:
        _failed(svc, job, exc, now)
        return FAILED
    with unit_of_work(svc.factory) as db:
        row = db.get(SRO, job.id)
        if row is None:
            return SKIPPED
        row.external_id = external  # stored with "posted", in one commit
        row.status, row.posted_at, row.next_attempt_at, row.last_error = "posted", now, None, None
        session = db.get(AISession, job.session_id)
        if session is not None:
            if job.target == "slack":
                session.resolution_note_posted_at = now
            elif job.target == "psa" and job.kind == "resolution_note":
                session.resolution_note_external_id = external
            elif job.target == "psa" and job.kind == "escalation_package":
                session.escalation_package_external_id = external
    return DONE


def _send(svc: Services, job: _Job, now: datetime) -> str:
    if job.target == "slack":
        return _send_slack(svc, job)
    if job.connection is None:
        raise PsaError("the workspace's PSA connection was removed")
    box = secret_box(svc.settings.secret_key.get_secret_value()
                     if svc.settings.secret_key else None)
    target = connections.target(job.connection, box)
    extra = {k: v for k, v in job.content.items() if k != "user"}
    if job.kind == "time_entry":
        extra["email"] = _email(svc, str(job.content.get("user") or ""))
    # Everything that leaves for a PSA is redacted again here, whatever was stored.
    item = Outbound(KIND[job.kind], job.id.hex, job.ticket_id,
                    redact(job.markdown, job.patterns).text, str(job.session_id), extra)
    if job.attempts > 1:
        found = target.find(item)
        if found is not None:
            return found
    return target.deliver(item, now).external_id


def _email(svc: Services, slack_user_id: str) -> str:
    """The technician's e-mail (users.info ``profile.email``; needs ``users:read.email``)."""
    if not slack_user_id:
        return ""
    info = svc.notifier.user_info(slack_user_id)
    return str((info.get("profile") or {}).get("email") or "")


def _send_slack(svc: Services, job: _Job) -> str:
    msg = render_note_message(job.markdown, str(job.session_id), final=True)
    if job.attempts > 1:  # an earlier post may have landed without us hearing back
        for m in svc.notifier.thread_messages(job.channel, job.thread_ts, limit=200):
            if str(m.get("text", "")).startswith(msg.text[:40]) and m.get("bot_id"):
                return str(m["ts"])
    return svc.notifier.post(job.channel, msg.text, msg.blocks, thread_ts=job.thread_ts,
                             metadata=msg.metadata)


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


def _failed(svc: Services, job: _Job, exc: PsaError | SlackError | ConfigError,
            now: datetime) -> None:
    message = exc.message[:500]
    healable = (isinstance(exc, SlackError) or (isinstance(exc, PsaError) and (
        exc.retryable or exc.status in (401, 403))))
    give_up = not healable or job.attempts >= MAX_ATTEMPTS
    wait = backoff(job.attempts)
    if isinstance(exc, PsaError) and exc.retry_after:
        wait = max(wait, timedelta(seconds=exc.retry_after))
    with unit_of_work(svc.factory) as db:
        row = db.get(SRO, job.id)
        if row is None:
            return
        row.last_error = message
        row.status = "failed" if give_up else "pending"
        row.next_attempt_at = None if give_up else now + wait
    log.warning("output %s (%s to %s) attempt %s failed: %s", job.id, job.kind, job.target,
                job.attempts, message)
    if give_up and job.target != "slack":
        where = f"ticket #{job.ticket_id}" if job.ticket_id else "the webhook"
        text = (f"⚠️ The {LABEL[job.kind]} could not be written to {where}: "
                f"{neutralize(message, max_len=300)}")
        try:
            svc.notifier.post(job.channel, text, thread_ts=job.thread_ts)
        except SlackError:
            pass


def due_ids(svc: Services, now: datetime, session_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    with unit_of_work(svc.factory) as db:
        stmt = select(SRO.id).where(*due_where(now))
        if session_id is not None:
            stmt = stmt.where(SRO.session_id == session_id)
        # Slack first, so the thread shows the note before the PSA round trips.
        stmt = stmt.order_by((SRO.target != "slack"), SRO.next_attempt_at).limit(BATCH)
        return list(db.execute(stmt).scalars())


def deliver_session(svc: Services, session_id: uuid.UUID) -> None:
    """Right after the change that queued them: send this session's due outputs now."""
    now = svc.clock()
    for oid in due_ids(svc, now, session_id):
        try:
            deliver_one(svc, oid, now)
        except Exception:  # the job retries once the lease runs out
            log.exception("delivering output %s failed", oid)
