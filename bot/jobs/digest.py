"""``daily_digest``: per workspace, once a day from its digest hour, yesterday's numbers, the
escalations nobody has taken over, the stale sessions (the message itself is
``bot.render.digest``) and the last seven days' chart (``bot.services.stats``).

A digest channel FlowPilot cannot post in (``not_in_channel``, ``channel_not_found``,
``is_archived``) is not retried all day: one log line, the day stays marked, and the
workspace's admins get one notice per channel and problem (``digest_problem`` in the
workspace settings, cleared by the next digest that gets through)."""

from __future__ import annotations

import logging
import statistics
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.domain import status as st
from bot.domain.nudges import zone
from bot.domain.timekeeping import seconds_to_text
from bot.errors import SlackError
from bot.jobs.common import DONE, FAILED, JobResult
from bot.render.digest import DigestData, render_digest
from bot.render.stats import StatsView
from bot.services.container import Services
from bot.services.drafts import pending_count
from bot.services.jobconfig import config
from bot.services.stats import Scope, fill, window_bounds
from bot.services.tenancy import for_account
from storage.db import unit_of_work
from storage.models import Account, AccountSettings, AISession, User
from storage.settings_store import get_all_settings, set_setting, set_settings

log = logging.getLogger(__name__)

# Slack's answers for a channel the bot cannot post in (chat.postMessage errors,
# docs.slack.dev/reference/methods/chat.postMessage): retrying will not help until a person
# acts.
CHANNEL_REFUSALS = ("not_in_channel", "channel_not_found", "is_archived")
MAX_WAITING = 10


def daily_digest(svc: Services, now: datetime) -> JobResult:
    """Per workspace, once a day from its digest hour: yesterday's numbers and stale sessions."""
    result = JobResult("daily_digest")
    with unit_of_work(svc.factory) as db:
        accounts = db.execute(select(Account.id).where(Account.is_active.is_(True))).scalars().all()
    for account_id in accounts:
        try:
            with for_account(svc, account_id):  # that workspace's token
                outcome = _digest_one(svc, account_id, now, result)
        except Exception:
            log.exception("daily_digest failed for workspace %s", account_id)
            outcome = FAILED
        if outcome:
            result.count(outcome)
    return result


def _digest_due(settings: dict[str, Any], now: datetime) -> tuple[str, Any] | None:
    channel = settings.get("digest_channel")
    if not channel:
        return None
    local = now.astimezone(zone(settings.get("tz")))
    try:
        hour = int(settings.get("digest_hour", 9))
    except (TypeError, ValueError):
        hour = 9
    if local.hour < hour or settings.get("last_digest_date") == local.date().isoformat():
        return None
    return str(channel), local


def _digest_one(svc: Services, account_id: uuid.UUID, now: datetime, result: JobResult) -> str:
    with unit_of_work(svc.factory) as db:
        if _digest_due(get_all_settings(db, account_id), now) is None:
            return ""
        set_settings(db, account_id, {})  # make sure the row exists, so it can be locked
    with unit_of_work(svc.factory) as db:
        # The row lock makes the check-and-mark atomic across scheduler processes.
        db.execute(select(AccountSettings.account_id)
                   .where(AccountSettings.account_id == account_id).with_for_update())
        settings = get_all_settings(db, account_id)
        due = _digest_due(settings, now)
        if due is None:
            return ""
        channel, local = due
        previous = settings.get("last_digest_date")
        set_setting(db, account_id, "last_digest_date", local.date().isoformat())
    result.claimed += 1
    msg = render_digest(_digest_data(svc, account_id, now, local))
    try:
        svc.notifier.post(channel, msg.text, msg.blocks)
    except SlackError as exc:
        if exc.code in CHANNEL_REFUSALS:  # the day stays marked: no retry loop
            _channel_problem(svc, account_id, channel, str(exc.code), exc.message)
            return FAILED
        log.warning("digest for %s not posted: %s", account_id, exc.message)
        with unit_of_work(svc.factory) as db:  # un-mark, so a later pass tries again
            set_setting(db, account_id, "last_digest_date", previous)
        return FAILED
    if settings.get("digest_problem"):
        with unit_of_work(svc.factory) as db:
            set_setting(db, account_id, "digest_problem", None)
    try:
        _post_chart(svc, account_id, channel, now)
    except Exception:  # the digest is out; a chart that fails must not count it as failed
        log.exception("digest chart for workspace %s not drawn", account_id)
    return DONE


