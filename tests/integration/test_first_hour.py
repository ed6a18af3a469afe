"""A newcomer's first hour, scripted: the CLI's mistakes and their one-line fixes, doctor
against the Slack stand-in, then the sandbox through settings, a session, a command that
names its session, an escalation, the take-over and the resolution, and a workspace purge."""

from __future__ import annotations

import re
from pathlib import Path

import pexpect

from bot.sandbox.fake_slack import FakeSlack
from tests.integration.test_cli_errors import one_line, run
from tests.integration.test_try_pty import ANSI, FLOWPILOT, TIMEOUT

PROMPT = re.compile(r"(alice|bob|carol)@#[\w-]+> ")
REF = re.compile(r"fp-[0-9a-f]{6}")


def _until_prompt(child: pexpect.spawn) -> str:
    """What was shown since the last prompt, with wrapped lines joined (one space each)."""
    child.expect(PROMPT)
    return " ".join(ANSI.sub("", child.before or "").split())


def _button(out: str, label: str) -> int:
    found = re.findall(r"\[(\d+)\] [^\[]*?" + re.escape(label), out)
    assert found, f"no {label} button in:\n{out}"
    return int(found[-1])


def test_the_first_hour(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'fp.db'}"
    # 1. Tokens pasted in the wrong place, a database not created yet: one line each.
    assert "holds a bot token" in one_line(
        run(tmp_path, "run", SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xoxb-1"))
    with FakeSlack() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_API_URL": slack.url,
               "FLOWPILOT_ESCALATION_CHANNEL": "escalations"}
        first = run(tmp_path, "doctor", **env)
        assert first.returncode == 1 and "Traceback" not in first.stdout + first.stderr
        assert "run `flowpilot db upgrade`" in first.stdout and "is not a channel id" in first.stdout
        assert not (tmp_path / "fp.db").exists()
        # 2. The fixes the lines named: migrate, and the channel's id.
        upgrade = run(tmp_path, "db", "upgrade")
        assert upgrade.returncode == 0 and upgrade.stderr == ""
        fixed = run(tmp_path, "doctor", **{**env, "FLOWPILOT_ESCALATION_CHANNEL": "C0ESCALATE"})
        assert fixed.returncode == 0, fixed.stdout

    # 3. The sandbox, on the same database.
    child = pexpect.spawn(str(FLOWPILOT), ["try", "--db", db], cwd=str(tmp_path),
                          env={"TERM": "xterm", "PATH": "/usr/bin:/bin"}, encoding="utf-8",
                          timeout=TIMEOUT, dimensions=(50, 120))
    try:
        child.expect("offline flows")
        _until_prompt(child)
        child.sendline(":user carol")
        _until_prompt(child)
        child.sendline("/flowpilot settings set escalation_channel #escalations")
        assert "escalation_channel` is now" in _until_prompt(child)

        child.sendline(":user alice")
        _until_prompt(child)
        child.sendline("/flowpilot Outlook keeps asking for a password since this morning")
        out = _until_prompt(child)
        assert "FlowPilot session" in out
        ref = REF.findall(out)[-1]

        child.sendline("/flowpilot park")  # no thread in a slash command: never guessed
        out = _until_prompt(child)
        assert "Which session?" in out and ref in out

        child.sendline(f"/flowpilot escalate {ref} needs an Exchange admin")
        out = _until_prompt(child)
        assert "Escalated" in out and "no engineer or group was tagged" in out
        assert "Reply in the session thread" in out
        take_over = _button(out, "Take over")

        child.sendline(":user bob")
        _until_prompt(child)
        child.sendline(str(take_over))
        out = _until_prompt(child)
        assert "Taken over by @bob" in out and "needs an engineer" not in out

        child.sendline(f"/flowpilot resolve {ref} CA policy excluded the user")
        out = _until_prompt(child)
        assert "Resolved" in out and "Resolution note" in out

        child.sendline(":user alice")
        _until_prompt(child)
        child.sendline(":home")
        assert "You have no open sessions" in _until_prompt(child)
        child.sendline(":quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()

    # 4. What is stored for the workspace, and its purge.
    counted = run(tmp_path, "workspace", "purge", "T0001", FLOWPILOT_DATABASE_URL=db)
    assert counted.returncode == 0 and "1 session(s)" in counted.stdout, counted.stdout
    purged = run(tmp_path, "workspace", "purge", "T0001", "--yes", FLOWPILOT_DATABASE_URL=db)
    assert purged.stdout.startswith("deleted workspace T0001")
    again = run(tmp_path, "workspace", "purge", "T0001", FLOWPILOT_DATABASE_URL=db)
    assert again.stdout.strip() == "nothing stored for workspace T0001"
