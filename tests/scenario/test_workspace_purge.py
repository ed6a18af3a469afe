"""``flowpilot workspace purge``: one workspace's data goes, another's stays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lifecycle_support import open_session
from sqlalchemy import func, select
from support import Harness

from bot.cli_workspace import purge
from storage.models import Account, AISession, InboundEvent, SessionFact, User

Make = Callable[..., Harness]


def _count(h: Harness, model: Any, *where: Any) -> int:
    with h.svc.factory() as db:
        return int(db.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def test_purge_counts_then_deletes_only_that_workspace(make: Make, fake_anthropic: Any) -> None:
    h = make()
    open_session(h, fake_anthropic, team="T0001")
    open_session(h, fake_anthropic, team="T0OTHER")
    assert purge(h.svc.factory, "T0NONE", apply=True) is None
    sessions, events = purge(h.svc.factory, "T0001", apply=False) or (0, 0)
    assert sessions == 1 and events >= 1
    assert _count(h, AISession) == 2  # counting changes nothing

    assert purge(h.svc.factory, "T0001", apply=True) == (sessions, events)
    assert _count(h, Account, Account.slack_team_id == "T0001") == 0
    assert _count(h, InboundEvent, InboundEvent.slack_team_id == "T0001") == 0
    assert _count(h, AISession) == 1
    with h.svc.factory() as db:
        other = db.execute(select(Account.id).where(Account.slack_team_id == "T0OTHER")
                           ).scalar_one()
        assert db.execute(select(func.count()).select_from(User)
                          .where(User.account_id != other)).scalar_one() == 0
        assert db.execute(select(func.count()).select_from(SessionFact)
                          .join(AISession, AISession.id == SessionFact.session_id)
                          .where(AISession.account_id != other)).scalar_one() == 0


def test_workspace_list_shows_each_workspace_and_its_state(make: Make, fake_anthropic: Any,
                                                           db_url: str, tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    h = make()
    open_session(h, fake_anthropic, team="T0001")
    open_session(h, fake_anthropic, team="T0OTHER")
    assert h.event({"type": "app_uninstalled"}, team="T0OTHER")[0] == 200
    h.settle()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FLOWPILOT_"))}
    env["FLOWPILOT_DATABASE_URL"] = db_url
    done = subprocess.run([sys.executable, "-m", "bot.cli", "workspace", "list"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert set(lines) == {"T0001", "T0OTHER"}
    assert " active " in lines["T0001"] and "sessions 1 open / 1" in lines["T0001"]
    assert "uninstalled 20" in lines["T0OTHER"] and "1 people (newest 20" in lines["T0OTHER"]
