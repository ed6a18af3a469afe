"""Ending and moving sessions: resolve, rate, escalate, take over, hand off, park, resume.

Each use case is one transaction — load (workspace-scoped, row locked) → who may act →
domain transition → exact time accounting → save — and returns what the handler should
tell Slack afterwards (``announce_*``), so no Slack call ever runs inside a transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot.domain import status as st
from bot.domain import timekeeping
from bot.domain.validation import validate_rating
from bot.errors import DomainError, NotAllowedError, NotFoundError, SlackError
from bot.render.notes import render_escalation_package_markdown, render_resolution_note_markdown
from bot.render.outputs import render_rating_prompt, render_take_over_notice
from bot.render.safe import USER_ID, mention
from bot.services import knowledge, output_delivery, outputs, present, teams, workspace
from bot.services.container import Services
from bot.services.decisions import domain_errors
from bot.services.identity import ensure_account, ensure_user, meet
from bot.services.refresh import refresh_header
from bot.services.sessions import (
    add_participant,
    add_step,
    load_for_team,
    may_act,
    require_may_act,
)
from storage.db import unit_of_work
from storage.models import AISession, SessionHandoff, SessionResolutionOutput, User
from storage.queries.outputs import output_row

log = logging.getLogger(__name__)
URGENCIES = ("low", "normal", "high", "critical")
MAX_NOTE = 4000
MAX_EDITED_NOTE = 3000  # a Slack plain_text_input holds at most 3,000 characters
NO_CHANNEL = (
    "No escalation channel is set, so nothing was escalated. An admin can set one with "
    "`/flowpilot settings`, or the operator with FLOWPILOT_ESCALATION_CHANNEL."
)


@contextmanager
def _txn(svc: Services, team_id: str | None = None, *people: str | None) -> Iterator[Session]:
    """One transaction, with domain refusals and lost races told as readable sentences.
    ``people`` (Slack user ids of ``team_id``) are met first: those not seen before are
    created with their Slack profile outside the transaction, so nothing in it (the session
    row locked) waits on Slack."""
    meet(svc, team_id, *people)
    try:
        with unit_of_work(svc.factory) as db, domain_errors():
            yield db
    except StaleDataError:
        raise DomainError(
            "Someone changed this session at the same moment. Look at the thread and try again."
        ) from None


def _load(db: Session, svc: Services, team_id: str, user_id: str,
          session_id: str | uuid.UUID) -> tuple[AISession, User]:
    session = load_for_team(db, session_id, team_id)
    # Lock the session row only (the workspace-scoped load joins ``accounts``, whose row the
    # turn runner also writes): concurrent clicks queue here and then see the winner's state.
    db.refresh(session, with_for_update=True)
    user = ensure_user(db, session.account, user_id)  # met before the lock (``_txn``)
    return session, user


def move_status(session: AISession, event: str, now: datetime) -> str:
    """Apply ``event``: new status, with the active/parked seconds brought exactly up to now."""
    before = session.status
    after = st.transition(before, event)
    ledger = timekeeping.ledger_from_columns(
        session.total_active_seconds, session.total_parked_seconds, before,
        session.status_changed_at or session.created_at,
    )
    ledger = timekeeping.accrue(ledger, now)
    session.total_active_seconds = ledger.active_seconds
    session.total_parked_seconds = ledger.parked_seconds
    session.status = after
    # ``since`` (not ``now``): the sub-second remainder carries into the new state, so the
    # totals stay exact over any number of moves.
    session.status_changed_at = ledger.since
    session.last_activity_at = now
    return before


@dataclass(frozen=True)
class Moved:
    """What the handler tells Slack after a status change."""

    session_id: uuid.UUID
    channel: str
    thread_ts: str
    actor: str  # Slack id of who did it
    status: str


def _moved(session: AISession, actor: str) -> Moved:
    return Moved(session.id, session.slack_channel_id, session.slack_thread_ts, actor,
                 session.status)


def _say(svc: Services, channel: str, thread_ts: str, text: str) -> str | None:
    try:
        return svc.notifier.post(channel, text, thread_ts=thread_ts)
    except SlackError as exc:
        log.warning("could not post in %s/%s: %s", channel, thread_ts, exc.message)
        return None


# ── resolve ─────────────────────────────────────────────────────────────────────────────


def preview_resolution(svc: Services, *, team_id: str, user_id: str, session_id: str) -> str:
    """The note as it would be stored now (for the resolve modal); changes nothing."""
    now = svc.clock()
    with _txn(svc, team_id, user_id) as db:
        session = load_for_team(db, session_id, team_id)
        user = ensure_user(db, session.account, user_id)
        require_may_act(session, user)
        if not st.can(session.status, st.RESOLVE):
            st.transition(session.status, st.RESOLVE)  # raises the readable refusal
        return render_resolution_note_markdown(outputs.resolution_data(session, now))


@dataclass(frozen=True)
class Resolved:
    moved: Moved
    markdown: str


def resolve(svc: Services, *, team_id: str, user_id: str, session_id: str,
            note: str = "", edited: str | None = None) -> Resolved:
    """``note`` is added to the rendered note; ``edited`` (the note as the person edited it
    in the resolve modal) replaces it, masked like every text a person types."""
    now = svc.clock()
    with _txn(svc, team_id, user_id) as db:
        session, user = _load(db, svc, team_id, user_id, session_id)
        require_may_act(session, user)
        move_status(session, st.RESOLVE, now)
        data = outputs.resolution_data(session, now, note=note[:MAX_NOTE])
        markdown = render_resolution_note_markdown(data)
        if edited is not None and edited.strip():
            from bot.redact import redact

            markdown = redact(edited.strip()[:MAX_EDITED_NOTE]).text
        session.resolution_note_markdown = markdown
        session.resolved_at = session.ended_at = now
        # What search ("Seen before") matches and shows, and the knowledge analysis reads.
        session.resolution_summary, session.resolution_action = outputs.resolution_lines(
            session, note, markdown)
        session.analysis_status = "pending"  # the knowledge flywheel picks it up
        knowledge.index_session(db, session, user_id, now,
                                workspace.redaction_patterns(db, session.account))
        _quiet(session)
        _output(db, session, "resolution_note", markdown, {"note": note[:MAX_NOTE]}, now)
        output_delivery.queue_resolution(db, session, markdown, now)
        add_participant(session, user_id)
        add_step(db, session, "status", user, {"event": "resolve", "author": user_id}, now)
        moved = _moved(session, user_id)
    svc.metrics.sessions.labels("resolved").inc()
    return Resolved(moved, markdown)


def announce_resolved(svc: Services, done: Resolved) -> None:
    m = done.moved
    # The note's thread post (and the PSA's note, time entry, status) go through the outbox:
    # sent now, and retried by ``deliver_outputs`` when Slack or the PSA fails.
    output_delivery.deliver_session(svc, m.session_id)
    refresh_header(svc, m.session_id)
    prompt = render_rating_prompt(str(m.session_id))
    with suppress(SlackError):
        svc.notifier.post(m.channel, prompt.text, prompt.blocks, thread_ts=m.thread_ts)


def _quiet(session: AISession) -> None:
    """A finished session: no more nudges, re-pings or escalation retries."""
    session.next_nudge_at = None
    session.escalation_post_next_at = None
    session.escalation_deadline_at = None


def _output(db: Session, session: AISession, kind: str, markdown: str, content: dict[str, object],
            now: datetime) -> SessionResolutionOutput:
    row = output_row(db, session.id, kind)
    if row is None:
        row = SessionResolutionOutput(session_id=session.id, output_type=kind, target="slack",
                                      attempts=0, created_at=now)
        db.add(row)
    row.content_markdown, row.content = markdown, dict(content)
    row.status, row.external_id, row.posted_at, row.last_error = "pending", None, None, None
    return row


# ── rating and feedback ─────────────────────────────────────────────────────────────────


def parse_rating_value(value: str) -> tuple[str, str]:
    sid, sep, rating = (value or "").partition("|")
    if not sep:
        raise NotFoundError("That rating button is no longer valid.")
    return sid, rating


def rate(svc: Services, *, team_id: str, user_id: str, session_id: str, rating: object) -> int:
    with _txn(svc, team_id, user_id) as db:
        value = validate_rating(rating)
        session, user = _load(db, svc, team_id, user_id, session_id)
        require_may_act(session, user)
        if session.status != st.RESOLVED:
            raise DomainError("A session can be rated once it is resolved.")
        session.session_rating = value  # a second rating replaces the first
        sid = session.id
    refresh_header(svc, sid)  # the header shows the rating (issue 18)
    return value


def feedback(svc: Services, *, team_id: str, user_id: str, session_id: str, text: str) -> None:
    text = text.strip()
    if not text:
        raise DomainError("The feedback was empty; nothing was saved.")
    with _txn(svc, team_id, user_id) as db:
        session, user = _load(db, svc, team_id, user_id, session_id)
        require_may_act(session, user)
        session.session_feedback = text[:MAX_NOTE]
        sid = session.id
    refresh_header(svc, sid)  # the header shows the feedback (issue 18)


def check_may_act(svc: Services, *, team_id: str, user_id: str, session_id: str) -> None:
    """Refuse early (before a modal opens) when the person may not act on the session."""
    with _txn(svc, team_id, user_id) as db:
        session = load_for_team(db, session_id, team_id)
        require_may_act(session, ensure_user(db, session.account, user_id))


# ── escalate ────────────────────────────────────────────────────────────────────────────


def check_escalation(svc: Services, *, team_id: str, user_id: str,
                     session_id: str) -> tuple[str, str]:
    """Before the modal opens: may act, may escalate, and there is somewhere to escalate to.
    Returns the session's (channel, thread ts)."""
    with _txn(svc, team_id, user_id) as db:
        session = load_for_team(db, session_id, team_id)
        user = ensure_user(db, session.account, user_id)
        require_may_act(session, user)
        st.transition(session.status, st.REQUEST_ESCALATION)
        if workspace.escalation_channel(svc, db, session.account) is None:
            raise DomainError(NO_CHANNEL)
        return session.slack_channel_id, session.slack_thread_ts


