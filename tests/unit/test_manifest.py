"""The manifest is code: it stays in step with what the app registers, and with Slack's schema."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from bot import ids

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())
HANDLERS = ROOT / "handlers"


def _source() -> str:
    return "\n".join(p.read_text() for p in HANDLERS.glob("*.py"))


def test_command_and_shortcut_match_ids() -> None:
    commands = [c["command"] for c in MANIFEST["features"]["slash_commands"]]
    assert commands == [ids.COMMAND]
    shortcuts = MANIFEST["features"]["shortcuts"]
    assert [(s["callback_id"], s["name"], s["type"]) for s in shortcuts] == [
        (ids.SHORTCUT_TROUBLESHOOT, ids.SHORTCUT_NAME, "message")
    ]
    assert len(ids.SHORTCUT_NAME) <= 24


def test_bot_events_are_exactly_what_the_app_handles() -> None:
    manifest_events = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    expected = {e for e in ids.EVENTS if e != "message"} | set(ids.MESSAGE_EVENTS)
    assert manifest_events == expected
    registered = set(re.findall(r'@app\.event\("([a-z_]+)"\)', _source()))
    assert registered == set(ids.EVENTS)


def test_every_listener_uses_a_named_id() -> None:
    source = _source()
    assert not re.findall(r'@app\.(?:action|view|shortcut)\("fp_', source), "use bot.ids"
    for name in re.findall(r"@app\.action\(ids\.prefixed\(ids\.([A-Z_]+)\)\)", source):
        assert getattr(ids, name).startswith("fp_")


def test_scopes_cover_the_events() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "app_mentions:read", "channels:history",
            "groups:history", "users:read"} <= scopes
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["settings"]["socket_mode_enabled"] is True


def test_manifest_is_valid_against_slacks_schema(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from validate_manifest import DEFAULT_SCHEMAS, validate

    schema_dir = Path(os.environ.get("FLOWPILOT_MANIFEST_SCHEMA_DIR", DEFAULT_SCHEMAS))
    assert (schema_dir / "manifest.schema.json").exists(), f"schema missing at {schema_dir}"
    assert validate(ROOT / "manifest.yml", schema_dir) == []
    broken = dict(MANIFEST, settings={**MANIFEST["settings"], "socket_mode_enabled": "yes"})
    bad = tmp_path / "bad-manifest.yml"
    bad.write_text(yaml.safe_dump(broken))
    try:
        assert validate(bad, schema_dir), "a broken manifest must fail validation"
    finally:
        bad.unlink()


def test_the_schema_is_vendored_with_its_licence() -> None:
    vendored = ROOT / "scripts" / "manifest-schema"
    assert "MIT" in (vendored / "LICENSE").read_text()
    assert (vendored / "manifest.schema.1.0.0.json").exists()
    assert (vendored / "manifest.schema.2.0.0.json").exists()


def test_validation_runs_in_a_clone_with_nothing_beside_it(tmp_path: Path) -> None:
    """A clone elsewhere (no ``shared`` directory beside it) validates the manifest."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    # The working tree as committed plus what is staged/unstaged: copy the files git knows.
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if name.startswith(("scripts/", "manifest.yml")) and (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    env = {k: v for k, v in os.environ.items() if k != "FLOWPILOT_MANIFEST_SCHEMA_DIR"}
    run = subprocess.run([sys.executable, "scripts/validate_manifest.py"], cwd=clone, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok: manifest.yml is valid" in run.stdout
    assert not (tmp_path / "shared").exists()


# Least privilege: each bot scope and the Web API methods / events that need it (the method
# and scope reference pages at docs.slack.dev/reference/methods/<method> and /scopes/<scope>).
SCOPE_USES = {
    "chat:write": {"chat.postMessage", "chat.update", "chat.postEphemeral",
                   # accepts chat:write since 2026-03 (docs.slack.dev/changelog/2026/03/05/
                   # set-status-scope-update); assistant:write is being retired for it
                   "assistant.threads.setStatus"},
    "chat:write.public": {"chat.postMessage"},  # packages/digests to public channels not joined
    "channels:join": {"conversations.join"},
    "channels:read": {"conversations.info"},  # doctor: the escalation channel is visible
    # conversations.history: the outbox looks for a top-level post's marker before a repost.
    "channels:history": {"conversations.replies", "conversations.history", "message.channels"},
    "groups:history": {"conversations.replies", "conversations.history", "message.groups"},
    "reactions:write": {"reactions.add"},
    # The stats/digest chart: slack_sdk's files_upload_v2 calls files.getUploadURLExternal and
    # files.completeUploadExternal, both "Bot token: files:write" (docs.slack.dev/reference/
    # methods/files.getUploadURLExternal, …/files.completeUploadExternal).
    "files:write": {"files.upload_v2"},
    # user_change: "Required scopes: users:read" (docs.slack.dev/reference/events/user_change).
    "users:read": {"users.info", "user_change"},
    # users.info returns profile.email only with this scope: the PSA time entry's member is
    # found by the technician's e-mail (docs.slack.dev/reference/scopes/users.read.email).
    "users:read.email": {"users.info"},
    # Take over: the escalation group's members may take it (usergroups.users.list).
    "usergroups:read": {"usergroups.users.list"},
    "app_mentions:read": {"app_mention"},
    "commands": {"/flowpilot", "message shortcut"},
    # Screenshots and log files shared with a session (issue 18): files.info and the
    # url_private_download a message's files carry both need it (docs.slack.dev/reference/
    # scopes/files.read; without it the download answers Slack's HTML page, PostHog#73568).
    "files:read": {"files.info"},
}


def _used_methods() -> set[str]:
    source = (ROOT / "bot" / "notify.py").read_text() + (ROOT / "bot" / "doctor.py").read_text()
    called = set(re.findall(r'(?:_call|_find_in)\(\s*"([a-z]+\.[a-zA-Z0-9_.]+)"', source))
    called |= {m.replace("_", ".", 1) for m in re.findall(r"client\.(conversations_info)\(", source)}
    return called


def test_scopes_are_exactly_what_the_code_uses() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert scopes == set(SCOPE_USES), "a scope the code does not use, or one it lacks"
    used = _used_methods() | set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    used |= {"/flowpilot", "message shortcut"}
    for scope, needs in SCOPE_USES.items():
        assert needs & used, f"{scope} is justified by nothing the code calls"
    no_scope = {"views.open", "views.publish", "chat.getPermalink", "auth.test",
                "app_home_opened", "app_uninstalled", "tokens_revoked"}
    granted = set().union(*SCOPE_USES.values()) | no_scope
    assert used <= granted, f"called without a scope for it: {sorted(used - granted)}"


def test_knowledge_ids_are_the_contracts_and_have_listeners() -> None:
    # CONTRACTS.md "More ids (wave 2)".
    assert (ids.SEEN_BEFORE, ids.DRAFT_APPROVE, ids.DRAFT_REJECT) == (
        "fp_seen_before", "fp_draft_approve", "fp_draft_reject")
    source = _source()
    for name in ("SEEN_BEFORE", "DRAFT_APPROVE", "DRAFT_REJECT", "DRAFT_EDIT"):
        assert f"@app.action(ids.prefixed(ids.{name}))" in source
    for name in ("DRAFT_MODAL", "DRAFT_REJECT_MODAL"):
        assert f"@app.view(ids.{name})" in source
