"""``post_escalations`` and ``escalation_sla``: pending packages are posted; an escalation
nobody took over is re-pinged."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement

from bot.domain import status as st
from bot.domain.timekeeping import seconds_to_text
from bot.jobs.common import DONE, FAILED, SKIPPED, JobResult, claim, each, note, say
from bot.render import blocks as bk
from bot.render.safe import channel_link, group_mention, mention
from bot.services import teams
from bot.services.container import Services
from bot.services.jobconfig import config
from storage.db import unit_of_work
from storage.models import AISession, Team

REPING_RETRY = timedelta(minutes=2)
MAX_REPINGS = 2  # the engineer, then the default group (or the team twice); then it waits
TURN_ATTEMPTS = 3


def post_where(now: datetime) -> list[ColumnElement[bool]]:
    return [AISession.status == st.REQUESTING_ESCALATION,
            AISession.escalation_message_ts.is_(None), AISession.escalation_post_next_at <= now]


def post_escalations(svc: Services, now: datetime) -> JobResult:
    """Post every pending escalation package (backoff and the never-twice claim live in
    ``escalation.post_escalation_package``, shared with the Escalate button)."""
    from bot.services.escalation import post_escalation_package

    # Only picked here (SKIP LOCKED spreads concurrent passes); the row's lease is taken by
    # post_escalation_package itself, so whichever caller gets it is the only one to post.
    ids_ = claim(svc, now, post_where(now), AISession.escalation_post_next_at, lease=None)
    return each(svc, JobResult("post_escalations"), ids_,
                lambda sid: DONE if post_escalation_package(svc, sid) else SKIPPED)


def sla_where(now: datetime) -> list[ColumnElement[bool]]:
    return [AISession.status == st.ESCALATED, AISession.escalation_deadline_at <= now]


def escalation_sla(svc: Services, now: datetime) -> JobResult:
    """An escalation nobody took over within the SLA re-pings the engineer, then the group;
    one escalated to a team re-pings the team (every member, or the next one in turn)."""
    ids_ = claim(svc, now, sla_where(now), AISession.escalation_deadline_at)
    return each(svc, JobResult("escalation_sla"), ids_, lambda sid: _reping_one(svc, sid, now))


def _reping_one(svc: Services, sid: uuid.UUID, now: datetime) -> str:
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return SKIPPED
        if (s.status != st.ESCALATED or s.escalation_deadline_at is None
                or s.escalation_deadline_at > now):
            s.job_lease_until = None
            return SKIPPED
        if s.escalation_reping_count >= MAX_REPINGS:
            s.escalation_deadline_at, s.job_lease_until = None, None
            return SKIPPED
        cfg = config(svc, db, s.account)
        engineer = s.escalated_to.slack_user_id if s.escalated_to else None
        group = cfg.escalation_group
        first = s.escalation_reping_count == 0
        if first and engineer:
            tag = mention(engineer)
        elif group:
            tag = group_mention(group)
        else:
            tag = mention(engineer) if engineer else "<!here>"
        team = teams.snapshot(db, s.escalation_team) if s.escalation_team else None
        channel = s.escalation_channel_id or cfg.escalation_channel
        waited = seconds_to_text((now - (s.status_changed_at or now)).total_seconds())
        package_ts, session_channel, thread = (s.escalation_message_ts, s.slack_channel_id,
                                               s.slack_thread_ts)
        sla = cfg.sla
    if team is not None:  # escalated to a team: the re-ping tags the team again
        tag = _team_tag(svc, team) or tag
    text = (f"⏰ {tag} this escalation has waited {waited} without anyone taking it over. "
            "Press *Take over* on the package to pick it up.")
    posted = False
    if channel:
        ping = bk.finish([bk.section(text)], text, session_id=str(sid))
        posted = say(svc, channel, package_ts, ping) is not None
    where = channel_link(channel) if channel else "the escalation channel"
    told = f"⏰ Nobody has taken this over yet; re-pinged {tag} in {where}."
    posted = (say(svc, session_channel, thread, note(told, sid)) is not None) or posted
    with unit_of_work(svc.factory) as db:
        s = db.get(AISession, sid)
        if s is None:
            return DONE if posted else FAILED
        s.job_lease_until = None
        if not posted:
            s.escalation_deadline_at = now + REPING_RETRY
            return FAILED
        s.escalation_reping_count += 1
        s.escalation_deadline_at = (now + sla if s.escalation_reping_count < MAX_REPINGS
                                    else None)
    return DONE


def _team_tag(svc: Services, team: teams.Snapshot) -> str:
    """The team's members, or the next member in turn (the cursor moves before the ping:
    a ping that then fails has used that turn). "" when nobody can be tagged (a user group
    Slack could not read, every member gone): the caller falls back to the group / @here."""
    for _ in range(TURN_ATTEMPTS):
        chosen = teams.pick(svc, team)
        if not chosen.tagged:
            return ""
        try:
            with unit_of_work(svc.factory) as db:
                teams.take_turn(db, chosen)
        except teams.TurnTaken:  # another process took this turn: read the cursor again
            with unit_of_work(svc.factory) as db:
                row = db.get(Team, team.id)
                if row is None:
                    return ""
                team = teams.snapshot(db, row)
            continue
        return " ".join(mention(u) for u in chosen.tagged)
    return ""
