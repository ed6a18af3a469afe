"""Take turns: the queued inputs of a session go to the engine, the answer is stored and posted.

Turns of one session run one at a time, in order (a lease on the session row, so this holds
across processes too); many sessions run at once on the worker pool. Model calls never run
inside Slack's 3-second window: handlers only queue inputs and ``kick`` the runner.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, defer, joinedload, selectinload

from bot import liveness
from bot.domain import status as st
from bot.engines.base import Engine, TurnContext, Usage
from bot.errors import EngineError, SlackError, new_reference, unexpected_message
from bot.render.session import render_engine_failure
from bot.services import attachments, knowledge, workspace
from bot.services.apply import (
    Applied,
    add_account_usage,
    add_session_usage,
    apply_output,
    build_context,
)
from bot.services.container import Services
from bot.services.identity import find_user, meet
from bot.services.refresh import (
    LOCK_SESSION,
    TurnMessage,
    deliver_turn,
    record_turn,
    turn_message_view,
)
from bot.services.sessions import add_participant, touch
from bot.tokens import carry
from storage.db import in_transaction, unit_of_work
from storage.models import Account, AISession, InboundEvent
from storage.queries import deliveries

log = logging.getLogger(__name__)

# assistant.threads.setStatus: the status, and up to 10 loading messages Slack rotates through
# (docs.slack.dev/reference/methods/assistant.threads.setStatus).
WORKING = "is working on it…"
LOADING_MESSAGES = ["Reading the thread…", "Checking what we know…",
                    "Weighing the likely causes…", "Picking the next check…"]
T = TypeVar("T")
LEASE = timedelta(minutes=5)

# (context, input ids, channel, thread ts, ts of the replies taken, tries of the inputs)
Begun = tuple[TurnContext, list[uuid.UUID], str, str, list[str], int]
CRASH_BACKOFF = 1.0  # seconds before the first retry of a crashed turn; x4 each time after


class RetryLater(Exception):
    """A turn crashed and its inputs wait for a retry (queue mode): stop driving now."""


# What a turn reads with the session row, so nothing is lazy-loaded (and autoflushed) later.
BEGIN_LOAD = (joinedload(AISession.account), selectinload(AISession.facts),
              selectinload(AISession.fixes))
STORE_LOAD = (joinedload(AISession.user), selectinload(AISession.fixes),
              defer(AISession.intake_content))


class TurnRunner:
    def __init__(self, workers: int, *, slow_after: float = 20.0,
                 crash_retries: int = 0) -> None:
        self._svc: Services | None = None
        # Queue mode: a turn that crashes (not a model error, which is told at once with a
        # Retry button) is retried this many times with backoff before the thread is told.
        self.crash_retries = crash_retries
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fp-turn")
        self.slow_after = slow_after
        self._closed = False
        self._inflight = 0
        self._idle = threading.Condition()

    def bind(self, svc: Services) -> TurnRunner:
        """The services turns run with (``Services`` binds itself when built)."""
        self._svc = svc
        return self

    @property
    def svc(self) -> Services:
        if self._svc is None:
            raise RuntimeError("the turn runner is not bound to services yet")
        return self._svc

    def kick(self, session_id: uuid.UUID) -> Future[int | None] | None:
        """Drive the session soon, on the pool (returns at once)."""
        return self.submit(self._drive_logged, session_id)

    def submit(
        self, fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> Future[T | None] | None:
        """Run slow work after the ack (opening a session posts to Slack) on the pool, so
        Bolt's listener threads are free for the next delivery at once."""
        if self._closed:
            return None
        with self._idle:
            self._inflight += 1
        future = self.pool.submit(carry(_logged), fn, *args, **kwargs)  # the workspace goes too
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: Future[Any]) -> None:
        with self._idle:
            self._inflight -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no turn is queued or running (tests, the sandbox, shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._inflight == 0, timeout=timeout)

    def shutdown(self, wait: bool = True) -> None:
        self._closed = True
        self.pool.shutdown(wait=wait)

    def _drive_logged(self, session_id: uuid.UUID) -> int:
        try:
            return self.drive(session_id)
        except Exception:
            log.exception("driving session %s failed", session_id)
            return 0

    def drive(self, session_id: uuid.UUID) -> int:
        """Take turns until no input is pending. Returns how many turns were taken."""
        from bot.services.tenancy import for_session

        with for_session(self.svc, session_id):  # with the session's workspace token
            return self._drive(session_id)

    def _drive(self, session_id: uuid.UUID) -> int:
        taken = 0
        while True:
            claimed, begun, newcomers = in_transaction(
                self.svc.factory, lambda db: self._begin(db, session_id))
            if not claimed:
                return taken  # another worker holds the session; it will see our input
            if newcomers is not None:  # people not seen before: Slack profile, no lock held
                meet(self.svc, *newcomers)
            later = False
            try:
                if begun is not None and self._one_turn(session_id, begun):
                    taken += 1
            except RetryLater:
                later = True  # its retry job takes the inputs after the backoff
            finally:
                more = self._release(session_id)
            if later or not more:
                return taken

    def _claim(self, db: Session, session_id: uuid.UUID) -> bool:
        now = self.svc.clock()
        result = db.execute(
            update(AISession)
            .where(AISession.id == session_id,
                   or_(AISession.turn_lease_until.is_(None), AISession.turn_lease_until < now))
            .values(turn_lease_until=now + LEASE, turn_lease_holder=liveness.me())
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            return True
        return self._claim_from_dead(db, session_id, now)

    def _claim_from_dead(self, db: Session, session_id: uuid.UUID, now: datetime) -> bool:
        """The lease is held: take it back at once when its holder's process is gone (a
        kill -9 mid-turn), rather than leave the session frozen for the whole lease. The
        inputs the dead turn had taken are queued again (at most twice in all)."""
        holder = db.execute(select(AISession.turn_lease_holder)
                            .where(AISession.id == session_id)).scalar_one_or_none()
        if not liveness.is_dead(holder):
            return False
        result = db.execute(
            update(AISession)
            .where(AISession.id == session_id, AISession.turn_lease_holder == holder)
            .values(turn_lease_until=now + LEASE, turn_lease_holder=liveness.me())
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return False  # another process took it first
        log.warning("took the turn lease of session %s back from a dead process", session_id)
        deliveries.requeue_interrupted(db, session_id, now)
        return True

    def _release(self, session_id: uuid.UUID) -> bool:
        """Give the lease back; True when inputs are waiting. Released first, then looked:
        an input queued meanwhile is seen here, or its own kick finds the lease free."""
        with unit_of_work(self.svc.factory) as db:
            db.execute(
                update(AISession).where(AISession.id == session_id)
                .values(turn_lease_until=None, turn_lease_holder=None)
                .execution_options(synchronize_session=False)
            )
            return deliveries.has_pending(db, session_id)

    def _one_turn(self, session_id: uuid.UUID, begun: Begun) -> bool:
        svc = self.svc
        ctx, event_ids, channel, thread, seen, tries = begun
        for ts in seen:  # the technician sees at once that their message was taken
            svc.notifier.react(channel, ts, "eyes")
        # Slack's AI status in the thread while the model works, until the answer; a thread
        # Slack refuses it for (or a workspace without it) just goes without.
        status_set = svc.notifier.set_status(channel, thread, WORKING, LOADING_MESSAGES)
        try:  # shared files: text into the inputs (redacted), images for Claude (issue 18)
            ctx = attachments.for_turn(svc, session_id, event_ids, ctx)
        except Exception:
            log.exception("reading the files of session %s failed", session_id)
        # Slack clears the status when our answer arrives in the thread (the status "is
        # removed if no message has been sent" within 2 minutes: docs.slack.dev/reference/
        # methods/assistant.threads.setStatus); it is cleared here only when none was posted.
        taken = posted = False
        try:
            taken, posted = self._answer(session_id, ctx, event_ids, channel, thread, tries)
        finally:
            if status_set and not posted:
                svc.notifier.set_status(channel, thread, "")
        return taken

    def _answer(self, session_id: uuid.UUID, ctx: TurnContext, event_ids: list[uuid.UUID],
                channel: str, thread: str, tries: int) -> tuple[bool, bool]:
        """The model's turn, stored and posted: (stored, its message is in the thread)."""
        svc = self.svc
        slow = threading.Timer(self.slow_after, self._say_slow, args=(channel, thread))
        slow.daemon = True
        slow.start()
        started = time.monotonic()
        try:
            output = engine_for(svc, ctx).take_turn(ctx)
        except EngineError as exc:
            self._failed(session_id, event_ids, exc.message, channel, thread,
                         usage=getattr(exc, "usage", None),
                         unusable=bool(getattr(exc, "unusable", False)))
            return False, False
        except Exception:
            self._crash(session_id, event_ids, tries, "engine", channel, thread)
            return False, False
        finally:
            slow.cancel()
        svc.metrics.turn_seconds.labels(svc.engine_name).observe(time.monotonic() - started)

        def store(db: Session) -> tuple[Applied, TurnMessage, str | None] | None:
            session = db.get(AISession, session_id, with_for_update=LOCK_SESSION,
                             options=STORE_LOAD)
            if session is None:
                return None
            applied = apply_output(svc, db, session, output, event_ids, svc.clock())
            view = turn_message_view(db, session, applied.step, applied.facts)
            # The answer's message commits with the answer (the outbox's first attempt).
            message = record_turn(svc, db, session_id, applied.step_id, view,
                                  session.slack_channel_id, session.slack_thread_ts)
            return applied, message, session.problem_summary

        try:
            # A click or a transition may change the session row meanwhile: apply again on
            # fresh state rather than lose the model's answer.
            result = in_transaction(svc.factory, store)
        except Exception:
            self._crash(session_id, event_ids, tries, "storing", channel, thread)
            return False, False
        if result is None:
            return False, False
        svc.metrics.turns.labels(svc.engine_name, "ok").inc()
        applied, message, summary = result
        ts = deliver_turn(svc, message, applied.superseded_message_ts)
        knowledge.offer_if_changed(svc, session_id, ctx.summary, summary)  # "Seen before" again
        return True, ts is not None

    def _begin(self, db: Session, session_id: uuid.UUID
               ) -> tuple[bool, Begun | None, tuple[str, ...] | None]:
        """Claim the session (False: another worker holds it), take the queued inputs
        (marked processing), note who spoke, build the context; one transaction. Also
        (workspace, people…) for authors without a user row, created after the commit."""
        if not self._claim(db, session_id):
            return False, None, None
        svc = self.svc
        now = svc.clock()
        session = db.get(AISession, session_id, with_for_update=LOCK_SESSION, options=BEGIN_LOAD)
        if session is None:
            return True, None, None
        events = deliveries.pending_inputs(db, session_id)
        if not events:
            return True, None, None
        if not st.accepts_turns(session.status):
            for event in events:
                deliveries.finish(db, event.id, "ignored", now, st.explain_no_turns(session.status))
            return True, None, None
        authors = [str(e.payload.get("author")) for e in events if (e.payload or {}).get("author")]
        newcomers = tuple(a for a in dict.fromkeys(authors)
                          if find_user(db, session.account, a) is None)
        for author in dict.fromkeys(authors):
            add_participant(session, author)
        if authors:
            touch(session, max(e.received_at for e in events), human=True,
                  nudge_after=_nudge_after(svc, db, session.account))
        for event in events:
            event.status = "processing"
            event.attempts += 1
        ctx = build_context(svc, db, session, events)
        seen = [str(e.payload["ts"]) for e in events if e.kind == "reply" and e.payload.get("ts")]
        team = session.account.slack_team_id if session.account is not None else None
        return True, (ctx, [e.id for e in events], session.slack_channel_id,
                      session.slack_thread_ts, seen, max(e.attempts for e in events)), (
                          (team, *newcomers) if newcomers else None)

    def _crash(self, session_id: uuid.UUID, event_ids: list[uuid.UUID], tries: int,
               stage: str, channel: str, thread: str) -> None:
        """A turn crashed. Queue mode retries it with backoff (the inputs wait, the session's
        later inputs queue behind them, other sessions go on); the last try tells the thread
        once and sets the inputs aside, so they don't ride along with the next reply."""
        message = _crashed(stage, session_id)
        dispatch = self.svc.dispatch
        if tries <= self.crash_retries:
            with unit_of_work(self.svc.factory) as db:
                db.execute(update(InboundEvent)
                           .where(InboundEvent.id.in_(event_ids),
                                  InboundEvent.status == "processing")
                           .values(status="pending"))
            delay = timedelta(seconds=CRASH_BACKOFF * 4 ** (tries - 1))
            log.warning("turn of session %s crashed (try %d); retrying in %s",
                        session_id, tries, delay)
            dispatch.retry_turn(session_id, delay, tries)
            raise RetryLater
        self._failed(session_id, event_ids, message, channel, thread,
                     give_up=self.crash_retries > 0)

    def give_up(self, session_id: uuid.UUID, reason: str) -> None:
        """The session's waiting inputs fail every time before a turn starts (a poison
        input): set them aside and tell the thread once (queue mode, ``bot.worker``)."""
        svc = self.svc
        with unit_of_work(svc.factory) as db:
            session = db.get(AISession, session_id)
            if session is None:
                return
            ids = list(db.execute(select(InboundEvent.id).where(
                InboundEvent.session_id == session_id,
                InboundEvent.status.in_(("pending", "processing")),
                InboundEvent.kind.in_(deliveries.TURN_KINDS))).scalars())
            channel, thread = session.slack_channel_id, session.slack_thread_ts
        if ids:
            log.error("gave up on %d input(s) of session %s: %s", len(ids), session_id, reason)
            self._failed(session_id, ids, _crashed("preparing", session_id), channel, thread,
                         give_up=True)

    def _say_slow(self, channel: str, thread: str) -> None:
        try:
            self.svc.notifier.post(
                channel, "⏳ The model is taking longer than usual. I'm still on it.",
                thread_ts=thread,
            )
        except SlackError:
            pass

    def _failed(self, session_id: uuid.UUID, event_ids: list[uuid.UUID], message: str,
                channel: str, thread: str, *, usage: Usage | None = None,
                unusable: bool = False, give_up: bool = False) -> None:
        svc = self.svc
        now = svc.clock()
        svc.metrics.turns.labels(svc.engine_name, "failed").inc()
        with unit_of_work(svc.factory) as db:
            db.execute(
                update(InboundEvent).where(InboundEvent.id.in_(event_ids))
                # Given up ("ignored"): a poison input no longer rides along with new ones.
                .values(status="ignored" if give_up else "failed", error=message[:2000],
                        processed_at=now)
            )
            session = db.get(AISession, session_id)
            if session is not None:
                session.last_turn_error = message[:2000]
                if usage is not None:  # failed and refused turns cost tokens too
                    add_session_usage(svc, session, usage)
                    add_account_usage(db, session.account_id, usage)
                unusable = unusable and session.engine == "claude"
        msg = render_engine_failure(str(session_id), message, use_flows=unusable)
        try:
            if give_up:  # no Retry: it failed every time; the person words it again
                svc.notifier.post(channel, f"⚠️ {message} I tried several times and set your "
                                  "last message aside: please send it again.", thread_ts=thread)
                return
            svc.notifier.post(channel, msg.text, msg.blocks, thread_ts=thread)
        except SlackError:
            log.warning("could not tell the thread about a failed turn (session %s)", session_id)


def engine_for(svc: Services, ctx: TurnContext) -> Engine:
    """The session's engine: the process's, unless the session moved to the built-in flows
    after the model could not be used (``fp_use_flows``)."""
    if ctx.engine != "offline" or svc.engine.name != "claude":
        return svc.engine
    if svc.offline_engine is None:
        from bot.engines.offline import OfflineEngine

        # Two threads may both build one on first use: equal and stateless, either will do.
        svc.offline_engine = OfflineEngine(svc.flows.base)
    return svc.offline_engine


def _logged(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    try:
        return fn(*args, **kwargs)
    except Exception:
        log.exception("background work %s failed", getattr(fn, "__name__", fn))
        return None


def _crashed(stage: str, session_id: uuid.UUID) -> str:
    ref = new_reference()
    log.exception("turn %s failed (ref %s) on session %s", stage, ref, session_id)
    return unexpected_message(ref)


def _nudge_after(svc: Services, db: Session, account: Account) -> timedelta:
    """The workspace's nudge delay, cached a minute per workspace (read on every turn)."""
    return svc.caches.nudge_after.get(account.id,
                                      lambda: workspace.nudge_after(svc, db, account))


def requeue_failed(svc: Services, session_id: uuid.UUID, now: datetime) -> int:
    """Put a session's failed inputs back in the queue (the Retry button, recover_turns)."""
    with unit_of_work(svc.factory) as db:
        result = db.execute(
            update(InboundEvent)
            .where(InboundEvent.session_id == session_id, InboundEvent.status == "failed")
            .values(status="pending", error=None, processed_at=None)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
