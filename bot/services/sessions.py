"""Open a session, find the session of a thread, and decide who may act on one."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain import confidence as conf
from bot.domain.attachments import intake_type_for, kind_of
from bot.errors import NotAllowedError, NotFoundError, SlackError
from bot.redact import RedactionResult, redact
from bot.render.session import render_header
from bot.services import present, session_meta, workspace
from bot.services.container import Services
from bot.services.identity import ensure_account, ensure_user, meet
from storage.db import unit_of_work
from storage.models import Account, AISession, AISessionStep, Team, Tree, User
from storage.queries import deliveries
from storage.queries.threads import open_session_in_thread

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
    # Files shared with the intake message (bot.services.attachments.refs_from_event).
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def intake_type(self) -> str:
        return self.intake_type_with(log=bool(self.log), image=False)

    def intake_type_with(self, *, log: bool, image: bool) -> str:
        """The vocabulary's intake type (bot.domain.attachments.intake_type_for), given what
        the shared files turned out to hold."""
        ticket = self.ticket_data is not None or bool(self.ticket and not self.text)
        return intake_type_for(text=bool(self.text.strip()), log=log or bool(self.log),
                               image=image, ticket=ticket)


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


@dataclass(frozen=True)
class _Cleaned:
    """An intake as it may be stored and sent: cleaned, capped and redacted."""

    text: RedactionResult
    log: RedactionResult
    thread: str  # the thread so far (a mention inside a thread), redacted
    # Files shared with the intake (issue 18): their text is in ``log`` already; the images
    # wait for the first turn; ``file_lines`` tell the thread about files not taken.
    images: list[dict[str, Any]] = field(default_factory=list)
    file_lines: list[str] = field(default_factory=list)

    @property
    def masked(self) -> int:
        return self.text.count + self.log.count

    @property
    def match_text(self) -> str:
        return " ".join(x for x in (self.text.text, self.thread, self.log.text[:5000]) if x)

    @property
    def summary(self) -> str:
        summary = (self.text.text or self.thread or self.log.text or "New session").strip()
        return summary.splitlines()[0][:120] if summary else "New session"


def open_session(
    svc: Services, *, team_id: str, user_id: str, channel: str, thread_ts: str | None,
    intake: Intake, delivery_key: str | None = None,
) -> Opened:
    """Create the session, post its header, and queue the intake as its first turn."""
    now = svc.clock()
    cleaned = _clean_intake(svc, team_id, intake)
    meet(svc, team_id, user_id, create_account=True)  # Slack's profile, outside transactions
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)
        owner = ensure_user(db, account, user_id)
        if thread_ts:
            existing = open_session_in_thread(db, channel, thread_ts)
            if existing is not None:
                return Opened(existing.id, channel, thread_ts, created=False)
        nudge_after = workspace.nudge_after(svc, db, account)
        account_id = account.id
        team = db.get(Team, owner.team_id) if owner.team_id else None
        team_name = team.name if team is not None else None  # the header shows it (issue 18)
    match = svc.flows.match(cleaned.match_text, account_id) if cleaned.match_text.strip() else None

    session_id = uuid.uuid4()
    draft = _draft(session_id, user_id, intake, cleaned, match, now)
    header_ts = _post_header(svc, channel, thread_ts,
                             _header(draft, user_id, match, now, team_name), session_id)
    thread = thread_ts or header_ts
    try:
        with unit_of_work(svc.factory) as db:
            _store_new(svc, db, draft, team_id=team_id, user_id=user_id, intake=intake,
                       cleaned=cleaned, match=match, where=(channel, thread, header_ts),
                       next_nudge_at=now + nudge_after)
    except IntegrityError:
        # Another delivery opened a session on this thread at the same moment: use that one.
        with unit_of_work(svc.factory) as db:
            existing = open_session_in_thread(db, channel, thread)
        if existing is None:
            raise
        _mark_header_duplicate(svc, channel, header_ts)
        return Opened(existing.id, channel, thread, created=False)
    svc.metrics.sessions.labels("opened").inc()
    for line in cleaned.file_lines:
        try:
            svc.notifier.post(channel, line, thread_ts=thread)
        except SlackError:
            log.warning("could not tell the thread about a file of session %s", session_id)
    _tell_masked(svc, channel, user_id, thread, cleaned.masked)
    from bot.services.knowledge import offer_quietly  # (knowledge imports this module)

    offer_quietly(svc, session_id)  # "Seen before", before the first turn
    svc.kick(session_id)
    return Opened(session_id, channel, thread, created=True)


def _clean_intake(svc: Services, team_id: str, intake: Intake) -> _Cleaned:
    text, _ = clean_input(intake.text.strip(), MAX_INTAKE_CHARS)
    log_text, _ = clean_input(intake.log.strip(), MAX_LOG_CHARS)
    extra = workspace_patterns(svc, team_id)
    thread_text = "\n".join(redact(m, extra).text for m in intake.thread_messages)
    red_log = redact(log_text, extra)
    if not intake.files:
        return _Cleaned(redact(text, extra), red_log, thread_text)
    # Files shared with the intake (issue 18): text files now, as the intake's log (redacted
    # like a paste); images are left to the first turn, which may show them to Claude.
    from bot.services import attachments

    files = attachments.take(svc, intake.files, extra, images="skip")
    if files.text:
        joined = "\n\n".join(x for x in (red_log.text, files.text) if x)
        red_log = dataclasses.replace(red_log, text=joined, count=red_log.count + files.redacted)
    images = [f for f in intake.files
              if kind_of(str(f.get("name") or ""), str(f.get("mimetype") or ""),
                         str(f.get("filetype") or "")) == "image"]
    return _Cleaned(redact(text, extra), red_log, thread_text, images, files.lines)


def _draft(session_id: uuid.UUID, user_id: str, intake: Intake, cleaned: _Cleaned,
           match: Any, now: datetime) -> AISession:
    """The session as its header shows it before it is stored (not added to any session)."""
    return AISession(
        id=session_id, status="active", problem_summary=cleaned.summary,
        confidence_score=round(float(match.score), 2) if match else 0.0,
        confidence_tier=conf.tier_for(float(match.score)) if match else "discovery",
        user=None, participants=[user_id], step_count=0, created_at=now,
        total_active_seconds=0, total_parked_seconds=0, status_changed_at=now,
        psa_ticket_id=intake.ticket, ticket_data=intake.ticket_data,
    )


def _header(draft: AISession, user_id: str, match: Any, now: datetime,
            team: str | None = None) -> Any:
    view = dataclasses.replace(
        present.header_view(draft, now), owner_id=user_id,
        domain=match.flow.domain if match else "other",
        flow_title=match.flow.title if match else None,
        match_score=round(float(match.score), 4) if match else None,
        session_type=session_meta.session_type_for(match is not None), team=team,
    )
    return render_header(view)


def _store_new(svc: Services, db: Session, draft: AISession, *, team_id: str, user_id: str,
               intake: Intake, cleaned: _Cleaned, match: Any, where: tuple[str, str, str],
               next_nudge_at: datetime) -> None:
    """Insert the session, its intake step and its first turn input (one transaction)."""
    channel, thread, header_ts = where
    now = draft.created_at
    account = ensure_account(db, team_id)
    owner = ensure_user(db, account, user_id)
    tree = tree_for(db, match.flow) if match else None
    red_text, red_log = cleaned.text, cleaned.log
    session = AISession(
        id=draft.id, user_id=owner.id, account_id=account.id,
        team_id=owner.team_id,  # a session belongs to its owner's team (issue 18)
        intake_type=intake.intake_type_with(log=bool(red_log.text), image=bool(cleaned.images)),
        intake_content={
            "text": red_text.text, "log_content": red_log.text, "ticket": intake.ticket,
            "source": intake.source, "thread": cleaned.thread, "redacted": cleaned.masked,
            **({"files": [{"name": f.get("name"), "mimetype": f.get("mimetype"),
                           "size": f.get("size")} for f in intake.files]}
               if intake.files else {}),
        },
        problem_summary=cleaned.summary, psa_ticket_id=intake.ticket,
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
        last_human_activity_at=now, next_nudge_at=next_nudge_at,
    )
    db.add(session)
    db.flush()
    add_step(db, session, "intake", owner, {"text": red_text.text, "source": intake.source,
                                           "redacted": cleaned.masked}, now)
    deliveries.add_turn_input(
        db, session, kind="intake", now=now, key=f"intake:{draft.id}",
        payload={"author": user_id, "text": red_text.text, "team_id": team_id,
                 **({"files": cleaned.images} if cleaned.images else {})},
    )


def _tell_masked(svc: Services, channel: str, user_id: str, thread: str, masked: int) -> None:
    if not masked:
        return
    try:
        svc.notifier.ephemeral(
            channel, user_id,
            f"🔒 {masked} secret(s) in your text were masked before anything was stored "
            "or sent to the model.", thread_ts=thread,
        )
    except SlackError:
        pass


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


def workspace_patterns(svc: Services, team_id: str) -> list[str]:
    """The workspace's extra redaction patterns, cached a minute per workspace (read on every
    reply, before the ack; see ``Caches``). Call it outside a transaction (on SQLite a second
    one would wait on the first)."""
    return svc.caches.redaction_patterns.get(team_id, lambda: _read_patterns(svc, team_id))


def _read_patterns(svc: Services, team_id: str) -> list[str]:
    with unit_of_work(svc.factory) as own:
        return _patterns(own, team_id)


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
    )
    db.add(step)
    session.step_count = order + 1
    return step


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