@dataclass(frozen=True)
class Escalated:
    moved: Moved
    escalation_channel: str


def request_escalation(
    svc: Services, *, team_id: str, user_id: str, session_id: str, reason: str,
    engineer: str | None = None, urgency: str | None = None, team: str | None = None,
) -> Escalated:
    """Store the package and queue its post (``escalation.post_escalation_package`` posts it).

    ``team`` (a name, ``team:NAME``, ``@NAME`` or a user group) targets a team: its members
    are tagged, or one in turn (round-robin). Whom to tag is worked out before the
    transaction (Slack calls); the round-robin turn is taken inside it, so a refused
    escalation (a double click) never uses up anyone's turn."""
    reason = reason.strip()
    if not reason:
        raise DomainError("Say why this needs an escalation engineer; the reason is required.")
    if engineer and not USER_ID.match(engineer):
        raise DomainError("That engineer is not a Slack user of this workspace.")
    channel, thread = check_escalation(svc, team_id=team_id, user_id=user_id,
                                       session_id=session_id)
    thread_url = svc.notifier.permalink(channel, thread)  # outside any transaction
    for _ in range(5):  # another process took the same round-robin turn: pick again
        chosen = _pick_team(svc, team_id, team, engineer) if team and team.strip() else None
        try:
            return _store_escalation(svc, team_id, user_id, session_id, reason, engineer,
                                     urgency, thread_url, chosen)
        except teams.TurnTaken:
            continue
    raise DomainError("Many escalations went to that team at this moment; try again.")


