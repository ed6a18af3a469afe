"""``daily_digest``: per workspace, once a day from its digest hour, yesterday's numbers and
the stale sessions (the message itself is ``bot.render.digest``)."""

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
from bot.services.container import Services
from bot.services.drafts import pending_count
from bot.services.jobconfig import config
from bot.services.tenancy import for_account
from storage.db import unit_of_work
from storage.models import Account, AccountSettings, AISession, User
from storage.settings_store import get_all_settings, set_setting, set_settings

log = logging.getLogger(__name__)


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
        log.warning("digest for %s not posted: %s", account_id, exc.message)
        with unit_of_work(svc.factory) as db:  # un-mark, so a later pass tries again
            set_setting(db, account_id, "last_digest_date", previous)
        return FAILED
    return DONE


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
        stale = db.execute(
            select(AISession.problem_summary, AISession.slack_channel_id,
                   AISession.slack_thread_ts, AISession.last_activity_at, User.slack_user_id)
            .join(User, User.id == AISession.user_id).where(*stale_where)
            .order_by(AISession.last_activity_at).limit(10)).all()
    for summary, channel, thread, last, owner in stale:
        idle = seconds_to_text((now - last).total_seconds()) if last else "?"
        data.stale.append((summary or "Session", svc.notifier.permalink(channel, thread), idle,
                           owner))
    return data
