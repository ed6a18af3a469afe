"""What the App Home shows one person (``bot.render.home`` draws it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.domain import status as st
from bot.domain.timekeeping import seconds_to_text
from bot.render.home import HomeSession, HomeView
from bot.render.safe import channel_link, group_mention, mention
from bot.services import workspace
from bot.services.admin import is_admin
from bot.services.container import Services
from bot.services.identity import ensure_account, ensure_user, meet
from bot.services.jobconfig import config
from bot.services.queries import my_open_sessions
from bot.services.stats import stats_for
from storage.db import unit_of_work
from storage.models import AISession, Team, User

SHOWN = 8  # per list: each line costs a chat.getPermalink call


def home_view(svc: Services, team_id: str, user_id: str) -> HomeView:
    now = svc.clock()
    h = HomeView(user=user_id)
    h.mine = [HomeSession(s.session_id, s.summary, s.status, s.link, user_id)
              for s in my_open_sessions(svc, team_id, user_id, limit=SHOWN)]
    rows: dict[str, list[Any]] = {}
    meet(svc, team_id, user_id, create_account=True)  # users.info outside any transaction
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team_id)
        user = ensure_user(db, account, user_id)  # met above
        h.is_admin = is_admin(db, svc, user)
        mine = AISession.account_id == account.id
        waiting = [mine, AISession.status == st.ESCALATED]  # nobody has taken them over
        h.waiting_total = _count(db, waiting)
        rows["waiting"] = _rows(db, waiting, AISession.status_changed_at)
        if user.team_id is not None:
            team = db.get(Team, user.team_id)
            h.team_name = team.name if team is not None else None
            stale = [mine, AISession.team_id == user.team_id, AISession.status == st.ACTIVE,
                     AISession.last_activity_at <= now - config(svc, db, account).nudge_after]
            h.team_stale_total = _count(db, stale)
            rows["stale"] = _rows(db, stale, AISession.last_activity_at)
        if h.is_admin:
            h.settings = _settings_at_a_glance(svc, db, account)
    h.waiting = [_line(svc, r, now, "waiting") for r in rows.get("waiting", [])]
    h.team_stale = [_line(svc, r, now, "quiet for") for r in rows.get("stale", [])]
    h.week = stats_for(svc, team_id, user_id, "7d", own_only=True)
    return h


def _count(db: Session, where: list[ColumnElement[bool]]) -> int:
    return int(db.scalar(select(func.count()).where(*where)) or 0)


def _rows(db: Session, where: list[ColumnElement[bool]], since: Any) -> list[Any]:
    return list(db.execute(
        select(AISession.id, AISession.problem_summary, AISession.status,
               AISession.slack_channel_id, AISession.slack_thread_ts, since, User.slack_user_id)
        .join(User, User.id == AISession.user_id).where(*where)
        .order_by(since).limit(SHOWN)).all())


def _line(svc: Services, row: Any, now: datetime, verb: str) -> HomeSession:
    sid, summary, status, channel, thread, since, owner = row
    age = f"{verb} {seconds_to_text((now - since).total_seconds())}" if since else ""
    return HomeSession(str(sid), summary or "Session", status,
                       svc.notifier.permalink(channel, thread), str(owner), age)


def _settings_at_a_glance(svc: Services, db: Session, account: Any) -> list[tuple[str, str]]:
    def v(key: str) -> Any:
        return workspace.value(svc, db, account, key)

    def minutes(key: str) -> str:
        return f"{v(key)} min" if v(key) is not None else "—"

    admins = [str(a) for a in (v("admins") or [])]
    return [
        ("Escalation channel", channel_link(v("escalation_channel")) if v("escalation_channel")
         else "not set"),
        ("Escalation group", group_mention(v("escalation_group")) if v("escalation_group")
         else "not set"),
        ("Digest", f"{channel_link(v('digest_channel'))} at {v('digest_hour')}:00"
         if v("digest_channel") else "off (no digest channel)"),
        ("Nudge / park after", f"{minutes('nudge_after_minutes')} / "
                               f"{minutes('park_after_minutes')}"),
        ("Escalation SLA", minutes("escalation_sla_minutes")),
        ("Model", f"{v('ai_model') or '—'} (effort {v('ai_effort') or 'default'})"),
        ("Redaction patterns", str(len(v("redaction_patterns") or []))),
        ("Admins", ", ".join(mention(a) for a in admins) if admins
         else "Slack workspace admins"),
    ]