def _pick_team(svc: Services, team_id: str, raw: str, engineer: str | None) -> teams.Pick:
    with _txn(svc) as db:
        account = ensure_account(db, team_id)
        found = teams.find_for_escalation(db, account, raw.strip())
        snap = teams.snapshot(db, found)
    if not snap.usergroup and not snap.stored:
        raise DomainError(
            f"Team `{snap.name}` has no members yet, so nobody would be tagged: an admin adds "
            f"them with `/flowpilot team members {snap.name} @a @b`, or escalate without a team.")
    if engineer:  # a named engineer is tagged; the team still owns the escalation
        return teams.Pick(snap.id, snap.name, tagged=[engineer])
    return teams.pick(svc, snap)


def _store_escalation(svc: Services, team_id: str, user_id: str, session_id: str, reason: str,
                      engineer: str | None, urgency: str | None, thread_url: str | None,
                      chosen: teams.Pick | None) -> Escalated:
    now = svc.clock()
    if chosen is not None and not engineer and chosen.cursor is not None:
        engineer = chosen.tagged[0]  # the member whose turn it is (met before the lock)
    with _txn(svc, team_id, user_id, engineer) as db:
        session, user = _load(db, svc, team_id, user_id, session_id)
        require_may_act(session, user)
        target = workspace.escalation_channel(svc, db, session.account)
        if target is None:
            raise DomainError(NO_CHANNEL)
        move_status(session, st.REQUEST_ESCALATION, now)
        if chosen is not None:
            teams.take_turn(db, chosen)
        chosen_user = ensure_user(db, session.account, engineer) if engineer else None
        level = urgency if urgency in URGENCIES else "normal"
        session.escalated_to_id = chosen_user.id if chosen_user is not None else None
        session.escalation_team_id = chosen.team_id if chosen is not None else None
        session.escalation_reason = reason[:MAX_NOTE]
        session.escalation_urgency = level
        session.escalation_channel_id = target
        session.escalation_requested_by_id = user.id
        session.escalation_message_ts = None
        session.escalation_package_posted_at = None
        session.escalation_post_attempts = 0
        session.escalation_post_next_at = now
        session.escalation_deadline_at = None
        session.escalation_reping_count = 0
        session.next_nudge_at = None
        data = outputs.escalation_data(session, now, reason=reason, urgency=level,
                                       thread_url=thread_url, technician=user.display_name,
                                       team=chosen.team if chosen is not None else "")
        package = outputs.to_json(data)
        if chosen is not None:  # whom the post tags (Slack ids stay out of the markdown)
            package.update(tagged_ids=chosen.tagged, tag_note=chosen.note)
        session.escalation_package = package
        markdown = render_escalation_package_markdown(data)
        session.escalation_package_markdown = markdown
        _output(db, session, "escalation_package", markdown, outputs.to_json(data), now)
        output_delivery.queue_escalation(db, session, now)
        add_participant(session, user_id)
        add_step(db, session, "status", user,
                 {"event": "request_escalation", "author": user_id, "reason": reason[:MAX_NOTE],
                  "engineer": engineer, "urgency": level,
                  "team": chosen.team if chosen is not None else None}, now)
        moved = _moved(session, user_id)
    svc.metrics.sessions.labels("escalated").inc()
    return Escalated(moved, target)


