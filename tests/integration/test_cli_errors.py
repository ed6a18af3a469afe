"""Every newcomer error path of the CLI ends in one line naming the cause and the fix, and
never in a traceback (unless ``--debug``). Real processes, real databases, the Slack stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.sandbox.fake_slack import FakeSlack

FLOWPILOT = [sys.executable, "-m", "bot.cli"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "FLOWPILOT_", "ANTHROPIC_"))}
    env.update({"FLOWPILOT_DATABASE_URL": f"sqlite:///{tmp_path}/fp.db", **extra})
    return env


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLOWPILOT, *args], cwd=tmp_path, env=_env(tmp_path, **env),
                          capture_output=True, text=True, timeout=120)


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The command failed with exactly one line on stderr and no traceback."""
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("flowpilot: ")
    return lines[0]


def test_a_bot_token_pasted_as_the_app_token_is_named(tmp_path: Path) -> None:
    line = one_line(run(tmp_path, "run", SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xoxb-2"))
    assert "SLACK_APP_TOKEN holds a bot token" in line and "App-Level Tokens" in line
    swapped = one_line(run(tmp_path, "run", SLACK_BOT_TOKEN="xapp-1", SLACK_APP_TOKEN="xapp-2"))
    assert "SLACK_BOT_TOKEN holds an app-level token" in swapped and "OAuth & Permissions" in swapped
    junk = one_line(run(tmp_path, "run", SLACK_BOT_TOKEN="hello", SLACK_APP_TOKEN="xapp-2"))
    assert "should start with xoxb-" in junk
    quoted = one_line(run(tmp_path, "run", SLACK_BOT_TOKEN='"xoxb-1"', SLACK_APP_TOKEN="xapp-2"))
    assert "quotes" in quoted


def test_a_refused_app_token_is_one_line(tmp_path: Path) -> None:
    with FakeSlack() as slack:
        line = one_line(run(tmp_path, "run", SLACK_BOT_TOKEN="xoxb-1",
                            SLACK_APP_TOKEN="xapp-invalid-1", SLACK_API_URL=slack.url))
        assert slack.calls("apps.connections.open")
    assert "Slack refused SLACK_APP_TOKEN (invalid_auth)" in line


def test_no_network_is_not_blamed_on_the_token(tmp_path: Path) -> None:
    line = one_line(run(tmp_path, "run", SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-2",
                        SLACK_API_URL="http://127.0.0.1:9/api/"))
    assert "could not be reached" in line and "refused" not in line


def test_sqlite_in_a_missing_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/dir/fp.db"
    for args in (("db", "upgrade"), ("jobs", "list")):
        done = run(tmp_path, *args, FLOWPILOT_DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-1")
        if args == ("jobs", "list") and done.returncode == 0:
            continue  # listing jobs needs no database
        assert "unable to open" not in one_line(done)
    line = one_line(run(tmp_path, "db", "upgrade", FLOWPILOT_DATABASE_URL=url))
    assert "SQLite file cannot be opened" in line and "create the folder" in line


def test_postgres_database_missing_or_server_down(tmp_path: Path) -> None:
    missing = one_line(run(tmp_path, "db", "upgrade", FLOWPILOT_DATABASE_URL=(
        "postgresql+psycopg://postgres@127.0.0.1:5432/flowpilot_i15_never_created")))
    if "refused the connection" in missing:
        pytest.skip("PostgreSQL is not running here")
    assert 'database "flowpilot_i15_never_created" does not exist' in missing
    assert "createdb flowpilot_i15_never_created" in missing
    down = one_line(run(tmp_path, "db", "upgrade", FLOWPILOT_DATABASE_URL=(
        "postgresql+psycopg://postgres:hunter2@127.0.0.1:9/x")))
    assert "refused the connection" in down and "hunter2" not in down


def test_serve_on_an_unreachable_database_names_the_cause(tmp_path: Path) -> None:
    with FakeSlack() as slack:
        line = one_line(run(tmp_path, "serve", SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s",
                            SLACK_API_URL=slack.url,
                            FLOWPILOT_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:9/x"))
    assert "refused the connection" in line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/no/such/dir/fp.db"
    done = run(tmp_path, "--debug", "db", "upgrade", FLOWPILOT_DATABASE_URL=url)
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_one_shot_commands_print_only_their_answer(tmp_path: Path) -> None:
    """No alembic INFO lines, no Bolt warning about the token, before the one-line answer."""
    with FakeSlack() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_API_URL": slack.url}
        upgrade = run(tmp_path, "db", "upgrade", **env)
        assert upgrade.stderr == "" and len(upgrade.stdout.splitlines()) == 1
        job = run(tmp_path, "jobs", "run", "nudge_stale", **env)
    assert job.returncode == 0, job.stderr
    assert job.stderr == "", job.stderr
    assert len(job.stdout.strip().splitlines()) == 1, job.stdout


def test_workspace_purge_on_the_cli(tmp_path: Path) -> None:
    assert "not a Slack team id" in one_line(run(tmp_path, "workspace", "purge", "acme"))
    assert "db upgrade" in one_line(run(tmp_path, "workspace", "purge", "T0001"))
    assert run(tmp_path, "db", "upgrade").returncode == 0
    done = run(tmp_path, "workspace", "purge", "T0001")
    assert done.returncode == 0 and done.stdout.strip() == "nothing stored for workspace T0001"
