"""Queue mode with many workspaces: the worker process does each workspace's queued work with
that workspace's token (it learns the workspace from the work item, not from a request)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select
from support import SECRET
from workspaces_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    KEY,
    OWNER,
    REDIRECT,
    A,
    B,
    install,
    oauth_harness,
    workspace,
)

from bot.bootstrap import build
from bot.config import load_settings
from bot.worker import QueueWorker
from storage.models import AISession


@pytest.mark.postgres_only
def test_the_worker_uses_each_workspaces_token(db_url: str, engine: Any,
                                               fake_slack: Any) -> None:
    web = oauth_harness(db_url, fake_slack, FLOWPILOT_WORK_MODE="queue")
    settings = load_settings(
        env_file=None, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET,
        FLOWPILOT_SECRET_KEY=KEY, SLACK_REDIRECT_URI=REDIRECT, SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake_slack.url, FLOWPILOT_DATABASE_URL=db_url, FLOWPILOT_WORK_MODE="queue",
    )
    worker_app = build(settings, mode="worker", workers=2)
    worker = QueueWorker(worker_app, concurrency=2, poll=0.2)
    try:
        install(web, workspace(fake_slack, A))
        install(web, workspace(fake_slack, B))
        fake_slack.clear()
        for ws in (A, B):
            web.command("outlook keeps asking for a password", user=ws["user"],
                        channel=ws["channel"], team=ws["team"])
        web.settle()
        assert not fake_slack.calls("chat.postMessage"), "serve does no work after the ack"
        worker.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with web.svc.factory() as db:
                opened = db.execute(select(AISession.slack_channel_id)).scalars().all()
            posted = {c.body.get("channel") for c in fake_slack.calls("chat.postMessage")}
            if len(opened) == 2 and {A["channel"], B["channel"]} <= posted:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the worker did not open both sessions")
        for call in fake_slack.calls():
            channel = call.body.get("channel")
            if channel in OWNER:
                assert fake_slack.team_of(call) == OWNER[str(channel)], call.method
    finally:
        worker.stop()
        worker_app.close()
        web.close()