# ── take over and hand off ──────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class TookOver:
    moved: Moved
    new_owner: str
    previous_owner: str | None
    at_text: str  # "10:42" in the new owner's time zone
    escalation_channel: str | None
    escalation_message_ts: str | None
    kind: str  # take_over | handoff


def take_over(svc: Services, *, team_id: str, user_id: str, session_id: str) -> TookOver:
    """The Take over button: the first click wins, among the people who may take it (see
    ``may_take_over``)."""
    now = svc.clock()
    members = _group_members(svc, team_id, session_id)  # Slack, before the row lock
    with _txn(svc, team_id, user_id) as db:
        session, user = _load(db, svc, team_id, user_id, session_id)
        if session.status in (st.ACTIVE, st.PAUSED):
            owner = session.user.slack_user_id if session.user is not None else None
            if owner == user_id:
                raise DomainError("You already own this session; carry on in its thread.")
            raise DomainError(f"Already taken by {mention(owner)}.")
        if not may_take_over(db, svc, session, user, members):
            raise NotAllowedError(
                "Only the engineer or group this session was escalated to, the people taking "
                "part in it, or a workspace admin can take it over."
            )
        return _hand(db, svc, session, user, user, "take_over", now)


def may_take_over(db: Session, svc: Services, session: AISession, user: User,
                  members: frozenset[str] | None) -> bool:
    """The rule every control follows (owner, participants, the named engineer, admins), plus
    the members of the team it was escalated to, or of the escalation group when neither a
    team nor an engineer was named. With neither an engineer nor a group, the escalation went
    to the channel at large: anyone there may take it.
    ``members``: the Slack user group's members (the team's group, else the escalation
    group), read from Slack before the row lock (None: unknown or no group applies)."""
    if may_act(session, user):
        return True
    if session.escalation_team is not None:  # escalated to a team: any of its members
        return user.slack_user_id in teams.members_of(db, session.escalation_team, members)
    if session.escalated_to_id is not None:
        return False
    if not _escalation_group(svc, db, session):
        return True
    return members is not None and user.slack_user_id in members


