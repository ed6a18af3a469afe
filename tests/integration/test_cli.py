"""The command line as an operator uses it: real processes, real exit codes and messages."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.sandbox.fake_slack import FakeSlack

FLOWPILOT = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "FLOWPILOT_", "ANTHROPIC_"))}
    env.update({"FLOWPILOT_DATABASE_URL": f"sqlite:///{tmp_path}/fp.db", **extra})
    return env


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLOWPILOT, *args], cwd=tmp_path, env=_env(tmp_path, **env),
                          capture_output=True, text=True, timeout=120)


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    first, second = run(tmp_path, "db", "upgrade"), run(tmp_path, "db", "upgrade")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "revision" in second.stdout


def test_missing_and_malformed_settings_stop_startup_with_one_line(tmp_path: Path) -> None:
    missing = run(tmp_path, "serve")
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines()[-1].startswith("flowpilot: SLACK_SIGNING_SECRET")
    bad = run(tmp_path, "serve", FLOWPILOT_NUDGE_AFTER_MINUTES="soon")
    assert bad.returncode != 0 and "FLOWPILOT_NUDGE_AFTER_MINUTES" in bad.stderr
    no_app_token = run(tmp_path, "run", SLACK_BOT_TOKEN="xoxb-x")
    assert no_app_token.returncode != 0 and "SLACK_APP_TOKEN" in no_app_token.stderr


def test_the_log_level_setting_is_applied(tmp_path: Path) -> None:
    chatty = run(tmp_path, "db", "upgrade", FLOWPILOT_LOG_LEVEL="debug")
    assert chatty.returncode == 0 and "INFO alembic" in chatty.stderr, chatty.stderr
    quiet = run(tmp_path, "db", "upgrade")
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert len(quiet.stdout.splitlines()) == 1, quiet.stdout
    assert quiet.stdout.startswith("database is at revision")
    bad = run(tmp_path, "db", "upgrade", FLOWPILOT_LOG_LEVEL="LOUD")
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1].startswith("flowpilot: FLOWPILOT_LOG_LEVEL")


def test_serve_refuses_an_unmigrated_schema_then_serves(tmp_path: Path) -> None:
    with FakeSlack() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s",
               "SLACK_API_URL": slack.url}
        refused = run(tmp_path, "serve", **env)
        assert refused.returncode != 0 and "flowpilot db upgrade" in refused.stderr
        assert run(tmp_path, "db", "upgrade").returncode == 0
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [*FLOWPILOT, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"],
            cwd=tmp_path, env=_env(tmp_path, **env), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )
        try:
            body = ""
            for _ in range(600):  # up to a minute: start-up is slow on a loaded 2-core box
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                        body = r.read().decode()
                        break
                except OSError:
                    time.sleep(0.1)
            assert '"ok": true' in body
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                assert "flowpilot_deliveries_total" in r.read().decode()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=b"x=1",
                                         method="POST")
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(req, timeout=5)
            assert err.value.code == 401  # unsigned
            assert slack.calls("auth.test"), "start-up checked the token"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_flows_check_passes_on_the_library_and_fails_on_a_bad_file(tmp_path: Path) -> None:
    ok = run(tmp_path, "flows", "check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: broken\ntitle: Broken\ndomain: other\nmatch: [x]\nstart: a\nnodes:\n"
                   "  a:\n    question: Pick?\n    kind: check\n    options:\n      Yes: nowhere\n"
                   "      No: nowhere\n")
    failed = run(tmp_path, "flows", "check", str(bad))
    assert failed.returncode == 1 and "bad.yaml:" in failed.stdout
