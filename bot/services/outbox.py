"""The outbox: a message the bot must deliver is recorded before it is sent, and marked sent
with the reference the target returns (a Slack ``ts``). A failure is retried with backoff (or
the target's ``Retry-After``) by ``deliver_outputs``; before any retry the target is asked
whether an earlier attempt got through after all (for Slack: our metadata marker in the
thread), so a timeout or a 429 never posts the same message twice. When a message cannot be
delivered after its retries, the kind's give-up hook tells a person once.

Generic by design: a ``Sender`` per target (``slack`` here; the PSA and webhooks can add
theirs) and hooks per kind (what to remember once a turn answer is posted…).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Insert, Table, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.services.container import Services
from storage.db import in_transaction, is_postgres, unit_of_work
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF = (5, 15, 45, 120, 300)  # seconds after attempt 1, 2, 3…
SENDING_STALE = timedelta(minutes=2)  # an attempt "in flight" this long died with its process
MARKER = "flowpilot_outbox"  # Slack message metadata event_type


@dataclass(frozen=True)
class Outcome:
    ref: str | None = None  # delivered: the target's reference (Slack ts)
    error: str = ""
    retry_after: float | None = None
    permanent: bool = False  # retrying cannot help (channel gone, bad request)


class Sender(Protocol):
    def send(self, svc: Services, message_id: uuid.UUID, payload: dict[str, Any]) -> Outcome: ...

    def find(self, svc: Services, message_id: uuid.UUID, payload: dict[str, Any]) -> str | None:
        """The reference of an earlier attempt that got through, or None."""


GiveUp = Callable[[Services, dict[str, Any]], None]


@dataclass(frozen=True)
class SentHooks:
    """What a kind does once its message is delivered. ``in_tx`` runs in the transaction
    that marks the message sent (a turn's answer is on every turn's path: one transaction,
    not two); ``after`` runs after it (Slack calls), given what ``in_tx`` returned."""
    after: Callable[[Services, dict[str, Any], str, Any], None]  # (svc, payload, ref, found)
    in_tx: Callable[[Services, Session, dict[str, Any], str], Any] | None = None


SENDERS: dict[str, Sender] = {}
SENT: dict[str, SentHooks] = {}
ON_GIVE_UP: dict[str, GiveUp] = {}


def enqueue(db: Session, *, target: str, kind: str, dedupe_key: str, payload: dict[str, Any],
            now: datetime, session_id: uuid.UUID | None = None,
            claimed: bool = False) -> uuid.UUID | None:
    """Record a message to deliver; None when ``dedupe_key`` was recorded before.
    ``claimed``: recorded as this process's first attempt in flight (``send_claimed`` right
    after the commit), saving ``attempt``'s claim; if the process dies before it settles,
    ``deliver_outputs`` takes it up once ``SENDING_STALE`` (checking the target first)."""
    table = cast(Table, OutboxMessage.__table__)
    dialect_insert = pg_insert if is_postgres(db) else sqlite_insert
    stmt: Insert = dialect_insert(table).values(
        id=uuid.uuid4(), target=target, kind=kind, dedupe_key=dedupe_key[:255],
        session_id=session_id, payload=payload, status="sending" if claimed else "pending",
        attempts=1 if claimed else 0, next_attempt_at=now, created_at=now,
    ).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(table.c.id)
    return db.execute(stmt).scalar_one_or_none()


def send_claimed(svc: Services, message_id: uuid.UUID, target: str, kind: str,
                 payload: dict[str, Any]) -> str | None:
    """The first attempt of a message ``enqueue(..., claimed=True)`` recorded."""
    return _settle(svc, message_id, kind, payload, 1,
                   _send(SENDERS[target], svc, message_id, payload))


def attempt(svc: Services, message_id: uuid.UUID) -> str | None:
    """One delivery attempt (claimed atomically, so two processes never send the same row at
    once). Returns the reference when the message is (now or already) delivered."""
    now = svc.clock()
    with unit_of_work(svc.factory) as db:
        row = db.execute(select(OutboxMessage).where(OutboxMessage.id == message_id)).scalar_one()
        if row.status == "sent":
            return row.result_ref
        target, kind, payload, tried = row.target, row.kind, dict(row.payload), row.attempts
        claimed = db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == row.status,
                   OutboxMessage.attempts == tried,
                   OutboxMessage.status.in_(("pending", "sending")))
            .values(status="sending", attempts=tried + 1, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    if not claimed:
        return None
    sender = SENDERS[target]
    try:
        ref = sender.find(svc, message_id, payload) if tried else None
    except Exception as exc:  # unknown whether it got through: don't post blind, retry
        log.warning("outbox %s %s: could not check an earlier attempt (%s)", kind, message_id,
                    exc.__class__.__name__)
        return _settle(svc, message_id, kind, payload, tried + 1,
                       Outcome(error="unverified: " + exc.__class__.__name__))
    outcome = Outcome(ref=ref) if ref else _send(sender, svc, message_id, payload)
    return _settle(svc, message_id, kind, payload, tried + 1, outcome)


def _send(sender: Sender, svc: Services, message_id: uuid.UUID,
          payload: dict[str, Any]) -> Outcome:
    try:
        return sender.send(svc, message_id, payload)
    except Exception as exc:  # a sender bug must not lose the message
        log.exception("outbox sender failed")
        return Outcome(error=exc.__class__.__name__)


def _settle(svc: Services, message_id: uuid.UUID, kind: str, payload: dict[str, Any],
            attempts: int, outcome: Outcome) -> str | None:
    now = svc.clock()
    if outcome.ref:
        _sent(svc, message_id, kind, payload, outcome.ref, now)
        return outcome.ref
    give_up = outcome.permanent or attempts >= MAX_ATTEMPTS
    delay = outcome.retry_after if outcome.retry_after is not None else \
        BACKOFF[min(attempts, len(BACKOFF)) - 1]
    with unit_of_work(svc.factory) as db:
        db.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(
            status="failed" if give_up else "pending", last_error=outcome.error[:500],
            next_attempt_at=None if give_up else now + timedelta(seconds=delay)))
    log.warning("outbox %s %s: attempt %d failed (%s)%s", kind, message_id, attempts,
                outcome.error, "; giving up" if give_up else f"; retry in {delay:.0f} s")
    if give_up:
        _tell_once(svc, message_id, kind, payload)
    return None


def _sent(svc: Services, message_id: uuid.UUID, kind: str, payload: dict[str, Any],
          ref: str, now: datetime) -> None:
    """Mark a delivered message sent, with its kind's hooks (``SENT``)."""
    mark = update(OutboxMessage).where(OutboxMessage.id == message_id).values(
        status="sent", result_ref=ref, sent_at=now, last_error=None)
    hooks = SENT.get(kind)
    in_tx = hooks.in_tx if hooks is not None else None

    def sent(db: Session) -> Any:
        db.execute(mark)
        return in_tx(svc, db, payload, ref) if in_tx is not None else None

    try:
        found = in_transaction(svc.factory, sent)
    except Exception:
        if in_tx is None:
            raise
        log.exception("after-sent bookkeeping of %s failed", kind)
        with unit_of_work(svc.factory) as db:  # sent all the same: never posted twice
            db.execute(mark)
        return
    if hooks is not None:
        try:
            hooks.after(svc, payload, ref, found)
        except Exception:
            log.exception("after-sent hook of %s failed", kind)


