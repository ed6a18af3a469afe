"""``flowpilot doctor`` against the Slack stand-in: it finds each newcomer mistake, names the
fix, tells no network from a bad token, and changes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.sandbox.fake_slack import FakeSlack
from tests.integration.test_cli_errors import run


def lines(done_stdout: str, status: str) -> list[str]:
    return [line[5:] for line in done_stdout.splitlines() if line.startswith(status)]


def test_doctor_creates_no_database_and_says_to_upgrade(tmp_path: Path) -> None:
    with FakeSlack() as slack:
        done = run(tmp_path, "doctor", SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1",
                   SLACK_API_URL=slack.url)
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
    assert not list(tmp_path.glob("fp.db*")), "doctor must not create the database"
    assert any("run `flowpilot db upgrade`" in x for x in lines(done.stdout, "FAIL"))


def test_doctor_passes_a_good_run_setup_and_finds_each_mistake(tmp_path: Path) -> None:
    with FakeSlack() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1",
               "SLACK_API_URL": slack.url, "FLOWPILOT_ESCALATION_CHANNEL": "C0ESC"}
        assert run(tmp_path, "db", "upgrade").returncode == 0
        good = run(tmp_path, "doctor", **env)
        assert good.returncode == 0, good.stdout + good.stderr
        assert good.stderr == ""
        assert not lines(good.stdout, "FAIL")
        assert slack.calls("auth.test") and slack.calls("apps.connections.open")
        assert slack.calls("conversations.info")[-1].body["channel"] == "C0ESC"
        assert not slack.calls("chat.postMessage"), "doctor posts nothing"

        by_name = run(tmp_path, "doctor", **{**env, "FLOWPILOT_ESCALATION_CHANNEL": "escalations"})
        assert any("'escalations' is not a channel id" in x for x in lines(by_name.stdout, "FAIL"))

        slack.fail_channel("C0ESC", "not_in_channel")
        outside = run(tmp_path, "doctor", **env)
        assert any("/invite @FlowPilot" in x for x in lines(outside.stdout, "FAIL"))
        slack.unfail_channel("C0ESC")

        bad_app = run(tmp_path, "doctor", **{**env, "SLACK_APP_TOKEN": "xapp-invalid-9"})
        assert any("Slack refused SLACK_APP_TOKEN (invalid_auth)" in x
                   for x in lines(bad_app.stdout, "FAIL"))
        pasted = run(tmp_path, "doctor", **{**env, "SLACK_APP_TOKEN": "xoxb-2"})
        assert any("SLACK_APP_TOKEN holds a bot token" in x for x in lines(pasted.stdout, "FAIL"))
        bad_bot = run(tmp_path, "doctor", **{**env, "SLACK_BOT_TOKEN": "xoxb-invalid-1"})
        assert any("Slack refused SLACK_BOT_TOKEN (invalid_auth)" in x
                   for x in lines(bad_bot.stdout, "FAIL"))

        serve = run(tmp_path, "doctor", "--mode", "serve", **env)
        assert any("SLACK_SIGNING_SECRET is not set" in x for x in lines(serve.stdout, "FAIL"))
        serve_ok = run(tmp_path, "doctor", **{k: v for k, v in env.items()
                                             if k != "SLACK_APP_TOKEN"}, SLACK_SIGNING_SECRET="s")
        assert "`flowpilot serve`" in serve_ok.stdout and serve_ok.returncode == 0, serve_ok.stdout


def test_no_network_is_not_a_bad_token(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    done = run(tmp_path, "doctor", SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1",
               SLACK_API_URL="http://127.0.0.1:9/api/")
    failures = lines(done.stdout, "FAIL")
    assert any("could not be reached" in x for x in failures)
    assert not any("refused" in x for x in failures)


def test_schema_behind_and_flow_problems_are_listed(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    with sqlite3.connect(tmp_path / "fp.db") as conn:
        conn.execute("DELETE FROM alembic_version")
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "broken.yaml").write_text("id: broken\ntitle: Broken\n")
    with FakeSlack() as slack:
        done = run(tmp_path, "doctor", SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1",
                   SLACK_API_URL=slack.url, FLOWPILOT_FLOWS_DIR=str(flows))
    failures = lines(done.stdout, "FAIL")
    assert any("no FlowPilot schema: run `flowpilot db upgrade`" in x for x in failures)
    assert any("problem(s)" in x for x in failures)
    listed = [x for x in done.stdout.splitlines() if x.startswith("     ")]
    assert listed and all("broken.yaml" in x for x in listed), done.stdout
