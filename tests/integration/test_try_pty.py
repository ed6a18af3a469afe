"""`flowpilot try` driven through a pseudo-terminal, as a person would: open a session with
/flowpilot, click a flow button by its number, reply in the thread, resolve through the
modal, quit. No API key: the offline engine runs the built-in flows."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import pytest

FLOWPILOT = Path(sys.executable).with_name("flowpilot")
PROMPT = re.compile(r"(alice|bob|carol)@#[\w-]+> ")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BUTTON = re.compile(r"\[(\d+)\] ([^\[\n]+?)(?=\s{2,}\[|\s*$)", re.M)
CONTROLS = ("Resolve", "Escalate", "Park", "Resume", "Rename", "History")  # the header's
TIMEOUT = 30

pytestmark = pytest.mark.skipif(not FLOWPILOT.exists(), reason="flowpilot script not installed")


def _spawn(tmp_path: Path) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env.pop("FLOWPILOT_DATABASE_URL", None)
    env["TERM"] = "xterm"
    child = pexpect.spawn(str(FLOWPILOT), ["try", "--db", f"sqlite:///{tmp_path / 'try.db'}"],
                          cwd=str(tmp_path), env=env, encoding="utf-8", timeout=TIMEOUT,
                          dimensions=(50, 120))
    child.expect("offline flows")  # no key: the offline engine
    return child


def _until_prompt(child: pexpect.spawn) -> str:
    child.expect(PROMPT)
    return ANSI.sub("", child.before or "")


def _buttons(text: str) -> dict[str, int]:
    """label -> number of every button in ``text`` (the latest number wins)."""
    return {label.strip(): int(n) for n, label in BUTTON.findall(text)}


def _number(buttons: dict[str, int], word: str) -> int:
    return next(n for label, n in buttons.items() if word in label)


def test_open_click_reply_resolve(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    try:
        _until_prompt(child)
        child.sendline("/flowpilot outlook keeps asking for my password")
        out = _until_prompt(child)
        assert "FlowPilot session" in out and "thread 1" in out
        buttons = _buttons(out)
        answers = {label: n for label, n in buttons.items()
                   if not any(word in label for word in CONTROLS)}
        assert answers, f"no flow buttons in:\n{out}"
        label, number = next(iter(answers.items()))

        child.sendline(str(number))  # click the flow's first answer
        out = _until_prompt(child)
        assert "(updated)" in out and label in out
        buttons.update(_buttons(out))

        child.sendline("it started after the password change yesterday")
        out = _until_prompt(child)
        assert "it started after the password change yesterday" in out
        buttons.update(_buttons(out))

        child.sendline(str(_number(buttons, "History")))  # a read-only modal: shown, closed
        out = _until_prompt(child)
        assert "Session history" in out and "opened the session" in out and "(closed)" in out
        assert "HTTP" not in out

        child.sendline(str(_number(buttons, "Resolve")))
        child.expect("Resolve session")
        child.expect("Enter keeps the text shown")
        child.expect(r"Resolution note> ")
        child.sendline("+cleared the cached credentials")
        out = _until_prompt(child)
        assert "Resolution note" in out
        assert "cleared the cached credentials" in out
        assert "resolved" in out

        child.sendline(":quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    assert (tmp_path / "try.db").exists()


def test_unknown_command_prints_help_and_ctrl_d_quits(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    try:
        _until_prompt(child)
        child.sendline(":frobnicate")
        out = _until_prompt(child)
        assert "Unknown command :frobnicate" in out
        assert ":quit" in out and ":user NAME" in out and "/flowpilot <problem>" in out
        child.sendline("4")
        assert "There is no button [4]" in _until_prompt(child)
        child.sendline("just some words")
        assert "No session thread" in _until_prompt(child)
        child.sendline("/flowpilot printer")  # one unknown word: asked, not opened
        out = _until_prompt(child)
        assert "Start a session about 'printer'?" in out and "FlowPilot session" not in out
        child.sendline(str(_number(_buttons(out), "Start")))
        assert "FlowPilot session" in _until_prompt(child)
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


REF = re.compile(r"fp-[0-9a-f]{6}")


def test_escapes_admin_mention_shortcut_home_and_pastes(tmp_path: Path) -> None:
    """What a newcomer tries next: a workspace admin sets the escalation channel by #name,
    a mention and the message shortcut open sessions, a pasted block is one reply, a session
    is handed to @bob by its reference, and App Home lists the open sessions."""
    child = _spawn(tmp_path)
    try:
        _until_prompt(child)
        child.sendline(":user carol")
        assert "workspace admin" in _until_prompt(child)
        child.sendline("/flowpilot settings set escalation_channel #escalations")
        out = _until_prompt(child)
        assert "escalation_channel` is now" in out and "Give a channel" not in out

        child.sendline(":user alice")
        _until_prompt(child)
        child.sendline("@flowpilot the printer in accounts shows offline")
        out = _until_prompt(child)
        assert "FlowPilot session" in out, out
        ref = REF.findall(out)[-1]

        child.send("first pasted line\nsecond pasted line\n")  # one write: a paste
        _until_prompt(child)
        child.sendline(":thread")
        out = _until_prompt(child)
        assert re.search(r"── alice ──\s+first pasted line\s+second pasted line", out), out

        child.sendline(f"/flowpilot handoff {ref} @bob")
        out = _until_prompt(child)
        assert "Handed to" in out and "bob" in out, out

        child.sendline(":shortcut the VPN drops every ten minutes")
        out = _until_prompt(child)
        assert "FlowPilot session" in out, out

        child.sendline(":home")
        out = _until_prompt(child)
        assert "App Home" in out and "Your open sessions" in out and "fp-" in out, out

        child.sendline(":quit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
