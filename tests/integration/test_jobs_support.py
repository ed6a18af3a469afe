"""Shared set-up of the scheduled-job tests (no tests here): the real app on the fake Slack,
a fake clock on a Tuesday at 10:00 UTC, and sessions seeded straight into the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.clock import FakeClock
from bot.sandbox.fake_slack import FakeSlack
from bot.services.container import Services
from bot.services.identity import ensure_account
from storage.db import unit_of_work
from storage.models import AISession, User
from storage.settings_store import set_settings

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday, inside default working hours
TEAM = "T0001"


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture()
def app(db_url: str, engine: Engine, fake_slack: FakeSlack, clock: FakeClock) -> Iterator[Any]:
    from support import Harness

    h = Harness(db_url, fake_slack, clock=clock, workers=2)
    yield h
    h.close()


@pytest.fixture()
def svc(app: Any) -> Services:
    return app.svc  # type: ignore[no-any-return]


def user(svc: Services, slack_id: str = "U100", tz: str = "UTC", team: str = TEAM) -> uuid.UUID:
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team)
        found = db.execute(select(User).where(User.account_id == account.id,
                                              User.slack_user_id == slack_id)).scalar_one_or_none()
        if found is None:
            found = User(account_id=account.id, slack_user_id=slack_id, display_name=slack_id,
                         tz=tz)
            db.add(found)
            db.flush()
        found.tz = tz
        return found.id


def settings(svc: Services, team: str = TEAM, **values: Any) -> None:
    with unit_of_work(svc.factory) as db:
        set_settings(db, ensure_account(db, team).id, values)


def seed(svc: Services, slack: FakeSlack, *, status: str = "active", owner: str = "U100",
         tz: str = "UTC", team: str = TEAM, idle: timedelta = timedelta(minutes=45),
         channel: str = "C1", **cols: Any) -> uuid.UUID:
    """A session whose last activity (human and any) was ``idle`` ago, nudge due 30 min after."""
    owner_id = user(svc, owner, tz, team)
    now = svc.clock()
    last = now - idle
    thread = slack.add_message(channel, "Outlook keeps asking for a password", user=owner)["ts"]
    values: dict[str, Any] = dict(
        status=status, problem_summary="Outlook keeps asking for a password",
        problem_domain="m365", slack_channel_id=channel, slack_thread_ts=thread,
        participants=[owner], engine="offline", created_at=last, status_changed_at=last,
        last_activity_at=last, last_human_activity_at=last, next_nudge_at=last + timedelta(minutes=30),
    )
    values.update(cols)
    with unit_of_work(svc.factory) as db:
        account = ensure_account(db, team)
        session = AISession(user_id=owner_id, account_id=account.id, **values)
        db.add(session)
        db.flush()
        return session.id


def load(svc: Services, session_id: uuid.UUID) -> AISession | None:
    with unit_of_work(svc.factory) as db:
        return db.get(AISession, session_id)


def bot_posts(slack: FakeSlack, channel: str = "C1", thread: str | None = None) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel, thread) if m.get("user") == slack.bot_user_id]