def _escalation_group(svc: Services, db: Session, session: AISession) -> str | None:
    group = workspace.value(svc, db, session.account, "escalation_group") if session.account \
        else None
    return str(group) if group else None


def _group_members(svc: Services, team_id: str, session_id: str) -> frozenset[str] | None:
    """The members of the Slack user group a take over may depend on: the user group of the
    team it was escalated to (issue 18), else the escalation group when no engineer was named.
    ``usergroups.users.list`` runs here, outside any transaction. None when no group applies
    or Slack cannot say (then only ``may_act`` people, or a team's stored members, may)."""
    with _txn(svc) as db:
        session = load_for_team(db, session_id, team_id)
        if session.escalation_team is not None:
            group = session.escalation_team.slack_usergroup_id
        elif session.escalated_to_id is None:
            group = _escalation_group(svc, db, session)
        else:
            group = None
    if group is None:
        return None
    try:
        return frozenset(svc.notifier.group_members(group))
    except SlackError:
        log.warning("could not read escalation group members; take over refused")
        return None


def handoff(svc: Services, *, team_id: str, user_id: str, session_id: str,
            to_user: str) -> TookOver:
    """``/flowpilot handoff @user``: the session passes to a colleague, same as a take over."""
    if not USER_ID.match(to_user or ""):
        raise DomainError("Name the colleague to hand it to: `/flowpilot handoff @user`.")
    now = svc.clock()
    with _txn(svc, team_id, user_id, to_user) as db:
        session, user = _load(db, svc, team_id, user_id, session_id)
        require_may_act(session, user)
        target = ensure_user(db, session.account, to_user)
        if target.id == session.user_id:
            raise DomainError(f"{mention(to_user)} already owns this session.")
        return _hand(db, svc, session, user, target, "handoff", now)


