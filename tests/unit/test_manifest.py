"""The manifest is code: it stays in step with what the app registers, and with Slack's schema."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from handlers import ids

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
    assert not re.findall(r'@app\.(?:action|view|shortcut)\("fp_', source), "use handlers.ids"
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
    if not (schema_dir / "manifest.schema.json").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Slack's manifest schema is missing at {schema_dir}")
        pytest.skip("Slack's manifest schema copy is not beside the repo")
    assert validate(ROOT / "manifest.yml", schema_dir) == []
    broken = dict(MANIFEST, settings={**MANIFEST["settings"], "socket_mode_enabled": "yes"})
    bad = tmp_path / "bad-manifest.yml"
    bad.write_text(yaml.safe_dump(broken))
    try:
        assert validate(bad, schema_dir), "a broken manifest must fail validation"
    finally:
        bad.unlink()


def test_knowledge_ids_are_the_contracts_and_have_listeners() -> None:
    # CONTRACTS.md "More ids (wave 2)".
    assert (ids.SEEN_BEFORE, ids.DRAFT_APPROVE, ids.DRAFT_REJECT) == (
        "fp_seen_before", "fp_draft_approve", "fp_draft_reject")
    source = _source()
    for name in ("SEEN_BEFORE", "DRAFT_APPROVE", "DRAFT_REJECT", "DRAFT_EDIT"):
        assert f"@app.action(ids.prefixed(ids.{name}))" in source
    for name in ("DRAFT_MODAL", "DRAFT_REJECT_MODAL"):
        assert f"@app.view(ids.{name})" in source