def _tell_once(svc: Services, message_id: uuid.UUID, kind: str, payload: dict[str, Any]) -> None:
    with unit_of_work(svc.factory) as db:
        first = db.execute(update(OutboxMessage).where(
            OutboxMessage.id == message_id, OutboxMessage.told_at.is_(None)
        ).values(told_at=svc.clock())).rowcount  # type: ignore[attr-defined]
    hook = ON_GIVE_UP.get(kind)
    if first and hook is not None:
        try:
            hook(svc, {**payload, "outbox_id": str(message_id)})
        except Exception:
            log.exception("give-up hook of %s failed", kind)


def hold(svc: Services, message_id: uuid.UUID) -> tuple[str, str]:
    """For a caller that retries a message itself (the header while a session opens): after
    a failed attempt, keep the row for that caller (the sweep leaves it alone, its attempt
    count is kept so the marker check still runs). Returns (status, last error)."""
    with unit_of_work(svc.factory) as db:
        row = db.get(OutboxMessage, message_id)
        if row is None:
            return "missing", ""
        if row.status in ("pending", "failed"):
            row.status, row.next_attempt_at, row.told_at = "pending", None, None
        return row.status, row.last_error or ""


def abandon(svc: Services, message_id: uuid.UUID) -> None:
    """The caller gave up (and told the person itself): the row is ``failed``, told."""
    with unit_of_work(svc.factory) as db:
        db.execute(update(OutboxMessage).where(
            OutboxMessage.id == message_id, OutboxMessage.status == "pending"
        ).values(status="failed", next_attempt_at=None, told_at=svc.clock()))


def retry(svc: Services, message_id: uuid.UUID) -> str | None:
    """A person asked to try a failed message again (its Retry button)."""
    with unit_of_work(svc.factory) as db:
        db.execute(update(OutboxMessage).where(
            OutboxMessage.id == message_id, OutboxMessage.status == "failed"
        ).values(status="pending", attempts=0, next_attempt_at=svc.clock(), told_at=None))
    return attempt(svc, message_id)


def resend(svc: Services, *, team_id: str, outbox_id: str) -> None:
    """The Retry of an answer the outbox gave up on: only for a session of this workspace."""
    from bot.errors import NotFoundError
    from storage.models import Account, AISession

    try:
        message_id = uuid.UUID(outbox_id)
    except ValueError:
        raise NotFoundError("That message was not found.") from None
    with svc.factory() as db:
        found = db.execute(
            select(OutboxMessage.id).join(AISession, AISession.id == OutboxMessage.session_id)
            .join(Account, Account.id == AISession.account_id)
            .where(OutboxMessage.id == message_id, Account.slack_team_id == team_id)
        ).first()
    if found is None:
        raise NotFoundError("That message was not found.")
    if retry(svc, message_id) is None:
        raise NotFoundError("Slack is still refusing it; FlowPilot keeps trying.")


def deliver_due(svc: Services, now: datetime) -> tuple[int, int]:
    """The sweep: due ``pending`` messages, and ``sending`` ones whose process died mid-send,
    are attempted again (oldest first). Returns (attempted, delivered). The scheduled job is
    ``bot.jobs.outputs.deliver_outputs``."""
    with unit_of_work(svc.factory) as db:
        ids = db.execute(
            select(OutboxMessage.id).where(or_(
                (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == "sending")
                & (OutboxMessage.next_attempt_at <= now - SENDING_STALE),
            )).order_by(OutboxMessage.created_at).limit(100)
        ).scalars().all()
    delivered = sum(1 for message_id in ids if attempt(svc, message_id))
    return len(ids), delivered