def _hand(db: Session, svc: Services, session: AISession, actor: User, to: User, kind: str,
          now: datetime) -> TookOver:
    previous = session.user
    move_status(session, st.TAKE_OVER, now)
    db.add(SessionHandoff(session_id=session.id, from_user_id=session.user_id, to_user_id=to.id,
                          kind=kind, reason=session.escalation_reason if kind == "take_over"
                          else f"handed off by {actor.slack_user_id}", created_at=now))
    session.user_id = to.id
    session.user = to
    session.team_id = to.team_id  # the session follows its owner's team (issue 18)
    session.handoff_count += 1
    if kind == "take_over":
        session.escalated_to_id = to.id
        session.escalated_to = to
    session.escalation_deadline_at = None
    session.escalation_post_next_at = None
    session.next_nudge_at = now + workspace.nudge_after(svc, db, session.account)
    output_delivery.queue_take_over(db, session, to, kind, now)
    add_participant(session, to.slack_user_id)
    add_step(db, session, "handoff", actor,
             {"kind": kind, "from": previous.slack_user_id if previous else None,
              "to": to.slack_user_id, "author": actor.slack_user_id}, now)
    return TookOver(
        moved=_moved(session, actor.slack_user_id), new_owner=to.slack_user_id,
        previous_owner=previous.slack_user_id if previous is not None else None,
        at_text=present.local_time_text(now, to.tz),
        escalation_channel=session.escalation_channel_id if kind == "take_over" else None,
        escalation_message_ts=session.escalation_message_ts if kind == "take_over" else None,
        kind=kind,
    )


def announce_take_over(svc: Services, done: TookOver) -> None:
    from bot.services.escalation import mark_taken

    m = done.moved
    if done.kind == "take_over":
        msg = render_take_over_notice(done.new_owner, done.previous_owner, done.at_text)
        text = msg.text
    else:
        text = (f"🔁 {mention(m.actor)} handed this session to {mention(done.new_owner)}. "
                "It carries on here with its full history.")
    _say(svc, m.channel, m.thread_ts, text)
    output_delivery.deliver_session(svc, m.session_id)
    if done.escalation_channel and done.escalation_message_ts:
        mark_taken(svc, m.session_id, done.escalation_channel, done.escalation_message_ts,
                   done.new_owner, done.at_text)
    refresh_header(svc, m.session_id)


# ── park, resume, abandon ───────────────────────────────────────────────────────────────


def _move(svc: Services, event: str, team_id: str, user_id: str, session_id: str,
          then: Callable[[Session, AISession, datetime], None]) -> Moved:
    """Load (locked), check who may act, apply the transition with exact time accounting,
    then ``then`` for what this transition changes besides the status, and record a step."""
    now = svc.clock()
    with _txn(svc, team_id, user_id) as db:
        session, user = _load(db, svc, team_id, user_id, session_id)
        require_may_act(session, user)
        move_status(session, event, now)
        then(db, session, now)
        add_step(db, session, "status", user, {"event": event, "author": user_id}, now)
        return _moved(session, user_id)


def park(svc: Services, *, team_id: str, user_id: str, session_id: str) -> Moved:
    def then(db: Session, session: AISession, now: datetime) -> None:
        session.next_nudge_at = None
        session.escalation_deadline_at = None

    return _move(svc, st.PARK, team_id, user_id, session_id, then)


def resume(svc: Services, *, team_id: str, user_id: str, session_id: str) -> Moved:
    def then(db: Session, session: AISession, now: datetime) -> None:
        session.next_nudge_at = now + workspace.nudge_after(svc, db, session.account)
        session.last_human_activity_at = now
        add_participant(session, user_id)

    return _move(svc, st.RESUME, team_id, user_id, session_id, then)


def abandon(svc: Services, *, team_id: str, user_id: str, session_id: str) -> Moved:
    def then(db: Session, session: AISession, now: datetime) -> None:
        session.ended_at = now
        _quiet(session)

    return _move(svc, st.ABANDON, team_id, user_id, session_id, then)


_NOTES = {
    st.PAUSED: "⏸️ {who} parked this session. Replies here are ignored until someone presses "
               "Resume (or runs `/flowpilot resume`).",
    st.ACTIVE: "▶️ {who} resumed this session. Reply here to carry on.",
    st.ABANDONED: "⚪ {who} closed this session without a resolution.",
}


def announce_moved(svc: Services, m: Moved) -> None:
    template = _NOTES.get(m.status)
    if template:
        _say(svc, m.channel, m.thread_ts, template.format(who=mention(m.actor)))
    refresh_header(svc, m.session_id)

