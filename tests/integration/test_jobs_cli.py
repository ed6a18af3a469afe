"""``flowpilot jobs list`` / ``jobs run NAME`` for every job, against the fake Slack."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.cli import main
from bot.jobs import JOBS
from bot.sandbox.fake_slack import FakeSlack

NAMES = ["nudge_stale", "auto_park", "abandon_parked", "post_escalations", "escalation_sla",
         "recover_turns", "analyze_resolved", "daily_digest", "deliver_outputs"]


@pytest.fixture()
def env(db_url: str, engine: Engine, fake_slack: FakeSlack, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key, value in {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": fake_slack.url,
                       "FLOWPILOT_DATABASE_URL": db_url, "ANTHROPIC_API_KEY": ""}.items():
        monkeypatch.setenv(key, value)


def test_the_contract_names() -> None:
    assert list(JOBS) == NAMES


def test_jobs_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "list"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_jobs_run_each(name: str, env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "run", name]) == 0
    assert capsys.readouterr().out.startswith(f"{name}: claimed=0 done=0 skipped=0 failed=0")


def test_jobs_run_unknown_name(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "run", "nudge_everyone"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nudge_everyone" in err
