"""Open a session, find the session of a thread, and decide who may act on one."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain import confidence as conf
from bot.errors import NotAllowedError, NotFoundError, SlackError
from bot.redact import redact
from bot.render.session import render_header
from bot.services import deliveries, present, session_meta, workspace
from bot.services.container import Services
from bot.services.identity import ensure_account, ensure_user
from storage.db import unit_of_work
from storage.models import Account, AISession, AISessionStep, Tree, User
from storage.models.session import OPEN_STATUSES

log = logging.getLogger(__name__)

MAX_INTAKE_CHARS = 20_000  # what we keep of a paste for the model; the rest is noted
MAX_LOG_CHARS = 60_000


@dataclass
class Intake:
    text: str
    log: str = ""
    ticket: str | None = None
    source: str = "command"  # command | mention | shortcut | modal | thread
    thread_messages: list[str] = field(default_factory=list)
    ticket_data: dict[str, Any] | None = None  # a PSA ticket, redacted (bot.services.tickets)
    psa_connection_id: uuid.UUID | None = None

    @property
    def intake_type(self) -> str:
        if self.ticket_data is not None:
            return "psa_ticket"
        if self.log and self.text:
            return "combined"
        if self.log:
            return "log_paste"
        if self.ticket and not self.text:
            return "psa_ticket"
        return "free_text"


def clean_input(text: str, limit: int) -> tuple[str, int]:
    """Strip NULs and control junk, cap the size visibly; returns (text, chars dropped)."""
    text = text.replace("\x00", "")
    text = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable())
    if len(text) <= limit:
        return text, 0
    dropped = len(text) - limit
    return text[:limit] + f"\n… ({dropped:,} more characters not kept)", dropped


@dataclass
class Opened:
    session_id: uuid.UUID
    channel: str
    thread_ts: str
    created: bool  # False when the thread already had an open session


def open_session(
    svc: Services, *, team_id: str, user_id: str, channel: str, thread_ts: str | None,
    intake: Intake, delivery_key: str | None = None,
) -> Opened:
    """Create the session, post its header, and queue the intake as its first turn."""
    now = svc.clock()
    text, _ = clean_input(intake.text.strip(), MAX_INTAKE_CHARS)
    log_text, _ = clean_input(intake.log.strip(), MAX_LOG_CHARS)
    extra = workspace_patterns(svc, team_id)
    red_text, red_log = redact(text, extra), redact(log_text, extra)
    thread_text = "\n".join(redact(m, extra).text for m in intake.thread_messages)
    match_text = " ".join(x for x in (red_text.text, thread_text, red_log.text[:5000]) if x)

    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)
        owner = ensure_user(db, account, user_id, svc.notifier)
        if thread_ts:
            existing = open_session_in_thread(db, channel, thread_ts)
            if existing is not None:
                return Opened(existing.id, channel, thread_ts, created=False)
        nudge_after = workspace.nudge_after(svc, db, account)
        account_id = account.id
    match = svc.flows.match(match_text, account_id) if match_text.strip() else None

    session_id = uuid.uuid4()
    summary = (red_text.text or thread_text or red_log.text or "New session").strip()
    summary = summary.splitlines()[0][:120] if summary else "New session"
    draft = AISession(
        id=session_id, status="active", problem_summary=summary,
        confidence_score=round(float(match.score), 2) if match else 0.0,
        confidence_tier=conf.tier_for(float(match.score)) if match else "discovery",
        user=None, participants=[user_id], step_count=0, created_at=now,
        total_active_seconds=0, total_parked_seconds=0, status_changed_at=now,
        psa_ticket_id=intake.ticket, ticket_data=intake.ticket_data,
    )
    view = dataclasses.replace(
        present.header_view(draft, now), owner_id=user_id,
        domain=match.flow.domain if match else "other",
        flow_title=match.flow.title if match else None,
        match_score=round(float(match.score), 4) if match else None,
        session_type=session_meta.session_type_for(match is not None),
    )
    header = render_header(view)
    header_ts = _post_header(svc, channel, thread_ts, header, session_id)
    thread = thread_ts or header_ts

    try:
        with unit_of_work(svc.factory) as db:
            account = ensure_account(db, team_id)
            owner = ensure_user(db, account, user_id, svc.notifier)
            tree = tree_for(db, match.flow) if match else None
            session = AISession(
                id=session_id, user_id=owner.id, account_id=account.id,
                team_id=owner.team_id,  # a session belongs to its owner's team (issue 18)
                intake_type=intake.intake_type,
                intake_content={
                    "text": red_text.text, "log_content": red_log.text, "ticket": intake.ticket,
                    "source": intake.source, "thread": thread_text,
                    "redacted": red_text.count + red_log.count,
                },
                problem_summary=summary, psa_ticket_id=intake.ticket,
                ticket_data=intake.ticket_data, psa_connection_id=intake.psa_connection_id,
                status="active", confidence_tier=conf.tier_for(draft.confidence_score),
                confidence_score=draft.confidence_score,
                matched_flow_id=tree.id if tree else None,
                flow_key=match.flow.id if match else None,
                match_score=round(float(match.score), 4) if match else None,
                session_type=session_meta.session_type_for(match is not None),
                system_prompt_snapshot=session_meta.prompt_version(
                    svc.engine_name,
                    str(workspace.value(svc, db, account, "ai_model") or svc.settings.ai_model)),
                problem_domain=match.flow.domain if match else None,
                slack_channel_id=channel, slack_thread_ts=thread, root_message_ts=header_ts,
                participants=[user_id], engine=svc.engine_name,
                created_at=now, status_changed_at=now, last_activity_at=now,
                last_human_activity_at=now, next_nudge_at=now + nudge_after,
            )
            db.add(session)
            db.flush()
            add_step(db, session, "intake", owner, {"text": red_text.text, "source": intake.source,
                                                   "redacted": red_text.count + red_log.count}, now)
            deliveries.add_turn_input(
                db, session, kind="intake", now=now, key=f"intake:{session_id}",
                payload={"author": user_id, "text": red_text.text, "team_id": team_id},
            )
    except IntegrityError:
        # Another delivery opened a session on this thread at the same moment: use that one.
        with unit_of_work(svc.factory) as db:
            existing = open_session_in_thread(db, channel, thread)
        if existing is None:
            raise
        _mark_header_duplicate(svc, channel, header_ts)
        return Opened(existing.id, channel, thread, created=False)
    svc.metrics.sessions.labels("opened").inc()
    masked = red_text.count + red_log.count
    if masked:
        try:
            svc.notifier.ephemeral(
                channel, user_id,
                f"🔒 {masked} secret(s) in your text were masked before anything was stored "
                "or sent to the model.", thread_ts=thread,
            )
        except SlackError:
            pass
    from bot.services.knowledge import offer_quietly  # (knowledge imports this module)

    offer_quietly(svc, session_id)  # "Seen before", before the first turn
    svc.kick(session_id)
    return Opened(session_id, channel, thread, created=True)


HEADER_TRIES = 3  # in-line attempts while the session opens (the SDK retries 429s itself)


def _post_header(
    svc: Services, channel: str, thread_ts: str | None, header: Any, session_id: uuid.UUID
) -> str:
    """Post the header through the outbox (kind ``header``): its ts is the session's thread,
    so it is retried here rather than later, each retry after a marker check (a timeout
    whose post landed is found, not posted twice). Gives up with the last SlackError."""
    from bot.services import outbox, outbox_slack  # noqa: F401  (outbox_slack: the sender)

    payload = {"channel": channel, "thread_ts": thread_ts, "text": header.text,
               "blocks": header.blocks, "session_id": str(session_id)}
    with unit_of_work(svc.factory) as db:
        message_id = outbox.enqueue(db, target="slack", kind="header",
                                    dedupe_key=f"header:{session_id}", payload=payload,
                                    now=svc.clock())
    assert message_id is not None  # a new session id: never recorded before
    joined, error = False, ""
    for _ in range(HEADER_TRIES + 1):
        ts = outbox.attempt(svc, message_id)
        if ts:
            return ts
        status, error = outbox.hold(svc, message_id)
        if status != "pending":
            break
        if error == "not_in_channel" and not joined:
            joined = svc.notifier.join(channel)
            if not joined:
                break
        elif error in outbox_slack.PERMANENT:
            break
    outbox.abandon(svc, message_id)
    from bot.notify import explain

    raise SlackError(explain("chat.postMessage", error) if error else
                     "Slack could not be reached for chat.postMessage.", code=error or None)


def _mark_header_duplicate(svc: Services, channel: str, ts: str) -> None:
    try:
        svc.notifier.update(channel, ts, "This thread already has a FlowPilot session.", [])
    except SlackError:
        pass


def tree_for(db: Session, flow: Any) -> Tree:
    """The ``trees`` row a session points at for this flow (created the first time)."""
    tree = db.execute(
        select(Tree).where(Tree.flow_key == flow.id, Tree.account_id.is_(None))
    ).scalar_one_or_none()
    if tree is None:
        try:
            with db.begin_nested():
                tree = Tree(flow_key=flow.id, title=flow.title, domain=flow.domain,
                            source="builtin", definition={"source": str(flow.source)})
                db.add(tree)
        except IntegrityError:
            tree = db.execute(
                select(Tree).where(Tree.flow_key == flow.id, Tree.account_id.is_(None))
            ).scalar_one()
    return tree


PATTERNS_TTL = 60.0


def workspace_patterns(svc: Services, team_id: str) -> list[str]:
    """The workspace's extra redaction patterns, cached a minute per workspace (read on every
    reply, before the ack). When the minute is up, one thread re-reads them while the others
    keep using the old list instead of all querying at once. Call it outside a transaction
    (on SQLite a second one would wait on the first)."""
    cache: dict[str, tuple[float, list[str]]] = svc.extras.setdefault("redaction_patterns", {})
    hit = cache.get(team_id)
    if hit is not None and time.monotonic() - hit[0] < PATTERNS_TTL:
        return hit[1]
    refreshing: threading.Lock = svc.extras.setdefault("redaction_patterns_lock", threading.Lock())
    if hit is not None and not refreshing.acquire(blocking=False):
        return hit[1]  # another thread is re-reading them
    try:
        with unit_of_work(svc.factory) as own:
            patterns = _patterns(own, team_id)
        cache[team_id] = (time.monotonic(), patterns)
    finally:
        if hit is not None:
            refreshing.release()
    return patterns


def _patterns(db: Session, team_id: str) -> list[str]:
    account = db.execute(select(Account).where(Account.slack_team_id == team_id)).scalar_one_or_none()
    return workspace.redaction_patterns(db, account) if account is not None else []


def add_step(
    db: Session, session: AISession, step_type: str, actor: User | None, content: dict[str, Any],
    now: datetime, *, slack_ts: str | None = None, input_tokens: int = 0, output_tokens: int = 0,
) -> AISessionStep:
    order = session.step_count
    step = AISessionStep(
        session_id=session.id, step_order=order, step_type=step_type,
        actor_user_id=actor.id if actor else None, content=content, slack_ts=slack_ts,
        input_tokens=input_tokens, output_tokens=output_tokens, created_at=now,
        branch_id=session.active_branch_id,  # the path it was taken on (issue 18)
    )
    db.add(step)
    session.step_count = order + 1
    return step


def open_session_in_thread(db: Session, channel: str, thread_ts: str) -> AISession | None:
    return db.execute(
        select(AISession).where(
            AISession.slack_channel_id == channel, AISession.slack_thread_ts == thread_ts,
            AISession.status.in_(OPEN_STATUSES),
        )
    ).scalar_one_or_none()


def latest_session_in_thread(db: Session, channel: str, thread_ts: str) -> AISession | None:
    """One indexed lookup (``ix_ai_sessions_thread``): the newest session of a thread."""
    return db.execute(
        select(AISession)
        .where(AISession.slack_channel_id == channel, AISession.slack_thread_ts == thread_ts)
        .order_by(AISession.created_at.desc()).limit(1)
    ).scalar_one_or_none()


LOCK_ROW: dict[str, bool] = {"key_share": True}  # Session.get(..., with_for_update=LOCK_ROW)


def load_for_team(db: Session, session_id: str | uuid.UUID, team_id: str, *,
                  lock: bool = False) -> AISession:
    """The session, only if it belongs to this workspace (whatever a button value claims)."""
    try:
        sid = session_id if isinstance(session_id, uuid.UUID) else uuid.UUID(str(session_id))
    except ValueError:
        raise NotFoundError("That session was not found.") from None
    stmt = select(AISession).join(Account, Account.id == AISession.account_id).where(
        AISession.id == sid, Account.slack_team_id == team_id
    )
    if lock:
        # Lock the session row only (not the account it joins), and as FOR NO KEY UPDATE so
        # other transactions may still insert its steps and facts.
        stmt = stmt.with_for_update(of=AISession, key_share=True)
    session = db.execute(stmt).scalar_one_or_none()
    if session is None:
        raise NotFoundError("That session was not found.")
    return session


def may_act(session: AISession, user: User) -> bool:
    """Owner, the engineer it was escalated to, people who took part, workspace admins."""
    return (
        session.user_id == user.id
        or session.escalated_to_id == user.id
        or user.slack_user_id in (session.participants or [])
        or user.is_admin
    )


def require_may_act(session: AISession, user: User) -> None:
    if not may_act(session, user):
        raise NotAllowedError(
            "Only the session's owner, people taking part in its thread, the engineer it was "
            "escalated to, or a workspace admin can do that."
        )


def add_participant(session: AISession, slack_user_id: str) -> None:
    if slack_user_id not in (session.participants or []):
        session.participants = [*(session.participants or []), slack_user_id]


def touch(session: AISession, now: datetime, *, human: bool, nudge_after: timedelta | None = None) -> None:
    session.last_activity_at = now
    if human:
        session.last_human_activity_at = now
        if nudge_after is not None and session.status == "active":
            session.next_nudge_at = now + nudge_after
