"""The nudge's own buttons: Still working and Snooze (Park / Resolve / Escalate are the
session controls). The nudges themselves are sent by the ``nudge_stale`` job."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.domain import status as st
from bot.domain.nudges import snooze_until, zone
from bot.errors import DomainError
from bot.render import blocks as bk
from bot.render.blocks import Message
from bot.render.safe import mention
from bot.services.container import Services
from bot.services.identity import ensure_user, meet
from bot.services.jobconfig import Config, config
from bot.services.sessions import add_participant, load_for_team, require_may_act
from storage.db import unit_of_work
from storage.models import AISession


def _nudged_session(svc: Services, db: Session, team_id: str, user_id: str,
                    session_id: str) -> tuple[AISession, Config]:
    s = load_for_team(db, session_id, team_id)
    user = ensure_user(db, s.account, user_id)  # met before
    require_may_act(s, user)
    if s.status != st.ACTIVE:
        raise DomainError(f"This session is {st.STATUS_LABELS.get(s.status, s.status)}; "
                          "the nudge no longer applies.")
    add_participant(s, user_id)
    return s, config(svc, db, s.account)


def still_working(svc: Services, *, team_id: str, user_id: str, session_id: str) -> Message:
    """Still working: the person is here, so the idle clock and the nudge count start over."""
    now = svc.clock()
    meet(svc, team_id, user_id)
    with unit_of_work(svc.factory) as db:
        s, cfg = _nudged_session(svc, db, team_id, user_id, session_id)
        s.last_activity_at = s.last_human_activity_at = now
        s.next_nudge_at, s.snoozed_until, s.nudge_count = now + cfg.nudge_after, None, 0
    text = f"👍 {mention(user_id)} is still working on this."
    return bk.finish([bk.context([text])], text, session_id=session_id)


def snooze(svc: Services, *, team_id: str, user_id: str, value: str) -> Message:
    """Snooze: ``session|30m|2h|tomorrow``; tomorrow is the next working day's start in the
    owner's time zone."""
    session_id, _, option = value.partition("|")
    now = svc.clock()
    meet(svc, team_id, user_id)
    with unit_of_work(svc.factory) as db:
        s, cfg = _nudged_session(svc, db, team_id, user_id, session_id)
        tz = s.user.tz if s.user else "UTC"
        try:
            until = snooze_until(option, now, tz, cfg.hours)
        except ValueError as exc:
            raise DomainError(str(exc)) from None
        s.snoozed_until = s.next_nudge_at = until
    local = until.astimezone(zone(tz))
    when = local.strftime("%H:%M") if local.date() == now.astimezone(zone(tz)).date() \
        else local.strftime("%a %H:%M")
    text = f"💤 {mention(user_id)} snoozed this session's nudges until {when} ({tz})."
    return bk.finish([bk.context([text])], text, session_id=session_id)