def _channel_problem(svc: Services, account_id: uuid.UUID, channel: str, code: str,
                     message: str) -> None:
    """One log line; the admins are told once per (channel, problem)."""
    log.error("daily digest for workspace %s not posted: FlowPilot cannot post in the digest "
              "channel %s (%s); an admin must invite the app or pick another channel with "
              "/flowpilot settings", account_id, channel, code)
    problem = f"{channel}:{code}"
    with unit_of_work(svc.factory) as db:
        db.execute(select(AccountSettings.account_id)
                   .where(AccountSettings.account_id == account_id).with_for_update())
        if get_all_settings(db, account_id).get("digest_problem") == problem:
            return  # told already
        set_setting(db, account_id, "digest_problem", problem)
        listed = get_all_settings(db, account_id).get("admins") or []
        admins = set(db.execute(select(User.slack_user_id).where(
            User.account_id == account_id, User.is_admin.is_(True))).scalars().all())
    admins |= {str(a) for a in listed}
    text = (f"⚠️ FlowPilot could not post the daily digest in <#{channel}>: {message} "
            "Invite the app there (`/invite @FlowPilot`) or choose another channel with "
            "`/flowpilot settings`. FlowPilot tries again tomorrow; this notice is sent once.")
    for admin in sorted(admins):
        try:
            svc.notifier.post(admin, text)
        except SlackError as exc:
            log.warning("could not tell admin %s about the digest channel: %s", admin,
                        exc.message)


def _post_chart(svc: Services, account_id: uuid.UUID, channel: str, now: datetime) -> None:
    """The last seven days' chart under the digest (the digest's text stands without it)."""
    from bot.services.stats import share_chart

    since, until = window_bounds(now, 7)
    view = StatsView(window="7d", since=since.date().isoformat(),
                     until=until.date().isoformat(), own_only=False, user="")
    with unit_of_work(svc.factory) as db:
        fill(db, view, Scope(account_id, None, since, until), cache_ttl=svc.settings.ai_cache_ttl)
    share_chart(svc, view, channel=channel)


def _digest_data(svc: Services, account_id: uuid.UUID, now: datetime, local: datetime) -> DigestData:
    day = local.date() - timedelta(days=1)
    start = datetime.combine(day, time(0), tzinfo=local.tzinfo).astimezone(UTC)
    end = datetime.combine(local.date(), time(0), tzinfo=local.tzinfo).astimezone(UTC)
    mine = AISession.account_id == account_id
    data = DigestData(day=day.isoformat())
    with unit_of_work(svc.factory) as db:
        account = db.get(Account, account_id)
        assert account is not None
        stale_after = config(svc, db, account).nudge_after
        data.opened = int(db.scalar(select(func.count()).where(
            mine, AISession.created_at >= start, AISession.created_at < end)) or 0)
        resolved = db.execute(select(AISession.created_at, AISession.resolved_at).where(
            mine, AISession.resolved_at >= start, AISession.resolved_at < end)).all()
        data.resolved = len(resolved)
        if resolved:
            median = statistics.median((r - c).total_seconds() for c, r in resolved if r)
            data.median_text = seconds_to_text(median) if median else "—"
        data.escalated = int(db.scalar(select(func.count()).where(
            mine, AISession.escalation_package_posted_at >= start,
            AISession.escalation_package_posted_at < end)) or 0)
        data.domains = [(str(d or "other"), int(n)) for d, n in db.execute(
            select(AISession.problem_domain, func.count()).where(
                mine, AISession.created_at >= start, AISession.created_at < end)
            .group_by(AISession.problem_domain).order_by(func.count().desc()).limit(3)).all()]
        stale_where = [mine, AISession.status == st.ACTIVE,
                       AISession.last_activity_at <= now - stale_after]
        if local.weekday() == 0:  # weekly: the drafts waiting for an admin
            data.drafts_pending = pending_count(db, account_id)
        data.stale_total = int(db.scalar(select(func.count()).where(*stale_where)) or 0)
        # Escalations nobody has taken over stay here every day until someone does (the
        # re-pings stop after two; the digest does not).
        waiting_where = [mine, AISession.status == st.ESCALATED]
        data.waiting_total = int(db.scalar(select(func.count()).where(*waiting_where)) or 0)
        waiting = db.execute(
            select(AISession.id, AISession.problem_summary, AISession.slack_channel_id,
                   AISession.slack_thread_ts, AISession.escalation_channel_id,
                   AISession.escalation_message_ts, AISession.status_changed_at,
                   User.slack_user_id)
            .join(User, User.id == AISession.user_id).where(*waiting_where)
            .order_by(AISession.status_changed_at).limit(MAX_WAITING)).all()
        stale = db.execute(
            select(AISession.problem_summary, AISession.slack_channel_id,
                   AISession.slack_thread_ts, AISession.last_activity_at, User.slack_user_id)
            .join(User, User.id == AISession.user_id).where(*stale_where)
            .order_by(AISession.last_activity_at).limit(10)).all()
    for sid, summary, channel, thread, esc_channel, esc_ts, since, owner in waiting:
        link = svc.notifier.permalink(esc_channel, esc_ts) if esc_channel and esc_ts \
            else svc.notifier.permalink(channel, thread)
        waited = seconds_to_text((now - since).total_seconds()) if since else "?"
        data.waiting.append((str(sid), summary or "Session", link, waited, owner))
    for summary, channel, thread, last, owner in stale:
        idle = seconds_to_text((now - last).total_seconds()) if last else "?"
        data.stale.append((summary or "Session", svc.notifier.permalink(channel, thread), idle,
                           owner))
    return data
